"""A drop folder in tmp_path and a fixed clock, so archive and export names are predictable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from filedrop import NOW

from adapters.files import FilesErp


@pytest.fixture
def erp(tmp_path: Path) -> FilesErp:
    return FilesErp(store="erp", root=tmp_path, clock=lambda: NOW)


@pytest.fixture
def drop(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file as the ERP would: drop("inbox/sales/x.jsonl", text)."""

    def write(relative: str, content: str | bytes) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes(content)
        return path

    return write
