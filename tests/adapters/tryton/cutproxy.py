"""A TCP relay in front of trytond that can go dark on cue (psycopg's ``proxy`` idea).

trytond answers ``Connection: close``, so one connection carries one JSON-RPC call: the relay
reads the request, decides, forwards, relays the answer. ``fail_on(method, how)`` makes the
first call to ``method`` either never reach the server (``"before"``) or reach it and lose
its answer (``"after"``: the write is committed, the caller cannot know). From then on the
relay stays down — every connection is cut — until :meth:`heal`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Literal


class CutProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.down = False
        self.forwarded: list[str] = []
        self._trigger: tuple[str, str] | None = None
        self._then: Callable[[], None] | None = None
        self._countdown = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def fail_on(
        self,
        method: str,
        how: Literal["before", "after"],
        *,
        nth: int = 1,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Fire on the ``nth`` call to ``method``; ``then`` runs when it fires (e.g. stop the
        real server, so it is down and not just cut off)."""
        self._trigger = (f'"method":"{method}"', how)
        self._countdown = nth
        self._then = then

    def heal(self) -> None:
        self.down, self._trigger = False, None

    def close(self) -> None:
        self._listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            with self._lock:
                if self.down:
                    return
                how = None
                if self._trigger and self._trigger[0].encode() in request:
                    self._countdown -= 1
                    if self._countdown == 0:
                        how = self._trigger[1]
                        self.down = True
                if how == "before":
                    if self._then:
                        self._then()
                    return
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as up:
                up.sendall(request)
                answer = b""
                while chunk := up.recv(65536):
                    answer += chunk
            self.forwarded.append(request.split(b'"method":"', 1)[-1].split(b'"', 1)[0].decode())
            if how == "after":
                if self._then:
                    self._then()
                return  # committed upstream; the caller sees the connection drop
            conn.sendall(answer)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
