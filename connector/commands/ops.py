"""`vinculo sync`, `status`, `quarantine …` and `outbox …`: running and watching the sync."""

from __future__ import annotations

import sys
from typing import Any

import click

from connector import outbox
from connector.clikit import (
    PARTIAL,
    Env,
    config_option,
    guarded,
    load,
    opened,
    progress_bars,
    table,
)
from connector.errors import NotFound
from connector.runtime import open_runtime
from connector.state import customers as customers_repo
from connector.state import orders as orders_repo
from connector.state import quarantine, runs, watermarks
from connector.state.clock import now


@click.command()
@config_option
@click.option(
    "--store", "store_keys", multiple=True, help="Only this store (repeatable). Default: all."
)
@click.option(
    "--full", is_flag=True, help="Forget watermarks and re-read everything (writes stay keyed)."
)
@click.option("--no-erp", is_flag=True, help="Skip the ERP side of the run.")
@guarded
def sync(config_path: str, store_keys: tuple[str, ...], full: bool, no_erp: bool) -> None:
    """Pull changes from the stores and the ERP, mirror them, run loyalty, send perks."""
    env: Env = click.get_current_context().ensure_object(Env)
    config = load(config_path)
    for key in store_keys:
        config.store(key)  # names the bad key before any work starts
    with progress_bars(env) as bars:
        rt = open_runtime(config, progress=bars)
        try:
            keys = list(store_keys) or list(rt.stores)
            results = [rt.engine.sync_store(k, full=full) for k in keys]
            if rt.erp is not None and not no_erp and not store_keys:
                results.append(rt.engine.sync_erp(full=full))
            dispatched = rt.dispatcher.drain()
        finally:
            rt.close()
    quarantined = sum(r.counts["quarantined"] for r in results)
    if env.json:
        env.emit("sync", {"runs": [r.as_dict() for r in results], "outbox": dispatched.as_dict()})
    else:
        keys_seen = sorted({k for r in results for k in r.counts})
        env.out.print(
            table(
                "sync",
                ["source", *keys_seen],
                [[r.source, *[r.counts[k] for k in keys_seen]] for r in results],
            )
        )
        if dispatched.counts:
            env.out.print(
                "outbox: " + ", ".join(f"{k} {v}" for k, v in sorted(dispatched.counts.items()))
            )
        if quarantined:
            env.out.print(f"[yellow]{quarantined} record(s) quarantined[/]: see `vinculo status`")
    if quarantined:
        sys.exit(PARTIAL)


def status_data(rt: Any) -> dict[str, Any]:
    with rt.db.transaction() as s:
        return {
            "watermarks": [
                {"source": w.source, "stream": w.stream, "value": w.value.isoformat()}
                for w in watermarks.all_watermarks(s)
            ],
            "counts": {**customers_repo.count(s), "orders": orders_repo.counts(s)},
            "last_runs": [
                {
                    "source": r.source,
                    "status": r.status,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                    "stats": r.stats,
                }
                for r in runs.last_runs(s)
            ],
            "quarantined": [
                {
                    "id": d.id,
                    "source": d.source,
                    "stream": d.stream,
                    "record": d.record_ref,
                    "reference": d.reference,
                    "reason": d.reason,
                    "retries": d.retry_count,
                }
                for d in quarantine.open_letters(s)
            ],
            "outbox": outbox.summary(s),
            "dead_commands": [
                {
                    "id": c.id,
                    "target": c.target,
                    "kind": c.kind,
                    "key": c.key,
                    "attempts": c.attempts,
                    "error": (c.last_error or {}).get("message"),
                }
                for c in outbox.dead_commands(s)
            ],
        }


@click.command()
@config_option
@guarded
def status(config_path: str) -> None:
    """Watermarks, counts, last runs, quarantined records and dead perk commands."""
    env: Env = click.get_current_context().ensure_object(Env)
    with opened(config_path) as rt:
        data = status_data(rt)
    if env.json:
        env.emit("status", data)
        return
    print_status(env, data)


def _short(stamp: str | None) -> str:
    """ISO timestamps to the second, for people (the JSON keeps them whole)."""
    return "-" if not stamp else stamp[:19].replace("T", " ") + " UTC"


def print_status(env: Env, data: dict[str, Any]) -> None:
    env.out.print(
        table(
            "watermarks",
            ["source", "stream", "value"],
            [[w["source"], w["stream"], _short(w["value"])] for w in data["watermarks"]],
        )
    )
    c = data["counts"]
    orders_by = ", ".join(f"{k}: {v}" for k, v in sorted(c["orders"].items())) or "none"
    env.out.print(f"customers: {c['customers']} ({c['guests']} guests)   orders: {orders_by}")
    env.out.print(
        table(
            "last runs",
            ["source", "status", "finished", "summary"],
            [
                [
                    r["source"],
                    r["status"],
                    _short(r["finished_at"]),
                    ", ".join(
                        f"{k}={v}"
                        for k, v in sorted(r["stats"].items())
                        if k not in ("source", "errors") and v
                    ),
                ]
                for r in data["last_runs"]
            ],
        )
    )
    if data["quarantined"]:
        env.out.print(
            table(
                "quarantined",
                ["id", "source", "stream", "record", "reason", "retries"],
                [
                    [q["id"], q["source"], q["stream"], q["record"], q["reason"], q["retries"]]
                    for q in data["quarantined"]
                ],
            )
        )
    else:
        env.out.print("quarantined: none")
    env.out.print(
        "outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(data["outbox"].items())) or "empty")
    )
    if data["dead_commands"]:
        env.out.print(
            table(
                "dead perk commands",
                ["id", "store", "kind", "key", "attempts", "error"],
                [
                    [d["id"], d["target"], d["kind"], d["key"], d["attempts"], d["error"]]
                    for d in data["dead_commands"]
                ],
            )
        )


@click.group("quarantine")
def quarantine_group() -> None:
    """Records that could not be processed: list, retry, drop."""


@quarantine_group.command("list")
@config_option
@guarded
def quarantine_list(config_path: str) -> None:
    env: Env = click.get_current_context().ensure_object(Env)
    with opened(config_path) as rt:
        rows = status_data(rt)["quarantined"]
    if env.json:
        env.emit("quarantine list", {"records": rows})
        return
    env.out.print(
        table(
            "quarantined",
            ["id", "source", "stream", "record", "reason", "retries"],
            [
                [q["id"], q["source"], q["stream"], q["record"], q["reason"], q["retries"]]
                for q in rows
            ],
        )
    )


@quarantine_group.command("retry")
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every open record.")
@guarded
def quarantine_retry(config_path: str, ids: tuple[int, ...], retry_all: bool) -> None:
    """Read each record fresh from its platform and process it again."""
    env: Env = click.get_current_context().ensure_object(Env)
    outcomes: list[dict[str, Any]] = []
    with opened(config_path) as rt:
        with rt.db.transaction() as s:
            letters = (
                quarantine.open_letters(s) if retry_all else [quarantine.get(s, i) for i in ids]
            )
            targets = [
                (i, letter)
                for i, letter in zip(ids or [x.id for x in letters if x], letters, strict=False)
            ]
        for letter_id, letter in targets:
            if letter is None:
                raise NotFound(
                    f"no quarantined record with id {letter_id}",
                    hint="see `vinculo quarantine list`",
                )
            outcomes.append({"id": letter_id, "result": rt.engine.retry(letter)})
        rt.dispatcher.drain()
    if env.json:
        env.emit("quarantine retry", {"results": outcomes})
    else:
        for o in outcomes:
            env.out.print(f"{o['id']}: {o['result']}")


@quarantine_group.command("drop")
@config_option
@click.argument("ids", nargs=-1, type=int, required=True)
@guarded
def quarantine_drop(config_path: str, ids: tuple[int, ...]) -> None:
    """Give up on records on purpose (kept in the table as dropped, for the audit)."""
    env: Env = click.get_current_context().ensure_object(Env)
    with opened(config_path) as rt, rt.db.transaction() as s:
        dropped = [i for i in ids if quarantine.drop(s, i)]
    missing = sorted(set(ids) - set(dropped))
    if env.json:
        env.emit("quarantine drop", {"dropped": dropped, "not_found": missing})
    else:
        env.out.print(
            f"dropped: {dropped or 'none'}" + (f"; not open: {missing}" if missing else "")
        )


@click.group("outbox")
def outbox_group() -> None:
    """Perk commands waiting for the stores."""


@outbox_group.command("drain")
@config_option
@guarded
def outbox_drain(config_path: str) -> None:
    """Send every due perk command now."""
    env: Env = click.get_current_context().ensure_object(Env)
    with opened(config_path) as rt:
        stats = rt.dispatcher.drain()
    if env.json:
        env.emit("outbox drain", stats.as_dict())
    else:
        env.out.print(
            ", ".join(f"{k} {v}" for k, v in sorted(stats.counts.items())) or "nothing due"
        )


@outbox_group.command("retry")
@config_option
@click.argument("ids", nargs=-1, type=int, required=True)
@guarded
def outbox_retry(config_path: str, ids: tuple[int, ...]) -> None:
    """Put dead perk commands back in the queue (same idempotency key)."""
    env: Env = click.get_current_context().ensure_object(Env)
    with opened(config_path) as rt:
        with rt.db.transaction() as s:
            requeued = [i for i in ids if outbox.retry_dead(s, i, now())]
        stats = rt.dispatcher.drain()
    refused = [i for i in ids if i not in requeued]
    if env.json:
        env.emit("outbox retry", {"requeued": requeued, "not_requeued": refused, **stats.as_dict()})
    else:
        env.out.print(
            f"requeued {requeued}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(stats.counts.items()))
        )
        if refused:
            env.out.print(
                f"not requeued {refused}: not dead, unknown, or a reward coupon whose points were "
                "given back when it failed (redeem again with `vinculo loyalty redeem`)"
            )


COMMANDS = [sync, status, quarantine_group, outbox_group]
