"""Query cost as Shopify reports it in 2025/2026 (NOTES §3.2, calibrated on the captures).

Connections cost ``2 + m(n) × node`` with ``m(n) = max(1, ⌊2·ln n⌋)`` instead of the old
linear rule; money objects, user errors and mutation payload objects are free. The actual
cost is recomputed on the returned data: a null object keeps only its own cost and a
connection is charged for ``max(1, k)`` returned items. All overrides live here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    value_from_ast,
)

MUTATION_COST = 10
MUTATION_OVERRIDES = {"refundCreate": 20}
COUNT_ROOT_COST = 10
FREE_TYPES = frozenset({"MoneyV2", "MoneyBag"})
FREE_FIELDS = {("Customer", "defaultAddress")}
MAX_SINGLE_QUERY_COST = 1000


def multiplier(n: int) -> int:
    """Items a connection of page size ``n`` is charged for."""
    if n <= 0:
        return 0
    return max(1, math.floor(2 * math.log(n)))


def _is_list_field(field: GraphQLField) -> bool:
    t = field.type
    if is_non_null_type(t):
        t = t.of_type  # type: ignore[attr-defined]
    return is_list_type(t)


class CostCalculator:
    """Requested and actual cost of one operation."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = dict(variables)
        op = operation.operation.value
        root = schema.mutation_type if op == "mutation" else schema.query_type
        assert root is not None
        self.root: GraphQLObjectType = root
        self.is_mutation = op == "mutation"

    # -- helpers -----------------------------------------------------------------------
    def _collect(
        self, sel: SelectionSetNode | None, type_: GraphQLNamedType
    ) -> list[tuple[FieldNode, GraphQLObjectType]]:
        """Fields selected on a concrete object type (fragments on other types skipped)."""
        out: list[tuple[FieldNode, GraphQLObjectType]] = []
        if sel is None or not isinstance(type_, GraphQLObjectType):
            return out
        for s in sel.selections:
            if isinstance(s, FieldNode):
                out.append((s, type_))
                continue
            if isinstance(s, FragmentSpreadNode):
                frag = self.fragments.get(s.name.value)
                if frag is None:
                    continue
                cond = frag.type_condition.name.value
                inner = frag.selection_set
            else:
                assert isinstance(s, InlineFragmentNode)
                cond = s.type_condition.name.value if s.type_condition else type_.name
                inner = s.selection_set
            ctype = self.schema.type_map.get(cond)
            if ctype is None:
                continue
            if ctype is type_ or (
                is_abstract_type(ctype) and self.schema.is_sub_type(ctype, type_)  # type: ignore[arg-type]
            ):
                out.extend(self._collect(inner, type_))
        return out

    def _arg(self, node: FieldNode, field: GraphQLField, name: str) -> Any:
        arg_def = field.args.get(name)
        if arg_def is None:
            return None
        for a in node.arguments or ():
            if a.name.value == name:
                return value_from_ast(a.value, arg_def.type, self.variables)
        return arg_def.default_value if arg_def.default_value is not None else None

    def _possible(self, type_: GraphQLNamedType) -> list[GraphQLObjectType]:
        if is_abstract_type(type_):
            return list(self.schema.get_possible_types(type_))  # type: ignore[arg-type]
        if isinstance(type_, GraphQLObjectType):
            return [type_]
        return []

    # -- requested ---------------------------------------------------------------------
    def requested(self) -> int:
        return self._selection(self.operation.selection_set, self.root)

    def _selection(self, sel: SelectionSetNode | None, type_: GraphQLNamedType) -> int:
        best = 0
        for obj in self._possible(type_):
            total = 0
            for node, parent in self._collect(sel, obj):
                total += self._field(node, parent)
            best = max(best, total)
        return best

    def _own_cost(self, node: FieldNode, parent: GraphQLObjectType) -> tuple[int, bool]:
        """(own cost, charged-as-connection) for a field, without its children."""
        name = node.name.value
        field = parent.fields.get(name)
        if field is None:
            return 0, False
        named = get_named_type(field.type)
        if parent is self.root and self.is_mutation:
            return MUTATION_OVERRIDES.get(name, MUTATION_COST), False
        if is_leaf_type(named) or named.name in FREE_TYPES or (parent.name, name) in FREE_FIELDS:
            return 0, False
        if name == "userErrors" or named.name.endswith("UserError"):
            return 0, False
        if parent.name.endswith("Payload"):
            return 0, False
        if parent is self.root and named.name == "Count":
            return COUNT_ROOT_COST, False
        if named.name.endswith("Connection") and "first" in field.args:
            return 2, True
        return 1, False

    def _field(self, node: FieldNode, parent: GraphQLObjectType) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        field = parent.fields.get(name)
        if field is None:
            return 0
        own, is_conn = self._own_cost(node, parent)
        named = get_named_type(field.type)
        if (parent is self.root and named.name == "Count" and not self.is_mutation) or is_leaf_type(
            named
        ):
            return own
        if (parent.name, name) in FREE_FIELDS or named.name in FREE_TYPES:
            return 0
        if is_conn:
            n = self._arg(node, field, "first")
            if n is None:
                n = self._arg(node, field, "last")
            return own + multiplier(int(n or 0)) * self._node_cost(node.selection_set, named)
        return own + self._selection(node.selection_set, named)

    def _node_cost(self, sel: SelectionSetNode | None, conn: GraphQLNamedType) -> int:
        """Sum over ``nodes`` and ``edges { node }`` branches of (1 + child cost)."""
        total = 0
        if not isinstance(conn, GraphQLObjectType):
            return 0
        for node, parent in self._collect(sel, conn):
            fname = node.name.value
            if fname == "nodes":
                item = get_named_type(parent.fields["nodes"].type)
                total += 1 + self._selection(node.selection_set, item)
            elif fname == "edges":
                edge_t = get_named_type(parent.fields["edges"].type)
                assert isinstance(edge_t, GraphQLObjectType)
                for enode, eparent in self._collect(node.selection_set, edge_t):
                    if enode.name.value == "node":
                        item = get_named_type(eparent.fields["node"].type)
                        total += 1 + self._selection(enode.selection_set, item)
        return total

    # -- actual ------------------------------------------------------------------------
    def actual(self, data: Mapping[str, Any] | None) -> int:
        if data is None:
            # Execution stopped (e.g. BAD_REQUEST): only the root fields' own costs count.
            return sum(
                self._own_cost(node, parent)[0]
                for node, parent in self._collect(self.operation.selection_set, self.root)
            )
        return self._actual_sel(self.operation.selection_set, self.root, data)

    def _runtime(self, type_: GraphQLNamedType, value: Mapping[str, Any]) -> GraphQLNamedType:
        if is_abstract_type(type_):
            tn = value.get("__typename")
            if isinstance(tn, str) and tn in self.schema.type_map:
                return self.schema.type_map[tn]
            # Without __typename the requested (maximal) cost is the honest upper bound.
        return type_

    def _actual_sel(
        self, sel: SelectionSetNode | None, type_: GraphQLNamedType, value: Mapping[str, Any]
    ) -> int:
        type_ = self._runtime(type_, value)
        if is_abstract_type(type_):
            return self._selection(sel, type_)
        total = 0
        for node, parent in self._collect(sel, type_):
            key = node.alias.value if node.alias else node.name.value
            total += self._actual_field(node, parent, value.get(key))
        return total

    def _actual_field(self, node: FieldNode, parent: GraphQLObjectType, value: Any) -> int:
        name = node.name.value
        field = parent.fields.get(name)
        if field is None or name.startswith("__"):
            return 0
        own, is_conn = self._own_cost(node, parent)
        named = get_named_type(field.type)
        if is_leaf_type(named) or (parent.name, name) in FREE_FIELDS or named.name in FREE_TYPES:
            return own if is_leaf_type(named) else 0
        if parent is self.root and named.name == "Count" and not self.is_mutation:
            return own
        if value is None:
            return own
        if is_conn:
            req_n = self._arg(node, field, "first")
            if req_n is None:
                req_n = self._arg(node, field, "last")
            if not req_n:
                return own
            items = self._connection_items(node.selection_set, named, value)
            k = max(1, len(items))
            per = self._node_cost(node.selection_set, named)
            return own + min(multiplier(k), multiplier(int(req_n))) * per
        if _is_list_field(field) and isinstance(value, list):
            if not value:
                return own
            return own + max(
                (self._actual_sel(node.selection_set, named, v) for v in value if v), default=0
            )
        if isinstance(value, Mapping):
            return own + self._actual_sel(node.selection_set, named, value)
        return own

    def _connection_items(
        self, sel: SelectionSetNode | None, conn: GraphQLNamedType, value: Mapping[str, Any]
    ) -> list[Any]:
        for node, _parent in self._collect(sel, conn):
            key = node.alias.value if node.alias else node.name.value
            if node.name.value in ("nodes", "edges") and isinstance(value.get(key), list):
                return list(value[key])
        return []
