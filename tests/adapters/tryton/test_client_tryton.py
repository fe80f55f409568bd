"""Login, session and error translation against a real trytond (NOTES §5.2, §5.8)."""

from __future__ import annotations

import pytest

from adapters.tryton.client import TrytonClient
from adapters.tryton.local import BARE_DB, CLERK, SHOP_DB, free_port
from connector.errors import AuthRejected, ConfigError, NotFound, ServerDown

from .factories import tag

pytestmark = [pytest.mark.tryton, pytest.mark.slow]
TRYTON_DATABASES = (SHOP_DB, BARE_DB)


def test_check_discovers_company_currency_and_services(tryton) -> None:
    info = tryton.adapter().check()
    assert (info.platform, info.store, info.currency) == ("tryton", "erp", "EUR")
    assert info.name == "Vinculo Demo Shop SL"
    assert info.details["tax_rounding"] == "line"  # set by the bootstrap to match stores
    assert info.details["taxes"] == {"1": "0.21"}


def test_wrong_password_names_the_password_key_and_hides_it(tryton) -> None:
    # The clerk login, never admin: Tryton counts failures per login and slows down (§5.2).
    secret = f"not-the-password-{tag()}"
    adapter = tryton.adapter(username=CLERK, password=secret)
    with pytest.raises(AuthRejected) as err:
        adapter.check()
    assert err.value.key == "password"
    assert err.value.reference == "tryton-login-rejected"
    assert secret not in str(err.value) and secret not in repr(adapter)


def test_unknown_database_is_a_config_error_naming_database(tryton) -> None:
    with pytest.raises(ConfigError) as err:
        tryton.adapter(database="no_such_db").check()
    assert err.value.reference == "tryton-database-not-found"
    assert err.value.obj == "database"
    assert "`database`" in (err.value.hint or "") and SHOP_DB in (err.value.hint or "")


def test_database_without_company_says_what_to_set_up(tryton) -> None:
    with pytest.raises(ConfigError) as err:
        tryton.adapter(database=BARE_DB).check()
    assert err.value.reference == "tryton-company-missing"
    assert "company" in (err.value.hint or "").lower()


def test_unreachable_server_is_server_down_on_url() -> None:
    port = free_port()  # nothing listens there
    adapter_client = TrytonClient(
        url=f"http://127.0.0.1:{port}",
        database="x",
        username="u",
        password="secret-pw",
        read_retries=1,
        retry_backoff=0.01,
    )
    with pytest.raises(ServerDown) as err:
        adapter_client.login()
    assert err.value.key == "url" and "secret-pw" not in str(err.value)
    assert adapter_client.calls == 2  # a login is a read: tried twice, then given up


def test_expired_session_logs_in_again_once(tryton) -> None:
    client = tryton.admin()
    client.call("common.db.logout", [])  # the server forgets the session: next call gets 401
    assert client.search("res.user", [["login", "=", "admin"]]) != []
    assert client.logged_in


def test_missing_record_is_not_found(tryton) -> None:
    with pytest.raises(NotFound) as err:
        tryton.admin().read("party.party", [987654], ["name"])
    assert err.value.reference == "tryton-record-missing"


def test_access_rights_are_a_config_error_for_the_user(tryton) -> None:
    clerk = TrytonClient(
        url=tryton.url, database=SHOP_DB, username=CLERK, password=tryton.clerk_password
    )
    with pytest.raises(ConfigError) as err:
        clerk.search_read("sale.sale", [], ["reference"])
    assert err.value.reference == "tryton-access-denied"
    assert CLERK in (err.value.hint or "")
