"""Loading `config/*.yaml`: validated on load, secrets only from the environment.

A secret field must be written as a reference (``consumer_secret: ${WOO_SECRET}``) resolved from
the environment or from a ``secrets_file`` (KEY=value lines). A literal secret in the YAML is
refused, because config files get committed and pasted into tickets. Every error names the file
and the dotted key path, and no message ever contains a resolved secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from connector.errors import ConfigFileError, ConfigValueError, SecretMissing

_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
SECRET_KEYS = frozenset(
    {"consumer_key", "consumer_secret", "access_token", "password", "webhook_secret", "code_secret", "api_secret"}
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StateConfig(_Model):
    url: str = "sqlite:///.vinculo/state.db"


class SyncConfig(_Model):
    overlap_minutes: Annotated[int, Field(ge=0, le=1440)] = 10
    customer_batch: Annotated[int, Field(ge=1, le=100)] = 50

    @property
    def overlap(self) -> timedelta:
        return timedelta(minutes=self.overlap_minutes)


class WooStoreConfig(_Model):
    platform: Literal["woocommerce"]
    key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$")]
    url: str
    consumer_key: SecretStr
    consumer_secret: SecretStr
    auth: Literal["auto", "oauth1", "basic", "query"] = "auto"
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30
    requests_per_second: Annotated[float, Field(gt=0)] | None = None
    max_retries: Annotated[int, Field(ge=0, le=20)] = 5
    webhook_secret: SecretStr | None = None
    verify_ssl: bool = True

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (the store URL exactly as WordPress reports it)")
        return v.rstrip("/")


class ShopifyStoreConfig(_Model):
    platform: Literal["shopify"]
    key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$")]
    shop_domain: str
    access_token: SecretStr
    api_version: str = "2026-01"
    base_url: str | None = None  # only to point at a local simulator
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30
    max_retries: Annotated[int, Field(ge=0, le=20)] = 4
    webhook_secret: SecretStr | None = None

    @field_validator("shop_domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        v = v.strip().lower().removeprefix("https://").rstrip("/")
        if not v or "/" in v:
            raise ValueError("must be the shop's domain, e.g. my-shop.myshopify.com")
        return v


StoreConfig = Annotated[WooStoreConfig | ShopifyStoreConfig, Field(discriminator="platform")]


class FilesErpConfig(_Model):
    platform: Literal["files"]
    key: str = "erp"
    root: Path
    order_format: Literal["jsonl", "csv"] = "jsonl"


class TrytonErpConfig(_Model):
    platform: Literal["tryton"]
    key: str = "erp"
    url: str
    database: str
    username: str = "admin"
    password: SecretStr
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30
    sale_state: Literal["quotation", "confirmed"] = "quotation"
    unknown_sku: Literal["quarantine", "create"] = "quarantine"
    shipping_product_code: str = "SHIPPING"
    discount_product_code: str = "DISCOUNT"


ErpConfig = Annotated[FilesErpConfig | TrytonErpConfig, Field(discriminator="platform")]


class ConflictPolicy(_Model):
    """Which side wins when a customer field changed on both (see README, conflict policy)."""

    billing: Literal["erp", "store", "newest"] = "erp"
    marketing: Literal["erp", "store", "newest"] = "store"
    default: Literal["erp", "store", "newest"] = "newest"


class LoyaltyConfig(_Model):
    enabled: bool = True
    code_secret: SecretStr | None = None
    program: dict[str, Any] | None = None
    program_file: Path | None = None
    dispatcher_max_attempts: Annotated[int, Field(ge=1, le=50)] = 8


class Config(_Model):
    state: StateConfig = StateConfig()
    sync: SyncConfig = SyncConfig()
    stores: list[StoreConfig] = Field(default_factory=list)
    erp: ErpConfig | None = None
    conflicts: ConflictPolicy = ConflictPolicy()
    loyalty: LoyaltyConfig = LoyaltyConfig()
    secrets_file: Path | None = None

    @model_validator(mode="after")
    def _unique_keys(self) -> Config:
        keys = [s.key for s in self.stores]
        if self.erp is not None:
            keys.append(self.erp.key)
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"store keys must be unique; repeated: {', '.join(dupes)}")
        return self

    def store(self, key: str) -> WooStoreConfig | ShopifyStoreConfig:
        for s in self.stores:
            if s.key == key:
                return s
        raise ConfigValueError(
            f"no store with key {key!r}; configured: {', '.join(s.key for s in self.stores) or 'none'}",
            file=str(getattr(self, "_source", "config")),
            key="stores",
        )


def _read_secrets_file(path: Path, file: str) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigValueError(
            f"cannot read secrets file {path}: {exc.strerror}", file=file, key="secrets_file"
        ) from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def _resolve(node: Any, path: str, file: str, env: Mapping[str, str], secrets: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _resolve(v, f"{path}.{k}" if path else str(k), file, env, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, f"{path}[{i}]", file, env, secrets) for i, v in enumerate(node)]
    leaf = path.rsplit(".", 1)[-1]
    if isinstance(node, str):
        match = _REF.match(node.strip())
        if match:
            name = match.group(1)
            if name in env:
                return env[name]
            if name in secrets:
                return secrets[name]
            raise SecretMissing(
                f"${{{name}}} is not set",
                file=file,
                key=path,
                hint=f"export {name}=... or add {name}=... to the secrets_file",
            )
        if leaf in SECRET_KEYS and node:
            raise ConfigValueError(
                "a secret is written in the YAML itself",
                file=file,
                key=path,
                hint=f"write `{leaf}: ${{SOME_ENV_VAR}}` and set the variable (or a secrets_file entry)",
            )
    return node


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("woocommerce", "shopify", "files", "tryton"):
            continue  # discriminator tag, not a key the user wrote
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_config(data: Any, *, source: str, env: Mapping[str, str] | None = None) -> Config:
    """Validate already-loaded YAML data; ``source`` names the file in every error."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{source} must hold a mapping at the top level", file=source)
    env = os.environ if env is None else env
    secrets: dict[str, str] = {}
    secrets_path = data.get("secrets_file")
    if secrets_path:
        path = Path(secrets_path)
        if not path.is_absolute():
            path = Path(source).parent / path
        secrets = _read_secrets_file(path, source)
    resolved = _resolve(data, "", source, env, secrets)
    try:
        config = Config.model_validate(resolved)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _loc(tuple(first["loc"])) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key (check spelling; see config/example.yaml)"
        raise ConfigValueError(message, file=source, key=key) from None
    object.__setattr__(config, "_source", source)
    return config


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(
            f"config file {path} does not exist", file=str(path), hint="run `vinculo init` to write one"
        ) from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"config file {path} is not UTF-8", file=str(path), hint="save it as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigFileError(f"{path} is not valid YAML{where}", file=str(path)) from None
    config = parse_config(data, source=str(path), env=env)
    return _relative_paths(config, path.parent)


def _relative_paths(config: Config, base: Path) -> Config:
    """Paths in a config file are relative to that file, not to the shell's directory."""
    updates: dict[str, Any] = {}
    if isinstance(config.erp, FilesErpConfig) and not config.erp.root.is_absolute():
        updates["erp"] = config.erp.model_copy(update={"root": (base / config.erp.root).resolve()})
    if config.state.url.startswith("sqlite:///") and not config.state.url.startswith("sqlite:////"):
        rel = config.state.url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            updates["state"] = StateConfig(url=f"sqlite:///{(base / rel).resolve()}")
    if config.loyalty.program_file and not config.loyalty.program_file.is_absolute():
        updates["loyalty"] = config.loyalty.model_copy(
            update={"program_file": (base / config.loyalty.program_file).resolve()}
        )
    if not updates:
        return config
    source = getattr(config, "_source", "config")
    new = config.model_copy(update=updates)
    object.__setattr__(new, "_source", source)
    return new
