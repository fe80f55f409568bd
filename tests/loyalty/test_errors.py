"""Bad input: every rejection is a named error that says what to fix, and writes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector.errors import (
    InsufficientPoints,
    LoyaltyError,
    NoRateForCurrency,
    ProgramError,
    UnknownCustomer,
    UnknownReward,
)
from connector.loyalty import (
    Account,
    CouponUsed,
    ManualAdjustment,
    Redeem,
    RewardVoided,
    TimePassed,
    apply,
    load_program,
)
from tests.loyalty.helpers import (
    completed,
    default_program,
    earn_then_release,
    local,
    paid,
    program_data,
)


def _unchanged(account: Account, before: list[Any]) -> None:
    assert account.entries == before
    assert account == Account.from_entries(account.customer_id, before)


def _account_with(points_basis: str = "100.00") -> tuple[Any, Account]:
    program = default_program()
    account = Account("c1")
    earn_then_release(program, account, "A1", points_basis, local(2026, 1, 10))
    return program, account


def _redeem(reward: str = "ship", email: str | None = "c1@example.com", rid: str = "r1") -> Redeem:
    return Redeem(at=local(2026, 2, 20), redemption_id=rid, reward_id=reward, store="woo:main", email=email)


def test_unknown_reward_is_named_and_writes_nothing() -> None:
    program, account = _account_with()
    before = list(account.entries)
    with pytest.raises(UnknownReward) as err:
        apply(program, account, _redeem("free-car"))
    assert err.value.reference == "reward-unknown"
    assert "ship, five, pct15" in str(err.value)
    _unchanged(account, before)


def test_insufficient_points_rolls_back_even_the_sweep() -> None:
    program = default_program()
    account = Account("c1")
    earn_then_release(program, account, "A1", "40.00", local(2026, 1, 10))  # 200 available
    apply(program, account, paid("A2", local(2026, 2, 1), "10.00"))
    apply(program, account, completed("A2", local(2026, 2, 2)))  # 50 released on 17 February
    before = list(account.entries)
    with pytest.raises(InsufficientPoints) as err:
        apply(program, account, _redeem("ship"))  # 20 February: 250 after the release < 300
    assert err.value.reference == "points-insufficient"
    assert "costs 300 points" in str(err.value) and "250 spendable" in str(err.value)
    _unchanged(account, before)  # the due release was not kept either
    out = apply(program, account, TimePassed(at=local(2026, 2, 20)))
    assert [(e.kind.value, e.points) for e in out.entries] == [("RELEASE", 50)]


def test_redeem_without_email_is_rejected() -> None:
    program, account = _account_with()
    before = list(account.entries)
    with pytest.raises(UnknownCustomer) as err:
        apply(program, account, _redeem(email="  "))
    assert err.value.reference == "redeem-without-email"
    assert "e-mail" in (err.value.hint or "")
    _unchanged(account, before)


def test_order_in_a_currency_without_a_rate() -> None:
    program = default_program()
    account = Account("c1")
    with pytest.raises(NoRateForCurrency) as err:
        apply(program, account, paid("U1", local(2026, 3, 1), "50.00", currency="USD"))
    assert err.value.reference == "currency-without-rate"
    assert "USD" in str(err.value) and "earn.rates" in (err.value.hint or "")
    assert account.entries == []


def test_a_second_currency_earns_at_its_own_rate() -> None:
    program = default_program(earn={"rates": {"EUR": 5, "USD": 4}})
    account = Account("c1")
    out = apply(program, account, paid("U1", local(2026, 3, 1), "50.00", currency="USD"))
    assert [(e.points, e.currency) for e in out.entries] == [(200, "USD")]
    # for tiers the USD basis counts as the EUR spend that earns the same points: 50 × 4/5
    assert account.orders["woo:main:order:U1"].spend == Decimal("40")


def test_tier_restricted_reward() -> None:
    data = program_data()
    data["program"]["rewards"].append({"id": "vip", "type": "fixed_amount", "amount": "10", "price": 100, "tiers_allowed": ["gold"]})
    program = load_program(data, source="p.yaml", code_secret="s")
    account = Account("c1")
    earn_then_release(program, account, "A1", "100.00", local(2026, 1, 10))
    before = list(account.entries)
    with pytest.raises(LoyaltyError) as err:
        apply(program, account, _redeem("vip"))
    assert err.value.reference == "reward-tier-restricted"
    _unchanged(account, before)


def test_redeem_without_a_code_secret() -> None:
    program = load_program(program_data(), source="p.yaml")
    account = Account("c1")
    earn_then_release(program, account, "A1", "100.00", local(2026, 1, 10))
    with pytest.raises(ProgramError) as err:
        apply(program, account, _redeem())
    assert err.value.reference == "reward-secret-missing"


def test_manual_adjustments_need_a_reason_and_cannot_overdraw() -> None:
    program, account = _account_with("20.00")  # 100 available
    before = list(account.entries)
    with pytest.raises(LoyaltyError) as err:
        apply(program, account, ManualAdjustment(at=local(2026, 2, 1), key="k1", points=10, reason=" "))
    assert err.value.reference == "adjust-reason-missing"
    with pytest.raises(InsufficientPoints):
        apply(program, account, ManualAdjustment(at=local(2026, 2, 1), key="k2", points=-101, reason="typo"))
    _unchanged(account, before)
    out = apply(program, account, ManualAdjustment(at=local(2026, 2, 1), key="k3", points=-100, reason="duplicate account"))
    assert [(e.kind.value, e.points) for e in out.entries] == [("ADJUST", -100)]
    assert "duplicate account" in out.entries[0].explanation


def test_voiding_a_used_reward_is_refused() -> None:
    program, account = _account_with()
    apply(program, account, _redeem())
    code = account.rewards["r1"].code
    apply(program, account, CouponUsed(at=local(2026, 2, 21), store="woo:main", order_id="9", code=code))
    with pytest.raises(LoyaltyError) as err:
        apply(program, account, RewardVoided(at=local(2026, 2, 22), redemption_id="r1", reason="oops"))
    assert err.value.reference == "reward-not-voidable"
    with pytest.raises(UnknownReward):
        apply(program, account, RewardVoided(at=local(2026, 2, 22), redemption_id="nope", reason="oops"))


# --- program validation -----------------------------------------------------------------------


def _program_error(**changes: Any) -> ProgramError:
    data = program_data(**changes)
    with pytest.raises(ProgramError) as err:
        load_program(data, source="config/loyalty.yaml", code_secret="s")
    assert err.value.kind == "config"
    assert "config/loyalty.yaml" in str(err.value)
    return err.value


def test_negative_rate() -> None:
    err = _program_error(earn={"rates": {"EUR": -5}})
    assert "program.earn.rates.EUR" in str(err) or "program.earn.rates" in str(err)
    assert "must be 0 or more" in str(err)


def test_tier_thresholds_out_of_order() -> None:
    tiers = program_data()["program"]["tiers"]
    tiers["levels"][2]["from"] = "250.00"
    err = _program_error(tiers=tiers)
    assert "program.tiers" in str(err)
    assert "'gold' (250.00) must be above 'silver' (300.00)" in str(err)


def test_first_tier_must_start_at_zero() -> None:
    tiers = program_data()["program"]["tiers"]
    tiers["levels"][0]["from"] = "10"
    assert "must start at 0" in str(_program_error(tiers=tiers))


def test_duplicate_reward_ids() -> None:
    rewards = program_data()["program"]["rewards"]
    rewards[1]["id"] = "ship"
    assert "duplicate reward id 'ship'" in str(_program_error(rewards=rewards))


def test_reward_limited_to_an_unknown_tier() -> None:
    rewards = program_data()["program"]["rewards"]
    rewards[0]["tiers_allowed"] = ["platinum"]
    assert "'platinum', which is not among the tiers" in str(_program_error(rewards=rewards))


def test_misspelt_key_names_its_path() -> None:
    err = _program_error(pending={"window_dayz": 14})
    assert "program.pending.window_dayz" in str(err)


def test_unknown_time_zone_and_currency() -> None:
    assert "unknown time zone" in str(_program_error(timezone="Europe/Atlantis"))
    assert "ISO 4217" in str(_program_error(currency="EURO"))


def test_versions_must_be_in_time_order() -> None:
    err = _program_error(
        versions=[
            {"effective_from": "2026-05-01", "earn": {"rates": {"EUR": 6}}},
            {"effective_from": "2026-04-01", "earn": {"rates": {"EUR": 7}}},
        ]
    )
    assert "program.versions.1.effective_from" in str(err)


def test_program_currency_needs_a_rate() -> None:
    err = _program_error(earn={"rates": {"USD": 4}})
    assert "no rate for the program currency EUR" in str(err)
