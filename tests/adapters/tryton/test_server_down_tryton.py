"""The ERP goes away in the middle of an export; the next run finishes without duplicates.

A relay between adapter and trytond cuts the line at a chosen call: before it reaches the
server, or after the server committed it but before the answer came back — the case that
makes blind resending dangerous (NOTES §0.7, STYLE §5). This module owns its server, so it
may stop it for real.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.errors import ServerDown

from .cutproxy import CutProxy
from .factories import line, order, tag

pytestmark = [pytest.mark.tryton, pytest.mark.slow]


@pytest.fixture
def relay(tryton):
    proxy = CutProxy(tryton.server.port)
    yield proxy
    proxy.close()


def _orders(t: str, n: int = 4):
    base = order(
        t,
        "0",
        email=None,
        lines=(line("1", f"TEE-{t}", 1, "10.00", "10.00", "2.10"),),
        total="12.10",
        total_tax="2.10",
    )
    return [
        replace(base, id=f"woo:{t}:{i}", number=str(i), email=f"c{i}.{t}@example.com")
        for i in range(n)
    ]


def _assert_once_each(tryton, orders) -> None:
    admin = tryton.admin()
    rows = admin.search_read(
        "sale.sale",
        [["reference", "in", [o.id for o in orders]]],
        ["reference", "state", "total_amount"],
    )
    assert sorted(r["reference"] for r in rows) == sorted(o.id for o in orders)  # one sale each
    assert {r["state"] for r in rows} == {"quotation"}
    assert {str(r["total_amount"]) for r in rows} == {"12.10"}
    emails = [o.email for o in orders]
    mechs = admin.search_read(
        "party.contact_mechanism", [["type", "=", "email"], ["value", "in", emails]], ["party"]
    )
    assert len(mechs) == len(orders)  # one party each, none created twice


@pytest.mark.parametrize(
    ("method", "how"),
    [
        ("model.party.party.create", "before"),
        ("model.party.party.create", "after"),
        ("model.sale.sale.create", "before"),
        ("model.sale.sale.create", "after"),  # sales committed, answer lost: drafts left behind
        ("model.sale.sale.quote", "after"),
    ],
)
def test_cut_mid_export_raises_server_down_and_rerun_completes_once(
    tryton, relay, method, how
) -> None:
    t = tag()
    tryton.products((f"TEE-{t}", "Camiseta", "10.00"))
    orders = _orders(t)
    adapter = tryton.adapter(url=relay.url, read_retries=1)
    adapter.client.retry_backoff = 0.01
    adapter.check()
    relay.fail_on(method, how)
    with pytest.raises(ServerDown) as err:
        adapter.export_orders(orders)
    assert err.value.key == "url" and tryton.admin_password not in str(err.value)
    assert method in relay.forwarded if how == "after" else method not in relay.forwarded

    relay.heal()
    results = adapter.export_orders(orders)
    assert all(r.ok for r in results), [r.error for r in results]
    _assert_once_each(tryton, orders)


def test_server_stopped_mid_run_then_restarted(tryton, relay) -> None:
    t = tag()
    tryton.products((f"TEE-{t}", "Camiseta", "10.00"))
    orders = _orders(t, 6)
    adapter = tryton.adapter(url=relay.url, batch_size=2, read_retries=1)
    adapter.client.retry_backoff = 0.01
    adapter.check()
    # Batch 1 lands; batch 2's sales are committed, then trytond is stopped by SIGTERM.
    relay.fail_on("model.sale.sale.create", "after", nth=2, then=tryton.server.stop)
    with pytest.raises(ServerDown):
        adapter.export_orders(orders)
    assert tryton.server.process is None

    tryton.server.start()  # same port, same database file: the -wal kept the commits (§0.9)
    relay.heal()
    results = adapter.export_orders(orders)
    assert all(r.ok for r in results), [r.error for r in results]
    assert [r.created for r in results] == [False, False, False, False, True, True]
    _assert_once_each(tryton, orders)
