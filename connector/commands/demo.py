"""`vinculo demo`: see the README's first command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from connector.clikit import Env, guarded, progress_bars, table
from connector.demo import DemoResult, run_demo
from connector.errors import ConfigError


@click.command()
@click.option(
    "--erp",
    "erp_kind",
    type=click.Choice(["files", "tryton"]),
    default="files",
    show_default=True,
    help="ERP to sync with: a file-drop folder, or a real local Tryton (needs vinculo[tryton]).",
)
@click.option(
    "--customers", default=120, show_default=True, help="Customers in the simulated store."
)
@click.option("--orders", default=240, show_default=True, help="Orders in the simulated store.")
@click.option("--no-shopify", is_flag=True, help="Only the WooCommerce store.")
@click.option(
    "--dir", "workdir", default=None, help="Keep the demo's files (config, state, ERP folder) here."
)
@guarded
def demo(erp_kind: str, customers: int, orders: int, no_shopify: bool, workdir: str | None) -> None:
    """Run Vínculo against local store simulators and an ERP folder: no credentials, no network."""
    env: Env = click.get_current_context().ensure_object(Env)
    if erp_kind == "tryton":
        try:
            import trytond  # noqa: F401
        except ImportError:
            raise ConfigError(
                "the Tryton demo needs the Tryton packages",
                reference="tryton-not-installed",
                hint="pip install 'vinculo[tryton]', then run `vinculo demo --erp tryton` again",
            ) from None
    result = run_demo(
        workdir=Path(workdir).resolve() if workdir else None,
        customers=customers,
        orders=orders,
        erp_kind=erp_kind,
        with_shopify=not no_shopify,
        progress_factory=lambda: progress_bars(env),
    )
    if env.json:
        env.emit("demo", _as_json(result))
        return
    render(env, result)


def _as_json(r: DemoResult) -> dict[str, Any]:
    return {
        "workdir": str(r.workdir),
        "first_run": [s.as_dict() for s in r.first],
        "second_run": [s.as_dict() for s in r.second],
        "outbox": r.dispatched,
        "second_run_outbox": r.second_dispatched,
        "second_run_store_writes": r.store_calls_second_run,
        "erp_files": r.erp_files,
        **{k: v for k, v in r.summary.items() if k != "status"},
        "quarantined": r.summary.get("status", {}).get("quarantined", []),
    }


def render(env: Env, r: DemoResult) -> None:
    keys = [
        ("customers_seen", "customers read"),
        ("customers_new", "new customers"),
        ("orders_seen", "orders read"),
        ("orders_new", "new orders"),
        ("orders_exported", "orders sent to ERP"),
        ("sales_new", "ERP-only sales"),
        ("orders_completed", "completed by ERP shipment"),
        ("perks_queued", "perks queued"),
        ("quarantined", "records quarantined"),
    ]
    columns = [
        "",
        *[f"1st run {s.source}" for s in r.first],
        *[f"2nd run {s.source}" for s in r.second],
    ]
    runs = [*r.first, *r.second]
    env.out.print(
        table(
            "sync runs (the second run finds nothing new)",
            columns,
            [[label, *[s.counts[k] for s in runs]] for k, label in keys],
        )
    )
    env.out.print(
        "store write calls in the second run: "
        + ", ".join(f"{k} {v}" for k, v in r.store_calls_second_run.items())
    )
    env.out.print(
        "perk commands sent: "
        + (", ".join(f"{k} {v}" for k, v in sorted(r.dispatched.items())) or "none")
    )
    status = r.summary.get("status", {})
    if status.get("quarantined"):
        env.out.print(
            table(
                "quarantined (kept, not lost)",
                ["source", "stream", "record", "reason"],
                [
                    [q["source"], q["stream"], q["record"], q["reason"]]
                    for q in status["quarantined"]
                ],
            )
        )
    if r.summary.get("balances"):
        env.out.print(
            table(
                "top loyalty balances",
                ["customer", "available", "pending", "tier"],
                [
                    [b["email"], b["available"], b["pending"], b["tier"] or "-"]
                    for b in r.summary["balances"]
                ],
            )
        )
    if r.summary.get("coupons"):
        env.out.print(
            table(
                "reward coupons issued",
                ["store", "code", "reward", "customer", "expires"],
                [
                    [c["store"], c["code"], c["reward"], c["email"], c["expires_at"]]
                    for c in r.summary["coupons"]
                ],
            )
        )
    if r.erp_files:
        env.out.print(
            "ERP folder: " + ", ".join(r.erp_files[:8]) + (" …" if len(r.erp_files) > 8 else "")
        )
    for note in r.summary.get("skipped", []):
        env.out.print(f"note: {note}")
    env.out.print(
        f"workdir: {r.workdir} " + (f"({r.summary['note']})" if r.summary.get("note") else "")
    )


COMMANDS = [demo]
