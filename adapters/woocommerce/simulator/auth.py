"""``WC_REST_Authentication`` as the store runs it (NOTES 1): Basic / query-string keys when the
site is https, OAuth 1.0a one-legged otherwise, then the key's read/write permission.

The OAuth base string is built from the site's *configured* home URL, not from the Host header,
exactly like ``get_home_url()``; a client that signs another host, port or scheme fails with
"provided signature does not match".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .clock import SimClock
from .errors import ApiError

WINDOW = 15 * 60
OAUTH_PARAMS = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature",
                "oauth_signature_method")
PERMISSIONS = ("read", "write", "read_write")


@dataclass(frozen=True)
class ApiKey:
    consumer_key: str
    consumer_secret: str
    permissions: str = "read_write"
    user_id: int = 1


def _auth_error(message: str) -> ApiError:
    return ApiError(401, "woocommerce_rest_authentication_error", message)


def rawurlencode(value: str) -> str:
    return quote(str(value), safe="~")


def signature_base(method: str, base_url: str, params: Mapping[str, str]) -> str:
    """METHOD & rawurlencode(url) & double-encoded, strcmp-sorted ``k=v`` pairs joined by %26."""
    pairs = sorted((k, v) for k, v in params.items() if k != "oauth_signature")
    joined = "%26".join(rawurlencode(f"{rawurlencode(k)}={rawurlencode(v)}") for k, v in pairs)
    return f"{method.upper()}&{rawurlencode(base_url)}&{joined}"


def sign(method: str, base_url: str, params: Mapping[str, str], secret: str,
         signature_method: str = "HMAC-SHA256") -> str:
    algo = hashlib.sha1 if signature_method == "HMAC-SHA1" else hashlib.sha256
    base = signature_base(method, base_url, params)
    return base64.b64encode(hmac.new((secret + "&").encode(), base.encode(), algo).digest()).decode()


def _parse_oauth_header(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value[len("OAuth "):].split(","):
        if "=" not in part:
            continue
        k, _, v = part.strip().partition("=")
        out[unquote(k.strip())] = unquote(v.strip().strip('"'))
    return out


def _parse_basic(value: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(value[len("Basic "):].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class Authenticator:
    def __init__(self, clock: SimClock, *, scheme: str = "http") -> None:
        self.clock = clock
        self.scheme = scheme
        self.keys: dict[str, ApiKey] = {}
        self._nonces: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def add_key(self, key: ApiKey) -> None:
        if key.permissions not in PERMISSIONS:
            raise ValueError(f"permissions must be one of {PERMISSIONS}")
        self.keys[key.consumer_key] = key

    def authenticate(self, method: str, base_url: str, params: Mapping[str, str],
                     authorization: str | None) -> tuple[ApiKey | None, ApiError | None]:
        """(key, None) when authenticated, (None, error) on failure, (None, None) anonymous.

        ``params`` is ``$_GET + $_POST`` with PHP's last-wins collapse of repeated keys.
        ``base_url`` is home URL + request path, as the store rebuilds it.
        """
        error: ApiError | None = None
        if self.scheme == "https":
            key, error = self._basic(params, authorization)
            if key is not None:
                return self._permitted(key, method)
        oauth = {k: v for k, v in params.items()}
        if authorization and authorization.lower().startswith("oauth "):
            oauth.update(_parse_oauth_header(authorization))
        missing = [p for p in OAUTH_PARAMS if not oauth.get(p)]
        if len(missing) == len(OAUTH_PARAMS):
            return None, error
        if missing:
            noun = "parameters" if len(missing) > 1 else "parameter"
            return None, ApiError(401, "woocommerce_rest_authentication_missing_parameter",
                                  f"Missing OAuth {noun} {', '.join(missing)}")
        key, error = self._oauth(method, base_url, oauth)
        if key is None:
            return None, error
        return self._permitted(key, method)

    def _basic(self, params: Mapping[str, str],
               authorization: str | None) -> tuple[ApiKey | None, ApiError | None]:
        ck, cs = params.get("consumer_key"), params.get("consumer_secret")
        if not ck and authorization and authorization.lower().startswith("basic "):
            creds = _parse_basic(authorization)
            if creds:
                ck, cs = creds
        if not ck:
            return None, None
        key = self.keys.get(ck)
        if key is None:
            return None, None  # unknown key in Basic falls through silently
        if not hmac.compare_digest((cs or "").encode(), key.consumer_secret.encode()):
            return None, _auth_error("Consumer secret is invalid.")
        return key, None

    def _oauth(self, method: str, base_url: str,
               oauth: dict[str, str]) -> tuple[ApiKey | None, ApiError | None]:
        key = self.keys.get(oauth["oauth_consumer_key"])
        if key is None:
            return None, _auth_error("Consumer key is invalid.")
        given = unquote(oauth["oauth_signature"].replace(" ", "+"))
        sig_method = oauth["oauth_signature_method"]
        if sig_method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return None, _auth_error("Invalid signature - signature method is invalid.")
        expected = sign(method, base_url, oauth, key.consumer_secret, sig_method)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return None, _auth_error("Invalid signature - provided signature does not match.")
        now = self.clock.time()
        try:
            ts = int(oauth["oauth_timestamp"])
        except ValueError:
            ts = 0
        if ts < now - WINDOW or ts > now + WINDOW:
            return None, _auth_error("Invalid timestamp.")
        nonce = oauth["oauth_nonce"]
        with self._lock:
            used = self._nonces.setdefault(key.consumer_key, {})
            for old, seen in list(used.items()):
                if seen < now - WINDOW:
                    del used[old]
            if nonce in used:
                return None, _auth_error("Invalid nonce - nonce has already been used.")
            used[nonce] = now
        return key, None

    @staticmethod
    def _permitted(key: ApiKey, method: str) -> tuple[ApiKey | None, ApiError | None]:
        if method in ("GET", "HEAD") and key.permissions not in ("read", "read_write"):
            return None, _auth_error("The API key provided does not have read permissions.")
        if method in ("POST", "PUT", "PATCH", "DELETE") and key.permissions not in (
                "write", "read_write"):
            return None, _auth_error("The API key provided does not have write permissions.")
        return key, None
