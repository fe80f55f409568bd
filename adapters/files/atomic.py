"""Files appear whole or not at all, on both sides of the drop folder.

An ERP polling ``outbox/`` must never read half an export: we write a hidden temp file in the
same folder (same filesystem, so the rename is atomic), fsync it, ``os.replace`` it onto its
final name and fsync the folder so the rename itself survives a power cut. A crash leaves at
most a ``.<name>.<token>.tmp`` file, which no reader picks up: :func:`is_ignored` is the one rule
for what is not (yet) a real file, used by our inbox reader and documented for ERPs.
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import suppress
from pathlib import Path

TEMP_SUFFIX = ".tmp"
_PARTIAL_SUFFIXES = (TEMP_SUFFIX, ".part", ".partial", ".crdownload")


def is_ignored(path: Path) -> bool:
    """Hidden files, temp/partial uploads and spreadsheet lock files (~$x.csv) are not data."""
    name = path.name
    return name.startswith((".", "~")) or name.lower().endswith(_PARTIAL_SUFFIXES) or not path.is_file()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` so that readers see all of it or nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
    final = folder / name
    try:
        # O_EXCL: never share a temp file; 0o666 lets the umask decide who else may read it.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(folder)
    return final


def unique_target(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name`` with -1, -2… before its extension when already taken."""
    target, n = folder / name, 0
    stem, dot, ext = name.partition(".")
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{dot}{ext}"
    return target


def move(src: Path, target: Path) -> Path:
    """Rename when on one filesystem (atomic); copy then delete when the archive is elsewhere."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.move(src, target))
