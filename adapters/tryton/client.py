"""Tryton JSON-RPC over ``requests``: session, value codec, retries and error translation.

Everything Tryton-specific about the wire lives here so the adapter speaks in models and
domain errors only. Three rules shape it (tryton/NOTES.md §0, §5):

* one call is one transaction, and the server may have committed a write whose answer we
  never received, so only *reads* are resent after a connection error; a write that fails
  in flight surfaces as an error and the next run finds what it made by reference;
* a session lasts until the server forgets it, so a 401 means "log in again once";
* errors come in three shapes (JSON envelope with a Tryton exception, with a bare Python
  exception text, or an HTML page with a status) and are translated in :meth:`_translate`
  and :meth:`_raise_for_status`, nowhere else.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import requests

from connector.errors import (
    AuthRejected,
    ConfigError,
    MalformedPayload,
    NotFound,
    PlatformUnavailable,
    RateLimited,
    ServerDown,
    TransientError,
    VinculoError,
    WriteRejected,
)

PLATFORM: Final = "tryton"

# Methods that change nothing on the server: safe to resend after a dropped connection.
_READ_METHODS: Final = frozenset(
    {
        "search",
        "search_read",
        "search_count",
        "read",
        "fields_get",
        "default_get",
        "get_preferences",
    }
)
_READ_CALLS: Final = frozenset({"common.server.version", "common.db.list", "common.db.login"})

_MISSING_RECORDS = re.compile(
    r"You are trying to (read|write to|delete) records? .* that don't exist"
)
_FIELD_IN_MESSAGE = re.compile(r'for field "([^"]+)"')


# --- value codec (NOTES §5.6) ---------------------------------------------------------------


class _Encoder(json.JSONEncoder):
    """Typed values as Tryton's ``__class__`` objects; aware datetimes go as naive UTC."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return {"__class__": "Decimal", "decimal": str(o)}
        if isinstance(o, datetime):
            if o.tzinfo is None or o.utcoffset() is None:
                raise TypeError(f"refusing to send naive datetime {o.isoformat()} to Tryton")
            o = o.astimezone(UTC)
            return {
                "__class__": "datetime",
                "year": o.year,
                "month": o.month,
                "day": o.day,
                "hour": o.hour,
                "minute": o.minute,
                "second": o.second,
                "microsecond": o.microsecond,
            }
        if isinstance(o, date):
            return {"__class__": "date", "year": o.year, "month": o.month, "day": o.day}
        if isinstance(o, dtime):
            return {
                "__class__": "time",
                "hour": o.hour,
                "minute": o.minute,
                "second": o.second,
                "microsecond": o.microsecond,
            }
        if isinstance(o, timedelta):
            return {"__class__": "timedelta", "seconds": o.total_seconds()}
        if isinstance(o, bytes | bytearray):
            return {"__class__": "bytes", "base64": base64.b64encode(bytes(o)).decode("ascii")}
        return super().default(o)


def _decode_object(obj: dict[str, Any]) -> Any:
    cls = obj.get("__class__")
    if cls is None:
        return obj
    if cls == "Decimal":
        return Decimal(obj["decimal"])
    if cls == "datetime":
        # Tryton keeps every datetime in UTC without a zone (NOTES §8): make that explicit.
        return datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj.get("hour", 0),
            obj.get("minute", 0),
            obj.get("second", 0),
            obj.get("microsecond", 0),
            tzinfo=UTC,
        )
    if cls == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if cls == "time":
        return dtime(
            obj.get("hour", 0),
            obj.get("minute", 0),
            obj.get("second", 0),
            obj.get("microsecond", 0),
        )
    if cls == "timedelta":
        return timedelta(seconds=obj["seconds"])
    if cls == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def encode(payload: Any) -> str:
    return json.dumps(payload, cls=_Encoder, separators=(",", ":"))


def decode(text: str) -> Any:
    return json.loads(text, object_hook=_decode_object)


def redact_url(url: str) -> str:
    """The URL without any ``user:password@`` part, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# --- client ------------------------------------------------------------------------------------


class TrytonClient:
    """One logged-in user on one database of one trytond server.

    ``calls`` counts HTTP requests sent (retries included), which the benchmark and the
    idempotency tests read to prove a re-sync writes nothing.
    """

    def __init__(
        self,
        *,
        url: str,
        database: str,
        username: str,
        password: str,
        timeout: float = 10,
        read_retries: int = 2,
        retry_backoff: float = 0.2,
        language: str = "en",
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.username = username
        self._password = password
        self.timeout = timeout
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self.language = language
        self.http = requests.Session()
        self.calls = 0
        self.writes = 0
        self._ids = itertools.count(1)
        self._authorization: str | None = None
        self.user_id: int | None = None
        self.preferences: dict[str, Any] = {}
        self.context: dict[str, Any] = {}

    def __repr__(self) -> str:  # never shows the password or the session key
        return f"TrytonClient({redact_url(self.url)!r}, database={self.database!r}, user={self.username!r})"

    # ---- session ----

    @property
    def logged_in(self) -> bool:
        return self._authorization is not None

    def login(self) -> None:
        """Open a session and load the user's preferences as the call context (NOTES §5.2–5.3)."""
        result = self._send(
            self._db_url(),
            "common.db.login",
            [self.username, {"password": self._password}, self.language],
            authorization=None,
        )
        if not (isinstance(result, list) and len(result) >= 2):
            raise MalformedPayload(
                "login answered without a session", platform=PLATFORM, obj="common.db.login"
            )
        user_id, key = int(result[0]), str(result[1])
        token = base64.b64encode(f"{self.username}:{user_id}:{key}".encode()).decode("ascii")
        self._authorization = f"Session {token}"
        self.user_id = user_id
        try:
            prefs = self._send(
                self._db_url(),
                "model.res.user.get_preferences",
                [True, {}],
                authorization=self._authorization,
            )
        except _SessionExpired:
            raise AuthRejected(
                "Tryton refused the session it had just opened",
                platform=PLATFORM,
                key="username",
                obj="get_preferences",
                reference="tryton-session-refused",
            ) from None
        self.preferences = dict(prefs or {})
        self.context = {
            key: self.preferences[key]
            for key in ("company", "companies", "language", "company_filter")
            if self.preferences.get(key) is not None
        }

    def close(self) -> None:
        self.http.close()

    # ---- calls ----

    def server_version(self) -> str:
        return str(self._send(f"{self.url}/rpc/", "common.server.version", [], authorization=None))

    def list_databases(self) -> list[str]:
        return [
            str(d)
            for d in self._send(f"{self.url}/rpc/", "common.db.list", [], authorization=None) or []
        ]

    def call(self, method: str, params: Sequence[Any], *, timeout: float | None = None) -> Any:
        """Any database call with the session; logs in first, and once more on a 401.

        ``timeout`` overrides the client's for one call: a batch of confirms legitimately
        takes longer than a read, and a write that times out has an unknown outcome.
        """
        if not self.logged_in:
            self.login()
        url = self._db_url()
        try:
            return self._send(
                url, method, list(params), authorization=self._authorization, timeout=timeout
            )
        except _SessionExpired:
            self.login()
            try:
                return self._send(
                    url, method, list(params), authorization=self._authorization, timeout=timeout
                )
            except _SessionExpired:
                raise AuthRejected(
                    "Tryton refused a fresh session",
                    platform=PLATFORM,
                    key="username",
                    obj=method,
                    reference="tryton-session-refused",
                ) from None

    def model(
        self,
        model: str,
        method: str,
        *args: Any,
        context: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """``model.<model>.<method>`` with the login context as the last parameter."""
        if not self.logged_in:
            self.login()
        ctx = {**self.context, **(context or {})}
        return self.call(f"model.{model}.{method}", [*args, ctx], timeout=timeout)

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: Sequence[str],
        *,
        offset: int = 0,
        limit: int | None = None,
        order: list[list[str]] | None = None,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        rows = self.model(
            model,
            "search_read",
            domain,
            offset,
            limit,
            order or [["id", "ASC"]],
            list(fields),
            context=context,
        )
        return list(rows or [])

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        return list(self.model(model, "read", list(ids), list(fields)) or [])

    def search(self, model: str, domain: list[Any], *, limit: int | None = None) -> list[int]:
        return [
            int(i) for i in self.model(model, "search", domain, 0, limit, [["id", "ASC"]]) or []
        ]

    def create(
        self, model: str, values: Sequence[dict[str, Any]], *, timeout: float | None = None
    ) -> list[int]:
        if not values:
            return []
        return [int(i) for i in self.model(model, "create", list(values), timeout=timeout)]

    def write(self, model: str, *pairs: tuple[Sequence[int], dict[str, Any]]) -> None:
        args: list[Any] = []
        for ids, vals in pairs:
            args.extend([list(ids), vals])
        if args:
            self.model(model, "write", *args)

    def delete(self, model: str, ids: Sequence[int]) -> None:
        if ids:
            self.model(model, "delete", list(ids))

    def button(
        self, model: str, name: str, ids: Sequence[int], *, timeout: float | None = None
    ) -> Any:
        if not ids:
            return None
        return self.model(model, name, list(ids), timeout=timeout)

    # ---- wire ----

    def _db_url(self) -> str:
        return f"{self.url}/{self.database}/rpc/"

    def _send(
        self,
        url: str,
        method: str,
        params: list[Any],
        *,
        authorization: str | None,
        timeout: float | None = None,
    ) -> Any:
        is_read = method in _READ_CALLS or method.rsplit(".", 1)[-1] in _READ_METHODS
        request_id = next(self._ids)
        body = encode({"id": request_id, "method": method, "params": params})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        attempts = 1 + (self.read_retries if is_read else 0)
        limit = timeout or self.timeout
        for attempt in range(attempts):
            self.calls += 1
            if not is_read:
                self.writes += 1
            try:
                response = self.http.post(
                    url, data=body.encode("utf-8"), headers=headers, timeout=limit
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt + 1 < attempts:
                    time.sleep(self.retry_backoff * (2**attempt))
                    continue
                raise self._transport_error(method, exc, is_read, limit) from exc
            return self._unwrap(response, method, request_id)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _transport_error(
        self, method: str, exc: Exception, is_read: bool, limit: float
    ) -> VinculoError:
        where = redact_url(self.url)
        if isinstance(exc, requests.ReadTimeout) and not is_read:
            return PlatformUnavailable(
                f"no answer from Tryton at {where} within {limit:g}s to {method}; the write may have been applied",
                platform=PLATFORM,
                obj=method,
                reference="tryton-write-outcome-unknown",
                hint="re-run the sync: records are looked up by their store reference before anything is created",
            )
        if isinstance(exc, requests.ReadTimeout):
            return PlatformUnavailable(
                f"Tryton at {where} did not answer {method} within {limit:g}s",
                platform=PLATFORM,
                obj=method,
                reference="tryton-timeout",
            )
        return ServerDown(
            f"cannot reach Tryton at {where} ({type(exc).__name__})",
            key="url",
            platform=PLATFORM,
            obj=method,
        )

    def _unwrap(self, response: requests.Response, method: str, request_id: int) -> Any:
        if response.status_code != 200:
            self._raise_for_status(response, method)
        try:
            payload = decode(response.text)
        except ValueError:
            raise PlatformUnavailable(
                f"Tryton answered {method} with something that is not JSON (HTTP {response.status_code})",
                platform=PLATFORM,
                obj=method,
                reference="tryton-not-json",
                hint="check that `url` points at trytond itself and not at a proxy's error page",
            ) from None
        if not isinstance(payload, dict) or payload.get("id") != request_id:
            raise MalformedPayload(
                f"Tryton answered {method} with a mismatched envelope",
                platform=PLATFORM,
                obj=method,
            )
        if "error" in payload and payload["error"] is not None:
            raise self._translate(payload["error"], method)
        return payload.get("result")

    def _raise_for_status(self, response: requests.Response, method: str) -> None:
        status = response.status_code
        if status == 401:
            if method == "common.db.login":
                raise AuthRejected(
                    f"Tryton refused the login of user {self.username!r} on database {self.database!r}",
                    platform=PLATFORM,
                    key="password",
                    obj="common.db.login",
                    reference="tryton-login-rejected",
                    hint="check `username` and `password` for the ERP; after repeated failures Tryton "
                    "slows down and then refuses logins for a while",
                )
            raise _SessionExpired()
        if status == 429:
            raise RateLimited(
                f"Tryton refuses further logins of {self.username!r} after failed attempts",
                platform=PLATFORM,
                obj=method,
                reference="tryton-login-throttled",
                hint="fix `password`, then wait a few minutes before the next attempt",
            )
        if status == 404:
            known = self._known_databases()
            listing = ", ".join(known) if known else "none listed"
            raise ConfigError(
                f"Tryton at {redact_url(self.url)} has no database {self.database!r}",
                platform=PLATFORM,
                obj="database",
                reference="tryton-database-not-found",
                hint=f"check `database` in the ERP configuration (databases on this server: {listing})",
            )
        if status == 403:
            raise ConfigError(
                f"Tryton does not expose {method} over RPC",
                platform=PLATFORM,
                obj=method,
                reference="tryton-method-forbidden",
                hint="this Tryton version or its modules differ from what Vínculo speaks (8.2 with sale)",
            )
        if status >= 500:
            raise PlatformUnavailable(
                f"Tryton answered {method} with HTTP {status}",
                platform=PLATFORM,
                obj=method,
                reference="tryton-server-error",
                hint="see the trytond log; the call is retried on the next run",
            )
        raise ConfigError(
            f"Tryton refused {method} with HTTP {status}",
            platform=PLATFORM,
            obj=method,
            reference="tryton-request-refused",
            hint="see the trytond log for the cause",
        )

    def _known_databases(self) -> list[str]:
        try:
            return self.list_databases()
        except VinculoError:
            return []

    def _translate(self, error: Any, method: str) -> VinculoError:
        """The one place a Tryton error envelope becomes a Vínculo error (NOTES §5.8)."""
        name = error[0] if isinstance(error, list) and error else str(error)
        args = error[1] if isinstance(error, list) and len(error) > 1 else None
        obj = method.removeprefix("model.")
        if name == "UserError":
            message = str(args[0]) if isinstance(args, list) and args else str(args)
            description = (
                str(args[1]) if isinstance(args, list) and len(args) > 1 and args[1] else ""
            )
            return classify_user_error(message, description, obj=obj, username=self.username)
        if name == "UserWarning":
            warning = args if isinstance(args, list) else [None, str(args), ""]
            text = str(warning[1]) if len(warning) > 1 else str(warning)
            return WriteRejected(
                text,
                code=str(warning[0]) if warning else None,
                platform=PLATFORM,
                obj=obj,
                reference="tryton-warning",
                hint="Tryton asks for consent to this warning; fix the record so it no longer warns",
            )
        if name == "ConcurrencyException":
            return TransientError(
                "the record was changed in Tryton meanwhile",
                platform=PLATFORM,
                obj=obj,
                reference="tryton-concurrent-change",
                hint="retried on the next run after a fresh read",
            )
        if name == "LoginException":
            return AuthRejected(
                f"Tryton asks for more login parameters for {self.username!r}",
                platform=PLATFORM,
                key="password",
                obj=method,
                reference="tryton-login-incomplete",
            )
        # A bare Python exception text: an unknown model/field, or a server fault.
        if method == "common.db.login" or (
            method.endswith("get_preferences") and name == "'res.user'"
        ):
            return ConfigError(
                f"database {self.database!r} exists but the Tryton server has not loaded it ({name})",
                platform=PLATFORM,
                obj="database",
                reference="tryton-database-not-loaded",
                hint=f"restart trytond with `-d {self.database}` so it loads the database at start",
            )
        if re.fullmatch(r"'[a-z_.]+'", name):
            return ConfigError(
                f"Tryton does not know {name} while calling {method}",
                platform=PLATFORM,
                obj=obj,
                reference="tryton-module-missing",
                hint="activate the `sale` module (and its dependencies) on this database",
            )
        return ConfigError(
            f"Tryton failed on {method}: {name}",
            platform=PLATFORM,
            obj=obj,
            reference="tryton-server-fault",
            hint="see the trytond log for the traceback",
        )


def classify_user_error(message: str, description: str, *, obj: str, username: str) -> VinculoError:
    """Access, missing-record and validation errors all arrive as ``UserError``: sort by text."""
    if _MISSING_RECORDS.search(message):
        return NotFound(message, platform=PLATFORM, obj=obj, reference="tryton-record-missing")
    access = message.startswith("You are not allowed to access") or (
        message.startswith("You are not allowed to") and description.startswith("Within groups")
    )
    if access and "modify the field" not in message:
        return ConfigError(
            message,
            platform=PLATFORM,
            obj=obj,
            reference="tryton-access-denied",
            hint=f"give the Tryton user {username!r} the groups and company this needs "
            "(Sales, Party, Product administration) and a current company",
        )
    found = _FIELD_IN_MESSAGE.search(message)
    return WriteRejected(
        message,
        field=found.group(1) if found else None,
        platform=PLATFORM,
        obj=obj,
        reference="tryton-user-error",
    )


class _SessionExpired(Exception):
    """Internal: 401 on a database call; :meth:`TrytonClient.call` logs in again once."""
