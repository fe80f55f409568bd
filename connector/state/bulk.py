"""Executemany with values already in the driver's form, for the loyalty path's large batches.

A sync page writes thousands of ledger and outbox rows. Through ``session.execute(insert(t),
rows)`` SQLAlchemy re-runs every column's bind processing per row (JSON encoding, the UTC check
and, on SQLite, a datetime-to-text formatter), which costs more than SQLite's own work. Here a
Core statement is compiled once per dialect and handed to the driver's ``executemany`` with
values the caller has already converted through :class:`Codec`, which produces exactly what
those processors produce, so the stored rows are the same either way. The statement runs on the
session's connection, inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_Shape = Callable[[Sequence[Any]], Any] | None


class Statement:
    """A Core INSERT or UPDATE run with rows given as tuples in ``keys`` order.

    ``keys`` name the statement's bind parameters (for an INSERT, the columns written). Bind
    parameters with a value fixed in the statement (``.values(status="done")``) are filled in
    from the compiled statement.
    """

    def __init__(
        self, statement: ClauseElement, keys: Sequence[str], *, insert: bool = False
    ) -> None:
        self.statement = statement
        self.keys = tuple(keys)
        self._insert = insert
        self._compiled: WeakKeyDictionary[Dialect, tuple[str, _Shape]] = WeakKeyDictionary()

    def run(self, session: Session, rows: Sequence[Sequence[Any]]) -> int:
        """Run once per row; returns the rows the statement changed, all runs together."""
        if not rows:
            return 0
        connection = session.connection()
        dialect = connection.dialect
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = self._compile(dialect)
        sql, shape = found
        params = list(rows) if shape is None else [shape(row) for row in rows]
        return connection.exec_driver_sql(sql, params).rowcount

    def _compile(self, dialect: Dialect) -> tuple[str, _Shape]:
        compiled = cast(
            SQLCompiler,
            self.statement.compile(
                dialect=dialect, column_keys=list(self.keys) if self._insert else None
            ),
        )
        keys = self.keys
        fixed = {k: v for k, v in compiled.params.items() if k not in keys}
        names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.params)
        missing = set(keys) - set(names)
        if missing:
            raise ValueError(f"statement has no parameters {sorted(missing)}: {compiled.string}")
        if not compiled.positional:

            def named(row: Sequence[Any]) -> dict[str, Any]:
                return {**fixed, **dict(zip(keys, row, strict=True))}

            return compiled.string, named
        if tuple(names) == keys:
            return compiled.string, None
        # each position picks from the row followed by the fixed values
        constants = tuple(fixed[name] for name in names if name not in keys)
        extra = [name for name in names if name not in keys]
        order = [keys.index(n) if n in keys else len(keys) + extra.index(n) for n in names]

        def positional(row: Sequence[Any]) -> tuple[Any, ...]:
            combined = (*row, *constants)
            return tuple(combined[i] for i in order)

        return compiled.string, positional


class Codec:
    """Python values to the form the dialect's own column types would bind.

    ``json`` is what the ``JSON`` type stores (the engine's serializer, ``json.dumps`` by
    default, ``None`` as JSON null); ``instant`` is what :class:`~connector.state.models.
    UTCDateTime` stores: naive UTC, as the driver takes it, or on SQLite the text SQLAlchemy's
    ``DateTime`` writes (``YYYY-MM-DD HH:MM:SS.ffffff``).
    """

    def __init__(self, dialect: Dialect) -> None:
        serializer = getattr(dialect, "_json_serializer", None)
        self.json: Callable[[Any], str] = serializer or json.dumps
        self._text = dialect.name == "sqlite" and _sqlite_default_format(dialect)
        self._process = None if self._text else _datetime_processor(dialect)

    def instant(self, value: datetime) -> Any:
        """An aware datetime as stored; a naive one is refused, as the column type refuses it."""
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; use aware UTC")
        naive = value.astimezone(UTC).replace(tzinfo=None)
        if self._text:
            return naive.isoformat(" ", "microseconds")
        return naive if self._process is None else self._process(naive)

    def iso_instant(self, value: str) -> Any:
        """An ISO 8601 text with an offset (as ``Entry.to_dict`` writes it), as stored.

        The common UTC forms become SQLite's text by slicing; anything else goes through
        :meth:`instant`."""
        if self._text and value.endswith("+00:00") and value[10:11] == "T":
            if len(value) == 25:
                return f"{value[:10]} {value[11:19]}.000000"
            if len(value) == 32 and value[19] == ".":
                return f"{value[:10]} {value[11:26]}"
        return self.instant(datetime.fromisoformat(value))


def _sqlite_default_format(dialect: Dialect) -> bool:
    """True when the dialect's DATETIME keeps SQLAlchemy's default text format."""
    probe = datetime(2001, 2, 3, 4, 5, 6, 7)
    process = _datetime_processor(dialect)
    return process is not None and process(probe) == probe.isoformat(" ", "microseconds")


def _datetime_processor(dialect: Dialect) -> Callable[[Any], Any] | None:
    return DateTime().dialect_impl(dialect).bind_processor(dialect)


_CODECS: WeakKeyDictionary[Dialect, Codec] = WeakKeyDictionary()


def codec(session: Session) -> Codec:
    """The codec for the session's database (one per engine)."""
    dialect = session.get_bind().dialect
    found = _CODECS.get(dialect)
    if found is None:
        found = _CODECS[dialect] = Codec(dialect)
    return found

