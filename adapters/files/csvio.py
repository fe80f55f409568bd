"""Reading and writing the CSV and JSON-lines files an ERP exchanges with us.

A file is decoded once, strictly, as UTF-8 (a leading BOM from Excel is fine): guessing a
legacy code page would turn "Muñoz" into "MuÃ±oz" on every platform, so a file that is not
UTF-8 is refused whole, with the fix. Problems that belong to the whole file (encoding, a
required column absent from the header) raise :class:`BadFile`; problems of one row come back
as a :class:`RowError` beside the good rows, so one bad row never blocks its neighbours.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector.errors import BadFile, DataError, MalformedPayload, MissingField


@dataclass(frozen=True, slots=True)
class Row:
    """One record and the line it starts on (1-based, as an editor shows it)."""

    line: int
    values: dict[str, Any]
    raw: str | None = None  # the line as written, for JSON lines (JSON-able, exact)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    error: DataError
    payload: Any


def read_text(path: Path) -> str:
    """The file as text, or BadFile naming the offending byte and how to re-save."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadFile(
            f"{path.name} is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line})",
            reference="file-not-utf8",
            obj=path.name,
            hint="save the file as UTF-8 (in Excel: 'CSV UTF-8') and drop it in the inbox again",
        ) from None


def _delimiter(header_line: str) -> str:
    """Spreadsheets in comma-decimal locales save with ';'; pick whichever the header uses."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def read_csv(path: Path, required: Sequence[str]) -> Iterator[Row | RowError]:
    """Rows as {column: value}; raises BadFile before the first row if the file is unusable.

    Column names are matched trimmed and lower-cased; columns we do not know are ignored so an
    ERP may export more than we read.
    """
    text = read_text(path)
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    header_row = next(reader, None)
    if not header_row or not any(cell.strip() for cell in header_row):
        raise BadFile(
            f"{path.name} is empty: it has no header line",
            reference="csv-header-missing",
            obj=path.name,
            hint=f"the first line must name the columns, at least: {', '.join(required)}",
        )
    header = [cell.strip().lower() for cell in header_row]
    duplicated = sorted({c for c in header if c and header.count(c) > 1})
    absent = [c for c in required if c not in header]
    if duplicated or absent:
        what = f"lacks required column(s) {', '.join(absent)}" if absent else ""
        if duplicated:
            what += ("; " if what else "") + f"repeats column(s) {', '.join(duplicated)}"
        raise BadFile(
            f"{path.name} {what}",
            reference="csv-header-invalid",
            obj=path.name,
            hint=f"fix the header line; required columns: {', '.join(required)}",
        )
    return _rows(reader, header)


def _rows(reader: Any, header: list[str]) -> Iterator[Row | RowError]:
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        values = {col: cell for col, cell in zip(header, cells, strict=False) if col}
        if len(cells) < len(header):
            missing = [c for c in header[len(cells) :] if c]
            yield RowError(
                line,
                MissingField(
                    f"row has {len(cells)} of {len(header)} columns; missing {', '.join(missing)}",
                    reference="csv-row-short",
                    hint="every row needs as many fields as the header (leave them empty, keep the separators)",
                ),
                values,
            )
        elif len(cells) > len(header):
            yield RowError(
                line,
                MalformedPayload(
                    f"row has {len(cells)} fields but the header has {len(header)}",
                    reference="csv-row-long",
                    hint="quote values that contain the separator, e.g. \"Lda, Porto\"",
                ),
                {**values, "_extra": cells[len(header) :]},
            )
        else:
            yield Row(line, values)


def read_jsonl(path: Path) -> Iterator[Row | RowError]:
    """One JSON object per line; numbers become Decimal so money never passes through float.

    Decoding happens here, before the first row, so an unreadable file fails as a whole.
    """
    return _json_lines(read_text(path))


def _json_lines(text: str) -> Iterator[Row | RowError]:
    # Split on "\n" only: str.splitlines would also break on U+2028, legal inside JSON strings.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            yield RowError(
                number,
                MalformedPayload(
                    f"line is not JSON ({exc.msg} at column {exc.colno})",
                    reference="jsonl-invalid",
                    hint="write one complete JSON object per line",
                ),
                line,
            )
            continue
        if not isinstance(value, dict):
            yield RowError(
                number,
                MalformedPayload(
                    f"line holds a JSON {type(value).__name__}, not an object",
                    reference="jsonl-not-object",
                    hint="write one JSON object {...} per line",
                ),
                line,
            )
            continue
        yield Row(number, value, line)


def write_csv(columns: Sequence[str], rows: Sequence[dict[str, str]]) -> bytes:
    """UTF-8 without BOM, ',' separated, CRLF as RFC 4180 says; every value quoted when needed."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_jsonl(records: Sequence[dict[str, Any]]) -> bytes:
    lines = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)
    return "".join(f"{line}\n" for line in lines).encode("utf-8")
