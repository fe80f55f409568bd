"""The loyalty program's configuration: validated once, versioned, never consulted for the past.

A merchant edits the program over time (a higher rate, a new tier, shorter expiry). Points already
earned must not move when that happens (LOYALTY.md §5.14 invariant 6), so the configuration is a
list of *versions*, each with ``effective_from``: an order is priced by the version in force at its
``placed_at``, a batch gets its expiry from the version in force when it becomes available, and
whatever the engine needs later (rate, basis, window, expiry) is copied onto the ledger entry.
Editing a later version therefore cannot reach back into existing entries.

The YAML shape follows LOYALTY.md §5.15; ``versions`` lists partial overrides that are deep-merged
onto the previous version (mappings merge, lists and scalars replace)::

    program:
      currency: EUR
      timezone: Europe/Madrid
      earn: {rates: {EUR: 5, USD: 4}, basis: merchandise_after_discounts, rounding: floor}
      ...
      versions:
        - {effective_from: "2026-04-01", earn: {rates: {EUR: 6}}}

Every validation failure is a :class:`~connector.errors.ProgramError` naming the source file and
the dotted key path, with a sentence saying what to change.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connector.domain import check_currency
from connector.errors import InvalidValue, ProgramError
from connector.loyalty.localtime import local_midnight

Basis = Literal[
    "merchandise_after_discounts", "merchandise_before_discounts", "total_excl_shipping", "total"
]
Rounding = Literal["floor", "half_up", "ceil"]
NegativePolicy = Literal["forbid_with_debt", "allow_negative", "clamp"]

_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _non_negative(value: Decimal, what: str) -> Decimal:
    if value < 0:
        raise ValueError(f"{what} is {value}; it must be 0 or more")
    return value


class LineBonus(_Model):
    """Extra earning on matching lines: a multiplier on their basis, or fixed points per unit."""

    id: str = Field(min_length=1)
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    multiplier: Decimal = Decimal(1)
    extra_points: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> LineBonus:
        if not self.skus and not self.categories:
            raise ValueError(f"bonus {self.id!r} matches nothing: give `skus` or `categories`")
        if self.multiplier <= 0:
            raise ValueError(f"bonus {self.id!r} multiplier is {self.multiplier}; it must be > 0")
        if self.multiplier == 1 and self.extra_points == 0:
            raise ValueError(f"bonus {self.id!r} changes nothing: set `multiplier` or `extra_points`")
        return self

    def matches(self, sku: str, categories: tuple[str, ...]) -> bool:
        return (bool(sku) and sku in self.skus) or any(c in self.categories for c in categories)


class Campaign(_Model):
    """A double-points window ``[start, end)``; naive times are merchant-local."""

    id: str = Field(min_length=1)
    start: datetime
    end: datetime
    multiplier: Decimal

    @model_validator(mode="after")
    def _check(self) -> Campaign:
        if self.multiplier <= 0:
            raise ValueError(f"campaign {self.id!r} multiplier is {self.multiplier}; it must be > 0")
        if self.start.tzinfo is not None and self.end.tzinfo is not None and self.end <= self.start:
            raise ValueError(f"campaign {self.id!r} ends before it starts; swap `start` and `end`")
        return self


class EarnRules(_Model):
    rates: dict[str, Decimal]
    basis: Basis = "merchandise_after_discounts"
    rounding: Rounding = "floor"
    include_gift_cards: bool = False
    min_order: Decimal = Decimal(0)
    first_order_bonus: int = Field(default=0, ge=0)
    bonuses: tuple[LineBonus, ...] = ()
    campaigns: tuple[Campaign, ...] = ()

    @field_validator("rates")
    @classmethod
    def _rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        if not rates:
            raise ValueError("no earn rate: give `rates: {EUR: 5}` (points per 1.00 of currency)")
        for code, rate in rates.items():
            try:
                check_currency(code)
            except InvalidValue:
                raise ValueError(f"{code!r} is not an ISO 4217 currency code (e.g. EUR, USD)") from None
            _non_negative(rate, f"the earn rate for {code}")
        return rates

    @field_validator("min_order")
    @classmethod
    def _min_order(cls, value: Decimal) -> Decimal:
        return _non_negative(value, "min_order")

    @model_validator(mode="after")
    def _unique(self) -> EarnRules:
        for what, items in (("bonus", self.bonuses), ("campaign", self.campaigns)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"two {what} rules are called {item.id!r}; give each a unique id")
                seen.add(item.id)
        return self


class PendingRules(_Model):
    window_days: int = Field(default=14, ge=0)
    clock_start: Literal["delivered", "completed", "paid"] = "completed"
    transit_buffer_days: int = Field(default=0, ge=0)


class ExpiryRules(_Model):
    mode: Literal["batch", "inactivity", "none"] = "batch"
    days: int = Field(default=365, gt=0)
    notify_days_before: tuple[int, ...] = (30, 7)

    @field_validator("notify_days_before")
    @classmethod
    def _notify(cls, days: tuple[int, ...]) -> tuple[int, ...]:
        if any(d <= 0 for d in days):
            raise ValueError("notice days must be positive numbers of days before expiry")
        return tuple(sorted(set(days), reverse=True))


class TierLevel(_Model):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    threshold: Decimal = Field(alias="from")
    multiplier: Decimal = Decimal(1)
    window_days: int | None = Field(default=None, ge=0)
    free_shipping: bool = False
    tag: str = ""

    @model_validator(mode="after")
    def _check(self) -> TierLevel:
        _non_negative(self.threshold, f"tier {self.name!r} threshold")
        if self.multiplier <= 0:
            raise ValueError(f"tier {self.name!r} multiplier is {self.multiplier}; it must be > 0")
        if not self.tag:
            object.__setattr__(self, "tag", f"vinculo-tier-{self.name}")
        return self


class TierRules(_Model):
    basis: Literal["spend", "points", "orders"] = "spend"
    window: Literal["lifetime", "calendar_year", "rolling_365"] = "rolling_365"
    retention_days: int = Field(default=365, ge=0)
    count_from: Literal["available", "completed"] = "available"
    downgrade: Literal["to_entitled", "one_step"] = "to_entitled"
    refunds_undo_upgrades: bool = True
    levels: tuple[TierLevel, ...]

    @model_validator(mode="after")
    def _check(self) -> TierRules:
        if not self.levels:
            raise ValueError("`levels` is empty: list at least one tier starting `from: 0`")
        if self.levels[0].threshold != 0:
            raise ValueError(
                f"the first tier ({self.levels[0].name!r}) starts at {self.levels[0].threshold}; "
                "it must start at 0 so every member holds a tier"
            )
        names: set[str] = set()
        for prev, level in zip(self.levels, self.levels[1:], strict=False):
            if level.threshold <= prev.threshold:
                raise ValueError(
                    f"tier thresholds out of order: {level.name!r} ({level.threshold}) must be above "
                    f"{prev.name!r} ({prev.threshold}); list levels from lowest to highest"
                )
        for level in self.levels:
            if level.name in names:
                raise ValueError(f"two tiers are called {level.name!r}; tier names must be unique")
            names.add(level.name)
        return self


class Reward(_Model):
    id: str = Field(min_length=1)
    type: Literal["fixed_amount", "percentage", "free_shipping"]
    price: int = Field(gt=0)
    amount: Decimal | None = None
    percent: Decimal | None = None
    max_shipping: Decimal | None = None
    min_subtotal: Decimal | None = None
    validity_days: int = Field(default=60, gt=0)
    tiers_allowed: tuple[str, ...] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Reward:
        if self.type == "fixed_amount" and (self.amount is None or self.amount <= 0):
            raise ValueError(f"reward {self.id!r} is fixed_amount: give a positive `amount` such as '5.00'")
        if self.type == "percentage" and (self.percent is None or not 0 < self.percent <= 100):
            raise ValueError(f"reward {self.id!r} is percentage: give `percent` between 0 and 100")
        for what in ("max_shipping", "min_subtotal"):
            value = getattr(self, what)
            if value is not None:
                _non_negative(value, f"reward {self.id!r} {what}")
        return self


class AutoIssue(_Model):
    """Issue ``reward`` on its own whenever spendable points reach ``min_available``."""

    reward: str
    min_available: int | None = Field(default=None, gt=0)


class Rules(_Model):
    """One version of the program: everything that may change over time."""

    effective_from: datetime = _BEGINNING
    label: str = ""
    point_value: Decimal = Decimal("0.01")
    earn: EarnRules
    pending: PendingRules = PendingRules()
    expiry: ExpiryRules = ExpiryRules()
    negative_policy: NegativePolicy = "forbid_with_debt"
    restore_redeemed_on: Literal["full_refund", "proportional", "never"] = "full_refund"
    restore_expired: Literal["expire", "reissue"] = "expire"
    reward_expiry_refund: bool = True
    rewards: tuple[Reward, ...] = ()
    auto_issue: AutoIssue | None = None
    tiers: TierRules | None = None

    @field_validator("point_value")
    @classmethod
    def _point_value(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"point_value is {value}; it must be a positive amount such as '0.01'")
        return value

    @model_validator(mode="after")
    def _cross(self) -> Rules:
        ids: set[str] = set()
        tier_names = {lv.name for lv in self.tiers.levels} if self.tiers else set()
        for reward in self.rewards:
            if reward.id in ids:
                raise ValueError(f"duplicate reward id {reward.id!r}; each reward needs its own id")
            ids.add(reward.id)
            for name in reward.tiers_allowed or ():
                if name not in tier_names:
                    raise ValueError(
                        f"reward {reward.id!r} is limited to tier {name!r}, which is not among "
                        f"the tiers ({', '.join(sorted(tier_names)) or 'none configured'})"
                    )
        if self.auto_issue is not None:
            target = next((r for r in self.rewards if r.id == self.auto_issue.reward), None)
            if target is None:
                raise ValueError(f"auto_issue names reward {self.auto_issue.reward!r}, which is not in `rewards`")
            if self.auto_issue.min_available is not None and self.auto_issue.min_available < target.price:
                raise ValueError(
                    f"auto_issue.min_available ({self.auto_issue.min_available}) is below the price "
                    f"of {target.id!r} ({target.price}); raise it or leave it out"
                )
        return self

    # Look-up tables, built on first use and kept in the instance dict (plain attribute reads on
    # the hot path, not pydantic's private-attribute machinery).
    @cached_property
    def _rewards_by_id(self) -> dict[str, Reward]:
        return {r.id: r for r in self.rewards}

    @cached_property
    def _rewards_by_price(self) -> tuple[Reward, ...]:
        return tuple(sorted(self.rewards, key=lambda r: (r.price, r.id)))

    @cached_property
    def _levels_by_name(self) -> dict[str, int]:
        return {lv.name: i for i, lv in enumerate(self.tiers.levels)} if self.tiers else {}

    def reward(self, reward_id: str) -> Reward | None:
        return self._rewards_by_id.get(reward_id)

    @property
    def rewards_by_price(self) -> tuple[Reward, ...]:
        return self._rewards_by_price

    def level(self, name: str | None) -> TierLevel | None:
        if self.tiers is None or name is None:
            return None
        index = self._levels_by_name.get(name)
        return None if index is None else self.tiers.levels[index]

    def level_index(self, name: str | None) -> int:
        """Position of a tier among the levels (0 = lowest); unknown names count as the lowest."""
        if name is None:
            return 0
        return self._levels_by_name.get(name, 0)


class Program:
    """A validated program: program-wide identity plus its versions in time order.

    ``code_secret`` keys the reward-code hash (:func:`connector.loyalty.codes.reward_code`); it
    comes from the environment or a secrets file, never from the YAML, and is never printed.
    """

    __slots__ = ("id", "currency", "timezone", "tz", "versions", "_starts", "_secret")

    def __init__(
        self,
        *,
        id: str,
        currency: str,
        timezone: str,
        versions: tuple[Rules, ...],
        code_secret: str | None = None,
    ) -> None:
        self.id = id
        self.currency = currency
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.versions = versions
        self._starts = [v.effective_from for v in versions]
        self._secret = code_secret

    def __repr__(self) -> str:
        return f"Program(id={self.id!r}, currency={self.currency!r}, versions={len(self.versions)})"

    @property
    def code_secret(self) -> str | None:
        return self._secret

    def at(self, when: datetime) -> Rules:
        """The version in force at ``when`` (the latest whose ``effective_from`` ≤ ``when``)."""
        if len(self.versions) == 1:
            return self.versions[0]
        index = bisect.bisect_right(self._starts, when) - 1
        return self.versions[max(index, 0)]

    def with_version(self, data: Mapping[str, Any], *, source: str = "<program>") -> Program:
        """A copy with one more version (partial override, deep-merged onto the latest)."""
        raw = _rules_raw(self.versions[-1])
        override = copy.deepcopy(dict(data))
        start = _effective_from(override.pop("effective_from", None), self.tz, source, "effective_from")
        _normalise(override, self.currency, self.tz, source, "program")
        merged = _merge(raw, override)
        merged["effective_from"] = start
        merged["label"] = str(override.get("label", f"v{len(self.versions)}"))
        rules = _validate_rules(merged, self.currency, source, "program")
        if start <= self.versions[-1].effective_from:
            raise ProgramError(
                f"{source}: effective_from {start.isoformat()} is not after the latest version",
                obj=f"{source}:effective_from",
                hint="new versions apply from a later instant; past earnings never change",
            )
        return Program(
            id=self.id,
            currency=self.currency,
            timezone=self.timezone,
            versions=(*self.versions, rules),
            code_secret=self._secret,
        )


# --- loading ------------------------------------------------------------------------------------


def load_program(data: Mapping[str, Any], *, source: str, code_secret: str | None = None) -> Program:
    """Validate a program mapping (YAML already parsed) into a :class:`Program`.

    ``data`` may be the whole file (with a top-level ``program:`` key) or its content.
    """
    root_any = data.get("program", data) if isinstance(data, Mapping) else data
    if not isinstance(root_any, Mapping):
        raise ProgramError(
            f"{source}: the program must be a mapping of keys", obj=source, hint="see LOYALTY.md §5.15"
        )
    root = copy.deepcopy(dict(root_any))
    currency = root.pop("currency", None)
    try:
        currency = check_currency(currency)
    except InvalidValue:
        raise ProgramError(
            f"{source}: program.currency: {currency!r} is not an ISO 4217 code",
            obj=f"{source}:program.currency",
            hint="set `currency: EUR` (the currency points are valued in)",
        ) from None
    timezone = root.pop("timezone", "Europe/Madrid")
    try:
        tz = ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProgramError(
            f"{source}: program.timezone: unknown time zone {timezone!r}",
            obj=f"{source}:program.timezone",
            hint="use an IANA zone name such as Europe/Madrid",
        ) from None
    program_id = str(root.pop("id", "default"))
    versions_raw = root.pop("versions", []) or []
    if not isinstance(versions_raw, list):
        raise ProgramError(
            f"{source}: program.versions must be a list", obj=f"{source}:program.versions",
            hint="write each version as `- {effective_from: ..., <keys that change>}`",
        )
    root.pop("effective_from", None)
    _normalise(root, currency, tz, source, "program")
    root.setdefault("label", "v0")
    versions = [_validate_rules(root, currency, source, "program")]
    merged = root
    for i, raw in enumerate(versions_raw):
        path = f"program.versions.{i}"
        if not isinstance(raw, Mapping):
            raise ProgramError(f"{source}: {path} must be a mapping", obj=f"{source}:{path}")
        override = copy.deepcopy(dict(raw))
        start = _effective_from(override.pop("effective_from", None), tz, source, f"{path}.effective_from")
        _normalise(override, currency, tz, source, path)
        merged = _merge(merged, override)
        merged["effective_from"] = start
        merged["label"] = str(override.get("label", f"v{i + 1}"))
        rules = _validate_rules(merged, currency, source, path)
        if rules.effective_from <= versions[-1].effective_from:
            raise ProgramError(
                f"{source}: {path}.effective_from {start.isoformat()} is not after the previous version",
                obj=f"{source}:{path}.effective_from",
                hint="list versions in time order, each starting after the one before",
            )
        versions.append(rules)
    return Program(
        id=program_id, currency=currency, timezone=str(timezone), versions=tuple(versions), code_secret=code_secret
    )


def _normalise(raw: dict[str, Any], currency: str, tz: ZoneInfo, source: str, path: str) -> None:
    """YAML conveniences: ``earn.rate`` for the program currency, local campaign times."""
    earn = raw.get("earn")
    if isinstance(earn, dict):
        if "rate" in earn:
            if "rates" in earn:
                raise ProgramError(
                    f"{source}: {path}.earn: both `rate` and `rates` are set",
                    obj=f"{source}:{path}.earn",
                    hint="keep `rates: {EUR: 5, USD: 4}` only",
                )
            earn["rates"] = {currency: earn.pop("rate")}
        for campaign in earn.get("campaigns") or []:
            if isinstance(campaign, dict):
                for key in ("start", "end"):
                    campaign[key] = _local(campaign.get(key), tz)
    tiers = raw.get("tiers")
    if isinstance(tiers, dict):
        for level in tiers.get("levels") or []:
            if isinstance(level, dict) and "from" in level and isinstance(level["from"], float):
                level["from"] = str(level["from"])


def _local(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz).astimezone(UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return local_midnight(value, tz)
    return value


def _effective_from(value: Any, tz: ZoneInfo, source: str, path: str) -> datetime:
    parsed = _local(value, tz)
    if not isinstance(parsed, datetime):
        raise ProgramError(
            f"{source}: {path}: {value!r} is not a date or date-time",
            obj=f"{source}:{path}",
            hint="write `effective_from: 2026-04-01` (00:00 merchant time) or a full ISO date-time",
        )
    return parsed


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _rules_raw(rules: Rules) -> dict[str, Any]:
    raw = rules.model_dump(mode="python", by_alias=True, exclude={"effective_from", "label"})
    return raw


def _validate_rules(raw: Mapping[str, Any], currency: str, source: str, path: str) -> Rules:
    try:
        rules = Rules.model_validate(raw)
    except ValidationError as exc:
        raise _program_error(exc, source, path) from None
    if currency not in rules.earn.rates:
        raise ProgramError(
            f"{source}: {path}.earn.rates: no rate for the program currency {currency}",
            obj=f"{source}:{path}.earn.rates",
            hint=f"add `{currency}: <points per 1.00>`; the program currency needs a rate for "
            "'how far to the next reward'",
        )
    return rules


def _program_error(exc: ValidationError, source: str, path: str) -> ProgramError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if p != "__root__")
    key = f"{path}.{loc}" if loc else path
    message = str(first["msg"]).removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    return ProgramError(
        f"{source}: {key}: {message}{suffix}",
        obj=f"{source}:{key}",
        hint="fix this key in the program file and reload; nothing was applied",
    )
