"""Shopify search syntax (``query:`` arguments) for the simulated connections and counts.

Grammar (NOTES §4.2): whitespace-separated terms are ANDed, ``AND``/``OR``, parentheses,
``-``/``NOT`` negation, ``field:value`` with ``:<``, ``:>``, ``:<=``, ``:>=``, quoted values,
a trailing ``*`` for prefix matches. Unknown fields are ignored (the term matches
everything) and reported as ``invalid_field`` warnings in ``extensions.search``; malformed
dates are a hard ``BAD_REQUEST``, as Shopify does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError


@dataclass(frozen=True)
class Term:
    field: str | None
    op: str  # ":", "<", ">", "<=", ">="
    value: str


@dataclass(frozen=True)
class Node:
    kind: str  # "and" | "or" | "not" | "term"
    children: tuple[Any, ...] = ()
    term: Term | None = None


_TOKEN = re.compile(
    r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<neg>-)(?=\S)|"""
    r"""(?P<term>(?:[A-Za-z_][\w.]*:(?:<=|>=|<|>)?)?(?:'[^']*'|"[^"]*"|[^\s()]+)))"""
)
_FIELD = re.compile(r"^(?P<f>[A-Za-z_][\w.]*):(?P<op><=|>=|<|>)?(?P<v>.*)$", re.S)


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def _tokens(q: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(q):
        if q[pos:].strip() == "":
            break
        m = _TOKEN.match(q, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        if m.group("lp"):
            out.append(("(", "("))
        elif m.group("rp"):
            out.append((")", ")"))
        elif m.group("neg"):
            out.append(("-", "-"))
        else:
            t = m.group("term")
            if t in ("AND", "OR", "NOT"):
                out.append((t, t))
            else:
                out.append(("term", t))
    return out


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.peek() == "OR":
            self.i += 1
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Node("or", tuple(parts))

    def parse_and(self) -> Node:
        parts: list[Node] = []
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.i += 1
                continue
            parts.append(self.parse_unary())
        if not parts:
            return Node("and", ())
        return parts[0] if len(parts) == 1 else Node("and", tuple(parts))

    def parse_unary(self) -> Node:
        k = self.peek()
        if k in ("-", "NOT"):
            self.i += 1
            return Node("not", (self.parse_unary(),))
        if k == "(":
            self.i += 1
            inner = self.parse_or()
            if self.peek() == ")":
                self.i += 1
            return inner
        kind, text = self.toks[self.i]
        self.i += 1
        m = _FIELD.match(text)
        if m and kind == "term":
            return Node("term", term=Term(m.group("f"), m.group("op") or ":", _unquote(m.group("v"))))
        return Node("term", term=Term(None, ":", _unquote(text)))


def parse_query(q: str | None) -> Node:
    if not q or not q.strip():
        return Node("and", ())
    return _Parser(_tokens(q)).parse_or()


def parse_datetime(value: str) -> datetime | None:
    v = value.strip()
    if not v:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            return datetime.fromisoformat(v).replace(tzinfo=UTC)
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


# Field kinds: how a term value is compared with an object's value.
DATE, TEXT, EXACT, TAG, NUMBER, ENUM, ID = "date", "text", "exact", "tag", "number", "enum", "id"


@dataclass
class FieldSpec:
    kind: str
    get: Callable[[Any], Any]
    values: frozenset[str] | None = None  # accepted enum values (upper-case)


@dataclass
class SearchResult:
    predicate: Callable[[Any], bool]
    warnings: list[dict[str, Any]] = field(default_factory=list)
    parsed: Any = None
    lower_bounds: dict[str, tuple[datetime, bool]] = field(default_factory=dict)


def _cmp(a: Any, op: str, b: Any) -> bool:
    if a is None:
        return False
    if op in (":", "="):
        return bool(a == b)
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _parsed(node: Node) -> Any:
    if node.kind == "term":
        assert node.term is not None
        t = node.term
        if t.field is None:
            return {"match_all": t.value}
        if t.op == ":":
            return {"field": t.field, "match_all": t.value}
        name = {"<": "range_lt", ">": "range_gt", "<=": "range_lte", ">=": "range_gte"}[t.op]
        return {"field": t.field, name: t.value}
    if node.kind == "not":
        return {"not": _parsed(node.children[0])}
    return {node.kind: [_parsed(c) for c in node.children]}


def compile_search(
    q: str | None,
    fields: Mapping[str, FieldSpec],
    free_text: Callable[[Any], str],
) -> SearchResult:
    """Compile a search string into a predicate plus Shopify's warnings."""
    tree = parse_query(q)
    warnings: list[dict[str, Any]] = []
    lower: dict[str, tuple[datetime, bool]] = {}

    def term_pred(t: Term, top_level: bool) -> Callable[[Any], bool]:
        if t.field is None:
            needle = t.value.lower()
            return lambda o: needle in free_text(o).lower()
        spec = fields.get(t.field)
        if spec is None:
            warnings.append({"field": t.field, "message": "Invalid search field for this query.",
                             "code": "invalid_field"})
            return lambda o: True
        raw = t.value
        if spec.kind == DATE:
            when = parse_datetime(raw)
            if when is None:
                raise GraphQLError(f"Invalid timestamp for query filter `{t.field}`.",
                                   extensions={"code": "BAD_REQUEST"})
            if top_level and t.op in (">", ">="):
                lower[t.field] = (when, t.op == ">=")
            get = spec.get
            if t.op == ":":
                day = when.date()
                return lambda o: (v := get(o)) is not None and v.date() == day
            return lambda o: _cmp(get(o), t.op, when)
        if spec.kind == NUMBER:
            try:
                num = Decimal(raw)
            except InvalidOperation:
                return lambda o: False
            get = spec.get
            return lambda o: _cmp(get(o), t.op, num)
        if spec.kind == ID:
            want = raw.rsplit("/", 1)[-1]
            get = spec.get
            return lambda o: str(get(o)) == want
        if spec.kind == ENUM:
            val = raw.upper()
            if spec.values is not None and val not in spec.values:
                warnings.append({"field": t.field,
                                 "message": f"Input `{raw}` is not an accepted value.",
                                 "code": "invalid_value"})
                return lambda o: False
            get = spec.get
            return lambda o: str(get(o) or "").upper() == val
        if spec.kind == TAG:
            val = raw.lower()
            get = spec.get
            if val.endswith("*"):
                pre = val[:-1]
                return lambda o: any(x.lower().startswith(pre) for x in get(o) or ())
            return lambda o: any(x.lower() == val for x in get(o) or ())
        val = raw.lower()
        get = spec.get
        if spec.kind == EXACT:
            if val.endswith("*"):
                pre = val[:-1]
                return lambda o: str(get(o) or "").lower().startswith(pre)
            return lambda o: str(get(o) or "").lower() == val
        return lambda o: val.rstrip("*") in str(get(o) or "").lower()

    def build(node: Node, top: bool) -> Callable[[Any], bool]:
        if node.kind == "term":
            assert node.term is not None
            return term_pred(node.term, top)
        if node.kind == "not":
            inner = build(node.children[0], False)
            return lambda o: not inner(o)
        parts = [build(c, top and node.kind == "and") for c in node.children]
        if node.kind == "and":
            if not parts:
                return lambda o: True
            return lambda o: all(p(o) for p in parts)
        return lambda o: any(p(o) for p in parts)

    pred = build(tree, True)
    parsed = _parsed(tree) if q and q.strip() else None
    return SearchResult(pred, warnings, parsed, lower)
