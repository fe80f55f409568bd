"""Static checks of a request, answered with Shopify's (graphql-ruby's) error shapes.

graphql-core does the real work (parse, validate, coerce variables against the 2026-01
schema); this module only rewrites its findings into what Shopify sends: ``PARSE_ERROR``
with the last token's position, ``undefinedField``/``selectionMismatch``/... with a path
that starts at ``"query OpName"``, and ``INVALID_VARIABLE`` with ``problems``
(captures ``…graphql-base-validation-unhappy-paths.json``, ``…customer-by-identifier.json``).
Every error list returned here is sent without ``data`` and without ``extensions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLSchema,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    TokenKind,
    VariableDefinitionNode,
    get_named_type,
    is_input_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
    print_ast,
    type_from_ast,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import Lexer, Source
from graphql.utilities import validate_input_value

# Inputs that Shopify treats as "exactly one field" even though the SDL has no @oneOf.
_BUILTIN_SCALARS = frozenset({"Int", "Float", "String", "Boolean", "ID"})
ONE_OF_INPUTS = frozenset({"CustomerIdentifierInput"})

ErrorList = list[dict[str, Any]]


def _loc(line: int, column: int) -> list[dict[str, int]]:
    return [{"line": line, "column": column}]


# -- parsing ---------------------------------------------------------------------------

_TOKEN_NAMES = {
    "{": "LCURLY", "}": "RCURLY", "(": "LPAREN", ")": "RPAREN", "[": "LBRACKET",
    "]": "RBRACKET", ":": "COLON", "=": "EQUALS", "!": "BANG", "$": "VAR_SIGN",
    "@": "DIR_SIGN", "|": "PIPE", "&": "AMP", "...": "ELLIPSIS",
}


def _last_token_position(text: str) -> tuple[int, int]:
    lexer = Lexer(Source(text))
    last = (1, 1)
    try:
        tok = lexer.advance()
        while tok.kind != TokenKind.EOF:
            last = (tok.line, tok.column)
            tok = lexer.advance()
    except GraphQLError:
        pass
    return last


def parse_error(text: str, err: GraphQLError) -> ErrorList:
    msg = err.message
    if "<EOF>" in msg or not text.strip():
        line, col = _last_token_position(text)
        if not text.strip():
            return [{"message": "syntax error, unexpected end of file",
                     "extensions": {"code": "PARSE_ERROR"}}]
        return [{"message": f"syntax error, unexpected end of file at [{line}, {col}]",
                 "locations": _loc(line, col), "extensions": {"code": "PARSE_ERROR"}}]
    loc = err.locations[0] if err.locations else None
    line, col = (loc.line, loc.column) if loc else (1, 1)
    m = re.search(r"Unexpected (?:Name )?'([^']*)'", msg) or re.search(r"found '([^']*)'", msg)
    tok = m.group(1) if m else msg
    name = _TOKEN_NAMES.get(tok, "IDENTIFIER")
    return [{"message": f'syntax error, unexpected {name} ("{tok}") at [{line}, {col}]',
             "locations": _loc(line, col), "extensions": {"code": "PARSE_ERROR"}}]


def parse_document(text: str) -> DocumentNode | ErrorList:
    try:
        return parse(text)
    except GraphQLError as err:
        return parse_error(text, err)


# -- static validation -----------------------------------------------------------------

def _def_label(d: OperationDefinitionNode | FragmentDefinitionNode) -> str:
    if isinstance(d, FragmentDefinitionNode):
        return f"fragment {d.name.value}"
    return f"{d.operation.value} {d.name.value}" if d.name else d.operation.value


class _Paths:
    """Maps document nodes to graphql-ruby style paths and owning field names."""

    def __init__(self, doc: DocumentNode) -> None:
        self.path: dict[int, list[str]] = {}
        self.field_of: dict[int, FieldNode] = {}
        self.arg_of: dict[int, ArgumentNode] = {}
        for d in doc.definitions:
            if isinstance(d, (OperationDefinitionNode, FragmentDefinitionNode)):
                self._walk_sel(d.selection_set, [_def_label(d)])

    def _mark_value(self, node: Any, path: list[str], field: FieldNode, arg: ArgumentNode) -> None:
        if not isinstance(node, Node):
            return
        self.path[id(node)] = path
        self.field_of[id(node)] = field
        self.arg_of[id(node)] = arg
        for key in node.keys:
            v = getattr(node, key, None)
            if isinstance(v, (list, tuple)):
                for item in v:
                    self._mark_value(item, path, field, arg)
            elif isinstance(v, Node):
                self._mark_value(v, path, field, arg)

    def _walk_sel(self, sel: SelectionSetNode | None, prefix: list[str]) -> None:
        if sel is None:
            return
        for s in sel.selections:
            if isinstance(s, FieldNode):
                p = prefix + [s.alias.value if s.alias else s.name.value]
                self.path[id(s)] = p
                self.field_of[id(s)] = s
                if s.selection_set is not None:
                    self.path[id(s.selection_set)] = p
                    self.field_of[id(s.selection_set)] = s
                for a in s.arguments or ():
                    self._mark_value(a, p + [a.name.value], s, a)
                self._walk_sel(s.selection_set, p)
            else:
                self._walk_sel(getattr(s, "selection_set", None), prefix)


def _map_validation_error(err: GraphQLError, paths: _Paths, schema: GraphQLSchema) -> dict[str, Any]:
    msg = err.message
    node = err.nodes[0] if err.nodes else None
    loc = err.locations[0] if err.locations else None
    out: dict[str, Any] = {"message": msg}
    if loc is not None:
        out["locations"] = _loc(loc.line, loc.column)
    path = paths.path.get(id(node)) if node is not None else None
    if path is not None:
        out["path"] = path
    ext: dict[str, Any]
    if m := re.match(r"Cannot query field '([^']+)' on type '([^']+)'", msg):
        out["message"] = f"Field '{m.group(1)}' doesn't exist on type '{m.group(2)}'"
        ext = {"code": "undefinedField", "typeName": m.group(2), "fieldName": m.group(1)}
    elif m := re.match(r"Field '([^']+)' of type '([^']+)' must have a selection", msg):
        tname = m.group(2).strip("[]!").rstrip("!")
        fname = m.group(1)
        out["message"] = (f"Field must have selections (field '{fname}' returns {tname} but has no "
                          f"selections. Did you mean '{fname} {{ ... }}'?)")
        ext = {"code": "selectionMismatch", "nodeName": f"field '{fname}'", "typeName": tname}
    elif m := re.match(r"Field '([^']+)' must not have a selection since type '([^']+)'", msg):
        tname = m.group(2).strip("[]!").rstrip("!")
        field = paths.field_of.get(id(node)) if node is not None else None
        subs = []
        if field is not None and field.selection_set is not None:
            subs = [s.name.value for s in field.selection_set.selections if isinstance(s, FieldNode)]
            floc = field.loc
            if floc is not None:
                out["locations"] = _loc(floc.start_token.line, floc.start_token.column)
        out["message"] = (f"Selections can't be made on scalars (field '{m.group(1)}' returns "
                          f"{tname} but has selections {subs!r})").replace("'", '"').replace(
            f'field "{m.group(1)}"', f"field '{m.group(1)}'")
        ext = {"code": "selectionMismatch", "nodeName": f"field '{m.group(1)}'", "typeName": tname}
    elif m := re.match(r"Argument '[^.]+\.([^(]+)\(([^:]+):\)' of type '[^']+' is required", msg):
        out["message"] = f"Field '{m.group(1)}' is missing required arguments: {m.group(2)}"
        ext = {"code": "missingRequiredArguments", "className": "Field", "name": m.group(1),
               "arguments": m.group(2)}
    elif m := re.match(r"Unknown argument '([^']+)' on field '[^.]+\.([^']+)'", msg):
        out["message"] = f"Field '{m.group(2)}' doesn't accept argument '{m.group(1)}'"
        ext = {"code": "argumentNotAccepted", "name": m.group(2), "typeName": "Field",
               "argumentName": m.group(1)}
    elif m := re.match(r"Variable '\$([^']+)' is never used(?: in operation '([^']+)')?", msg):
        who = m.group(2) or "anonymous query"
        out["message"] = f"Variable ${m.group(1)} is declared by {who} but not used"
        ext = {"code": "variableNotUsed", "variableName": m.group(1)}
    elif m := re.match(r"Variable '\$([^']+)' is not defined(?: by operation '([^']+)')?", msg):
        who = m.group(2) or "anonymous query"
        out["message"] = f"Variable ${m.group(1)} is used by {who} but not declared"
        ext = {"code": "variableNotDefined", "variableName": m.group(1)}
        out["locations"] = out.get("locations", [])[:1]
    elif m := re.match(r"Unknown type '([^']+)'", msg):
        out["message"] = f"No such type {m.group(1)}, so it can't be a fragment condition"
        ext = {"code": "undefinedType", "typeName": m.group(1)}
    elif node is not None and id(node) in paths.arg_of:
        arg = paths.arg_of[id(node)]
        field = paths.field_of[id(node)]
        expected = _arg_type_name(schema, field, arg)
        out["message"] = (f"Argument '{arg.name.value}' on Field '{field.name.value}' has an "
                          f"invalid value ({print_ast(arg.value)}). Expected type '{expected}'.")
        aloc = field.loc
        if aloc is not None:
            out["locations"] = _loc(aloc.start_token.line, aloc.start_token.column)
        ext = {"code": "argumentLiteralsIncompatible", "typeName": "Field",
               "argumentName": arg.name.value}
    else:
        ext = {"code": "GRAPHQL_VALIDATION_FAILED"}
    out["extensions"] = ext
    # graphql-ruby orders keys message, locations, path, extensions.
    return {k: out[k] for k in ("message", "locations", "path", "extensions") if k in out}


def _arg_type_name(schema: GraphQLSchema, field: FieldNode, arg: ArgumentNode) -> str:
    for t in schema.type_map.values():
        fields = getattr(t, "fields", None)
        if isinstance(fields, dict) and field.name.value in fields:
            fdef = fields[field.name.value]
            a = getattr(fdef, "args", {}).get(arg.name.value)
            if a is not None:
                return str(a.type)
    return "?"


def validate_document(schema: GraphQLSchema, doc: DocumentNode) -> ErrorList:
    errors = validate(schema, doc)
    if not errors:
        errors = list(_literal_id_errors(schema, doc))
        return [e for e in errors]  # already shaped
    paths = _Paths(doc)
    return [_map_validation_error(e, paths, schema) for e in errors]


def _literal_id_errors(schema: GraphQLSchema, doc: DocumentNode) -> list[dict[str, Any]]:
    """Shopify refuses literal ``ID`` arguments that are not global ids before execution."""
    out: list[dict[str, Any]] = []
    paths = _Paths(doc)

    def walk(sel: SelectionSetNode | None, parent: Any) -> None:
        if sel is None or parent is None:
            return
        for s in sel.selections:
            if isinstance(s, FieldNode):
                fdef = getattr(parent, "fields", {}).get(s.name.value)
                if fdef is None:
                    continue
                for a in s.arguments or ():
                    adef = fdef.args.get(a.name.value)
                    if adef is None or get_named_type(adef.type).name != "ID":
                        continue
                    if a.value.kind == "string_value":
                        v = a.value.value  # type: ignore[attr-defined]
                        if not v.startswith("gid://"):
                            loc = s.loc
                            out.append({
                                "message": f"Invalid global id '{v}'",
                                "locations": _loc(loc.start_token.line, loc.start_token.column)
                                if loc else [],
                                "path": paths.path.get(id(a), []),
                                "extensions": {"code": "argumentLiteralsIncompatible",
                                               "typeName": "CoercionError"},
                            })
                walk(s.selection_set, get_named_type(fdef.type))
            else:
                cond = getattr(s, "type_condition", None)
                t = schema.type_map.get(cond.name.value) if cond else parent
                walk(getattr(s, "selection_set", None), t)

    for d in doc.definitions:
        if isinstance(d, OperationDefinitionNode):
            root = schema.mutation_type if d.operation.value == "mutation" else schema.query_type
            walk(d.selection_set, root)
    return out


# -- operation selection -----------------------------------------------------------------

def select_operation(
    doc: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | ErrorList:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) == 1:
        # Shopify ignores operationName when the document holds a single operation
        # (``…bulk-operation-run-query-concurrency-limit.json`` sends a non-matching name).
        return ops[0]
    if operation_name:
        for o in ops:
            if o.name and o.name.value == operation_name:
                return o
        return [{"message": f'No operation named "{operation_name}"'}]
    if len(ops) != 1:
        return [{"message": "An operation name is required"}]
    return ops[0]


# -- variables ---------------------------------------------------------------------------

def _explain(message: str, type_: GraphQLInputType | None) -> str:
    if "not to be null" in message or "to include required field" in message:
        return "Expected value to not be null"
    if m := re.match(r"Value '?\"?([^'\"]+)'?\"? does not exist in '([^']+)' enum", message):
        named = type_
        values = ", ".join(getattr(named, "values", {}).keys()) if named is not None else ""
        return f'Expected "{m.group(1)}" to be one of: {values}'
    if m := re.search(r"not to include unknown field '([^']+)'", message):
        return f"Field is not defined on {getattr(type_, 'name', '')}"
    if m := re.match(r"(Int|Float|Boolean|String|ID) cannot represent [^:]*: (.*)$", message):
        return f"Could not coerce value {m.group(2)} to {m.group(1)}"
    if "; " in message and message.startswith("Expected value of type"):
        return message.split("; ", 1)[1]
    return message


def _sub_type(type_: GraphQLInputType, path: list[str | int]) -> GraphQLInputType | None:
    t: Any = type_
    for p in path:
        while is_non_null_type(t) or is_list_type(t):
            t = t.of_type
        if isinstance(p, int):
            continue
        fields = getattr(t, "fields", None)
        if not fields or p not in fields:
            return None
        t = fields[p].type
    return get_named_type(t)  # type: ignore[return-value]


def _one_of_problems(value: Any, type_: Any, path: list[str | int], out: list[dict[str, Any]]) -> None:
    while is_non_null_type(type_):
        type_ = type_.of_type
    if is_list_type(type_) and isinstance(value, list):
        for i, v in enumerate(value):
            _one_of_problems(v, type_.of_type, path + [i], out)
        return
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        if type_.name in ONE_OF_INPUTS:
            n = sum(1 for v in value.values() if v is not None)
            if n != 1:
                out.append({"path": path, "explanation":
                            f"'{type_.name}' requires exactly one argument, but {n} were provided."})
        for k, v in value.items():
            if k in type_.fields:
                _one_of_problems(v, type_.fields[k].type, path + [k], out)


def coerce_variables(
    schema: GraphQLSchema, op: OperationDefinitionNode, raw: dict[str, Any] | None
) -> dict[str, Any] | ErrorList:
    raw = raw or {}
    errors: ErrorList = []
    for vd in op.variable_definitions or ():
        errors.extend(_variable_errors(schema, vd, raw))
    if errors:
        return errors
    res = get_variable_values(schema, op.variable_definitions or [], raw)
    if isinstance(res, list):
        return [{"message": e.message, "extensions": {"code": "INVALID_VARIABLE"}} for e in res]
    return dict(res.coerced)


def _variable_errors(
    schema: GraphQLSchema, vd: VariableDefinitionNode, raw: dict[str, Any]
) -> ErrorList:
    name = vd.variable.name.value
    vtype = type_from_ast(schema, vd.type)
    if vtype is None or not is_input_type(vtype):
        return []
    loc = vd.loc
    where = _loc(loc.start_token.line, loc.start_token.column) if loc else []
    type_str = print_ast(vd.type)
    value = raw.get(name)
    problems: list[dict[str, Any]] = []
    if value is None:
        if is_non_null_type(vtype) and vd.default_value is None:
            problems.append({"path": [], "explanation": "Expected value to not be null"})
    else:
        def on_error(err: GraphQLError, path: Any) -> None:
            p = list(path)
            msg = err.message
            if m := re.search(r"to include required field '([^']+)'", msg):
                p = p + [m.group(1)]
            elif m := re.search(r"not to include unknown field '([^']+)'", msg):
                owner = _sub_type(vtype, p)  # type: ignore[arg-type]
                problems.append({"path": p + [m.group(1)], "explanation": _explain(msg, owner)})
                return
            leaf = _sub_type(vtype, p)  # type: ignore[arg-type]
            problem: dict[str, Any] = {"path": p, "explanation": _explain(msg, leaf)}
            if leaf is not None and leaf.name not in _BUILTIN_SCALARS and is_leaf_type(leaf) \
                    and not hasattr(leaf, "values"):
                # custom scalar coercion failures also carry the scalar's message
                problem["message"] = problem["explanation"]
            problems.append(problem)

        validate_input_value(value, vtype, on_error)
        if not problems:
            _one_of_problems(value, vtype, [], problems)
    if not problems:
        return []
    detail = ", ".join(
        f"{'.'.join(str(x) for x in p['path'])} ({p['explanation']})" for p in problems if p["path"]
    )
    msg = f"Variable ${name} of type {type_str} was provided invalid value"
    if detail:
        msg += f" for {detail}"
    return [{"message": msg, "locations": where,
             "extensions": {"code": "INVALID_VARIABLE", "value": value, "problems": problems}}]


_doc_cache: dict[tuple[int, str], DocumentNode | ErrorList] = {}
_DOC_CACHE_MAX = 512


def _checked_document(schema: GraphQLSchema, query: str) -> DocumentNode | ErrorList:
    """Parse + validate, memoised per query text: clients repeat the same few documents."""
    key = (id(schema), query)
    hit = _doc_cache.get(key)
    if hit is not None:
        return hit
    doc = parse_document(query)
    result: DocumentNode | ErrorList = doc
    if not isinstance(doc, list):
        errs = validate_document(schema, doc)
        result = errs if errs else doc
    if len(_doc_cache) >= _DOC_CACHE_MAX:
        _doc_cache.clear()
    _doc_cache[key] = result
    return result


@dataclass
class Prepared:
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]


def prepare(
    schema: GraphQLSchema, query: Any, variables: Any, operation_name: Any
) -> Prepared | ErrorList:
    """Parse, validate and coerce; an error list means "answer with these, nothing else"."""
    if not isinstance(query, str):
        return [{"message": "No query string was present"}]
    checked = _checked_document(schema, query)
    if isinstance(checked, list):
        return checked
    doc = checked
    op = select_operation(doc, operation_name if isinstance(operation_name, str) else None)
    if isinstance(op, list):
        return op
    if variables is not None and not isinstance(variables, dict):
        return [{"message": "Variables must be an object"}]
    coerced = coerce_variables(schema, op, variables)
    if isinstance(coerced, list):
        return coerced
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    return Prepared(doc, op, frags, coerced)
