"""connector.http over real sockets on 127.0.0.1: which failures provably sent nothing, and the
Retry-After cases the WooCommerce client tests do not reach (custom ceiling, zone-less dates)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from connector.http import never_connected, parse_retry_after


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hang_up_port() -> Iterator[int]:
    """Accepts each connection, reads the request, closes without a byte of answer."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def test_refused_connection_never_left() -> None:
    with pytest.raises(requests.ConnectionError) as err:
        requests.post(f"http://127.0.0.1:{_closed_port()}/x", data=b"{}", timeout=2)
    assert never_connected(err.value)


def test_connection_dropped_after_sending_may_have_arrived(hang_up_port: int) -> None:
    with pytest.raises(requests.ConnectionError) as err:
        requests.post(f"http://127.0.0.1:{hang_up_port}/x", data=b"{}", timeout=2)
    assert not never_connected(err.value)


def test_plain_exception_is_not_a_refusal() -> None:
    assert not never_connected(ValueError("boom"))


def test_retry_after_custom_ceiling_and_zone_less_date() -> None:
    assert parse_retry_after("120", ceiling=60) == 60.0
    assert parse_retry_after("2.5") == 2.5
    now = datetime(2026, 11, 22, 18, 0, 0, tzinfo=UTC)
    # "-0000" is RFC 2822's "zone unknown": parsed without tzinfo, read as UTC → 45 s after now.
    assert parse_retry_after("Sun, 22 Nov 2026 18:00:45 -0000", now=now) == 45.0
    assert parse_retry_after("   ") is None
    assert parse_retry_after("nan") is None
