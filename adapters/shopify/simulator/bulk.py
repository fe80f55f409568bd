"""Bulk query operations: validators, concurrency, state machine and the JSONL result.

Validator messages and the five-at-a-time limit come from the 2026-04 captures (NOTES §4.4);
2026-01 allows five concurrent query operations per app and shop [S3]. An operation moves
``CREATED → RUNNING → COMPLETED`` one step per read (poll) once ``min_seconds`` of the
injected clock have passed, so clients exercise real polling. The result is rendered from
the store at completion and served by the simulator over HTTP as ``application/jsonl``:
one object per line, nested connection items on their own lines with ``__parentId``,
``/`` escaped as ``\\/``.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    value_from_ast,
)

from .formats import gid, parse_gid
from .store import BulkOperation, Store
from .validation import parse_document, validate_document
from .views import Context, bulk_view

ACTIVE = ("CREATED", "RUNNING", "CANCELING")
BIG_PAGE = 10**9


def _invalid(msg: str) -> dict[str, Any]:
    return {"field": ["query"], "message": msg, "code": "INVALID"}


def _is_connection(field: Any) -> bool:
    return get_named_type(field.type).name.endswith("Connection") and "first" in field.args


def _is_list(field: Any) -> bool:
    t = field.type
    if is_non_null_type(t):
        t = t.of_type
    return is_list_type(t)


class BulkValidator:
    def __init__(self, schema: GraphQLSchema, doc: DocumentNode) -> None:
        self.schema = schema
        self.doc = doc
        self.connections: list[str] = []
        self.nodes_conns: list[str] = []
        self.no_id_parents: list[str] = []
        self.max_depth = 0
        self.in_list = False

    def errors(self) -> list[dict[str, Any]]:
        ops = [d for d in self.doc.definitions if isinstance(d, OperationDefinitionNode)]
        if not ops:
            return [_invalid("Invalid bulk query: no operation")]
        op = ops[0]
        if op.operation.value != "query":
            return [_invalid("Invalid operation type. Only `query` operations are supported.")]
        out: list[dict[str, Any]] = []
        root = self.schema.query_type
        assert root is not None
        for f in self._fields(op.selection_set):
            if f.name.value in ("node", "nodes"):
                out.append(_invalid(f"Bulk queries cannot contain a top level `{f.name.value}` field."))
        self._walk(op.selection_set, root, 0, False, None)
        if not self.connections:
            out.append(_invalid("Bulk queries must contain at least one connection."))
        if self.nodes_conns:
            first = self.nodes_conns[0]
            out.append(_invalid(
                "All connection fields in a bulk query must select their contents using 'edges' > "
                f"'node', e.g: '{first} {{ edges {{ node {{'. Selecting via 'nodes' is not supported. "
                f"Invalid connection fields: {', '.join(repr(c) for c in self.nodes_conns)}."))
        if len(self.connections) > 5:
            out.append(_invalid("Bulk queries cannot contain more than 5 connections."))
        if self.max_depth > 2:
            out.append(_invalid("Bulk queries cannot contain connections with a nesting depth greater than 2."))
        if self.no_id_parents:
            out.append(_invalid(
                "The parent 'node' field for a nested connection must select the 'id' field without an "
                "alias and must be of 'ID' return type. Connection fields without 'id': "
                f"{', '.join(self.no_id_parents)}."))
        if self.in_list:
            out.append(_invalid("Queries that contain a connection field within a list field are not "
                                "currently supported."))
        return out

    def _fields(self, sel: SelectionSetNode | None) -> list[FieldNode]:
        out: list[FieldNode] = []
        for s in sel.selections if sel else ():
            if isinstance(s, FieldNode):
                out.append(s)
            elif isinstance(s, InlineFragmentNode):
                out.extend(self._fields(s.selection_set))
            elif isinstance(s, FragmentSpreadNode):
                frag = next((d for d in self.doc.definitions
                             if getattr(d, "name", None) and d.name.value == s.name.value  # type: ignore[attr-defined]
                             and d.kind == "fragment_definition"), None)
                if frag is not None:
                    out.extend(self._fields(frag.selection_set))  # type: ignore[attr-defined]
        return out

    def _walk(self, sel: SelectionSetNode | None, type_: Any, depth: int, in_list: bool,
              conn_name: str | None) -> None:
        if not isinstance(type_, GraphQLObjectType):
            return
        for f in self._fields(sel):
            fdef = type_.fields.get(f.name.value)
            if fdef is None:
                continue
            named = get_named_type(fdef.type)
            if _is_connection(fdef):
                name = f.name.value
                self.connections.append(name)
                if in_list:
                    self.in_list = True
                self.max_depth = max(self.max_depth, depth + 1)
                if depth >= 1 and conn_name is not None and not in_list:
                    has_id = any(x.name.value == "id" and x.alias is None for x in self._fields(sel))
                    if not has_id:
                        self.no_id_parents.append(conn_name)
                inner = self._fields(f.selection_set)
                if any(x.name.value == "nodes" for x in inner):
                    self.nodes_conns.append(name)
                for x in inner:
                    if x.name.value == "edges":
                        edge_t = get_named_type(named.fields["edges"].type)  # type: ignore[attr-defined]
                        for y in self._fields(x.selection_set):
                            if y.name.value == "node":
                                node_t = get_named_type(edge_t.fields["node"].type)
                                self._walk(y.selection_set, node_t, depth + 1, False, name)
            elif not is_leaf_type(named):
                self._walk(f.selection_set, named, depth, in_list or _is_list(fdef), conn_name)


class BulkRunner:
    """Owns a store's bulk operations; created per simulator."""

    def __init__(self, schema: GraphQLSchema, store: Store, *, limit: int = 5,
                 min_seconds: float = 0.0) -> None:
        self.schema = schema
        self.store = store
        self.limit = limit
        self.min_seconds = min_seconds
        self.query_root: Any = None  # set by the simulator: callable(ctx) -> root dict

    # -- mutations -------------------------------------------------------------------------
    def run_query(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        text = args["query"]
        doc = parse_document(text)
        if isinstance(doc, list):
            msg = doc[0]["message"].split(" at [")[0]
            return {"bulkOperation": None, "userErrors": [_invalid(f"Invalid bulk query: {msg}")]}
        errs = BulkValidator(self.schema, doc).errors()
        if not errs:
            static = validate_document(self.schema, doc)
            if static:
                errs = [_invalid(f"Invalid bulk query: {static[0]['message']}")]
        if errs:
            return {"bulkOperation": None, "userErrors": errs}
        with self.store.lock:
            running = [b for b in self.store.bulk_ops.values() if b.status in ACTIVE]
            if len(running) >= self.limit:
                ids = ", ".join(gid("BulkOperation", b.id) for b in running)
                return {"bulkOperation": None, "userErrors": [{
                    "field": None, "code": "OPERATION_IN_PROGRESS",
                    "message": f"A bulk query operation for this app and shop is already in progress: {ids}."}]}
            b = BulkOperation(self.store.next_id(), text, self.store.now(),
                              token=secrets.token_hex(8),
                              group_objects=bool(args.get("groupObjects")))
            self.store.bulk_ops[b.id] = b
        return {"bulkOperation": bulk_view(ctx.base_url, b), "userErrors": []}

    def cancel(self, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
        p = parse_gid(args["id"])
        with self.store.lock:
            b = self.store.bulk_ops.get(p[1]) if p and p[0] == "BulkOperation" else None
            if b is None:
                return {"bulkOperation": None, "userErrors": [
                    {"field": ["id"], "message": "Bulk operation does not exist"}]}
            if b.status not in ACTIVE:
                return {"bulkOperation": bulk_view(ctx.base_url, b), "userErrors": [
                    {"field": None,
                     "message": f"A bulk operation cannot be canceled when it is {b.status.lower()}"}]}
            b.status = "CANCELING"
        return {"bulkOperation": bulk_view(ctx.base_url, b), "userErrors": []}

    # -- progress --------------------------------------------------------------------------
    def advance(self, ctx: Context, b: BulkOperation) -> None:
        """One step of the state machine, taken when a client reads the operation."""
        finished = False
        with self.store.lock:
            b.polls += 1
            if b.status == "CANCELING":
                b.status = "CANCELED"
                b.completed_at = self.store.now()
                finished = True
            elif b.status == "CREATED":
                b.status = "RUNNING"
            elif b.status == "RUNNING" and not b.started and (
                    self.store.clock() - b.created_at.timestamp() >= self.min_seconds):
                # Large exports take seconds: render in the background, keep answering polls.
                b.started = True
                threading.Thread(target=self._run, args=(ctx, b), daemon=True,
                                 name=f"bulk-{b.id}").start()
        if finished:
            self.store.emit("bulk_operations/finish", b)

    def _run(self, ctx: Context, b: BulkOperation) -> None:
        try:
            self._execute(ctx, b)
        except Exception:  # a simulator bug must surface as Shopify's failure mode
            b.status = "FAILED"
            b.error_code = "INTERNAL_SERVER_ERROR"
            b.completed_at = self.store.now()
        self.store.emit("bulk_operations/finish", b)

    def wait(self, bulk_id: int, timeout: float = 60.0) -> bool:
        """Test/bench helper: block until a started operation has left RUNNING."""
        import time

        end = time.monotonic() + timeout
        b = self.store.bulk_ops[bulk_id]
        while time.monotonic() < end:
            if b.status not in ("CREATED", "RUNNING") or not b.started:
                return b.status not in ("CREATED", "RUNNING")
            time.sleep(0.01)
        return False

    def _execute(self, ctx: Context, b: BulkOperation) -> None:
        doc = parse_document(b.query)
        assert not isinstance(doc, list)
        op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
        root = self.query_root(ctx)
        lines: list[str] = []
        roots = 0
        qt = self.schema.query_type
        assert qt is not None
        for f in op.selection_set.selections:
            if not isinstance(f, FieldNode):
                continue
            fdef = qt.fields[f.name.value]
            args = self._args(f, fdef)
            if _is_connection(fdef):
                args.update(first=BIG_PAGE, _bulk=True)
                args.pop("last", None)
                conn = root[f.name.value](None, args)
                node_t = get_named_type(fdef.type)
                for node_view, node_sel, nt in self._edge_nodes(conn, f, node_t):
                    roots += 1
                    self._emit_node(node_view, node_sel, nt, None, lines)
        body = "".join(lines).encode()
        with self.store.lock:
            b.content = body
            b.object_count = len(lines)
            b.root_object_count = roots
            b.file_size = len(body)
            b.completed_at = self.store.now()
            b.status = "CANCELED" if b.status == "CANCELING" else "COMPLETED"

    def _args(self, f: FieldNode, fdef: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in f.arguments or ():
            adef = fdef.args.get(a.name.value)
            if adef is not None:
                out[a.name.value] = value_from_ast(a.value, adef.type, {})
        return out

    def _edge_nodes(self, conn: dict[str, Any], f: FieldNode, conn_t: Any) -> list[tuple[Any, Any, Any]]:
        out = []
        edge_t = get_named_type(conn_t.fields["edges"].type)
        node_t = get_named_type(edge_t.fields["node"].type)
        for e in f.selection_set.selections if f.selection_set else ():
            if isinstance(e, FieldNode) and e.name.value == "edges":
                for n in e.selection_set.selections if e.selection_set else ():
                    if isinstance(n, FieldNode) and n.name.value == "node":
                        for edge in conn["edges"]:
                            out.append((edge["node"], n.selection_set, node_t))
        return out

    def _emit_node(self, view: dict[str, Any], sel: SelectionSetNode | None, type_: Any,
                   parent_id: str | None, lines: list[str]) -> None:
        children: list[str] = []
        obj = self._render(view, sel, type_, children)
        if parent_id is not None:
            obj["__parentId"] = parent_id
        lines.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/") + "\n")
        lines.extend(children)

    def _render(self, view: Any, sel: SelectionSetNode | None, type_: Any,
                children: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not isinstance(view, dict):
            return out
        runtime = self.schema.type_map.get(view.get("__typename", ""), type_)
        for s in sel.selections if sel else ():
            if isinstance(s, InlineFragmentNode):
                cond = s.type_condition.name.value if s.type_condition else runtime.name
                if cond == runtime.name:
                    out.update(self._render(view, s.selection_set, runtime, children))
                continue
            if not isinstance(s, FieldNode):
                continue
            key = s.alias.value if s.alias else s.name.value
            if s.name.value == "__typename":
                out[key] = runtime.name
                continue
            fdef = runtime.fields.get(s.name.value)
            if fdef is None:
                continue
            val = view.get(s.name.value)
            args = self._args(s, fdef)
            named = get_named_type(fdef.type)
            if _is_connection(fdef):
                args.update(first=BIG_PAGE, _bulk=True)
                conn = val(None, args) if callable(val) else val
                for node_view, node_sel, nt in self._edge_nodes(conn, s, named):
                    sub: list[str] = []
                    self._emit_node(node_view, node_sel, nt, view.get("id"), sub)
                    children.extend(sub)
                continue
            if callable(val):
                val = val(None, args)
            if is_leaf_type(named) or val is None:
                out[key] = val
            elif isinstance(val, list):
                out[key] = [self._render(v, s.selection_set, named, children) for v in val]
            else:
                out[key] = self._render(val, s.selection_set, named, children)
        return out

    # -- reads -----------------------------------------------------------------------------
    def find(self, ctx: Context, num: int) -> dict[str, Any] | None:
        b = self.store.bulk_ops.get(num)
        if b is None:
            return None
        self.advance(ctx, b)
        return bulk_view(ctx.base_url, b)

    def current(self, ctx: Context) -> dict[str, Any] | None:
        if not self.store.bulk_ops:
            return None
        b = max(self.store.bulk_ops.values(), key=lambda x: x.id)
        self.advance(ctx, b)
        return bulk_view(ctx.base_url, b)

    def file(self, num: int, token: str) -> bytes | None:
        b = self.store.bulk_ops.get(num)
        if b is None or b.content is None or not secrets.compare_digest(b.token, token):
            return None
        if b.completed_at is not None and self.store.clock() - b.completed_at.timestamp() > 7 * 86400:
            return None
        return b.content
