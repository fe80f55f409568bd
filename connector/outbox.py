"""Durable perk commands and the dispatcher that drains them through the stores.

Commands are inserted in the same transaction as the ledger entries that caused them, keyed by
an idempotency key (unique), so a replayed event cannot queue a second command. The dispatcher:

1. claims due rows (``pending`` -> ``in_flight``) and commits the claim;
2. builds a waiting balance publish's snapshot from the ledger (``render``), so only the newest
   state of a customer is ever built and sent; calls the store (a store that is a
   ``BatchPublisher`` gets a claim's balance and tier commands in one call); every store write
   looks its object up by our key first (coupon code, meta value), so repeating a call that
   already succeeded changes nothing;
3. marks the row ``done`` — or schedules a retry with backoff (honouring Retry-After), and after
   ``max_attempts`` failures, or at once for a permanent rejection, marks it ``dead`` for
   `vinculo status`.

A crash between 2 and 3 leaves the row ``in_flight``; :meth:`Dispatcher.requeue_stuck` puts such
rows back after ``stuck_after`` and step 2's lookup finds the coupon the lost attempt made.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import JSON, Table, and_, bindparam, func, insert, literal_column, select, update
from sqlalchemy.orm import Session

from connector.domain import (
    Fulfilment,
    IssueCoupon,
    Money,
    Perk,
    PublishLoyalty,
    SetTier,
    to_jsonable,
)
from connector.errors import (
    ConfigError,
    NotFound,
    PlatformUnavailable,
    RateLimited,
    TransientError,
    VinculoError,
    WriteRejected,
)
from connector.ports import BatchPublisher, StoreAdapter, WriteResult
from connector.state import bulk
from connector.state import customers as customers_repo
from connector.state.clock import now as wall_clock
from connector.state.db import Database
from connector.state.models import OutboxCommand

Command = Perk | Fulfilment
_BATCHABLE = frozenset({"publish", "tier"})
log = logging.getLogger(__name__)
_OUTBOX = cast(Table, OutboxCommand.__table__)
KINDS: dict[type[Any], str] = {
    IssueCoupon: "coupon",
    PublishLoyalty: "publish",
    SetTier: "tier",
    Fulfilment: "complete",
}


def command_key(command: Command) -> str:
    if isinstance(command, Fulfilment):
        return f"complete:{command.order_id}"
    return command.key


def enqueue(session: Session, command: Command, *, target: str, at: datetime) -> bool:
    """Queue a command unless one with the same key exists; True when queued."""
    return enqueue_many(session, [(command, target)], at=at) == 1


def enqueue_many(session: Session, commands: Sequence[tuple[Command, str]], *, at: datetime) -> int:
    """Queue ``(command, target)`` pairs in order; returns how many were accepted.

    A key already stored (or earlier in the list) is skipped. Publishing a balance only ever
    needs the newest state (a publish from the loyalty bridge carries no snapshot: the
    dispatcher's ``render`` hook builds it from the ledger when it sends), so publish commands
    *coalesce*: per store and account only the
    last one of the list is kept, and it takes the place of the publish row still pending for
    that pair (same row, new key and payload, its attempts and backoff kept) instead of adding
    a row and marking the old one done. A row a dispatcher has already claimed is left alone and
    the new publish gets a row of its own. The outbox therefore holds at most one waiting
    publish per customer and store, however many pages change the balance before it is sent.
    One SELECT for the keys, one for the pending publish rows, one executemany UPDATE and one
    executemany INSERT, instead of a round trip per command.
    """
    fresh: dict[str, tuple[Command, str]] = {}
    for command, target in commands:
        key = f"{target}:{command_key(command)}"
        if key not in fresh:
            fresh[key] = (command, target)
    if not fresh:
        return 0
    keys = list(fresh)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for stored in session.scalars(select(_OUTBOX.c.key).where(_OUTBOX.c.key.in_(chunk))):
            del fresh[stored]
    if not fresh:
        return 0
    accepted = len(fresh)
    codec = bulk.codec(session)
    stamp = codec.instant(at)
    null = codec.json(None)
    newest: dict[tuple[str, str], str] = {}  # (store, account) -> the last publish key
    for key, (command, target) in fresh.items():
        if type(command) is PublishLoyalty:
            newest[(target, command.customer_id)] = key
    if newest:
        keep = set(newest.values())
        for key in [k for k, (c, _t) in fresh.items() if type(c) is PublishLoyalty and k not in keep]:
            del fresh[key]  # an older snapshot of the same page: never sent, never stored
        for key in _coalesce(session, codec, stamp, newest, fresh):
            del fresh[key]
    rows = [
        (
            key,
            target,
            KINDS[type(command)],
            getattr(command, "customer_id", None),
            payload_json(command, codec.json),
            "pending",
            0,
            stamp,
            null,
            stamp,
            stamp,
        )
        for key, (command, target) in fresh.items()
    ]
    _INSERT.run(session, rows)
    return accepted


def _coalesce(
    session: Session,
    codec: bulk.Codec,
    stamp: Any,
    newest: dict[tuple[str, str], str],
    fresh: Mapping[str, tuple[Command, str]],
) -> list[str]:
    """Fold each pair's newest publish into that pair's waiting publish row; returns the keys
    folded. Should a pair hold several waiting rows (one put back by ``requeue_stuck`` beside a
    newer one), the latest takes the new publish and the others are marked done, superseded."""
    updates = [
        (key, payload_json(fresh[key][0], codec.json), stamp, account, target)
        for (target, account), key in newest.items()
    ]
    if not _FOLD.run(session, updates):
        return []
    keys = list(newest.values())
    folded: set[str] = set()
    for i in range(0, len(keys), 500):
        folded.update(session.scalars(select(_OUTBOX.c.key).where(_OUTBOX.c.key.in_(keys[i : i + 500]))))
    _RETIRE.run(
        session,
        [
            (codec.json({"superseded_by": key}), stamp, account, target, key)
            for (target, account), key in newest.items()
            if key in folded
        ],
    )
    return [key for key in keys if key in folded]


def payload_json(command: Command, dumps: Callable[[Any], str] = json.dumps) -> str:
    """The stored payload: the JSON text of :func:`~connector.domain.to_jsonable` of the command.

    A ``PublishLoyalty`` (most rows on a busy page) is encoded straight from its snapshot, which
    holds JSON values only, instead of being copied value by value first.
    """
    if type(command) is PublishLoyalty and dumps is json.dumps:
        snapshot = command.snapshot
        if snapshot is None or (type(snapshot) is dict and _plain(snapshot)):
            return json.dumps(
                {"key": command.key, "customer_id": command.customer_id, "snapshot": snapshot}
            )
    return dumps(to_jsonable(command))


def _plain(values: Mapping[str, Any]) -> bool:
    """Only str keys and str/int/bool/None values: ``to_jsonable`` would return them as they are."""
    return {*map(type, values)} <= _STR and {*map(type, values.values())} <= _PLAIN


_STR = {str}
_PLAIN = {str, int, bool, type(None)}
_INSERT = bulk.Statement(
    insert(_OUTBOX),
    (
        "key",
        "target",
        "kind",
        "account",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "result",
        "created_at",
        "updated_at",
    ),
    insert=True,
)
# The conditions name the partial index ix_outbox_publish_pending's own terms as literals, with
# equality on (account, target), so the planners find a pair's waiting publish through it.
def _waiting(*extra: Any) -> Any:
    return and_(
        _OUTBOX.c.account == bindparam("b_account"),
        _OUTBOX.c.target == bindparam("b_target"),
        _OUTBOX.c.kind == literal_column("'publish'"),
        _OUTBOX.c.status == literal_column("'pending'"),
        *extra,
    )


# A pair's latest waiting publish takes the newest publish in place.
_FOLD = bulk.Statement(
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == select(func.max(_OUTBOX.c.id)).where(_waiting()).scalar_subquery(),
        _OUTBOX.c.status == literal_column("'pending'"),
    )
    .values(key=bindparam("b_key"), payload=bindparam("b_payload", type_=JSON), updated_at=bindparam("b_at")),
    ("b_key", "b_payload", "b_at", "b_account", "b_target"),
)
# Any other waiting publish of that pair (left by a requeue) is done: superseded.
_RETIRE = bulk.Statement(
    update(_OUTBOX)
    .where(_waiting(_OUTBOX.c.key != bindparam("b_key")))
    .values(
        status=literal_column("'done'"),
        result=bindparam("b_result", type_=JSON),
        updated_at=bindparam("b_at"),
    ),
    ("b_result", "b_at", "b_account", "b_target", "b_key"),
)


def _money(raw: Any) -> Money | None:
    return None if raw is None else Money(Decimal(raw["amount"]), raw["currency"])


def _dt(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


def decode(kind: str, payload: Mapping[str, Any]) -> Command:
    """Rebuild the domain command stored in a row."""
    if kind == "coupon":
        return IssueCoupon(
            key=payload["key"],
            customer_id=payload["customer_id"],
            email=payload["email"],
            code=payload["code"],
            reward_id=payload["reward_id"],
            kind=payload["kind"],
            starts_at=_dt(payload["starts_at"]),
            expires_at=_dt(payload["expires_at"]),
            amount=_money(payload.get("amount")),
            percent=None if payload.get("percent") is None else Decimal(payload["percent"]),
            max_shipping=_money(payload.get("max_shipping")),
            min_subtotal=_money(payload.get("min_subtotal")),
            description=payload.get("description", ""),
        )
    if kind == "publish":
        return PublishLoyalty(
            key=payload["key"], customer_id=payload["customer_id"], snapshot=payload.get("snapshot")
        )
    if kind == "tier":
        return SetTier(
            key=payload["key"],
            customer_id=payload["customer_id"],
            tier=payload["tier"],
            all_tiers=tuple(payload["all_tiers"]),
        )
    if kind == "complete":
        return Fulfilment(
            order_id=payload["order_id"],
            shipped_at=_dt(payload["shipped_at"]),
            tracking_number=payload.get("tracking_number", ""),
            carrier=payload.get("carrier", ""),
            tracking_url=payload.get("tracking_url", ""),
        )
    raise ValueError(f"unknown outbox command kind {kind!r}")


@dataclass
class DispatchStats:
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


DeadHook = Callable[[Session, OutboxCommand, VinculoError], None]
# Builds a waiting publish's snapshot from the ledger, in the dispatcher's read transaction.
RenderHook = Callable[[Session, PublishLoyalty], PublishLoyalty]


class Dispatcher:
    def __init__(
        self,
        db: Database,
        stores: Mapping[str, StoreAdapter],
        *,
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=5),
        max_delay: timedelta = timedelta(hours=1),
        stuck_after: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = wall_clock,
        on_dead: DeadHook | None = None,
        after_call: Callable[[OutboxCommand, WriteResult], None] | None = None,
        render: RenderHook | None = None,
    ) -> None:
        self.db = db
        self.stores = dict(stores)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stuck_after = stuck_after
        self.clock = clock
        self.on_dead = on_dead
        self.after_call = after_call
        self.render = render

    def requeue_stuck(self) -> int:
        """Rows left in flight by a crashed dispatcher go back to pending."""
        cutoff = self.clock() - self.stuck_after
        with self.db.transaction() as s:
            result = s.execute(
                update(OutboxCommand)
                .where(OutboxCommand.status == "in_flight", OutboxCommand.updated_at < cutoff)
                .values(status="pending", updated_at=self.clock())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def drain(self, *, limit: int | None = None, batch: int = 100) -> DispatchStats:
        """Run every due command once (until none is due or ``limit`` is reached)."""
        stats = DispatchStats()
        stats.counts["requeued"] += self.requeue_stuck()
        done = 0
        while limit is None or done < limit:
            ids = self._claim(batch if limit is None else min(batch, limit - done))
            if not ids:
                break
            groups, singles = self._partition(ids)
            for target, group in groups.items():
                self._run_group(target, group, stats)
            for row_id in singles:
                self._run_one(row_id, stats)
            done += len(ids)
        return stats

    def _partition(self, ids: Sequence[int]) -> tuple[dict[str, list[int]], list[int]]:
        """Claimed balance and tier rows per store that takes them in batches (two or more);
        every other row goes alone, committed before the next one is sent."""
        with self.db.transaction() as s:
            rows = s.execute(
                select(_OUTBOX.c.id, _OUTBOX.c.kind, _OUTBOX.c.target).where(_OUTBOX.c.id.in_(ids))
            ).all()
        groups: dict[str, list[int]] = {}
        for row_id, kind, target in sorted(rows):
            if kind in _BATCHABLE and isinstance(self.stores.get(target), BatchPublisher):
                groups.setdefault(target, []).append(row_id)
        groups = {target: group for target, group in groups.items() if len(group) > 1}
        grouped = {row_id for group in groups.values() for row_id in group}
        return groups, [row_id for row_id in ids if row_id not in grouped]

    def _claim(self, n: int) -> list[int]:
        """Claim due rows one by one; a row another dispatcher claimed first is not ours.

        The conditional UPDATE is the claim: only the dispatcher whose UPDATE changed the row
        (rowcount 1) runs it, so two dispatchers never call the store for the same command.
        """
        stamp = self.clock()
        with self.db.transaction() as s:
            candidates = list(
                s.scalars(
                    select(OutboxCommand.id)
                    .where(
                        OutboxCommand.status == "pending", OutboxCommand.next_attempt_at <= stamp
                    )
                    .order_by(OutboxCommand.id)
                    .limit(n)
                )
            )
            claimed = []
            for row_id in candidates:
                result = s.execute(
                    update(OutboxCommand)
                    .where(OutboxCommand.id == row_id, OutboxCommand.status == "pending")
                    .values(status="in_flight", updated_at=stamp)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append(row_id)
        return claimed

    def _run_one(self, row_id: int, stats: DispatchStats) -> None:
        """Claimed row -> store call -> outcome, each step committed on its own."""
        with self.db.transaction() as s:
            loaded = self._load(s, row_id, stats)
            if loaded is None:
                return
            row, command, ref = loaded
            target, kind = row.target, row.kind
        if isinstance(command, WriteResult):
            result = command
        else:
            result = self._send_alone(row_id, target, kind, command, ref)
        self._finish({row_id: result}, stats)

    def _run_group(self, target: str, row_ids: Sequence[int], stats: DispatchStats) -> None:
        """Balance and tier rows of one store sent in one :meth:`BatchPublisher.publish_many`
        call; each row then retries, dies or is done on its own result, as :meth:`_run_one`
        would leave it."""
        results: dict[int, WriteResult] = {}
        items: list[tuple[int, PublishLoyalty | SetTier, str]] = []
        with self.db.transaction() as s:
            for row_id in row_ids:
                loaded = self._load(s, row_id, stats)
                if loaded is None:
                    continue
                row, command, ref = loaded
                if isinstance(command, WriteResult):
                    results[row_id] = command
                elif ref is None or not isinstance(command, PublishLoyalty | SetTier):
                    results[row_id] = _no_account(row.kind)
                else:
                    items.append((row_id, command, ref))
        if items:
            answers = self._attempt_many(target, items)
            if answers is None:  # the batch call itself misbehaved: each row on its own instead
                answers = [
                    self._send_alone(row_id, target, KINDS[type(command)], command, ref)
                    for row_id, command, ref in items
                ]
            results.update(zip([row_id for row_id, _c, _r in items], answers, strict=True))
        self._finish(results, stats)

    def _send_alone(
        self, row_id: int, target: str, kind: str, command: Command, ref: str | None
    ) -> WriteResult:
        return self._attempt(row_id, target, lambda store: self._call(store, kind, command, ref))

    def _load(
        self, s: Session, row_id: int, stats: DispatchStats
    ) -> tuple[OutboxCommand, Command | WriteResult, str | None] | None:
        """A claimed row still ours (in flight) with its prepared command and customer id, or
        with the failed result that takes the command's place when its snapshot could not be
        built."""
        row = s.get(OutboxCommand, row_id)
        if row is None or row.status != "in_flight":
            return None
        prepared = self._prepare(s, row, stats)
        return None if prepared is None else (row, *prepared)

    def _prepare(
        self, s: Session, row: OutboxCommand, stats: DispatchStats
    ) -> tuple[Command | WriteResult, str | None] | None:
        """The row's command (a balance publish with its snapshot built) and the customer's id
        on the row's store; None when the row cannot be read, which sends it to the dead list.
        A snapshot that cannot be built is that row's failed attempt, never the drain's end."""
        try:
            command: Command | WriteResult = decode(row.kind, row.payload)
        except (KeyError, TypeError, ValueError) as exc:
            row.status, row.attempts = "dead", row.attempts + 1
            row.last_error = {"message": f"undecodable command: {exc}", "kind": "data"}
            stats.counts["dead"] += 1
            return None
        if type(command) is PublishLoyalty and self.render is not None:
            try:
                command = self.render(s, command)
            except VinculoError as exc:
                command = WriteResult(key=str(row.id), error=exc)
            except Exception as exc:
                command = WriteResult(key=str(row.id), error=_crashed(str(row.id), exc))
        ref = None
        if row.account is not None:
            mapping = customers_repo.mapping_for_source(s, row.account, row.target)
            if mapping is not None and ":guest:" not in mapping.platform_id:
                ref = mapping.platform_id
        return command, ref

    def _attempt(
        self, row_id: int, target: str, call: Callable[[StoreAdapter], WriteResult]
    ) -> WriteResult:
        """One store call; every failure becomes the row's result, never an exception: a bug or
        a bad row must not stall the queue."""
        try:
            return call(self._store(target))
        except VinculoError as exc:
            return WriteResult(key=str(row_id), error=exc)
        except Exception as exc:
            return WriteResult(key=str(row_id), error=_crashed(str(row_id), exc))

    def _attempt_many(
        self, target: str, items: Sequence[tuple[int, PublishLoyalty | SetTier, str]]
    ) -> list[WriteResult] | None:
        """:meth:`_attempt` for a group: a platform failure of the whole call (the store down,
        credentials refused) is every row's result; None when the call crashed or answered the
        wrong number of results, so that each row is sent on its own and judged on its own."""
        try:
            store = cast(BatchPublisher, self._store(target))  # _partition grouped it for that
            answers = store.publish_many([(command, ref) for _id, command, ref in items])
        except VinculoError as exc:
            return [WriteResult(key=str(row_id), error=exc) for row_id, _c, _r in items]
        except Exception:
            log.exception("batch publish to %s crashed; sending its %d commands one by one", target, len(items))
            return None
        if len(answers) != len(items):
            log.error("store %s answered %d results for %d commands; sending them one by one",
                      target, len(answers), len(items))
            return None
        return answers

    def _store(self, target: str) -> StoreAdapter:
        store = self.stores.get(target)
        if store is None:
            raise ConfigError(
                f"outbox command for store {target!r}, which is not configured",
                obj=target,
                hint="add the store back to the config, or drop the command",
            )
        return store

    def _finish(self, results: Mapping[int, WriteResult], stats: DispatchStats) -> None:
        """Hand each result to ``after_call``, then record them all in one transaction."""
        if self.after_call is not None:
            for row_id, result in results.items():
                with self.db.transaction() as s:
                    fresh = s.get(OutboxCommand, row_id)
                if fresh is not None:
                    self.after_call(fresh, result)
        if not results:
            return
        with self.db.transaction() as s:
            for row_id, result in results.items():
                row = s.get(OutboxCommand, row_id)
                if row is not None:
                    self._settle(s, row, result, stats)

    def _settle(self, s: Session, row: OutboxCommand, result: WriteResult, stats: DispatchStats) -> None:
        if row.status != "in_flight":
            return  # taken back by requeue_stuck meanwhile: its new run records the outcome
        stamp = self.clock()
        row.attempts += 1
        row.updated_at = stamp
        if result.ok:
            row.status = "done"
            row.result = {"platform_id": result.platform_id, "created": result.created}
            row.last_error = None
            stats.counts["done"] += 1
            stats.counts["created" if result.created else "already_there"] += 1
            return
        error = result.error
        assert error is not None
        row.last_error = error.to_dict()
        retriable = isinstance(error, TransientError)
        if not retriable or row.attempts >= self.max_attempts:
            row.status = "dead"
            stats.counts["dead"] += 1
            if self.on_dead is not None:
                self.on_dead(s, row, error)
            return
        row.status = "pending"
        row.next_attempt_at = stamp + self._delay(row.attempts, error)
        stats.counts["retry"] += 1

    def _delay(self, attempts: int, error: VinculoError) -> timedelta:
        hinted = error.retry_after if isinstance(error, RateLimited | PlatformUnavailable) else None
        if hinted:
            return min(self.max_delay, timedelta(seconds=hinted))
        return min(self.max_delay, self.base_delay * (1 << (attempts - 1)))

    @staticmethod
    def _call(store: StoreAdapter, kind: str, command: Command, ref: str | None) -> WriteResult:
        if isinstance(command, IssueCoupon):
            return store.ensure_coupon(command, ref or "")
        if isinstance(command, Fulfilment):
            return store.complete_order(command)
        if ref is None:
            return _no_account(kind)
        if isinstance(command, PublishLoyalty):
            return store.publish_loyalty(command, ref)
        if isinstance(command, SetTier):
            return store.set_tier(command, ref)
        raise NotFound(f"unknown command {type(command).__name__}")


def _no_account(kind: str) -> WriteResult:
    """A guest has no account on the store to carry meta or tags: nothing to write."""
    return WriteResult(key=kind, created=False, payload={"skipped": "no account on this store"})


def _crashed(key: str, exc: Exception) -> WriteRejected:
    return WriteRejected(
        f"command {key} failed unexpectedly: {type(exc).__name__}: {exc}",
        reference="outbox-command-crashed",
        obj=key,
        hint="see the error, fix the cause, then `vinculo outbox retry`",
    )


def summary(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxCommand.status, func.count()).group_by(OutboxCommand.status)
    )
    return {status: int(n) for status, n in rows}


def dead_commands(session: Session) -> list[OutboxCommand]:
    return list(
        session.scalars(
            select(OutboxCommand).where(OutboxCommand.status == "dead").order_by(OutboxCommand.id)
        )
    )


def retry_dead(session: Session, command_id: int, at: datetime) -> bool:
    """Queue a dead command again. A dead coupon gave its points back when it died, so it is
    not re-sent (that would hand out the coupon and the points): redeem again instead."""
    row = session.get(OutboxCommand, command_id)
    if row is None or row.status != "dead" or row.kind == "coupon":
        return False
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = at
    row.updated_at = at
    return True
