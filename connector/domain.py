"""The objects every part of Vínculo speaks: customers, orders, refunds, money, perks.

Adapters turn platform JSON into these and back; nothing platform-specific crosses this line.
All of them are frozen so a value read from a store cannot be changed by accident on its way
to the ERP, and all money is :class:`Money` (Decimal + ISO 4217 code): a float never enters.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final, Literal

from connector.errors import ConfigError, InvalidValue

# ISO 4217 active codes. Minor units are 2 unless listed in the 0- or 3-digit sets.
_ISO_4217: Final = frozenset(
    ["AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG"]
)
_ZERO_DECIMALS: Final = frozenset(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"])
_THREE_DECIMALS: Final = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


def currency_exponent(code: str) -> int:
    """Minor-unit digits of an ISO 4217 currency (EUR 2, JPY 0, KWD 3)."""
    if code in _ZERO_DECIMALS:
        return 0
    if code in _THREE_DECIMALS:
        return 3
    return 2


def check_currency(code: object) -> str:
    """Return the code if it is an active ISO 4217 currency, else raise a named error."""
    if not isinstance(code, str) or code.upper() != code or code not in _ISO_4217:
        raise InvalidValue(
            f"unknown currency {code!r}",
            reference="currency-unknown",
            hint="use an ISO 4217 code such as EUR or USD, as the store reports it",
        )
    return code


def to_decimal(value: object, *, what: str = "amount") -> Decimal:
    """Exact decimal from a platform string or int; floats are refused, not rounded."""
    if isinstance(value, bool | float):
        raise InvalidValue(
            f"{what} must be a decimal string, got float {value!r}",
            reference="money-float",
            hint="send money as a string such as '19.99'",
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidValue(f"{what} {value!r} is not a number", reference="money-invalid") from None
    else:
        raise InvalidValue(f"{what} {value!r} is not a number", reference="money-invalid")
    if not result.is_finite():
        raise InvalidValue(f"{what} {value!r} is not finite", reference="money-invalid")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency; arithmetic across currencies is an error."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", to_decimal(self.amount))
        check_currency(self.currency)

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        return cls(to_decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal("0"), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidValue(
                f"cannot combine {self.currency} with {other.currency}", reference="currency-mismatch"
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __radd__(self, other: object) -> Money:
        if other == 0:  # lets sum() start from 0
            return self
        if isinstance(other, Money):
            return other.__add__(self)
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            raise TypeError("Money can only be multiplied by int or Decimal")
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def quantize(self, rounding: str = ROUND_HALF_UP) -> Money:
        """Round to the currency's minor unit with an explicit rounding mode."""
        exp = Decimal(1).scaleb(-currency_exponent(self.currency))
        return Money(self.amount.quantize(exp, rounding=rounding), self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{self.quantize().amount} {self.currency}"


def utc(value: datetime, *, what: str = "date") -> datetime:
    """Refuse naive datetimes (their zone is a guess) and normalise aware ones to UTC."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidValue(
            f"{what} {value.isoformat()} has no time zone",
            reference="date-without-zone",
            hint="read the platform's UTC field (e.g. WooCommerce *_gmt) or add an explicit offset",
        )
    return value.astimezone(UTC)


def normalise_email(email: str | None) -> str | None:
    """Identity key for e-mail: trimmed and lower-cased; empty means none."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def normalise_phone(phone: str | None) -> str | None:
    """Identity key for phones: digits with a leading + kept; too short means none."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 6:
        return None
    return ("+" if phone.strip().startswith("+") else "") + digits


def platform_id(platform: str, store: str, local_id: object) -> str:
    """Namespaced id: ``woo:main:123``, ``shopify:eu:gid://shopify/Order/1``."""
    return f"{platform}:{store}:{local_id}"


def split_platform_id(pid: str) -> tuple[str, str, str]:
    """Inverse of :func:`platform_id`; the local part may itself contain colons."""
    platform, store, local = pid.split(":", 2)
    return platform, store, local


class OrderStatus(enum.StrEnum):
    """One status vocabulary for every platform; adapters map their own onto it."""

    DRAFT = "draft"
    PENDING = "pending"  # created, not paid
    ON_HOLD = "on_hold"  # awaiting manual payment confirmation
    PAID = "paid"  # paid, not yet fulfilled (Woo processing)
    COMPLETED = "completed"  # fulfilled / delivered
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    FAILED = "failed"

    @property
    def is_paid(self) -> bool:
        return self in (OrderStatus.PAID, OrderStatus.COMPLETED, OrderStatus.REFUNDED)


@dataclass(frozen=True, slots=True)
class Address:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    phone: str = ""
    email: str = ""

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True, slots=True)
class Customer:
    """A person as one platform knows them; ``id`` is that platform's namespaced id."""

    id: str
    email: str | None
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    billing: Address = field(default_factory=Address)
    shipping: Address = field(default_factory=Address)
    is_guest: bool = False
    accepts_marketing: bool | None = None
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Our own published keys read back from the platform (vinculo_*), used to skip echo writes.
    meta: Mapping[str, str] = field(default_factory=dict)

    @property
    def email_key(self) -> str | None:
        return normalise_email(self.email)

    @property
    def phone_key(self) -> str | None:
        return normalise_phone(self.phone or self.billing.phone)

    def content_digest(self) -> str:
        """Digest of what a sync cares about, so unchanged records are skipped cheaply."""
        return digest(
            {
                "email": self.email_key,
                "first_name": self.first_name,
                "last_name": self.last_name,
                "phone": self.phone,
                "billing": asdict(self.billing),
                "shipping": asdict(self.shipping),
                "is_guest": self.is_guest,
                "accepts_marketing": self.accepts_marketing,
            }
        )


@dataclass(frozen=True, slots=True)
class OrderLine:
    """A product line. ``subtotal`` is before discounts, ``total`` after; both exclude tax."""

    line_id: str
    sku: str
    name: str
    quantity: int
    subtotal: Money
    total: Money
    total_tax: Money
    product_id: str = ""
    categories: tuple[str, ...] = ()
    is_gift_card: bool = False

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise InvalidValue(
                f"line {self.line_id} ({self.sku or self.name}) has negative quantity {self.quantity}",
                reference="quantity-negative",
                hint="returns must be recorded as refunds, not negative lines",
            )


@dataclass(frozen=True, slots=True)
class ShippingLine:
    line_id: str
    method: str
    title: str
    total: Money
    total_tax: Money


@dataclass(frozen=True, slots=True)
class FeeLine:
    line_id: str
    name: str
    total: Money
    total_tax: Money


@dataclass(frozen=True, slots=True)
class CouponLine:
    """A discount code on an order; ``discount`` excludes tax."""

    code: str
    discount: Money
    discount_tax: Money
    free_shipping: bool = False


@dataclass(frozen=True, slots=True)
class RefundLine:
    line_id: str
    sku: str
    quantity: int
    amount: Money  # refunded merchandise amount, tax excluded, positive


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    order_id: str
    created_at: datetime
    amount: Money  # total money returned to the customer, positive
    reason: str = ""
    lines: tuple[RefundLine, ...] = ()
    shipping: Money | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the store reports it. Totals are the store's figures, never recomputed."""

    id: str
    number: str
    currency: str
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    email: str | None
    customer_id: str | None  # namespaced platform customer id; None for guests
    lines: tuple[OrderLine, ...]
    total: Money
    total_tax: Money
    shipping_total: Money
    discount_total: Money
    shipping_lines: tuple[ShippingLine, ...] = ()
    fee_lines: tuple[FeeLine, ...] = ()
    coupon_lines: tuple[CouponLine, ...] = ()
    refunds: tuple[Refund, ...] = ()
    billing: Address = field(default_factory=Address)
    shipping: Address = field(default_factory=Address)
    paid_at: datetime | None = None
    completed_at: datetime | None = None
    prices_include_tax: bool = False
    source: str = "store"  # "store" or "erp" (an ERP-only sale: POS, phone, B2B)

    def __post_init__(self) -> None:
        check_currency(self.currency)
        for m in (self.total, self.total_tax, self.shipping_total, self.discount_total):
            if m.currency != self.currency:
                raise InvalidValue(
                    f"order {self.id} mixes {m.currency} into a {self.currency} order",
                    reference="currency-mismatch",
                )

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None

    @property
    def email_key(self) -> str | None:
        return normalise_email(self.email)

    @property
    def merchandise_after_discounts(self) -> Money:
        return sum((line.total for line in self.lines if not line.is_gift_card), Money.zero(self.currency))

    @property
    def refunded_total(self) -> Money:
        return sum((r.amount for r in self.refunds), Money.zero(self.currency))

    def content_digest(self) -> str:
        return digest(self)


# --- perks: what the loyalty engine asks a store to do ------------------------------------------

RewardKind = Literal["fixed_amount", "percentage", "free_shipping"]


@dataclass(frozen=True, slots=True)
class IssueCoupon:
    """Create a single-use reward code restricted to one customer.

    ``code`` is derived from ``key`` so a retried command finds the coupon it made before.
    """

    key: str
    customer_id: str  # vinculo customer id
    email: str
    code: str
    reward_id: str
    kind: RewardKind
    starts_at: datetime
    expires_at: datetime
    amount: Money | None = None  # fixed_amount
    percent: Decimal | None = None  # percentage
    max_shipping: Money | None = None  # free_shipping cap
    min_subtotal: Money | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class PublishLoyalty:
    """Write the customer's balance snapshot (points, pending, tier, next reward) to a store.

    ``snapshot`` is None while the command waits in the outbox: the dispatcher builds it from
    the ledger when it sends the command, so a store is always handed one.
    """

    key: str
    customer_id: str
    snapshot: Mapping[str, Any] | None

    def figures(self) -> Mapping[str, Any]:
        """The snapshot a store writes; a publish still waiting for its snapshot cannot be sent."""
        if self.snapshot is None:
            raise ConfigError(
                f"balance publish {self.key} waits for its snapshot, and no loyalty program is "
                "configured to build it",
                obj=self.customer_id,
                hint="enable the loyalty program (loyalty.program or loyalty.program_file), "
                "then `vinculo outbox retry`",
            )
        return self.snapshot


@dataclass(frozen=True, slots=True)
class SetTier:
    """Tag the customer with exactly one tier tag (previous ones removed).

    ``tier`` and ``all_tiers`` are tags as the program names them (``vinculo-tier-<name>`` unless
    a level sets its own ``tag``); stores without tags keep the value in customer meta.
    """

    key: str
    customer_id: str
    tier: str
    all_tiers: tuple[str, ...]


Perk = IssueCoupon | PublishLoyalty | SetTier


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """An ERP shipment done for a store order: the store marks the order completed."""

    order_id: str  # namespaced store order id
    shipped_at: datetime
    tracking_number: str = ""
    carrier: str = ""
    tracking_url: str = ""


# --- helpers ---------------------------------------------------------------------------------


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _jsonable(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is Decimal:
        return str(value)
    names = _FIELD_NAMES.get(kind)
    if names is None and is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.setdefault(kind, tuple(f.name for f in fields(value)))
    if names is not None:
        return {name: _jsonable(getattr(value, name)) for name in names}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_jsonable(value: Any) -> Any:
    """Plain-JSON form of domain objects (Decimal as string, dates ISO 8601)."""
    return _jsonable(value)


def digest(value: Any) -> str:
    """Stable content hash used for change detection and dedupe keys."""
    return digest_jsonable(_jsonable(value))


def digest_jsonable(data: Any) -> str:
    """Digest of an already JSON-able value (saves converting twice)."""
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def money_sum(items: Iterable[Money], currency: str) -> Money:
    return sum(items, Money.zero(currency))
