"""The minimal business setup a fresh Tryton database needs before it can take store orders.

Over JSON-RPC only (tryton/NOTES.md §4.3), through the same client as the adapter, so it works
against any running server — the test template, the demo, or a merchant's empty trial
database — without importing trytond. Each step is idempotent: it looks for what it would
create first, so running it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.tryton.client import PLATFORM, TrytonClient
from connector.errors import ConfigError

# Countries the demo and the tests address orders to; Tryton ships none (NOTES §2).
COUNTRIES: tuple[tuple[str, str, str, str], ...] = (
    ("ES", "ESP", "724", "Spain"),
    ("PT", "PRT", "620", "Portugal"),
    ("FR", "FRA", "250", "France"),
    ("DE", "DEU", "276", "Germany"),
    ("IT", "ITA", "380", "Italy"),
    ("NL", "NLD", "528", "Netherlands"),
    ("BE", "BEL", "056", "Belgium"),
    ("IE", "IRL", "372", "Ireland"),
    ("GB", "GBR", "826", "United Kingdom"),
    ("US", "USA", "840", "United States"),
    ("MX", "MEX", "484", "Mexico"),
)


@dataclass(frozen=True, slots=True)
class ProductSpec:
    sku: str
    name: str
    list_price: Decimal
    type: str = "goods"  # or "service"
    taxed: bool = True


@dataclass(frozen=True, slots=True)
class ShopSetup:
    company: int
    currency: int
    tax: int
    category: int
    untaxed_category: int
    unit: int


def setup_shop(
    client: TrytonClient,
    *,
    company_name: str = "Vinculo Demo Shop SL",
    currency_code: str = "EUR",
    timezone: str = "Europe/Madrid",
    tax_rate: Decimal = Decimal("0.21"),
    tax_name: str = "IVA 21%",
    years: Iterable[int] | None = None,
    shipping_code: str = "SHIPPING",
    discount_code: str = "DISCOUNT",
    products: Sequence[ProductSpec] = (),
) -> ShopSetup:
    """Company, chart, fiscal years, one tax, categories and the service products.

    Tax rounding is set per line because web stores round tax per line (NOTES §9).
    """
    client.login()
    currency = _ensure_currency(client, currency_code)
    _ensure_countries(client)
    company = _ensure_company(client, company_name, currency, timezone)
    _ensure_chart(client, company)
    today = date.today()
    for year in years or (today.year, today.year + 1):
        _ensure_fiscal_year(client, company, year)
    tax = _ensure_tax(client, company, tax_name, tax_rate)
    client.write("account.configuration", ([1], {"tax_rounding": "line"}))
    _ensure_payment_term(client)
    category = _ensure_category(client, "Goods and services", company, [tax])
    untaxed = _ensure_category(client, "Untaxed", company, [])
    unit = unit_id(client)
    specs = [
        ProductSpec(shipping_code, "Shipping", Decimal("0"), "service"),
        ProductSpec(discount_code, "Discount", Decimal("0"), "service"),
        *products,
    ]
    ensure_products(client, specs, category=category, untaxed_category=untaxed, unit=unit)
    return ShopSetup(company, currency, tax, category, untaxed, unit)


def ensure_user(client: TrytonClient, login: str, password: str, *, name: str = "") -> int:
    """A second login (tests use it for wrong-password cases so the admin is never throttled)."""
    found = client.search("res.user", [["login", "=", login]], limit=1)
    if found:
        return found[0]
    company = client.context.get("company")
    vals: dict[str, Any] = {"login": login, "name": name or login, "password": password}
    if company:
        vals.update({"companies": [["add", [company]]], "company": company})
    return client.create("res.user", [vals])[0]


def unit_id(client: TrytonClient) -> int:
    found = client.search("product.uom", [["symbol", "=", "u"]], limit=1)
    if not found:
        raise ConfigError(
            "Tryton has no unit with symbol 'u'",
            platform=PLATFORM,
            obj="product.uom",
            reference="tryton-unit-missing",
            hint="activate the `product` module, which ships the Unit measure",
        )
    return found[0]


def ensure_products(
    client: TrytonClient,
    specs: Sequence[ProductSpec],
    *,
    category: int,
    untaxed_category: int,
    unit: int,
) -> dict[str, int]:
    """Salable products by SKU (``product.product.code``), created in one call when missing."""
    wanted = {s.sku: s for s in specs}
    existing = {
        row["code"]: row["id"]
        for row in client.search_read("product.product", [["code", "in", list(wanted)]], ["code"])
    }
    missing = [s for s in specs if s.sku not in existing]
    if missing:
        client.create(
            "product.template",
            [
                {
                    "name": s.name,
                    "code": s.sku,
                    "type": s.type,
                    "default_uom": unit,
                    "sale_uom": unit,
                    "salable": True,
                    "list_price": s.list_price,
                    "account_category": category if s.taxed else untaxed_category,
                    "products": [["create", [{}]]],
                }
                for s in missing
            ],
        )
        existing = {
            row["code"]: row["id"]
            for row in client.search_read(
                "product.product", [["code", "in", list(wanted)]], ["code"]
            )
        }
    return existing


# --- steps ---------------------------------------------------------------------------------------


def _ensure_currency(client: TrytonClient, code: str) -> int:
    found = client.search("currency.currency", [["code", "=", code]], limit=1)
    if found:
        return found[0]
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(code, code)
    return client.create(
        "currency.currency",
        [{"name": code, "code": code, "symbol": symbol, "rounding": Decimal("0.01"), "digits": 2}],
    )[0]


def _ensure_countries(client: TrytonClient) -> None:
    have = {r["code"] for r in client.search_read("country.country", [], ["code"])}
    client.create(
        "country.country",
        [
            {"name": name, "code": code, "code3": code3, "code_numeric": num}
            for code, code3, num, name in COUNTRIES
            if code not in have
        ],
    )


def _ensure_company(client: TrytonClient, name: str, currency: int, timezone: str) -> int:
    found = client.search("company.company", [], limit=1)
    if found:
        company = found[0]
    else:
        party = client.create("party.party", [{"name": name}])[0]
        company = client.create(
            "company.company", [{"party": party, "currency": currency, "timezone": timezone}]
        )[0]
    assert client.user_id is not None
    client.write(
        "res.user", ([client.user_id], {"companies": [["add", [company]]], "company": company})
    )
    client.login()  # the context must now carry the company (NOTES §0.4)
    return company


def _first_account(client: TrytonClient, company: int, domain: list[Any]) -> int:
    rows = client.search_read(
        "account.account",
        [*domain, ["company", "=", company], ["closed", "!=", True]],
        ["id"],
        limit=1,
        order=[["code", "ASC"], ["id", "ASC"]],
    )
    if not rows:
        raise ConfigError(
            f"no open account matching {domain!r}",
            platform=PLATFORM,
            obj="account.account",
            reference="tryton-chart-incomplete",
            hint="create a chart of accounts for the company",
        )
    return int(rows[0]["id"])


def _ensure_chart(client: TrytonClient, company: int) -> None:
    if client.search("account.account", [["company", "=", company]], limit=1):
        return
    templates = client.search(
        "account.account.template",
        [["parent", "=", None], ["name", "=", "Universal Chart of Accounts"]],
        limit=1,
    )
    if not templates:
        raise ConfigError(
            "the generic chart template is missing",
            platform=PLATFORM,
            obj="account.account.template",
            reference="tryton-chart-template-missing",
            hint="activate the `account` module",
        )
    session = client.call("wizard.account.create_chart.create", [client.context])[0]
    wizard = "wizard.account.create_chart.execute"
    try:
        client.call(wizard, [session, {}, "start", client.context])
        client.call(
            wizard,
            [
                session,
                {"account": {"company": company, "account_template": templates[0]}},
                "create_account",
                client.context,
            ],
        )
        props = {
            "company": company,
            "account_receivable": _first_account(client, company, [["type.receivable", "=", True]]),
            "account_payable": _first_account(client, company, [["type.payable", "=", True]]),
            "category_account_revenue": _first_account(
                client, company, [["type.revenue", "=", True]]
            ),
            "category_account_expense": _first_account(
                client, company, [["type.expense", "=", True]]
            ),
        }
        client.call(wizard, [session, {"properties": props}, "create_properties", client.context])
    finally:
        client.call("wizard.account.create_chart.delete", [session, client.context])


def _sequence_type(client: TrytonClient, name: str) -> int:
    found = client.search("ir.sequence.type", [["name", "=", name]], limit=1)
    if not found:
        raise ConfigError(
            f"sequence type {name!r} is missing",
            platform=PLATFORM,
            obj="ir.sequence.type",
            reference="tryton-module-missing",
            hint="activate the `account_invoice` module",
        )
    return found[0]


def _ensure_fiscal_year(client: TrytonClient, company: int, year: int) -> None:
    start, end = date(year, 1, 1), date(year, 12, 31)
    if client.search(
        "account.fiscalyear",
        [["company", "=", company], ["start_date", "<=", start], ["end_date", ">=", end]],
        limit=1,
    ):
        return
    move_seq, invoice_seq = client.create(
        "ir.sequence.strict",
        [
            {
                "name": f"{year} moves",
                "sequence_type": _sequence_type(client, "Account Move"),
                "company": company,
            },
            {
                "name": f"{year} invoices",
                "sequence_type": _sequence_type(client, "Invoice"),
                "company": company,
            },
        ],
    )
    fiscal_year = client.create(
        "account.fiscalyear",
        [
            {
                "name": str(year),
                "start_date": start,
                "end_date": end,
                "company": company,
                "move_sequence": move_seq,
                "invoice_sequences": [
                    [
                        "create",
                        [
                            {
                                "company": company,
                                "out_invoice_sequence": invoice_seq,
                                "in_invoice_sequence": invoice_seq,
                                "out_credit_note_sequence": invoice_seq,
                                "in_credit_note_sequence": invoice_seq,
                            }
                        ],
                    ]
                ],
            }
        ],
    )[0]
    client.button("account.fiscalyear", "create_period", [fiscal_year])


def _ensure_tax(client: TrytonClient, company: int, name: str, rate: Decimal) -> int:
    found = client.search("account.tax", [["name", "=", name], ["company", "=", company]], limit=1)
    if found:
        return found[0]
    rows = client.search_read(
        "account.account", [["company", "=", company], ["code", "=", "6.3.6"]], ["id"], limit=1
    )
    account = (
        int(rows[0]["id"])
        if rows
        else _first_account(client, company, [["type.payable", "=", True]])
    )
    return client.create(
        "account.tax",
        [
            {
                "name": name,
                "description": name,
                "type": "percentage",
                "rate": rate,
                "company": company,
                "invoice_account": account,
                "credit_note_account": account,
            }
        ],
    )[0]


def _ensure_payment_term(client: TrytonClient) -> None:
    if client.search("account.invoice.payment_term", [["name", "=", "Immediate"]], limit=1):
        return
    client.create(
        "account.invoice.payment_term",
        [{"name": "Immediate", "lines": [["create", [{"type": "remainder"}]]]}],
    )


def _ensure_category(client: TrytonClient, name: str, company: int, taxes: list[int]) -> int:
    found = client.search("product.category", [["name", "=", name]], limit=1)
    if found:
        return found[0]
    return client.create(
        "product.category",
        [
            {
                "name": name,
                "accounting": True,
                "account_revenue": _first_account(client, company, [["type.revenue", "=", True]]),
                "account_expense": _first_account(client, company, [["type.expense", "=", True]]),
                "customer_taxes": [["add", taxes]] if taxes else [],
            }
        ],
    )[0]
