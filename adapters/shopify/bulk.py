"""Order backfill through a bulk operation, streamed so a 1M-order shop never sits in memory.

Paginated reads cost ~860 points per 250 orders and crawl at the bucket's restore rate; a bulk
query is exempt from cost limits (NOTES §2.1) and Shopify writes the whole result to a JSONL file.
The steps: ``bulkOperationRunQuery`` (waiting while five other bulk queries hold the shop, NOTES
§4.4) → poll ``bulkOperation(id:)`` with a growing interval → stream the file with
``requests(stream=True)`` line by line → rebuild each order from its own line plus the child lines
that name it in ``__parentId`` → map → yield pages.

Rebuilding has two modes. With ``groupObjects: true`` Shopify writes each parent followed by its
children, so one order at a time is held. With ``groupObjects: false`` (faster for Shopify; the
2026-01 default) children may come before their parent or far after it, so lines are staged in a
temporary SQLite file indexed by parent id and joined afterwards: memory stays flat, the disk
holds the file once.

Bulk queries cannot select a connection inside a list field, so refunds come without their lines;
orders with refunds are re-read one by one with the normal query.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import parse, print_ast

from adapters.shopify.client import PLATFORM, ShopifyClient
from adapters.shopify.documents import load
from adapters.shopify.mapping import gid_type
from connector.errors import AuthRejected, MalformedPayload, PlatformUnavailable, WriteRejected

log = logging.getLogger("vinculo.shopify.bulk")

# Child lines are attached to their parent under the connection they came from.
ORDER_CHILDREN: Mapping[str, str] = {"LineItem": "lineItems", "ShippingLine": "shippingLines"}
_FILTER_TOKEN = "VINCULO_FILTER"
_TERMINAL = {"COMPLETED", "FAILED", "CANCELED", "EXPIRED"}


@dataclass(frozen=True, slots=True)
class BulkResult:
    id: str
    status: str
    url: str | None
    object_count: int
    root_object_count: int


def orders_bulk_query(search: str | None) -> str:
    """The bulk document with the search filter put in (or the argument removed), reprinted
    without comments so Shopify stores a compact query with the operation."""
    text = load("orders_bulk").text
    if not search:
        text = text.replace(f'query: "{_FILTER_TOKEN}", ', "")
    else:
        text = text.replace(f'"{_FILTER_TOKEN}"', json.dumps(search))
    return print_ast(parse(text))


class BulkOperations:
    """Starts and waits for bulk queries on one shop, through the shared client."""

    def __init__(
        self,
        client: ShopifyClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_start: float = 1.0,
        poll_max: float = 10.0,
        busy_wait: float = 30.0,
        max_wait: float = 48 * 3600.0,
    ) -> None:
        self.client = client
        self._sleep = sleep
        self._clock = clock
        self.poll_start = poll_start
        self.poll_max = poll_max
        self.busy_wait = busy_wait
        self.max_wait = max_wait
        self.polls = 0

    def start(self, query: str, *, group_objects: bool) -> str:
        """Start the operation; while the shop's bulk slots are busy, wait and try again."""
        deadline = self._clock() + self.max_wait
        while True:
            try:
                payload = self.client.mutate(
                    "bulk_run_query", {"query": query, "groupObjects": group_objects},
                    root="bulkOperationRunQuery", idempotent=False, obj="bulk backfill",
                )
            except WriteRejected as err:
                if err.code != "OPERATION_IN_PROGRESS" or self._clock() >= deadline:
                    raise
                log.info("shopify bulk slots busy; retrying in %.0fs", self.busy_wait)
                self._sleep(self.busy_wait)
                continue
            op = payload.get("bulkOperation") or {}
            if not op.get("id"):
                raise PlatformUnavailable("bulkOperationRunQuery returned no operation",
                                          platform=PLATFORM, reference="shopify-bulk-no-operation")
            return str(op["id"])

    def wait(self, operation_id: str) -> BulkResult:
        """Poll until the operation ends; interval grows from ``poll_start`` to ``poll_max``."""
        deadline = self._clock() + self.max_wait
        interval = self.poll_start
        while True:
            self.polls += 1
            op = self.client.execute("bulk_poll", {"id": operation_id}).data.get("bulkOperation")
            if not isinstance(op, Mapping):
                raise PlatformUnavailable(f"bulk operation {operation_id} vanished", platform=PLATFORM,
                                          obj=operation_id, reference="shopify-bulk-vanished")
            status = str(op.get("status"))
            if status in _TERMINAL:
                return self._finish(operation_id, op, status)
            if self._clock() >= deadline:
                raise PlatformUnavailable(f"bulk operation {operation_id} still {status}",
                                          platform=PLATFORM, obj=operation_id,
                                          reference="shopify-bulk-timeout")
            self._sleep(interval)
            interval = min(self.poll_max, interval * 1.5)

    def _finish(self, operation_id: str, op: Mapping[str, Any], status: str) -> BulkResult:
        if status == "COMPLETED":
            return BulkResult(
                id=operation_id, status=status, url=op.get("url") or None,
                object_count=int(op.get("objectCount") or 0),
                root_object_count=int(op.get("rootObjectCount") or 0),
            )
        code = op.get("errorCode")
        if code == "ACCESS_DENIED":
            raise AuthRejected(
                f"bulk operation {operation_id} failed: access denied", platform=PLATFORM,
                key="access_token", obj=operation_id, reference="shopify-bulk-access-denied",
                hint="orders older than 60 days need the read_all_orders scope",
            )
        raise PlatformUnavailable(
            f"bulk operation {operation_id} ended {status}" + (f" ({code})" if code else ""),
            platform=PLATFORM, obj=operation_id, reference="shopify-bulk-failed",
            hint="the backfill can be started again; nothing was written",
        )


# --- rebuilding parents from JSONL ----------------------------------------------------------------


def _decode(line: bytes | str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        raise MalformedPayload(f"bulk result line {number} is not JSON", platform=PLATFORM,
                               reference="shopify-bulk-line-invalid") from None
    if not isinstance(record, dict):
        raise MalformedPayload(f"bulk result line {number} is not an object", platform=PLATFORM,
                               reference="shopify-bulk-line-invalid")
    return record


def _child_field(child: Mapping[str, Any], children: Mapping[str, str]) -> str:
    type_name = child.get("__typename")
    if not isinstance(type_name, str):
        type_name = gid_type(str(child.get("id")))
    return children.get(type_name, type_name[:1].lower() + type_name[1:] + "s")


def _attach(parent: dict[str, Any], child: dict[str, Any], children: Mapping[str, str]) -> None:
    child.pop("__parentId", None)
    bucket = parent.setdefault(_child_field(child, children), {"nodes": []})
    bucket["nodes"].append(child)


def grouped_records(
    lines: Iterable[bytes | str], children: Mapping[str, str] = ORDER_CHILDREN
) -> Iterator[dict[str, Any]]:
    """``groupObjects: true`` output: each root line is followed by its descendants.

    Holds one root and its children at a time. A child whose parent is not in the current
    group means the file was not grouped: refuse rather than emit a half-built order.
    """
    current: dict[str, Any] | None = None
    members: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, 1):
        record = _decode(line, number)
        parent_id = record.get("__parentId")
        if parent_id is None:
            if current is not None:
                yield current
            current = record
            members = {str(record.get("id")): record}
            continue
        parent = members.get(str(parent_id))
        if parent is None:
            raise MalformedPayload(
                f"bulk line {number} belongs to {parent_id}, which is not the current parent",
                platform=PLATFORM, reference="shopify-bulk-not-grouped",
                hint="run the backfill with group_objects=False to stage lines on disk",
            )
        _attach(parent, record, children)
        if record.get("id"):
            members[str(record["id"])] = record
    if current is not None:
        yield current


def staged_records(
    lines: Iterable[bytes | str],
    children: Mapping[str, str] = ORDER_CHILDREN,
    *,
    workdir: str | Path | None = None,
) -> Iterator[dict[str, Any]]:
    """``groupObjects: false`` output: children anywhere. Stage in SQLite, join by parent id."""
    with tempfile.TemporaryDirectory(prefix="vinculo-bulk-", dir=workdir) as tmp:
        db = sqlite3.connect(str(Path(tmp) / "stage.sqlite"))
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("CREATE TABLE line (seq INTEGER PRIMARY KEY, parent TEXT, body TEXT NOT NULL)")
            batch: list[tuple[int, str | None, str]] = []
            for number, line in enumerate(lines, 1):
                text = line.decode("utf-8") if isinstance(line, bytes) else line
                record = _decode(text, number)
                parent = record.get("__parentId")
                batch.append((number, str(parent) if parent is not None else None, text))
                if len(batch) >= 5000:
                    db.executemany("INSERT INTO line VALUES (?, ?, ?)", batch)
                    batch.clear()
            db.executemany("INSERT INTO line VALUES (?, ?, ?)", batch)
            db.execute("CREATE INDEX line_parent ON line (parent, seq)")
            db.commit()
            roots = db.execute("SELECT body FROM line WHERE parent IS NULL ORDER BY seq")
            for (body,) in roots:
                record = json.loads(body)
                _fill(db, record, children)
                yield record
        finally:
            db.close()


def _fill(db: sqlite3.Connection, parent: dict[str, Any], children: Mapping[str, str]) -> None:
    rows = db.execute("SELECT body FROM line WHERE parent = ? ORDER BY seq", (str(parent.get("id")),))
    for (body,) in rows.fetchall():
        child = json.loads(body)
        if child.get("id"):
            _fill(db, child, children)
        _attach(parent, child, children)
