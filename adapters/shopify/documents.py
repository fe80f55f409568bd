"""The adapter's GraphQL documents, read from ``queries/*.graphql`` as package data.

Documents live in files, not Python strings, so CI can validate every one against the 2026-01
schema (``tests/adapters/shopify/test_queries_shopify.py``) and a reviewer can paste them into
GraphiQL. Fragments shared by several documents (``fragment_*.graphql``) are appended to each
document that spreads them, transitively, so what is sent is always a self-contained document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, print_ast

_SPREAD = re.compile(r"\.\.\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_PACKAGE = "adapters.shopify"


@dataclass(frozen=True, slots=True)
class Document:
    """One operation ready to send: its file stem, operation name and full text."""

    name: str
    operation: str
    text: str
    is_mutation: bool


def _queries_dir() -> Traversable:
    return resources.files(_PACKAGE).joinpath("queries")


def document_names() -> list[str]:
    """Stems of every operation document (fragment files excluded)."""
    return sorted(
        p.name.removesuffix(".graphql")
        for p in _queries_dir().iterdir()
        if p.name.endswith(".graphql") and not p.name.startswith("fragment_")
    )


@cache
def _fragments() -> dict[str, str]:
    found: dict[str, str] = {}
    for p in _queries_dir().iterdir():
        if not (p.name.startswith("fragment_") and p.name.endswith(".graphql")):
            continue
        for definition in parse(p.read_text(encoding="utf-8")).definitions:
            if isinstance(definition, FragmentDefinitionNode):
                found[definition.name.value] = print_ast(definition)
    return found


def _with_fragments(text: str) -> str:
    fragments = _fragments()
    included: list[str] = []
    pending = _SPREAD.findall(text)
    seen: set[str] = set()
    while pending:
        name = pending.pop(0)
        if name in seen or name not in fragments:
            continue
        seen.add(name)
        included.append(fragments[name])
        pending.extend(_SPREAD.findall(fragments[name]))
    return "\n\n".join([text.strip(), *included]) + "\n"


@cache
def load(name: str) -> Document:
    """The document ``queries/<name>.graphql`` with the fragments it uses."""
    path = _queries_dir().joinpath(f"{name}.graphql")
    text = _with_fragments(path.read_text(encoding="utf-8"))
    ops = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].name is None:
        raise ValueError(f"queries/{name}.graphql must hold exactly one named operation")
    op = ops[0]
    return Document(
        name=name,
        operation=op.name.value if op.name else name,
        text=text,
        is_mutation=op.operation.value == "mutation",
    )
