"""`vinculo loyalty …`: balances, history, manual adjustments, redemptions, rebuild."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from connector.clikit import PARTIAL, Env, config_option, guarded, opened, table
from connector.errors import ConfigValueError
from connector.runtime import Runtime


@contextmanager
def _runtime(config_path: str) -> Iterator[Runtime]:
    """The runtime, refusing configs without a loyalty program."""
    with opened(config_path) as rt:
        if rt.loyalty is None:
            raise ConfigValueError(
                "no loyalty program is configured",
                file=config_path,
                key="loyalty.program_file",
                hint="add `loyalty: {program_file: loyalty.yaml, code_secret: ${VINCULO_CODE_SECRET}}`",
            )
        yield rt


@click.group("loyalty")
def loyalty_group() -> None:
    """The points ledger: balance, history, adjust, redeem, rebuild, sweep."""


@loyalty_group.command()
@config_option
@click.argument("customer")
@guarded
def balance(config_path: str, customer: str) -> None:
    """Points, pending points, tier, next reward and what expires next (CUSTOMER: e-mail or vc_ id)."""
    env: Env = click.get_current_context().ensure_object(Env)
    with _runtime(config_path) as rt:
        data = rt.loyalty.balance(rt.db, customer)
    if env.json:
        env.emit("loyalty balance", data)
        return
    env.out.print(
        table(
            f"loyalty balance of {data['email'] or data['customer']}",
            ["", "value"],
            [[k, v] for k, v in data.items() if k not in ("customer", "email")],
        )
    )


@loyalty_group.command()
@config_option
@click.argument("customer")
@guarded
def history(config_path: str, customer: str) -> None:
    """Every ledger entry with its explanation, oldest first."""
    env: Env = click.get_current_context().ensure_object(Env)
    with _runtime(config_path) as rt:
        rows = rt.loyalty.history(rt.db, customer)
    if env.json:
        env.emit("loyalty history", {"customer": customer, "entries": rows})
        return
    env.out.print(
        table(
            f"history of {customer}",
            ["when", "kind", "points", "explanation"],
            [[r["at"][:16], r["kind"], r["points"], r["explanation"]] for r in rows],
        )
    )


@loyalty_group.command()
@config_option
@click.argument("customer")
@click.argument("points", type=int)
@click.option("--reason", required=True, help="Shown to the customer in their history.")
@click.option("--key", default=None, help="Idempotency key: the same key never adjusts twice.")
@guarded
def adjust(config_path: str, customer: str, points: int, reason: str, key: str | None) -> None:
    """Add (or with a negative number, remove) points by hand, with a reason."""
    env: Env = click.get_current_context().ensure_object(Env)
    with _runtime(config_path) as rt:
        entry = rt.loyalty.adjust(rt.db, customer, points, reason=reason, key=key)
        sent = rt.dispatcher.drain().as_dict()
    if env.json:
        env.emit("loyalty adjust", {"entry": entry.to_dict(), "outbox": sent})
        return
    env.out.print(entry.explanation)


@loyalty_group.command()
@config_option
@click.argument("customer")
@click.argument("reward")
@click.option("--store", required=True, help="Store key where the coupon is created.")
@click.option("--redemption-id", default=None, help="Idempotency key (defaults to a new one).")
@guarded
def redeem(
    config_path: str, customer: str, reward: str, store: str, redemption_id: str | None
) -> None:
    """Spend points on a reward: a single-use coupon restricted to the customer."""
    env: Env = click.get_current_context().ensure_object(Env)
    with _runtime(config_path) as rt:
        coupon = rt.loyalty.redeem(
            rt.db, customer, reward, store=store, redemption_id=redemption_id
        )
        sent = rt.dispatcher.drain().as_dict()
    payload: dict[str, Any] = {
        "code": coupon.code,
        "reward": coupon.reward_id,
        "store": store,
        "email": coupon.email,
        "expires_at": coupon.expires_at.isoformat(),
        "outbox": sent,
    }
    if env.json:
        env.emit("loyalty redeem", payload)
        return
    env.out.print(
        f"coupon {coupon.code} ({coupon.reward_id}) for {coupon.email} on {store}, "
        f"valid until {coupon.expires_at:%Y-%m-%d}"
    )


@loyalty_group.command()
@config_option
@click.option("--fix", is_flag=True, help="Rewrite cached balances that differ from the ledger.")
@guarded
def rebuild(config_path: str, fix: bool) -> None:
    """Recompute every balance from the ledger and report any difference."""
    env: Env = click.get_current_context().ensure_object(Env)
    with _runtime(config_path) as rt:
        reports = rt.loyalty.rebuild(rt.db, fix=fix)
    bad = [r for r in reports if not r.ok]
    if env.json:
        env.emit(
            "loyalty rebuild",
            {
                "accounts": len(reports),
                "differences": [
                    {"customer": r.customer_id, "problems": list(r.problems)} for r in bad
                ],
                "fixed": fix,
            },
        )
    else:
        env.out.print(
            f"{len(reports)} account(s) rebuilt from the ledger; {len(bad)} with differences"
        )
        for r in bad:
            env.out.print(f"  {r.customer_id}: " + "; ".join(r.problems))
    if bad and not fix:
        sys.exit(PARTIAL)


@loyalty_group.command()
@config_option
@guarded
def sweep(config_path: str) -> None:
    """Release pending points, expire old batches and rewards, re-evaluate tiers, as of now."""
    env: Env = click.get_current_context().ensure_object(Env)
    with _runtime(config_path) as rt:
        queued = rt.loyalty.sweep(rt.db)
        sent = rt.dispatcher.drain().as_dict()
    if env.json:
        env.emit("loyalty sweep", {"perks_queued": queued, "outbox": sent})
    else:
        env.out.print(f"perk commands queued: {queued}; sent: {sent}")


COMMANDS = [loyalty_group]
