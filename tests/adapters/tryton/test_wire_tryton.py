"""Retry rules on the wire, against a port that accepts and never answers (no trytond needed).

Reads are resent after a timeout; writes never are, because the server may have applied them
(NOTES §0.7): the caller gets an error saying the outcome is unknown and the next run looks
the record up by reference.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from adapters.tryton.client import TrytonClient
from connector.errors import PlatformUnavailable


@pytest.fixture
def deaf_port() -> Iterator[tuple[int, list[socket.socket]]]:
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # read nothing, answer nothing

    threading.Thread(target=accept, daemon=True).start()
    yield int(listener.getsockname()[1]), held
    listener.close()
    for conn in held:
        conn.close()


def _client(port: int) -> TrytonClient:
    client = TrytonClient(url=f"http://127.0.0.1:{port}", database="shop", username="u", password="pw-secret",
                          timeout=0.3, read_retries=2, retry_backoff=0.01)  # fmt: skip
    client._authorization = "Session dummy"  # as if logged in: these calls go straight out
    return client


def test_a_read_that_times_out_is_resent(deaf_port) -> None:
    port, held = deaf_port
    client = _client(port)
    with pytest.raises(PlatformUnavailable) as err:
        client.search_read("party.party", [], ["name"])
    assert err.value.reference == "tryton-timeout"
    assert client.calls == 3 and len(held) == 3  # first try + two retries


def test_a_write_that_times_out_is_not_resent(deaf_port) -> None:
    port, held = deaf_port
    client = _client(port)
    with pytest.raises(PlatformUnavailable) as err:
        client.create("sale.sale", [{"reference": "woo:main:1"}])
    assert err.value.reference == "tryton-write-outcome-unknown"
    assert "may have been applied" in err.value.message and "pw-secret" not in str(err.value)
    assert client.calls == 1 and len(held) == 1
