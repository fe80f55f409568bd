"""Config loading: validation names file and key, secrets only by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import FilesErpConfig, WooStoreConfig, load_config, parse_config
from connector.errors import ConfigFileError, ConfigValueError, SecretMissing

ENV = {"K": "ck_abc", "S": "cs_super_secret_value"}


def woo(**extra: object) -> dict[str, object]:
    return {
        "platform": "woocommerce",
        "key": "main",
        "url": "http://shop.test",
        "consumer_key": "${K}",
        "consumer_secret": "${S}",
        **extra,
    }


def test_secrets_resolve_from_environment_and_never_print() -> None:
    config = parse_config({"stores": [woo()]}, source="config/a.yaml", env=ENV)
    store = config.stores[0]
    assert isinstance(store, WooStoreConfig)
    assert store.consumer_secret.get_secret_value() == "cs_super_secret_value"
    assert "cs_super_secret_value" not in repr(config)
    assert "cs_super_secret_value" not in str(config.model_dump())


def test_literal_secret_in_yaml_is_refused_naming_file_and_key() -> None:
    with pytest.raises(ConfigValueError) as info:
        parse_config({"stores": [woo(consumer_secret="cs_literal")]}, source="config/a.yaml", env=ENV)
    assert info.value.file == "config/a.yaml"
    assert info.value.key == "stores[0].consumer_secret"
    assert "cs_literal" not in str(info.value)
    assert "${" in (info.value.hint or "")


def test_missing_variable_names_the_variable_and_the_key() -> None:
    with pytest.raises(SecretMissing) as info:
        parse_config({"stores": [woo(consumer_secret="${NOT_SET}")]}, source="config/a.yaml", env=ENV)
    assert info.value.key == "stores[0].consumer_secret"
    assert "NOT_SET" in str(info.value)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"stores": [woo(url="shop.test")]}, "stores[0].url"),
        ({"stores": [woo(colour="red")]}, "stores[0].colour"),
        ({"stores": [woo(), woo()]}, "(top level)"),
        ({"sync": {"overlap_minutes": -5}}, "sync.overlap_minutes"),
        ({"erp": {"platform": "files"}}, "erp.root"),
        ({"stores": [woo(timeout_seconds=0)]}, "stores[0].timeout_seconds"),
    ],
)
def test_bad_values_name_the_key_path(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigValueError) as info:
        parse_config(data, source="config/a.yaml", env=ENV)
    assert info.value.key == key
    assert str(info.value).startswith("[config-key-invalid] config/a.yaml: " + key)


def test_secrets_file_entries_are_used_and_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.env").write_text("K=ck_from_file\nS='cs_from_file'\n", encoding="utf-8")
    cfg = tmp_path / "vinculo.yaml"
    cfg.write_text(
        "secrets_file: secrets.env\n"
        "state: {url: 'sqlite:///state.db'}\n"
        "stores:\n  - {platform: woocommerce, key: main, url: 'http://s', consumer_key: '${K}', consumer_secret: '${S}'}\n"
        "erp: {platform: files, root: erp}\n",
        encoding="utf-8",
    )
    config = load_config(cfg, env={})
    store = config.stores[0]
    assert isinstance(store, WooStoreConfig)
    assert store.consumer_key.get_secret_value() == "ck_from_file"
    assert store.consumer_secret.get_secret_value() == "cs_from_file"
    assert isinstance(config.erp, FilesErpConfig)
    assert config.erp.root == (tmp_path / "erp").resolve()
    assert config.state.url == f"sqlite:///{(tmp_path / 'state.db').resolve()}"


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stores: [\n", encoding="utf-8")
    with pytest.raises(ConfigFileError, match="not valid YAML at line"):
        load_config(bad)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("state: {url: 'caf\xe9'}\n".encode("latin-1"))
    with pytest.raises(ConfigFileError, match="not UTF-8"):
        load_config(latin)
