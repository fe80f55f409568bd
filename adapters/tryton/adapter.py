"""Tryton as Vínculo's ERP: store orders become sales, shipments and in-store sales come back.

Shape of an export (tryton/NOTES.md §7, §9): look every store reference up first (a re-sync
of unchanged orders is that one read), resolve parties by e-mail and products by SKU in one
call each, create all new sales of a batch in one call, read their totals back, fix a cent or
two of rounding with an explicit line or hold the order with both figures, then quote (and
confirm) the batch in one call. A failed batch is replayed one sale at a time so the good
ones land and the bad one is named (one call is one transaction, NOTES §0.7).

Every write is findable afterwards by ``sale.reference`` = the store's namespaced order id,
so a run cut short anywhere is finished by the next one without a second sale: drafts left
behind are resumed, not re-created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from adapters.tryton import mapping as m
from adapters.tryton.client import PLATFORM, TrytonClient
from connector.domain import (
    Customer,
    Fulfilment,
    Order,
    OrderStatus,
    normalise_email,
    normalise_phone,
    to_jsonable,
)
from connector.errors import (
    ConfigError,
    DataError,
    NotFound,
    RejectedError,
    TotalsMismatch,
    VinculoError,
    WriteRejected,
)
from connector.ports import CustomerWrite, Page, Rejected, StoreInfo, WriteResult

T = TypeVar("T")
PRODUCT_FIELDS = (
    "code",
    "sale_uom",
    "salable",
    "template.name",
    "account_category.customer_taxes_used",
)
_PER_RECORD_SECONDS = {"sale.sale": 0.3, "quote": 0.3, "confirm": 2.0, "process": 2.0}
_PER_RECORD = (RejectedError, DataError)  # quarantine the record; anything else stops the run


@dataclass(slots=True)
class _Setup:
    """What the adapter discovers at login instead of asking for it in configuration."""

    company: int
    company_name: str
    company_parties: list[int]
    currency_code: str
    currencies: dict[str, int]
    timezone: str | None
    countries: dict[str, int]
    tax_rates: dict[int, Decimal]
    shipping: m.ProductInfo
    discount: m.ProductInfo
    unit: int
    sale_extra: dict[str, Any]
    tax_rounding: str
    version: str


@dataclass(slots=True)
class _Doc:
    """One sale on its way through create → totals → quote → confirm."""

    key: str
    reference: str
    expected: Decimal
    values: dict[str, Any] | None = None
    sale_id: int | None = None
    state: str = "draft"
    created: bool = False
    free_adjustment: bool = False
    error: VinculoError | None = None


@dataclass(slots=True)
class _PartyRef:
    party: int
    invoice_address: int
    shipment_address: int


@dataclass(slots=True)
class _OrderOutcome:
    order: Order
    sale: _Doc | None = None
    refunds: list[_Doc] = field(default_factory=list)
    error: VinculoError | None = None
    skipped: str | None = None


class TrytonAdapter:
    """``connector.ports.ErpAdapter`` over Tryton 8.2 JSON-RPC (``requests`` only)."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        store: str,
        url: str,
        database: str,
        username: str,
        password: str,
        timeout: float = 10,
        sale_state: Literal["quotation", "confirmed"] = "quotation",
        unknown_sku: Literal["quarantine", "create"] = "quarantine",
        shipping_product_code: str = "SHIPPING",
        discount_product_code: str = "DISCOUNT",
        overlap: timedelta = timedelta(minutes=10),
        batch_size: int = 50,
        page_size: int = 100,
        read_retries: int = 2,
    ) -> None:
        if sale_state not in ("quotation", "confirmed"):
            raise ConfigError(
                f"sale_state {sale_state!r} is not quotation or confirmed",
                platform=PLATFORM,
                obj="sale_state",
            )
        if unknown_sku not in ("quarantine", "create"):
            raise ConfigError(
                f"unknown_sku {unknown_sku!r} is not quarantine or create",
                platform=PLATFORM,
                obj="unknown_sku",
            )
        self.store = store
        self.sale_state = sale_state
        self.unknown_sku = unknown_sku
        self.shipping_product_code = shipping_product_code
        self.discount_product_code = discount_product_code
        self.overlap = overlap
        self.batch_size = max(1, batch_size)
        self.page_size = max(1, page_size)
        self.client = TrytonClient(
            url=url,
            database=database,
            username=username,
            password=password,
            timeout=timeout,
            read_retries=read_retries,
        )
        self._setup: _Setup | None = None
        self._sale_heads: dict[
            int, dict[str, Any]
        ] = {}  # party/addresses of sales seen, for returns

    def __repr__(self) -> str:
        return f"TrytonAdapter(store={self.store!r}, client={self.client!r})"

    def close(self) -> None:
        self.client.close()

    # --- discovery -------------------------------------------------------------------------------

    def check(self) -> StoreInfo:
        """Log in and discover company, currency, taxes and service products (about 8 calls)."""
        setup = self._ready(force=True)
        return StoreInfo(
            platform=PLATFORM,
            store=self.store,
            name=setup.company_name,
            currency=setup.currency_code,
            details={
                "server_version": setup.version,
                "database": self.client.database,
                "company": setup.company,
                "tax_rounding": setup.tax_rounding,
                "taxes": {str(k): str(v) for k, v in setup.tax_rates.items()},
                "shipping_product": setup.shipping.id,
                "discount_product": setup.discount.id,
            },
        )

    def _ready(self, force: bool = False) -> _Setup:
        if self._setup is not None and not force:
            return self._setup
        c = self.client
        version = c.server_version()
        c.login()
        company = c.context.get("company")
        if not company:
            raise ConfigError(
                f"Tryton user {c.username!r} has no current company on database {c.database!r}",
                platform=PLATFORM,
                obj="company",
                reference="tryton-company-missing",
                hint="run Tryton's company setup (Company > Companies, then add it to the user's companies "
                "and make it current), with a chart of accounts, before syncing",
            )
        rows = c.read(
            "company.company",
            [company],
            ["rec_name", "party", "currency", "currency.code", "timezone"],
        )
        comp = rows[0]
        currency = comp.get("currency.") or {}
        if not comp.get("currency") or not currency.get("code"):
            raise ConfigError(
                "the Tryton company has no currency",
                platform=PLATFORM,
                obj="currency",
                reference="tryton-currency-missing",
                hint="set the company's currency in Tryton (Currency > Currencies, then the company)",
            )
        company_parties = [int(r["party"]) for r in c.search_read("company.company", [], ["party"])]
        currencies = {
            r["code"]: int(r["id"]) for r in c.search_read("currency.currency", [], ["code"])
        }
        countries = {
            r["code"]: int(r["id"])
            for r in c.search_read("country.country", [], ["code"])
            if r.get("code")
        }
        taxes = {
            int(r["id"]): Decimal(r["rate"])
            for r in c.search_read(
                "account.tax", [["type", "=", "percentage"], ["company", "=", company]], ["rate"]
            )
            if r.get("rate") is not None
        }
        products = self._read_products([self.shipping_product_code, self.discount_product_code])
        for code, what in (
            (self.shipping_product_code, "shipping"),
            (self.discount_product_code, "discount"),
        ):
            if code not in products:
                raise ConfigError(
                    f"Tryton has no salable product with code {code!r} for {what} lines",
                    platform=PLATFORM,
                    obj=f"{what}_product_code",
                    reference="tryton-service-product-missing",
                    hint=f"create a salable service product with code {code} (with the shop's tax) "
                    f"or set `{what}_product_code`",
                )
        units = c.search("product.uom", [["symbol", "=", "u"]], limit=1)
        sale_fields = c.model("sale.sale", "fields_get", ["shipment_cost_method"])
        config = c.search_read("account.configuration", [], ["tax_rounding"], limit=1)
        self._setup = _Setup(
            company=int(company),
            company_name=str(comp.get("rec_name") or ""),
            company_parties=company_parties,
            currency_code=str(currency["code"]),
            currencies=currencies,
            timezone=comp.get("timezone"),
            countries=countries,
            tax_rates=taxes,
            shipping=products[self.shipping_product_code],
            discount=products[self.discount_product_code],
            unit=units[0] if units else products[self.shipping_product_code].unit,
            # sale_shipment_cost, when installed, blocks quoting without a carrier (NOTES §11).
            sale_extra={"shipment_cost_method": None}
            if "shipment_cost_method" in (sale_fields or {})
            else {},
            tax_rounding=str(config[0].get("tax_rounding") or "document") if config else "document",
            version=version,
        )
        return self._setup

    def _read_products(self, codes: Sequence[str]) -> dict[str, m.ProductInfo]:
        wanted = sorted({c for c in codes if c})
        if not wanted:
            return {}
        rows = self.client.search_read("product.product", [["code", "in", wanted]], PRODUCT_FIELDS)
        found: dict[str, m.ProductInfo] = {}
        for r in rows:
            category = r.get("account_category.") or {}
            template = r.get("template.") or {}
            found.setdefault(
                r["code"],
                m.ProductInfo(
                    id=int(r["id"]),
                    code=r["code"],
                    name=template.get("name") or r["code"],
                    unit=int(r.get("sale_uom") or 0) or (self._setup.unit if self._setup else 1),
                    taxes=tuple(category.get("customer_taxes_used") or ())
                    if isinstance(category, Mapping)
                    else (),
                    salable=bool(r.get("salable")),
                ),
            )
        return found

    # --- customers ---------------------------------------------------------------------------------

    def pull_customers(self, since: datetime | None) -> Iterator[Page[Customer]]:
        """Parties changed since ``since`` − overlap, oldest change first.

        Contact mechanisms and addresses are watched too: writing one directly does not touch
        the party's own timestamps.
        """
        setup = self._ready()

        def convert(rows: list[dict[str, Any]]) -> tuple[list[Customer], list[Rejected]]:
            return _convert(
                rows, lambda r: m.party_to_customer(self.store, r), self._pid("party.party")
            )

        yield from self._pull(
            "party.party",
            [["id", "not in", setup.company_parties]],
            m.PARTY_FIELDS,
            since,
            watch=(("party.contact_mechanism", "party", []), ("party.address", "party", [])),
            convert=convert,
        )

    def upsert_customers(self, writes: Sequence[CustomerWrite]) -> list[WriteResult]:
        """Create or update parties; creates are looked up by e-mail first and batched."""
        setup = self._ready()
        results: list[WriteResult | None] = [None] * len(writes)
        updates: list[tuple[int, int, bool]] = []  # (index, party id, created)
        creates: list[int] = []
        for i, w in enumerate(writes):
            if w.target_id:
                try:
                    updates.append(
                        (i, m.parse_record_id(w.target_id, self.store, "party.party"), False)
                    )
                except VinculoError as exc:
                    results[i] = WriteResult(w.key, error=exc)
            else:
                creates.append(i)
        by_email = self._parties_by_email({writes[i].customer.email_key for i in creates} - {None})
        new: dict[str, list[int]] = {}  # identity -> indexes sharing it
        for i in creates:
            email = writes[i].customer.email_key
            if email and email in by_email:
                updates.append((i, by_email[email]["party"], False))
            else:
                new.setdefault(email or f"#{i}", []).append(i)
        if new:
            groups = list(new.values())
            values = [self._party_values(writes[g[0]].customer, setup) for g in groups]
            for group, (pid, err) in zip(
                groups, self._create_each("party.party", values), strict=True
            ):
                for i in group:
                    first = i == group[0]
                    results[i] = WriteResult(
                        writes[i].key,
                        platform_id=self._pid("party.party")(pid) if pid else None,
                        error=err,
                        created=bool(pid) and first,
                    )
        if updates:
            self._update_parties(writes, updates, results, setup)
        return [r if r is not None else WriteResult(writes[i].key) for i, r in enumerate(results)]

    def _party_values(self, customer: Customer, setup: _Setup) -> dict[str, Any]:
        name = m.customer_name(customer) or f"Customer {customer.id}"
        return m.party_create_values(
            name,
            customer.email_key,
            customer.phone or customer.billing.phone,
            customer.billing,
            customer.shipping,
            setup.countries,
        )

    def _update_parties(
        self,
        writes: Sequence[CustomerWrite],
        updates: list[tuple[int, int, bool]],
        results: list[WriteResult | None],
        setup: _Setup,
    ) -> None:
        ids = sorted({pid for _i, pid, _c in updates})
        rows = {
            int(r["id"]): r
            for r in self.client.search_read(
                "party.party",
                [["id", "in", ids]],
                ["name", "contact_mechanisms.type", "contact_mechanisms.value", "addresses.street",
                 "addresses.postal_code", "addresses.city", "addresses.active"],
            )
        }  # fmt: skip
        pending: list[tuple[int, int, dict[str, Any]]] = []
        for i, pid, created in updates:
            row = rows.get(pid)
            key = writes[i].key
            if row is None:
                results[i] = WriteResult(
                    key,
                    error=NotFound(
                        f"party {pid} no longer exists in Tryton",
                        platform=PLATFORM,
                        obj=self._pid("party.party")(pid),
                        reference="tryton-party-missing",
                    ),
                )
                continue
            vals = _party_changes(writes[i].customer, row, setup.countries)
            if vals:
                pending.append((i, pid, vals))
            results[i] = WriteResult(
                key, platform_id=self._pid("party.party")(pid), created=created
            )
        if not pending:
            return
        try:
            self.client.write("party.party", *[([pid], vals) for _i, pid, vals in pending])
        except _PER_RECORD:
            for i, pid, vals in pending:
                try:
                    self.client.write("party.party", ([pid], vals))
                except _PER_RECORD as exc:
                    results[i] = WriteResult(
                        writes[i].key, platform_id=self._pid("party.party")(pid), error=exc
                    )

    def _parties_by_email(self, emails: set[str | None]) -> dict[str, dict[str, Any]]:
        """E-mail → {party, addresses}: one call for a whole batch (``ilike``, NOTES §6)."""
        keys = sorted(e for e in emails if e)
        if not keys:
            return {}
        clauses: list[Any] = [["value", "ilike", _like_escape(e)] for e in keys]
        domain = [["type", "=", "email"], ["OR", *clauses] if len(clauses) > 1 else clauses[0]]
        rows = self.client.search_read(
            "party.contact_mechanism",
            domain,
            ["value", "party", "party.name", "party.addresses.street", "party.addresses.postal_code",
             "party.addresses.city", "party.addresses.invoice", "party.addresses.delivery",
             "party.addresses.active"],
            order=[["party", "ASC"], ["id", "ASC"]],
        )  # fmt: skip
        found: dict[str, dict[str, Any]] = {}
        for r in rows:
            email = normalise_email(r.get("value"))
            party = r.get("party.") or {}
            if email and email not in found and r.get("party"):
                found[email] = {
                    "party": int(r["party"]),
                    "name": party.get("name") or "",
                    "addresses": [
                        a for a in party.get("addresses.") or [] if a.get("active", True)
                    ],
                }
        return found

    # --- orders ---------------------------------------------------------------------------------------

    def export_orders(self, orders: Sequence[Order]) -> list[WriteResult]:
        """Mirror store orders as sales (and store refunds as return sales), idempotently."""
        setup = self._ready()
        results: list[WriteResult] = []
        for start in range(0, len(orders), self.batch_size):
            results += self._export_batch(orders[start : start + self.batch_size], setup)
        return results

    def _export_batch(self, orders: Sequence[Order], setup: _Setup) -> list[WriteResult]:
        outcomes: dict[str, _OrderOutcome] = {}
        for o in orders:
            outcomes.setdefault(o.id, _OrderOutcome(o))
        references = list(outcomes) + [r.id for o in outcomes.values() for r in o.order.refunds]
        existing = self._sales_by_reference(references)

        docs: list[_Doc] = []
        to_cancel: list[int] = []
        to_create: list[_OrderOutcome] = []
        for out in outcomes.values():
            o = out.order
            row = existing.get(o.id)
            dead = o.status in (OrderStatus.CANCELLED, OrderStatus.FAILED)
            if row is not None:
                out.sale = _Doc(
                    o.id, o.id, o.total.amount, sale_id=int(row["id"]), state=str(row["state"])
                )
                if dead and row["state"] in ("draft", "quotation"):
                    to_cancel.append(int(row["id"]))
                    out.sale.state = "cancelled"
                elif not dead:
                    docs.append(out.sale)
            elif dead:
                out.skipped = f"store order is {o.status.value}; no sale created"
            else:
                to_create.append(out)

        catalog_skus = {ln.sku for out in to_create for ln in out.order.lines}
        refund_orders = [
            out for out in outcomes.values()
            if out.skipped is None and any(r.id not in existing for r in out.order.refunds)
        ]  # fmt: skip
        catalog_skus |= {ln.sku for out in refund_orders for ln in out.order.lines}
        catalog_skus |= {
            rl.sku for out in refund_orders for r in out.order.refunds for rl in r.lines
        }
        catalog = self._catalog(
            catalog_skus, [ln for out in to_create for ln in out.order.lines], setup
        )
        # Plan first: an order that cannot become a sale (unknown SKU, foreign tax, currency)
        # must not leave a new party behind either.
        planned: list[tuple[_OrderOutcome, m.LinePlan, int]] = []
        for out in to_create:
            try:
                planned.append(
                    (out, m.plan_sale_lines(out.order, catalog), self._currency(out.order, setup))
                )
            except _PER_RECORD as exc:
                out.error = exc
        parties = self._order_parties([out.order for out, _p, _c in planned], setup)

        new_docs: list[_Doc] = []
        for out, plan, currency in planned:
            o = out.order
            party = parties[o.id]
            if isinstance(party, VinculoError):
                out.error = party
                continue
            values = m.sale_header(
                o,
                reference=o.id,
                party=party.party,
                invoice_address=party.invoice_address,
                shipment_address=party.shipment_address,
                currency=currency,
                timezone=setup.timezone,
                description=m.order_description(o),
                extra=setup.sale_extra,
            )
            values["lines"] = [["create", plan.lines]]
            out.sale = _Doc(o.id, o.id, o.total.amount, values=values)
            new_docs.append(out.sale)
        self._create_docs(new_docs)
        docs += new_docs
        self._finish(docs)
        if to_cancel:
            self.client.button("sale.sale", "cancel", to_cancel)

        # Returns only for orders whose sale now exists (a refund must never land alone).
        refund_docs: list[_Doc] = []
        resumed: list[_Doc] = []
        for out in refund_orders:
            if out.sale is None or out.sale.sale_id is None or out.sale.error is not None:
                continue
            for refund in out.order.refunds:
                row = existing.get(refund.id)
                if row is not None:
                    doc = _Doc(
                        out.order.id,
                        refund.id,
                        -refund.amount.amount,
                        sale_id=int(row["id"]),
                        state=str(row["state"]),
                    )
                    resumed.append(doc)
                    out.refunds.append(doc)
                    continue
                try:
                    doc = self._refund_doc(out, refund, catalog, setup)
                except _PER_RECORD as exc:
                    doc = _Doc(out.order.id, refund.id, -refund.amount.amount, error=exc)
                else:
                    refund_docs.append(doc)
                out.refunds.append(doc)
        for out in outcomes.values():
            if out not in refund_orders:
                for refund in out.order.refunds:
                    row = existing.get(refund.id)
                    if row is not None and out.sale is not None:
                        doc = _Doc(
                            out.order.id,
                            refund.id,
                            -refund.amount.amount,
                            sale_id=int(row["id"]),
                            state=str(row["state"]),
                        )
                        resumed.append(doc)
                        out.refunds.append(doc)
        self._create_docs(refund_docs)
        self._finish(refund_docs + resumed)
        return [self._order_result(outcomes[o.id]) for o in orders]

    def _refund_doc(
        self, out: _OrderOutcome, refund: Any, catalog: m.Catalog, setup: _Setup
    ) -> _Doc:
        o = out.order
        assert out.sale is not None and out.sale.sale_id is not None
        head = self._sale_heads.get(out.sale.sale_id)
        if head is None:
            row = self.client.read(
                "sale.sale",
                [out.sale.sale_id],
                ["party", "invoice_address", "shipment_address", "currency"],
            )[0]
            head = self._sale_heads[out.sale.sale_id] = row
        try:
            line_taxes = m.plan_sale_lines(o, catalog).taxes_by_line
        except _PER_RECORD:
            line_taxes = {}
        lines, free, _single = m.plan_refund_lines(o, refund, catalog, line_taxes)
        values = {
            "party": head["party"],
            "invoice_address": head["invoice_address"],
            "shipment_address": head["shipment_address"],
            "currency": head["currency"],
            "reference": refund.id,
            "description": f"Return for {m.order_description(o)}",
            "comment": refund.reason or None,
            "sale_date": m.sale_date(refund.created_at, setup.timezone),
            **setup.sale_extra,
            "lines": [["create", lines]],
        }
        return _Doc(o.id, refund.id, -refund.amount.amount, values=values, free_adjustment=free)

    def _order_result(self, out: _OrderOutcome) -> WriteResult:
        o = out.order
        if out.skipped:
            return WriteResult(o.id, payload={"skipped": out.skipped})
        sale = out.sale
        pid = self._pid("sale.sale")(sale.sale_id) if sale and sale.sale_id else None
        error = out.error or (sale.error if sale else None)
        if error is None:
            error = next((d.error for d in out.refunds if d.error is not None), None)
        payload = {
            "sale": pid,
            "state": sale.state if sale else None,
            "refunds": {
                d.reference: self._pid("sale.sale")(d.sale_id) if d.sale_id else None
                for d in out.refunds
            },
        }
        return WriteResult(
            o.id, platform_id=pid, error=error, created=bool(sale and sale.created), payload=payload
        )

    def _currency(self, order: Order, setup: _Setup) -> int:
        currency = setup.currencies.get(order.currency)
        if currency is None:
            raise WriteRejected(
                f"currency {order.currency} is not set up in Tryton",
                platform=PLATFORM,
                obj=order.id,
                reference="tryton-currency-missing",
                hint=f"create {order.currency} with its rates in Tryton (Currency > Currencies), then retry",
            )
        return currency

    def _sales_by_reference(self, references: Sequence[str]) -> dict[str, dict[str, Any]]:
        refs = sorted(set(references))
        if not refs:
            return {}
        rows = self.client.search_read(
            "sale.sale",
            [["reference", "in", refs]],
            ["reference", "state", "party", "invoice_address", "shipment_address", "currency"],
            order=[["id", "ASC"]],
        )
        found: dict[str, dict[str, Any]] = {}
        for r in rows:  # not unique in Tryton (NOTES §7.2): the oldest is ours
            found.setdefault(r["reference"], r)
            self._sale_heads[int(r["id"])] = r
        return found

    def _catalog(self, skus: set[str], lines: Sequence[Any], setup: _Setup) -> m.Catalog:
        products = self._read_products(sorted(skus))
        missing = {s for s in skus if s and s not in products}
        if missing and self.unknown_sku == "create":
            self._create_products(missing, lines, setup)
            products = self._read_products(sorted(skus))
        return m.Catalog(products, setup.tax_rates, setup.shipping, setup.discount)

    def _create_products(self, missing: set[str], lines: Sequence[Any], setup: _Setup) -> None:
        """Unknown SKUs become salable goods in the accounting category whose tax fits."""
        categories = self.client.search_read(
            "product.category", [["accounting", "=", True]], ["customer_taxes_used"]
        )
        if not categories:
            raise ConfigError(
                "Tryton has no accounting product category to file new products under",
                platform=PLATFORM,
                obj="product.category",
                reference="tryton-category-missing",
                hint="create an accounting product category with revenue account and customer taxes",
            )
        sample = {}
        for line in lines:
            if line.sku in missing and line.sku not in sample and line.quantity:
                sample[line.sku] = line
        templates = []
        for sku in sorted(missing):
            line = sample.get(sku)
            category = categories[0]["id"]
            if line is not None:
                for cat in categories:
                    taxes = m.pick_taxes(
                        line.total.amount,
                        line.total_tax.amount,
                        cat.get("customer_taxes_used") or [],
                        setup.tax_rates,
                    )
                    if taxes is not None and tuple(taxes) == tuple(
                        cat.get("customer_taxes_used") or ()
                    ):
                        category = cat["id"]
                        break
            templates.append(
                {
                    "name": line.name if line is not None and line.name else sku,
                    "code": sku,
                    "type": "goods",
                    "default_uom": setup.unit,
                    "sale_uom": setup.unit,
                    "salable": True,
                    "list_price": m.unit_price(line.subtotal.amount, line.quantity)
                    if line is not None
                    else Decimal(0),
                    "account_category": category,
                    "products": [["create", [{}]]],
                }
            )
        self.client.create("product.template", templates)

    def _order_parties(
        self, orders: Sequence[Order], setup: _Setup
    ) -> dict[str, _PartyRef | VinculoError]:
        """Party and addresses for each new order: found by e-mail, else created in one call."""
        found = self._parties_by_email({o.email_key for o in orders})
        result: dict[str, _PartyRef | VinculoError] = {}
        new_addresses: list[tuple[str, str, dict[str, Any]]] = []  # (order id, which, values)
        new_parties: dict[str, list[Order]] = {}
        for o in orders:
            hit = found.get(o.email_key) if o.email_key else None
            if hit is None:
                new_parties.setdefault(o.email_key or f"#{o.id}", []).append(o)
                continue
            party_id = hit["party"]
            addresses = hit["addresses"]
            name = hit["name"]
            inv = _match_address(addresses, o.billing, "invoice")
            shp = _match_address(
                addresses, o.shipping if not o.shipping.is_empty() else o.billing, "delivery"
            )
            result[o.id] = _PartyRef(party_id, inv or 0, shp or 0)
            if inv is None:
                new_addresses.append(
                    (
                        o.id,
                        "invoice",
                        {
                            "party": party_id,
                            **m.address_values(o.billing, setup.countries, name),
                            "invoice": True,
                        },
                    )
                )
            if shp is None:
                ship = o.shipping if not o.shipping.is_empty() else o.billing
                if inv is None and ship is o.billing:
                    continue  # the invoice address being created serves both
                new_addresses.append(
                    (
                        o.id,
                        "shipment",
                        {
                            "party": party_id,
                            **m.address_values(ship, setup.countries, name),
                            "delivery": True,
                        },
                    )
                )
        if new_addresses:
            ids = self.client.create("party.address", [v for _o, _w, v in new_addresses])
            for (oid, which, _v), aid in zip(new_addresses, ids, strict=True):
                ref = result[oid]
                assert isinstance(ref, _PartyRef)
                if which == "invoice":
                    ref.invoice_address = aid
                    if not ref.shipment_address:
                        ref.shipment_address = aid
                else:
                    ref.shipment_address = aid
        if new_parties:
            groups = list(new_parties.values())
            values = [
                m.party_create_values(
                    m.order_party_name(g[0]),
                    g[0].email_key,
                    g[0].billing.phone,
                    g[0].billing,
                    g[0].shipping,
                    setup.countries,
                )
                for g in groups
            ]
            created = self._create_each("party.party", values)
            party_ids = [pid for pid, _e in created if pid]
            rows = {
                int(r["id"]): r.get("addresses.") or []
                for r in self.client.read(
                    "party.party", party_ids, ["addresses.street", "addresses.postal_code", "addresses.city",
                                               "addresses.invoice", "addresses.delivery", "addresses.active"]
                )
            } if party_ids else {}  # fmt: skip
            for group, (pid, err) in zip(groups, created, strict=True):
                for o in group:
                    if pid is None:
                        result[o.id] = err or WriteRejected(
                            "party not created", platform=PLATFORM, obj=o.id
                        )
                        continue
                    addresses = rows.get(pid, [])
                    inv = _match_address(addresses, o.billing, "invoice", fallback=True)
                    ship_src = o.shipping if not o.shipping.is_empty() else o.billing
                    shp = _match_address(addresses, ship_src, "delivery", fallback=True)
                    result[o.id] = _PartyRef(pid, inv or 0, shp or inv or 0)
        return result

    def _create_each(
        self, model: str, values: Sequence[dict[str, Any]]
    ) -> list[tuple[int | None, VinculoError | None]]:
        """One call for the batch; if Tryton refuses it, one call per record to name the bad one."""
        if not values:
            return []
        try:
            return [
                (i, None)
                for i in self.client.create(model, values, timeout=self._budget(model, len(values)))
            ]
        except _PER_RECORD:
            if len(values) == 1:
                raise
        out: list[tuple[int | None, VinculoError | None]] = []
        for v in values:
            try:
                out.append(
                    (self.client.create(model, [v], timeout=self._budget(model, 1))[0], None)
                )
            except _PER_RECORD as exc:
                out.append((None, exc))
        return out

    def _create_docs(self, docs: list[_Doc]) -> None:
        pending = [
            d for d in docs if d.values is not None and d.sale_id is None and d.error is None
        ]
        if not pending:
            return
        try:
            created = self._create_each(
                "sale.sale", [d.values for d in pending if d.values is not None]
            )
        except _PER_RECORD as exc:  # a batch of one that failed
            created = [(None, exc)]
        for doc, (sid, err) in zip(pending, created, strict=True):
            doc.sale_id, doc.error, doc.created = sid, err, sid is not None

    def _finish(self, docs: list[_Doc]) -> None:
        """Drafts: check totals, then quote; then confirm (and surface process errors)."""
        live = [d for d in docs if d.sale_id is not None and d.error is None]
        drafts = [d for d in live if d.state == "draft"]
        self._check_totals(drafts)
        quotable = [d for d in drafts if d.error is None]
        self._button_each("quote", quotable, "quotation", delete_on_error=True)
        if self.sale_state != "confirmed":
            return
        to_confirm = [d for d in live if d.error is None and d.state == "quotation"]
        self._button_each("confirm", to_confirm, "confirmed", delete_on_error=False)
        # confirm answers null even when its queued process failed (NOTES §0.5): read back.
        confirmed = [d for d in live if d.error is None and d.state == "confirmed"]
        if confirmed:
            states = {
                int(r["id"]): r["state"]
                for r in self.client.read(
                    "sale.sale", [d.sale_id for d in confirmed if d.sale_id], ["state"]
                )
            }
            for d in confirmed:
                assert d.sale_id is not None
                d.state = str(states.get(d.sale_id, d.state))
            stuck = [d for d in confirmed if d.state == "confirmed"]
            self._button_each("process", stuck, "processing", delete_on_error=False)

    def _check_totals(self, drafts: list[_Doc]) -> None:
        if not drafts:
            return
        totals = self._totals([d.sale_id for d in drafts if d.sale_id is not None])
        adjust: list[tuple[_Doc, Decimal]] = []
        for d in drafts:
            assert d.sale_id is not None
            diff = d.expected - totals[d.sale_id]
            if diff == 0:
                continue
            if abs(diff) <= m.ROUNDING_TOLERANCE or d.free_adjustment:
                adjust.append((d, diff))
            else:
                d.error = _mismatch(d, totals[d.sale_id])
        if adjust:
            label = {True: "Refund adjustment", False: "Rounding adjustment"}
            self.client.create(
                "sale.line",
                [
                    m.adjustment_line(d.sale_id, diff, label[d.free_adjustment])
                    for d, diff in adjust
                    if d.sale_id
                ],
            )
            again = self._totals([d.sale_id for d, _diff in adjust if d.sale_id])
            for d, _diff in adjust:
                assert d.sale_id is not None
                if again[d.sale_id] != d.expected:
                    d.error = _mismatch(d, again[d.sale_id])
        bad = [d for d in drafts if d.error is not None and d.sale_id is not None]
        if bad:
            # A held order leaves nothing behind: the next run re-creates it from fresh data.
            self.client.delete("sale.sale", [d.sale_id for d in bad if d.sale_id])
            for d in bad:
                d.sale_id, d.created, d.state = None, False, "deleted"

    def _totals(self, ids: Sequence[int]) -> dict[int, Decimal]:
        return {
            int(r["id"]): Decimal(r["total_amount"])
            for r in self.client.read("sale.sale", ids, ["total_amount"])
        }

    def _button_each(
        self, button: str, docs: list[_Doc], new_state: str, *, delete_on_error: bool
    ) -> None:
        ids = [d.sale_id for d in docs if d.sale_id is not None]
        if not ids:
            return
        try:
            self.client.button("sale.sale", button, ids, timeout=self._budget(button, len(ids)))
        except _PER_RECORD:
            failed: list[_Doc] = []
            for d in docs:
                assert d.sale_id is not None
                try:
                    self.client.button(
                        "sale.sale", button, [d.sale_id], timeout=self._budget(button, 1)
                    )
                except _PER_RECORD as exc:
                    d.error = exc
                    failed.append(d)
                else:
                    d.state = new_state
            if delete_on_error and failed:
                self.client.delete("sale.sale", [d.sale_id for d in failed if d.sale_id])
                for d in failed:
                    d.sale_id, d.created, d.state = None, False, "deleted"
            return
        for d in docs:
            d.state = new_state

    # --- reads back: fulfilments and ERP-only sales ----------------------------------------------------

    def pull_fulfilments(self, since: datetime | None) -> Iterator[Page[Fulfilment]]:
        """Store orders whose Tryton shipments all left (the sale is written when they do)."""
        self._ready()

        def convert(rows: list[dict[str, Any]]) -> tuple[list[Fulfilment], list[Rejected]]:
            items: list[Fulfilment] = []
            rejected: list[Rejected] = []
            for r in rows:
                try:
                    f = m.sale_to_fulfilment(r)
                except (VinculoError, KeyError, TypeError, ValueError) as exc:
                    rejected.append(
                        Rejected(
                            self._pid("sale.sale")(int(r["id"])),
                            _as_data_error(exc, r),
                            to_jsonable(r),
                        )
                    )
                    continue
                if f is not None:
                    items.append(f)
            return items, rejected

        yield from self._pull(
            "sale.sale",
            [["reference", "like", m.STORE_REFERENCE_PATTERN], ["shipment_state", "=", "sent"]],
            m.FULFILMENT_FIELDS,
            since,
            watch=(),
            convert=convert,
        )

    def pull_sales(self, since: datetime | None) -> Iterator[Page[Order]]:
        """Sales entered in Tryton itself (no store reference) once processing, done or cancelled."""
        setup = self._ready()
        erp_only: list[Any] = [
            "OR",
            ["reference", "=", None],
            ["reference", "not like", m.STORE_REFERENCE_PATTERN],
        ]
        states = ["state", "in", ["processing", "done", "cancelled"]]

        def convert(rows: list[dict[str, Any]]) -> tuple[list[Order], list[Rejected]]:
            line_ids = [lid for r in rows for lid in r.get("lines") or []]
            by_sale: dict[int, list[dict[str, Any]]] = {}
            for line in self.client.read("sale.line", line_ids, m.LINE_FIELDS):
                by_sale.setdefault(int(line["sale"]), []).append(line)
            return _convert(
                rows,
                lambda r: m.sale_to_order(
                    self.store,
                    r,
                    by_sale.get(int(r["id"]), []),
                    tax_rates=setup.tax_rates,
                    shipping_code=self.shipping_product_code,
                    discount_code=self.discount_product_code,
                ),
                self._pid("sale.sale"),
            )

        line_watch = [
            ["sale.state", "in", ["processing", "done", "cancelled"]],
            [
                "OR",
                ["sale.reference", "=", None],
                ["sale.reference", "not like", m.STORE_REFERENCE_PATTERN],
            ],
        ]
        yield from self._pull(
            "sale.sale",
            [erp_only, states],
            m.SALE_FIELDS,
            since,
            watch=(("sale.line", "sale", line_watch),),
            convert=convert,
        )

    # --- shared paging ------------------------------------------------------------------------------

    def _pull(
        self,
        model: str,
        base: list[Any],
        fields: Sequence[str],
        since: datetime | None,
        *,
        watch: Sequence[tuple[str, str, list[Any]]],
        convert: Callable[[list[dict[str, Any]]], tuple[list[T], list[Rejected]]],
    ) -> Iterator[Page[T]]:
        """Keyset pages ordered by ``last_modified_at`` (= coalesce(write_date, create_date),
        searchable and sortable in Tryton 8.2), so each page's high-water mark only grows and
        a record written twice meanwhile is read again, never skipped.

        ``watch`` lists child models whose edits do not touch the parent (sale lines, party
        contacts, NOTES §8): parents of children changed since ``since`` are read too.
        """
        domain = list(base)
        if since is not None:
            start = since - self.overlap
            changed: set[int] = set()
            for child, parent_field, extra in watch:
                rows = self.client.search_read(
                    child, [["last_modified_at", ">=", start], *extra], [parent_field]
                )
                changed |= {int(r[parent_field]) for r in rows if r.get(parent_field)}
            recent: list[Any] = ["last_modified_at", ">=", start]
            domain.append(["OR", recent, ["id", "in", sorted(changed)]] if changed else recent)
        last: tuple[datetime, int] | None = None
        while True:
            keyset: list[Any] = []
            if last is not None:
                keyset = [["OR", ["last_modified_at", ">", last[0]],
                           [["last_modified_at", "=", last[0]], ["id", ">", last[1]]]]]  # fmt: skip
            rows = self.client.search_read(
                model,
                domain + keyset,
                ["last_modified_at", *fields],
                limit=self.page_size,
                order=[["last_modified_at", "ASC"], ["id", "ASC"]],
            )
            if not rows:
                return
            items, rejected = convert(rows)
            yield Page(items, rejected, max(r["last_modified_at"] for r in rows))
            if len(rows) < self.page_size:
                return
            last = (rows[-1]["last_modified_at"], int(rows[-1]["id"]))

    def _budget(self, what: str, records: int) -> float:
        """Time allowed for a batched write: the configured timeout plus a per-record share.

        A write that times out has an unknown outcome (the next run sorts it out by
        reference), so a batch must not be given a read's budget: confirm runs Tryton's
        process for each sale, 0.3–0.9 s apiece and seconds when it fails (NOTES §10–11).
        """
        per_record = _PER_RECORD_SECONDS.get(what, 0.1)
        return float(self.client.timeout) + per_record * records

    def _pid(self, model: str) -> Callable[[int], str]:
        return lambda local: m.record_id(self.store, model, local)


# --- helpers -----------------------------------------------------------------------------------------


def _convert(
    rows: list[dict[str, Any]], fn: Callable[[dict[str, Any]], T], pid: Callable[[int], str]
) -> tuple[list[T], list[Rejected]]:
    items: list[T] = []
    rejected: list[Rejected] = []
    for r in rows:
        try:
            items.append(fn(r))
        except (VinculoError, KeyError, TypeError, ValueError) as exc:
            rejected.append(Rejected(pid(int(r["id"])), _as_data_error(exc, r), to_jsonable(r)))
    return items, rejected


def _as_data_error(exc: Exception, row: Mapping[str, Any]) -> VinculoError:
    if isinstance(exc, VinculoError):
        return exc
    from connector.errors import MalformedPayload

    return MalformedPayload(
        f"unexpected Tryton record shape: {exc!r}", platform=PLATFORM, obj=str(row.get("id"))
    )


def _mismatch(doc: _Doc, actual: Decimal) -> TotalsMismatch:
    return TotalsMismatch(
        f"Tryton's total for {doc.reference} differs from the store's",
        expected=doc.expected,
        actual=actual,
        platform=PLATFORM,
        obj=doc.reference,
    )


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _match_address(
    rows: Sequence[Mapping[str, Any]], addr: Any, flag: str, *, fallback: bool = False
) -> int | None:
    """An existing address of the party at the same place; the flagged/first one when the
    store gave none (or, for a party just created, whatever we created)."""
    active = [r for r in rows if r.get("active", True)]
    if not active:
        return None
    if addr.is_empty() or fallback:
        flagged = [r for r in active if r.get(flag)]
        return int((flagged or active)[0]["id"])
    want = m.address_key(m.street_of(addr), addr.postcode, addr.city)
    for r in active:
        if m.address_key(r.get("street"), r.get("postal_code"), r.get("city")) == want:
            return int(r["id"])
    return None


def _party_changes(
    customer: Customer, row: Mapping[str, Any], countries: Mapping[str, int]
) -> dict[str, Any]:
    """Only what differs, so an unchanged customer costs no write."""
    vals: dict[str, Any] = {}
    name = m.customer_name(customer)
    if name and name != row.get("name"):
        vals["name"] = name
    mechanisms = row.get("contact_mechanisms.") or []
    actions: list[Any] = []
    email = customer.email_key
    emails = [mm for mm in mechanisms if mm.get("type") == "email"]
    if email and email not in {normalise_email(mm.get("value")) for mm in emails}:
        if emails:
            actions.append(["write", [int(emails[0]["id"])], {"value": email}])
        else:
            actions.append(["create", [{"type": "email", "value": email}]])
    phone = customer.phone or customer.billing.phone
    phones = [mm for mm in mechanisms if mm.get("type") in ("phone", "mobile")]
    if phone and normalise_phone(phone) not in {normalise_phone(mm.get("value")) for mm in phones}:
        if phones:
            actions.append(["write", [int(phones[0]["id"])], {"value": phone}])
        else:
            actions.append(["create", [{"type": "phone", "value": phone}]])
    if actions:
        vals["contact_mechanisms"] = actions
    addresses = [a for a in row.get("addresses.") or [] if a.get("active", True)]
    new_addresses: list[dict[str, Any]] = []
    for addr, flag in ((customer.billing, "invoice"), (customer.shipping, "delivery")):
        if addr.is_empty() or _match_address(addresses, addr, flag) is not None:
            continue
        street = m.street_of(addr)
        if any(
            m.address_key(street, addr.postcode, addr.city)
            == m.address_key(a.get("street"), a.get("postal_code"), a.get("city"))
            for a in new_addresses
        ):
            continue
        new_addresses.append(
            {**m.address_values(addr, countries, name or str(row.get("name") or "")), flag: True}
        )
    if new_addresses:
        vals["addresses"] = [["create", new_addresses]]
    return vals
