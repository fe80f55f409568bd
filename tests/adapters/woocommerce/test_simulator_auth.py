"""OAuth 1.0a / Basic / query-string authentication of the simulator (NOTES 1.2 table).

Requests are signed here by a small independent signer written from the notes, cross-checked
against the store-side reference in ../shared/tools, so a bug in the simulator's own signer
cannot hide itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests

from adapters.woocommerce.simulator import WooSimulator

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
KEY, SECRET = "ck_simulator_key", "cs_simulator_secret"


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("woo_auth_reference",
                                                  SHARED / "tools" / "woo_auth_reference.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _enc(s: str) -> str:
    return quote(str(s), safe="~")


def signed_query(method: str, base_url: str, params: dict[str, Any], *, key: str = KEY,
                 secret: str = SECRET, ts: int, nonce: str, sig_method: str = "HMAC-SHA256",
                 drop: tuple[str, ...] = ()) -> str:
    oauth = {"oauth_consumer_key": key, "oauth_timestamp": str(ts), "oauth_nonce": nonce,
             "oauth_signature_method": sig_method}
    allp = {**{k: str(v) for k, v in params.items()}, **oauth}
    pairs = sorted(allp.items())
    base = f"{method}&{_enc(base_url)}&" + "%26".join(
        _enc(f"{_enc(k)}={_enc(v)}") for k, v in pairs)
    algo = hashlib.sha1 if sig_method == "HMAC-SHA1" else hashlib.sha256
    sig = base64.b64encode(hmac.new((secret + "&").encode(), base.encode(), algo).digest()).decode()
    allp["oauth_signature"] = sig
    for name in drop:
        allp.pop(name, None)
    return urlencode(allp)


def _get(sim: WooSimulator, path: str, query: str, method: str = "GET",
         **kw: Any) -> requests.Response:
    return requests.request(method, f"{sim.api_url}/{path}?{query}", timeout=5, **kw)


def _now(sim: WooSimulator) -> int:
    return int(sim.clock.time())


def _body(resp: requests.Response) -> tuple[int, str, str]:
    data = resp.json()
    return resp.status_code, data["code"], data["message"]


def test_reference_checker_accepts_our_test_signer() -> None:
    ref = _reference()
    url = "http://127.0.0.1:8081/wp-json/wc/v3/orders"
    q = signed_query("GET", url, {"per_page": 2, "search": "a b+c"}, ts=1_800_000_000, nonce="n1")
    assert ref.oauth_error("GET", url, q, {KEY: SECRET}.get, set(), now=1_800_000_000) is None


def test_valid_oauth_request_is_served(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    resp = _get(woo_sim, "orders", signed_query("GET", url, {"per_page": 5}, ts=_now(woo_sim),
                                                nonce="abc"))
    assert resp.status_code == 200
    assert resp.json() == []
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"


def test_hmac_sha1_is_accepted(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    q = signed_query("GET", url, {}, ts=_now(woo_sim), nonce="sha1", sig_method="HMAC-SHA1")
    assert _get(woo_sim, "orders", q).status_code == 200


@pytest.mark.parametrize(("drop", "message"), [
    (("oauth_nonce",), "Missing OAuth parameter oauth_nonce"),
    (("oauth_timestamp", "oauth_signature"),
     "Missing OAuth parameters oauth_timestamp, oauth_signature"),
])
def test_partial_oauth_parameters(woo_sim: WooSimulator, drop: tuple[str, ...],
                                  message: str) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    resp = _get(woo_sim, "orders", signed_query("GET", url, {}, ts=_now(woo_sim), nonce="x",
                                                drop=drop))
    assert _body(resp) == (401, "woocommerce_rest_authentication_missing_parameter", message)


def test_unknown_key(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    resp = _get(woo_sim, "orders", signed_query("GET", url, {}, key="ck_nobody", ts=_now(woo_sim),
                                                nonce="x"))
    assert _body(resp) == (401, "woocommerce_rest_authentication_error",
                           "Consumer key is invalid.")
    assert resp.json() == {"code": "woocommerce_rest_authentication_error",
                           "message": "Consumer key is invalid.", "data": {"status": 401}}
    assert "Allow" not in resp.headers  # failed before any route was matched


def test_signature_method_must_be_hmac(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    q = signed_query("GET", url, {}, ts=_now(woo_sim), nonce="x", sig_method="PLAINTEXT")
    assert _body(_get(woo_sim, "orders", q))[2] == \
        "Invalid signature - signature method is invalid."


def test_wrong_secret_or_other_host_does_not_match(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    bad_secret = signed_query("GET", url, {}, secret="cs_wrong", ts=_now(woo_sim), nonce="a")
    other_host = signed_query("GET", url.replace("127.0.0.1", "localhost"), {}, ts=_now(woo_sim),
                              nonce="b")
    for q in (bad_secret, other_host):
        assert _body(_get(woo_sim, "orders", q))[2] == \
            "Invalid signature - provided signature does not match."


def test_signature_covers_the_real_method(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    q = signed_query("GET", url, {}, ts=_now(woo_sim), nonce="m")
    resp = _get(woo_sim, "orders", q, method="POST", json={})
    assert _body(resp)[2] == "Invalid signature - provided signature does not match."


def test_timestamp_window_is_900_seconds_either_way(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    now = _now(woo_sim)
    for i, ts in enumerate((now - 905, now + 905)):
        q = signed_query("GET", url, {}, ts=ts, nonce=f"t{i}")
        assert _body(_get(woo_sim, "orders", q)) == (401, "woocommerce_rest_authentication_error",
                                                     "Invalid timestamp.")
    q = signed_query("GET", url, {}, ts=now - 850, nonce="t-ok")
    assert _get(woo_sim, "orders", q).status_code == 200


def test_moving_the_store_clock_invalidates_client_timestamps(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    q = signed_query("GET", url, {}, ts=_now(woo_sim), nonce="clock")
    woo_sim.clock.advance(3600)
    assert _body(_get(woo_sim, "orders", q))[2] == "Invalid timestamp."


def test_nonce_cannot_be_reused(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    q = signed_query("GET", url, {}, ts=_now(woo_sim), nonce="once")
    assert _get(woo_sim, "orders", q).status_code == 200
    assert _body(_get(woo_sim, "orders", q))[2] == "Invalid nonce - nonce has already been used."


def test_duplicated_query_params_collapse_last_wins(woo_sim: WooSimulator) -> None:
    """The PyPI client repeats every param; PHP keeps the last copy before signing."""
    woo_sim.create_customer(email="a@example.test")
    url = f"{woo_sim.home_url}/wp-json/wc/v3/customers"
    q = signed_query("GET", url, {"per_page": 1}, ts=_now(woo_sim), nonce="dup")
    resp = _get(woo_sim, "customers", q + "&per_page=1")
    assert resp.status_code == 200 and len(resp.json()) == 1


def test_anonymous_requests_get_the_controller_401s(woo_sim: WooSimulator) -> None:
    base = woo_sim.api_url
    assert _body(requests.get(f"{base}/orders", timeout=5)) == (
        401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
    assert _body(requests.get(f"{base}/orders/1", timeout=5)) == (
        401, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    assert _body(requests.post(f"{base}/coupons", json={"code": "x"}, timeout=5)) == (
        401, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    assert _body(requests.post(f"{base}/coupons/batch", json={}, timeout=5))[1] == \
        "woocommerce_rest_cannot_batch"
    resp = requests.get(f"{base}/orders", timeout=5)
    assert resp.headers["Allow"] == "GET, POST"  # the route matched, the permission failed


def test_basic_auth_over_http_is_ignored(woo_sim: WooSimulator) -> None:
    resp = requests.get(f"{woo_sim.api_url}/orders", auth=(KEY, SECRET), timeout=5)
    assert _body(resp)[1] == "woocommerce_rest_cannot_view"
    resp = requests.get(f"{woo_sim.api_url}/orders",
                        params={"consumer_key": KEY, "consumer_secret": SECRET}, timeout=5)
    assert _body(resp)[1] == "woocommerce_rest_cannot_view"


def test_https_store_accepts_basic_and_query_string_keys(woo_sim_https: WooSimulator) -> None:
    base = woo_sim_https.api_url
    assert requests.get(f"{base}/orders", auth=(KEY, SECRET), timeout=5).status_code == 200
    assert requests.get(f"{base}/orders", params={"consumer_key": KEY, "consumer_secret": SECRET},
                        timeout=5).status_code == 200
    wrong = requests.get(f"{base}/orders", auth=(KEY, "cs_wrong"), timeout=5)
    assert _body(wrong) == (401, "woocommerce_rest_authentication_error",
                            "Consumer secret is invalid.")
    unknown = requests.get(f"{base}/orders", auth=("ck_nobody", "cs"), timeout=5)
    assert _body(unknown)[1] == "woocommerce_rest_cannot_view"  # falls through silently


def test_https_store_signs_oauth_with_https_home_url(woo_sim_https: WooSimulator) -> None:
    sim = woo_sim_https
    assert sim.home_url.startswith("https://")
    good = signed_query("GET", f"{sim.home_url}/wp-json/wc/v3/orders", {}, ts=_now(sim),
                        nonce="h1")
    bad = signed_query("GET", f"{sim.url}/wp-json/wc/v3/orders", {}, ts=_now(sim), nonce="h2")
    assert _get(sim, "orders", good).status_code == 200
    assert _body(_get(sim, "orders", bad))[2] == \
        "Invalid signature - provided signature does not match."


@pytest.mark.parametrize(("perm", "get_ok", "post_ok"), [
    ("read", True, False), ("write", False, True), ("read_write", True, True)])
def test_key_permissions(woo_sim: WooSimulator, perm: str, get_ok: bool, post_ok: bool) -> None:
    woo_sim.add_key(f"ck_{perm}_key", f"cs_{perm}", perm)
    url = f"{woo_sim.home_url}/wp-json/wc/v3/coupons"
    ts = _now(woo_sim)
    g = _get(woo_sim, "coupons", signed_query("GET", url, {}, key=f"ck_{perm}_key",
                                              secret=f"cs_{perm}", ts=ts, nonce="g"))
    p = _get(woo_sim, "coupons", signed_query("POST", url, {}, key=f"ck_{perm}_key",
                                              secret=f"cs_{perm}", ts=ts, nonce="p"),
             method="POST", json={"code": f"perm-{perm}"})
    assert (g.status_code == 200) is get_ok
    assert (p.status_code == 201) is post_ok
    if not get_ok:
        assert g.json()["message"] == "The API key provided does not have read permissions."
    if not post_ok:
        assert p.json()["message"] == "The API key provided does not have write permissions."


def test_request_log_redacts_signatures(woo_sim: WooSimulator) -> None:
    url = f"{woo_sim.home_url}/wp-json/wc/v3/orders"
    _get(woo_sim, "orders", signed_query("GET", url, {}, ts=_now(woo_sim), nonce="log"))
    record = woo_sim.requests[-1]
    assert record.query["oauth_signature"] == "[redacted]"
    assert urlsplit(url).path.endswith(record.path)
