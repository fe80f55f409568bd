"""Requested-cost estimate of our own GraphQL documents (calibrated model, NOTES §3.2).

The bucket needs a cost *before* the first call of a document; afterwards the client learns the
real ``requestedQueryCost`` per document and page size and uses that instead. The model works on
the document alone (the 2.6 MB schema is not shipped with the adapter), so it recognises types by
shape: a selection of only ``amount``/``currencyCode`` is a ``MoneyV2``, of only
``shopMoney``/``presentmentMoney`` a ``MoneyBag`` (both free), a field with ``first``/``last`` selecting
``nodes`` or ``edges`` is a connection costing ``2 + m(n) × node``, ``userErrors`` and payload objects are free, a mutation
root costs 10. That is exact for every document in ``queries/`` (checked in tests against the
figures worked out by hand in NOTES §3.3); for anything else it is an estimate the first
response corrects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
)

_MONEY_V2 = frozenset({"amount", "currencyCode"})
_MONEY_BAG = frozenset({"shopMoney", "presentmentMoney"})
_FREE_OBJECTS = frozenset({"userErrors", "pageInfo", "defaultAddress"})
_MUTATION_OVERRIDES = {"refundCreate": 20}
_COUNT_ROOTS = frozenset({"customersCount", "ordersCount", "discountNodesCount", "productsCount"})


def multiplier(n: int) -> int:
    """``m(n) = max(1, ⌊2·ln n⌋)`` for n ≥ 1, 0 for n = 0 (NOTES §3.2 rule 7)."""
    if n <= 0:
        return 0
    return max(1, math.floor(2 * math.log(n)))


class _Estimator:
    def __init__(self, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def _page_size(self, field: FieldNode) -> int | None:
        for arg in field.arguments or ():
            if arg.name.value not in ("first", "last"):
                continue
            value = arg.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                raw = self.variables.get(value.name.value)
                return int(raw) if isinstance(raw, int) else 0
        return None

    def _names(self, selection_set: SelectionSetNode | None) -> set[str]:
        names: set[str] = set()
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                names.add(sel.name.value)
        return names

    def selection(self, selection_set: SelectionSetNode | None, *, payload: bool = False) -> int:
        """Fields add up; fragments on alternative types count the most expensive one."""
        if selection_set is None:
            return 0
        total = 0
        alternatives: list[int] = []
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total += self.field(sel, payload=payload)
            elif isinstance(sel, InlineFragmentNode):
                alternatives.append(self.selection(sel.selection_set, payload=payload))
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    total += self.selection(frag.selection_set, payload=payload)
        return total + (max(alternatives) if alternatives else 0)

    def field(self, field: FieldNode, *, payload: bool = False) -> int:
        name = field.name.value
        sub = field.selection_set
        if sub is None or name == "__typename":
            return 0
        if name in _FREE_OBJECTS:
            return 0
        names = self._names(sub)
        if names and (names <= _MONEY_V2 or names <= _MONEY_BAG):
            return 0
        size = self._page_size(field)
        if size is not None and names & {"nodes", "edges"}:
            node_cost = 0
            for sel in sub.selections:
                if not isinstance(sel, FieldNode):
                    continue
                if sel.name.value == "nodes":
                    node_cost += 1 + self.selection(sel.selection_set)
                elif sel.name.value == "edges":
                    for inner in sel.selection_set.selections if sel.selection_set else ():
                        if isinstance(inner, FieldNode) and inner.name.value == "node":
                            node_cost += 1 + self.selection(inner.selection_set)
            return 2 + multiplier(size) * node_cost
        if payload:
            # Objects on a mutation payload (the mutated resource) are free; children count.
            return self.selection(sub)
        return 1 + self.selection(sub)

    def operation(self, op: OperationDefinitionNode) -> int:
        if op.operation is OperationType.MUTATION:
            total = 0
            for sel in op.selection_set.selections:
                if isinstance(sel, FieldNode):
                    base = _MUTATION_OVERRIDES.get(sel.name.value, 10)
                    total += base + self.selection(sel.selection_set, payload=True)
            return total
        total = 0
        for sel in op.selection_set.selections:
            if isinstance(sel, FieldNode) and sel.name.value in _COUNT_ROOTS:
                total += 10
            elif isinstance(sel, FieldNode):
                total += self.field(sel)
            else:
                total += self.selection(SelectionSetNode(selections=(sel,)))
        return total


def estimate_cost(
    document: str | DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """Requested cost of ``document`` with ``variables`` under the calibrated model."""
    doc = parse(document) if isinstance(document, str) else document
    estimator = _Estimator(doc, variables or {})
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        ops = [op for op in ops if op.name is not None and op.name.value == operation_name]
    if not ops:
        raise ValueError("document has no operation to estimate")
    return estimator.operation(ops[0])
