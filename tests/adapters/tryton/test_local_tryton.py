"""The demo's local Tryton: one call gives a running server with a ready database."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from adapters.tryton import local
from adapters.tryton.adapter import TrytonAdapter
from adapters.tryton.bootstrap import ProductSpec
from connector.errors import ConfigError


@pytest.mark.tryton
@pytest.mark.slow
def test_start_local_tryton_serves_a_ready_shop(tryton_templates, tmp_path: Path) -> None:
    from decimal import Decimal

    url, database, username, password, stop = local.start_local_tryton(
        tmp_path,
        cache_dir=tryton_templates.directory.parent,
        products=[ProductSpec("DEMO-1", "Demo mug", Decimal("9.50"))],
    )
    try:
        adapter = TrytonAdapter(
            store="erp", url=url, database=database, username=username, password=password
        )
        info = adapter.check()
        assert info.currency == "EUR" and url.startswith("http://127.0.0.1:")
        assert adapter.client.search("product.product", [["code", "=", "DEMO-1"]]) != []
    finally:
        stop()
    assert (tmp_path / "shop.sqlite").exists()  # kept: the demo resumes where it stopped


def test_missing_trytond_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "trytond" else real(name, *a)
    )
    with pytest.raises(ConfigError) as err:
        local.require_trytond()
    assert err.value.reference == "tryton-not-installed"
    assert "vinculo[tryton]" in (err.value.hint or "")
