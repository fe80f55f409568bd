"""Exports appear whole or not at all, even when the process dies mid-write."""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from filedrop import STAMP

from adapters.files import FilesErp
from connector.domain import Customer
from connector.errors import ConfigError, PlatformUnavailable
from connector.ports import CustomerWrite

REPO = Path(__file__).resolve().parents[3]
ANA = CustomerWrite(key="cust-1", customer=Customer(id="woo:main:42", email="ana@example.es", first_name="Ana"))
EXPECTED_CSV = (
    "erp_id,email,first_name,last_name,phone,company,address_1,address_2,city,postcode,state,country,"
    "accepts_marketing,updated_at,vinculo_id,source_id\r\n"
    ",ana@example.es,Ana,,,,,,,,,,,,cust-1,woo:main:42\r\n"
)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_killed_process_leaves_only_a_hidden_temp_file_that_nobody_reads(tmp_path: Path) -> None:
    # A real crash: the process exits between fsync and rename, so no cleanup code runs.
    script = textwrap.dedent(
        f"""
        import os, sys
        from datetime import UTC, datetime
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from adapters.files import FilesErp
        from connector.domain import Customer
        from connector.ports import CustomerWrite
        erp = FilesErp(store="erp", root=Path({str(tmp_path)!r}), clock=lambda: datetime(2026, 11, 24, 10, 15, tzinfo=UTC))
        os.replace = lambda *args, **kwargs: os._exit(17)
        erp.upsert_customers([CustomerWrite(key="cust-1", customer=Customer(id="woo:main:42", email="ana@example.es", first_name="Ana"))])
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 17, done.stderr.decode()

    outbox = tmp_path / "outbox/customers"
    (leftover,) = files_in(outbox)
    assert re.fullmatch(rf"\.customers-{STAMP}-[0-9a-f]{{8}}\.csv\.[0-9a-f]{{8}}\.tmp", leftover)
    assert list(outbox.glob("*.csv")) == []  # what an ERP polling for *.csv sees: nothing
    assert (outbox / leftover).read_bytes().decode("utf-8") == EXPECTED_CSV  # fsynced whole before the rename

    # Our own reader applies the same rule to an ERP that crashed mid-write into an inbox.
    erp = FilesErp(store="erp", root=tmp_path)
    (tmp_path / "inbox/customers").mkdir(parents=True)
    os.link(outbox / leftover, tmp_path / "inbox/customers" / leftover)
    assert list(erp.pull_customers(None)) == []

    # The retry writes a complete file beside the debris.
    (result,) = erp.upsert_customers([ANA])
    assert result.ok
    (final,) = outbox.glob("*.csv")
    assert final.read_bytes().decode("utf-8") == EXPECTED_CSV


def test_a_failed_write_exports_nothing_leaves_no_temp_file_and_raises_transient(
    erp: FilesErp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)

    with pytest.raises(PlatformUnavailable) as info:
        erp.upsert_customers([ANA])

    assert info.value.kind == "transient" and info.value.reference == "files-write-failed"
    assert "No space left" in info.value.message
    assert files_in(tmp_path / "outbox/customers") == []


def test_a_permission_problem_is_a_config_error(erp: FilesErp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Running as root would ignore chmod, so the refusal is injected where the OS would raise it.
    def refused(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", refused)

    with pytest.raises(ConfigError) as info:
        erp.upsert_customers([ANA])

    assert info.value.reference == "files-not-writable" and info.value.obj == "root"
    assert files_in(tmp_path / "outbox/customers") == []
