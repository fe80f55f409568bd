"""The file-drop ERP: folders of CSV and JSON-lines files under one ``root``.

Vínculo's embedded default ERP, and how many legacy ERPs integrate: the ERP drops files into
inboxes, we drop files into outboxes. Layout (names configurable, relative to ``root``)::

    inbox/customers/   *.csv    ERP customers            -> pull_customers
    inbox/sales/       *.jsonl  ERP-only sales (points)   -> pull_sales
    inbox/shipments/   *.csv    shipments of store orders -> pull_fulfilments
    outbox/orders/     *.jsonl | *.csv   store orders     <- export_orders
    outbox/customers/  *.csv    store customers           <- upsert_customers
    archive/<stream>/<UTC stamp>-<name>   files read and committed
    archive/rejected/<UTC stamp>-<name>   files refused whole (encoding, header)

Consumption protocol. Each inbox file is one :class:`Page`, read in name order. The engine
asks for the next page only after it has committed the current one, so a file is archived
right after its page's ``yield`` returns: asking for the next page (or finishing the loop) is
the commit signal. A crash, or a consumer that stops iterating, before that point leaves the
file in the inbox and the next run reads it again; that is harmless because every item is
keyed by its ERP id. Callers therefore must not buffer pages (``list(pull_sales(...))`` would
archive files before anything is committed). ``since`` is ignored for inboxes (a file is read
once, then moved); ``high_water`` is the file's modification time.

A bad row is quarantined as a :class:`Rejected` with source ``"<file>:<line>"`` and the raw
row, while the rest of the file goes through. A file that cannot be read at all yields a page
with a single :class:`Rejected` (source ``"<file>"``, a :class:`BadFile` saying what to fix)
and is moved to ``archive/rejected/``.

Writes produce one new file per call, written atomically (see :mod:`.atomic`), and never edit
an earlier file. If the file cannot be written, nothing was exported and the call raises
(config error for permissions, transient otherwise) instead of reporting per-item results.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from connector.domain import Customer, Fulfilment, Order, split_platform_id
from connector.errors import (
    BadFile,
    ConfigError,
    DataError,
    InvalidValue,
    MalformedPayload,
    PlatformUnavailable,
    VinculoError,
)
from connector.ports import CustomerWrite, Page, Rejected, StoreInfo, WriteResult

from . import csvio, export, mapping
from .atomic import is_ignored, move, unique_target, write_atomic
from .values import PLATFORM

T = TypeVar("T")
OrderFormat = Literal["jsonl", "csv"]

_CSV = (".csv",)
_JSONL = (".jsonl", ".ndjson")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _locate(err: VinculoError, source: str) -> VinculoError:
    """Errors raised by pure mapping code learn where they happened here, at the edge."""
    err.platform = err.platform or PLATFORM
    err.obj = err.obj or source
    return err


def _not_writable(message: str, reference: str) -> ConfigError:
    return ConfigError(
        message,
        reference=reference,
        platform=PLATFORM,
        obj="root",
        hint="let the connector's user create files in `root` and its folders",
    )


class FilesErp:
    """:class:`connector.ports.ErpAdapter` over a drop folder (see the module docstring)."""

    def __init__(
        self,
        *,
        store: str,
        root: Path,
        customers_in: str = "inbox/customers",
        sales_in: str = "inbox/sales",
        shipments_in: str = "inbox/shipments",
        orders_out: str = "outbox/orders",
        customers_out: str = "outbox/customers",
        archive: str = "archive",
        order_format: OrderFormat = "jsonl",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if order_format not in ("jsonl", "csv"):
            raise ConfigError(
                f"`order_format` {order_format!r} is not jsonl or csv",
                reference="files-order-format",
                platform=PLATFORM,
                obj="order_format",
                hint="set `order_format` to jsonl (complete) or csv (one row per line item)",
            )
        self.platform = PLATFORM
        self.store = store
        self.root = Path(root)
        self.order_format: OrderFormat = order_format
        self.folders: dict[str, Path] = {
            "customers_in": self.root / customers_in,
            "sales_in": self.root / sales_in,
            "shipments_in": self.root / shipments_in,
            "orders_out": self.root / orders_out,
            "customers_out": self.root / customers_out,
            "archive": self.root / archive,
        }
        self._clock = clock or (lambda: datetime.now(UTC))

    # --- setup ------------------------------------------------------------------------------

    def _require_root(self) -> Path:
        """The root is never created for you: a typo must not start a second, silent drop folder."""
        if not self.root.is_dir():
            what = "does not exist" if not self.root.exists() else "is not a folder"
            raise ConfigError(
                f"`root` {self.root} {what}",
                reference="files-root-missing",
                platform=PLATFORM,
                obj="root",
                hint="set `root` to the existing folder shared with the ERP",
            )
        return self.root

    def check(self) -> StoreInfo:
        root = self._require_root()
        try:
            fd, probe = tempfile.mkstemp(prefix=".vinculo-check-", suffix=".tmp", dir=root)
            os.close(fd)
            os.unlink(probe)
            for folder in self.folders.values():
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _not_writable(f"`root` {root} is not writable ({exc.strerror})", "files-root-not-writable") from None
        return StoreInfo(
            platform=PLATFORM,
            store=self.store,
            name=f"file drop at {root}",
            details={
                "root": str(root),
                "order_format": self.order_format,
                "folders": {k: str(p) for k, p in self.folders.items()},
            },
        )

    # --- reading ----------------------------------------------------------------------------

    def pull_customers(self, since: datetime | None) -> Iterator[Page[Customer]]:
        def read(path: Path) -> tuple[list[Customer], list[Rejected]]:
            rows = csvio.read_csv(path, mapping.CUSTOMER_REQUIRED)
            return self._convert(path, rows, lambda r: mapping.customer_from_row(self.store, r))

        return self._pull("customers", self.folders["customers_in"], _CSV, read)

    def pull_sales(self, since: datetime | None) -> Iterator[Page[Order]]:
        def read(path: Path) -> tuple[list[Order], list[Rejected]]:
            rows = csvio.read_jsonl(path)
            return self._convert(path, rows, lambda r: mapping.sale_from_record(self.store, r))

        return self._pull("sales", self.folders["sales_in"], _JSONL, read)

    def pull_fulfilments(self, since: datetime | None) -> Iterator[Page[Fulfilment]]:
        def read(path: Path) -> tuple[list[Fulfilment], list[Rejected]]:
            rows = csvio.read_csv(path, mapping.SHIPMENT_REQUIRED)
            return self._convert(path, rows, mapping.fulfilment_from_row)

        return self._pull("shipments", self.folders["shipments_in"], _CSV, read)

    def _pull(
        self,
        stream: str,
        folder: Path,
        suffixes: tuple[str, ...],
        read: Callable[[Path], tuple[list[T], list[Rejected]]],
    ) -> Iterator[Page[T]]:
        self._require_root()
        folder.mkdir(parents=True, exist_ok=True)
        archive = self.folders["archive"]
        # Listed once: files arriving during a run wait for the next one.
        for path in sorted((p for p in folder.iterdir() if not is_ignored(p)), key=lambda p: p.name):
            try:
                high_water = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                if not path.name.lower().endswith(suffixes):
                    raise BadFile(
                        f"{path.name} is not a {' or '.join(suffixes)} file",
                        reference="file-type-unexpected",
                        obj=path.name,
                        hint=f"drop only {' or '.join(suffixes)} files into {folder.name}/",
                    )
                items, rejected = read(path)
                target = unique_target(archive / stream, f"{_stamp(self._clock())}-{path.name}")
            except FileNotFoundError:
                continue  # taken away by someone else between listing and reading
            except BadFile as err:
                target = unique_target(archive / "rejected", f"{_stamp(self._clock())}-{path.name}")
                items = []
                payload = {"file": path.name, "moved_to": str(target.relative_to(self.root))}
                rejected = [Rejected(path.name, _locate(err, path.name), payload)]
            yield Page(items=items, rejected=rejected, high_water=high_water)
            # Reached only when the consumer asks for more: the page above is committed.
            move(path, target)

    def _convert(
        self,
        path: Path,
        rows: Iterable[csvio.Row | csvio.RowError],
        make: Callable[[Mapping[str, Any]], T],
    ) -> tuple[list[T], list[Rejected]]:
        items: list[T] = []
        rejected: list[Rejected] = []
        for row in rows:
            source = f"{path.name}:{row.line}"
            if isinstance(row, csvio.RowError):
                rejected.append(Rejected(source, _locate(row.error, source), row.payload))
                continue
            payload = row.raw if row.raw is not None else row.values
            try:
                items.append(make(row.values))
            except DataError as err:
                rejected.append(Rejected(source, _locate(err, source), payload))
            except (TypeError, ValueError, ArithmeticError) as exc:
                # An odd shape (a list where a number belongs) must not stop the other rows.
                odd = MalformedPayload(f"record has an unexpected shape: {exc}", reference="record-shape")
                rejected.append(Rejected(source, _locate(odd, source), payload))
        return items, rejected

    # --- writing ----------------------------------------------------------------------------

    def export_orders(self, orders: Sequence[Order]) -> list[WriteResult]:
        results: list[WriteResult | None] = []
        records: list[Order] = []
        for order in orders:
            try:
                platform, store, _ = split_platform_id(order.id)
            except ValueError:
                platform, store = "", ""
            if not store:
                results.append(self._refuse(order.id, f"order id {order.id!r} is not namespaced"))
            elif (platform, store) == (PLATFORM, self.store):
                results.append(self._refuse(order.id, f"order {order.id} came from this ERP; not sent back"))
            else:
                results.append(None)
                records.append(order)
        if not records:
            return [r for r in results if r is not None]
        if self.order_format == "jsonl":
            data = csvio.write_jsonl([export.order_record(o) for o in records])
        else:
            rows = [row for o in records for row in export.order_csv_rows(o)]
            data = csvio.write_csv(export.ORDER_CSV_COLUMNS, rows)
        written = self._write(self.folders["orders_out"], "orders", self.order_format, data)
        done = iter(records)
        out: list[WriteResult] = []
        for result in results:
            if result is None:
                order = next(done)
                payload = {"file": written.name, "vinculo_key": export.vinculo_key(order)}
                result = WriteResult(key=order.id, created=True, payload=payload)
            out.append(result)
        return out

    def upsert_customers(self, writes: Sequence[CustomerWrite]) -> list[WriteResult]:
        prefix = f"{PLATFORM}:{self.store}:customer/"
        results: list[WriteResult] = []
        rows: list[dict[str, str]] = []
        for w in writes:
            if w.target_id is not None and not w.target_id.startswith(prefix):
                results.append(self._refuse(w.key, f"target {w.target_id!r} is not a customer of this ERP"))
                continue
            erp_id = w.target_id[len(prefix) :] if w.target_id else ""
            rows.append(export.customer_row(w.customer, erp_id=erp_id, vinculo_id=w.key))
            # An update keeps the ERP id; a new customer gets its id when the ERP re-exports it.
            results.append(WriteResult(key=w.key, platform_id=w.target_id, created=w.target_id is None))
        if rows:
            data = csvio.write_csv(export.CUSTOMER_OUT_COLUMNS, rows)
            written = self._write(self.folders["customers_out"], "customers", "csv", data)
            results = [
                WriteResult(r.key, r.platform_id, created=r.created, payload={"file": written.name})
                if r.ok
                else r
                for r in results
            ]
        return results

    def _refuse(self, key: str, message: str) -> WriteResult:
        error = InvalidValue(message, reference="files-write-refused", platform=PLATFORM, obj=key)
        return WriteResult(key=key, error=error)

    def _write(self, folder: Path, prefix: str, ext: str, data: bytes) -> Path:
        """One new file per call: a UTC stamp to sort by, a content digest to tell calls apart."""
        self._require_root()
        name = f"{prefix}-{_stamp(self._clock())}-{hashlib.sha256(data).hexdigest()[:8]}.{ext}"
        try:
            return write_atomic(folder, name, data)
        except PermissionError as exc:
            raise _not_writable(f"cannot write {name} in {folder} ({exc.strerror})", "files-not-writable") from None
        except OSError as exc:
            raise PlatformUnavailable(
                f"cannot write {name} in {folder} ({exc.strerror})",
                reference="files-write-failed",
                platform=PLATFORM,
                obj=str(folder),
                hint="check free disk space and that the shared folder is mounted; the export is retried",
            ) from None
