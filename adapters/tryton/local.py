"""A local trytond with a ready database, for the demo and the test fixture (one implementation).

This is the installer side, not the adapter: it runs ``trytond-admin`` and ``trytond`` as
subprocesses of the current interpreter (so trytond is only needed when this is used) and
then drives the business setup over JSON-RPC (:mod:`adapters.tryton.bootstrap`).

Building a database with the sale modules takes 35–45 s (NOTES §2), so it is done once into
a cache directory keyed by the installed trytond package versions and this setup code, and
then copied. Copies go through SQLite's backup API because a database a server had open
keeps recent commits in its ``-wal`` file (NOTES §0.9). A server only knows the databases it
was started with (NOTES §0.1–0.2), so every server starts with ``-d`` and its database names.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

import requests

from adapters.tryton import bootstrap
from adapters.tryton.client import PLATFORM, TrytonClient
from connector.errors import ConfigError, ServerDown

BARE_DB = "bare"  # sale modules active, no company: what a merchant has before setup
SHOP_DB = "shop"  # company, chart, fiscal years, tax, SHIPPING/DISCOUNT products
ADMIN = "admin"
CLERK = "clerk"  # a second login for wrong-password checks (attempts are counted per login)

_ADMIN_MAIN = "import sys; from trytond.cli.admin import main; sys.argv[0] = 'trytond-admin'; sys.exit(main())"
_SERVER_MAIN = "import sys; from trytond.cli import main; sys.argv[0] = 'trytond'; sys.exit(main())"


def require_trytond() -> None:
    """Fail with instructions, not an ImportError, when the ``tryton`` extra is missing."""
    if importlib.util.find_spec("trytond") is None:
        raise ConfigError(
            "the local Tryton server needs trytond, which is not installed",
            platform=PLATFORM,
            reference="tryton-not-installed",
            hint='pip install "vinculo[tryton]"  (trytond-sale 8.2)',
        )


def installed_versions() -> dict[str, str]:
    names = sorted(
        d.metadata["Name"]
        for d in importlib.metadata.distributions()
        if d.metadata["Name"]
        and d.metadata["Name"].lower().replace("_", "-").startswith(("trytond", "proteus"))
    )
    return {n: importlib.metadata.version(n) for n in names}


def versions_key() -> str:
    return hashlib.sha256(json.dumps(installed_versions(), sort_keys=True).encode()).hexdigest()[
        :16
    ]


def template_key() -> str:
    """Changes when trytond, this setup code or the calendar year (fiscal years) changes."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(versions_key().encode())
    for name in ("local.py", "bootstrap.py"):
        h.update((here / name).read_bytes())
    h.update(str(date.today().year).encode())
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    root = os.environ.get("VINCULO_TEST_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "vinculo-tests"
    return base / "tryton"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_database(src: Path, dst: Path) -> None:
    """Copy through the backup API: includes commits still in ``src``'s -wal file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(src)) as source,
        contextlib.closing(sqlite3.connect(dst)) as target,
    ):
        source.backup(target)
    with contextlib.closing(sqlite3.connect(dst)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@dataclass
class TrytonServer:
    """One trytond process on 127.0.0.1 serving the databases in ``data_dir``."""

    data_dir: Path
    databases: Sequence[str]
    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def config_path(self) -> Path:
        path = self.data_dir / "trytond.conf"
        path.write_text(
            f"[database]\nuri = sqlite://\npath = {self.data_dir}\n\n"
            f"[web]\nlisten = 127.0.0.1:{self.port}\n"
        )
        return path

    def start(self, timeout: float = 90) -> None:
        require_trytond()
        if not self.port:
            self.port = free_port()
        log_path = self.log_path or self.data_dir / "trytond.log"
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed at stop
        args = [sys.executable, "-c", _SERVER_MAIN, "-c", str(self.config_path())]
        if self.databases:
            args += ["-d", *self.databases]
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=_clean_env()
        )
        log.close()
        self._wait_ready(timeout, log_path)

    def _wait_ready(self, timeout: float, log_path: Path) -> None:
        # With -d the port opens only after the pools are loaded (NOTES §3).
        deadline = time.monotonic() + timeout
        body = {"id": 0, "method": "common.server.version", "params": []}
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ServerDown(
                    f"trytond exited with {self.process.returncode} at start: {tail(log_path)}",
                    key="url",
                    platform=PLATFORM,
                )
            with contextlib.suppress(requests.RequestException):
                r = requests.post(f"{self.url}/rpc/", json=body, timeout=2)
                if r.status_code == 200 and "result" in r.json():
                    return
            time.sleep(0.05)
        self.stop()
        raise ServerDown(
            f"trytond not ready after {timeout:g}s: {tail(log_path)}", key="url", platform=PLATFORM
        )

    def stop(self) -> None:
        """SIGTERM by PID and wait; the -wal files it leaves are handled by the copies."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self, timeout: float = 90) -> None:
        self.stop()
        self.start(timeout)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYTON")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- template ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Templates:
    directory: Path
    bare: Path
    shop: Path
    admin_password: str = field(repr=False)
    clerk_password: str = field(repr=False)


def build_templates(
    cache_dir: Path | None = None, *, progress: Callable[[str], None] | None = None
) -> Templates:
    """Return the cached bare and shop databases, building them once (about 40 s)."""
    require_trytond()
    say = progress or (lambda _msg: None)
    directory = (cache_dir or default_cache_dir()) / template_key()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits for the first build
        creds_path = directory / "credentials.json"
        if creds_path.exists() and (directory / f"{SHOP_DB}.sqlite").exists():
            creds = json.loads(creds_path.read_text())
        else:
            say("building the Tryton template database (once, about 40 s)")
            creds = _build(directory)
            creds_path.write_text(json.dumps(creds))
    return Templates(
        directory,
        directory / f"{BARE_DB}.sqlite",
        directory / f"{SHOP_DB}.sqlite",
        creds["admin"],
        creds["clerk"],
    )


def _initialised(root: Path) -> tuple[Path, str]:
    """``trytond-admin -u sale`` once per trytond version set: the 35 s step (NOTES §2)."""
    directory = root / f"init-{versions_key()}"
    directory.mkdir(parents=True, exist_ok=True)
    done = directory / "initialised.json"
    if done.exists():
        return directory / f"{BARE_DB}.sqlite", json.loads(done.read_text())["admin"]
    for old in directory.iterdir():
        old.unlink()
    admin_password = secrets.token_urlsafe(16)
    passfile = directory / "admin.pass"
    passfile.write_text(admin_password + "\n")
    conf = TrytonServer(directory, [BARE_DB]).config_path()
    (directory / f"{BARE_DB}.sqlite").touch()  # trytond-admin never creates SQLite files
    env = {**_clean_env(), "TRYTONPASSFILE": str(passfile)}
    result = subprocess.run(
        [sys.executable, "-c", _ADMIN_MAIN, "-c", str(conf), "-d", BARE_DB, "-u", "sale",
         "--activate-dependencies", "--email", "admin@example.com"],
        stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=600,
    )  # fmt: skip
    passfile.unlink()
    if result.returncode != 0:
        raise ConfigError(
            f"trytond-admin failed ({result.returncode}): {result.stderr.decode(errors='replace')[-2000:]}",
            platform=PLATFORM,
            reference="tryton-init-failed",
        )
    with contextlib.closing(sqlite3.connect(directory / f"{BARE_DB}.sqlite")) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    done.write_text(json.dumps({"admin": admin_password}))
    return directory / f"{BARE_DB}.sqlite", admin_password


def _build(directory: Path) -> dict[str, str]:
    initialised, admin_password = _initialised(directory.parent)
    work = directory / "build"
    work.mkdir(exist_ok=True)
    server = TrytonServer(work, [BARE_DB, SHOP_DB])
    clerk_password = secrets.token_urlsafe(16)
    copy_database(initialised, work / f"{BARE_DB}.sqlite")
    copy_database(initialised, work / f"{SHOP_DB}.sqlite")
    server.start()
    try:
        for db in (BARE_DB, SHOP_DB):
            client = TrytonClient(
                url=server.url, database=db, username=ADMIN, password=admin_password, timeout=120
            )
            client.login()
            if db == SHOP_DB:
                bootstrap.setup_shop(client)
            bootstrap.ensure_user(client, CLERK, clerk_password, name="Shop clerk")
            client.close()
    finally:
        server.stop()
    for db in (BARE_DB, SHOP_DB):
        copy_database(work / f"{db}.sqlite", directory / f"{db}.sqlite")
    return {"admin": admin_password, "clerk": clerk_password}


# --- the demo's entry point ------------------------------------------------------------------------


class LocalTryton(NamedTuple):
    url: str
    database: str
    username: str
    password: str
    stop: Callable[[], None]


def start_local_tryton(
    workdir: Path,
    *,
    cache_dir: Path | None = None,
    products: Sequence[bootstrap.ProductSpec] = (),
    progress: Callable[[str], None] | None = None,
) -> LocalTryton:
    """Start trytond on 127.0.0.1 with a ready ``shop`` database copied into ``workdir``.

    An existing ``workdir/shop.sqlite`` is kept, so a demo can be stopped and resumed.
    ``products`` are created (by SKU) if missing. Unpacks as
    ``url, database, username, password, stop``.
    """
    templates = build_templates(cache_dir, progress=progress)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / f"{SHOP_DB}.sqlite"
    if not target.exists():
        copy_database(templates.shop, target)
    server = TrytonServer(workdir, [SHOP_DB])
    server.start()
    if products:
        client = TrytonClient(
            url=server.url, database=SHOP_DB, username=ADMIN, password=templates.admin_password
        )
        try:
            client.login()
            ids = client.search_read("product.category", [["accounting", "=", True]], ["name"])
            by_name = {r["name"]: r["id"] for r in ids}
            bootstrap.ensure_products(
                client,
                products,
                category=by_name["Goods and services"],
                untaxed_category=by_name["Untaxed"],
                unit=bootstrap.unit_id(client),
            )
        except Exception:
            server.stop()
            raise
        finally:
            client.close()
    return LocalTryton(server.url, SHOP_DB, ADMIN, templates.admin_password, server.stop)


@contextlib.contextmanager
def local_tryton(workdir: Path, **kw: object) -> Iterator[LocalTryton]:
    running = start_local_tryton(workdir, **kw)  # type: ignore[arg-type]
    try:
        yield running
    finally:
        running.stop()
