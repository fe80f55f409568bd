"""The real Admin API 2026-01 schema, built once per process.

The SDL is 2.6 MB and takes ~2 s to build, so every simulator instance (and every test)
shares one lazily built copy guarded by a lock. The file is read from the team's shared
platform data (never copied into the repo); ``VINCULO_SHOPIFY_SCHEMA`` overrides the path.
"""

from __future__ import annotations

import os
import re
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema

API_VERSION = "2026-01"
SUPPORTED_VERSIONS = ("2025-04", "2025-07", "2025-10", "2026-01", "2026-04")

_lock = threading.Lock()
_schema: GraphQLSchema | None = None


def shared_dir() -> Path:
    """The shared platform-data folder beside the repository checkout."""
    env = os.environ.get("VINCULO_SHARED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / ".." / "shared"


def schema_path() -> Path:
    env = os.environ.get("VINCULO_SHOPIFY_SCHEMA")
    if env:
        return Path(env)
    return shared_dir() / "shopify" / "schema" / f"admin-{API_VERSION}.graphql"


def _parse_decimal(value: Any) -> str:
    if isinstance(value, bool):
        raise GraphQLError(f"invalid decimal '{value}'")
    text = str(value).strip()
    try:
        Decimal(text)
    except InvalidOperation as exc:
        raise GraphQLError(f"invalid decimal '{value}'") from exc
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        raise GraphQLError(f"invalid decimal '{value}'")
    return text


def _install_scalar_rules(schema: GraphQLSchema) -> None:
    """Give the SDL's custom scalars the input checks Shopify applies to variables."""
    dec = schema.type_map.get("Decimal")
    if dec is not None:
        # graphql-core 3.3 coerces through coerce_input_value; 3.2 through parse_value.
        for attr in ("coerce_input_value", "parse_value"):
            if hasattr(dec, attr):
                setattr(dec, attr, _parse_decimal)


def get_schema() -> GraphQLSchema:
    """Return the process-wide schema, building it on first use (thread-safe)."""
    global _schema
    if _schema is None:
        with _lock:
            if _schema is None:
                built = build_schema(schema_path().read_text(encoding="utf-8"), assume_valid=True)
                _install_scalar_rules(built)
                _schema = built
    return _schema
