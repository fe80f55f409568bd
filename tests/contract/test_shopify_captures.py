"""Contract tests: the Shopify simulator against real recorded Admin GraphQL traffic.

Sources: ``shared/shopify/captures/*.json`` (recorded on 2025-01 and 2026-04; NOTES §9.2) and
the project's own documents in ``shared/shopify/queries/``. Levels:

* cost   — the simulator's cost model gives the captured ``requestedQueryCost`` for every
           recorded request (known deviations listed in ``KNOWN_COST_DEVIATIONS``);
* shape  — ``tools/shopify_conformance.check_response`` passes on the simulator's answers;
* replay — captured requests whose root fields the simulator implements and whose outcome
           does not depend on the recording store's data (static validation errors,
           execution-time argument errors, userErrors) are sent over HTTP and compared:
           status, top-level keys, error message/code/path/locations, userErrors exactly;
* queries — every project document validates exactly as ``tools/validate_queries.py`` says.

Captures or cases not replayed are listed in ``SKIPPED`` with the reason.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    get_named_type,
    is_abstract_type,
    parse,
    validate,
)

from adapters.shopify.simulator.cost import CostCalculator
from adapters.shopify.simulator.schema import get_schema
from adapters.shopify.simulator.validation import coerce_variables
from tests.fixtures.shopify_simulator import post_graphql

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CAPTURES = SHARED / "shopify" / "captures"
QUERIES = SHARED / "shopify" / "queries"
sys.path.insert(0, str(SHARED / "tools"))
from shopify_conformance import check_response, iter_pairs  # noqa: E402

# Both misses of the calibrated model (NOTES §3.2): a 600-point nodes(ids:) hydration query.
KNOWN_COST_DEVIATIONS = {(637, 659)}

SUPPORTED_ROOTS = {
    "shop", "customers", "customer", "customerByIdentifier", "customersCount", "orders", "order",
    "ordersCount", "codeDiscountNodeByCode", "bulkOperation", "bulkOperations",
    "currentBulkOperation", "node", "nodes", "fulfillmentOrder", "webhookSubscriptions",
    "customerCreate", "customerUpdate", "customerSet", "tagsAdd", "tagsRemove", "metafieldsSet",
    "metafieldDefinitionCreate", "fulfillmentCreate", "discountCodeBasicCreate",
    "discountCodeFreeShippingCreate", "bulkOperationRunQuery", "bulkOperationCancel",
    "webhookSubscriptionCreate",
}

SKIPPED = {
    "2025-01__admin-platform__connection-sort-key-coverage.json":
        "products, draft orders, locations and segments are outside the simulated shop",
    "2025-01__orders__money-bag-presentment-parity.json":
        "orderCreate/orderEdit*/orderMarkAsPaid/refundCreate are not simulated (read model only)",
    "2025-01__orders__order-create-line-item-fields.json": "orderCreate is not simulated",
    "2025-01__orders__orderCreate-state-derived-payment-and-count.json": "orderCreate is not simulated",
    "2025-01__orders__refund-create-full-parity.json": "refundCreate is not simulated",
    "2025-01__orders__refund-create-over-refund-user-errors.json": "refundCreate is not simulated",
    "2025-01__orders__refund-create-partial-shipping-restock-parity.json": "refundCreate is not simulated",
    "2026-04__orders__refund-create-transactions-validation.json": "refundCreate is not simulated",
    "2025-01__products__tags-add-parity.json": "recorded on a Product; product catalogue not simulated",
    "2025-01__products__tags-remove-parity.json": "recorded on a Product; product catalogue not simulated",
    "2025-01__products__metafields-set-parity.json":
        "success path needs a Product owner (covered on customers in test_simulator_writes)",
    "2026-04__admin-platform__by-id-not-found-read.json":
        "themes, markets, gift cards, functions, segments… not simulated; ACCESS_DENIED scopes not modelled",
    "2026-04__customers__customer-order-summary-read-effects.json": "orderCustomerSet is not simulated",
    "2026-04__discounts__discount-code-basic-lifecycle.json":
        "update/activate/deactivate/delete are not simulated (create and read-by-code are)",
    "2026-04__discounts__discount-free-shipping-lifecycle.json":
        "automatic discounts and update/activate/deactivate are not simulated",
    "2026-04__discounts__discount-connection-mechanics.json":
        "discountNodes and discountRedeemCodeBulkAdd are not simulated",
    "2026-04__bulk-operations__example-output.meta.json":
        "product bulk export; JSONL layout covered by test_simulator_bulk_webhooks on orders",
    "very-big-test-store.myshopify.com__2025-01__customers__customers-catalog.json": "bare payload, no request",
    "very-big-test-store.myshopify.com__2025-01__customers__customers-search.json": "bare payload, no request",
    "very-big-test-store.myshopify.com__2025-01__orders__order-create-parity.json": "bare payload, no request",
    "2026-04__customers__customer-set-parity.json":
        "document not recorded and responses depend on the recording store's customers",
    "2025-01__customers__customer-detail.json": "data of the recording store; shape covered by cost/shape levels",
    "2025-01__customers__customers-search.json": "data of the recording store; shape covered by cost/shape levels",
    "2025-01__customers__customers-sort-keys.json": "data of the recording store; shape covered by cost/shape levels",
    "2026-04__orders__order-catalog-count-read.json": "counts of the recording store's catalogue",
}
# Individual replay cases whose outcome needs something the simulator does not model.
SKIPPED_CASES = {
    ("2025-01__admin-platform__graphql-base-validation-unhappy-paths.json", "/cases/missingRequiredArgument"):
        "productCreate's INVALID_FIELD_ARGUMENTS needs the product mutations",
    ("2026-04__admin-platform__graphql-request-execution-operation-name-defaults.json", "/cases/selectedOperationName"):
        "selects products(first: 0); the product catalogue is not simulated",
    ("2026-04__admin-platform__graphql-request-execution-operation-name-defaults.json", "/cases/scalarDefault"):
        "selects products(first: 0); the product catalogue is not simulated",
    ("2026-04__bulk-operations__bulk-operation-run-query-concurrency-limit.json", "/sixthRun"):
        "needs the five preceding runs; replayed in order by test_bulk_concurrency_capture_in_order",
}


def _upstream(obj: Any, path: str = "") -> Iterator[tuple[str, str, Any, Any, Any]]:
    """Layout 5 (NOTES §9.2): ``upstreamCalls[]`` real request/response pairs."""
    if isinstance(obj, dict):
        for i, c in enumerate(obj.get("upstreamCalls") or []):
            if isinstance(c, dict) and isinstance(c.get("query"), str) and isinstance(c.get("response"), dict):
                body = c["response"].get("body")
                if isinstance(body, dict):
                    yield f"{path}/upstreamCalls[{i}]", c["query"], c.get("variables"), body, c.get("operationName")
        for k, v in obj.items():
            if k != "upstreamCalls":
                yield from _upstream(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _upstream(v, f"{path}[{i}]")


def _pairs() -> list[tuple[str, str, str, Any, dict[str, Any], Any]]:
    out = []
    for f in sorted(CAPTURES.glob("*.json")):
        data = json.loads(f.read_text())
        for p, q, v, payload, op in list(iter_pairs(data)) + list(_upstream(data)):
            if isinstance(payload, dict):
                out.append((f.name, p, q, v, payload, op))
    return out


PAIRS = _pairs()


def _operation(query: str, op_name: str | None) -> tuple[Any, OperationDefinitionNode, dict[str, Any]]:
    doc = parse(query)
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if o.name and o.name.value == op_name), ops[0])
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    return doc, op, frags


# -- cost --------------------------------------------------------------------------------------

COSTED = {}
for _f, _p, _q, _v, _payload, _op in PAIRS:
    _cost = (_payload.get("extensions") or {}).get("cost")
    if _cost and _cost.get("requestedQueryCost") is not None:
        COSTED.setdefault((_q, json.dumps(_v, sort_keys=True), _op), (_f, _p, _v, _cost))


@pytest.mark.parametrize("key", sorted(COSTED, key=lambda k: (COSTED[k][0], COSTED[k][1])),
                         ids=lambda k: f"{COSTED[k][0][:40]}{COSTED[k][1]}"[:90])
def test_requested_cost_matches_capture(key):
    query, _, op_name = key
    fname, path, variables, cost = COSTED[key]
    schema = get_schema()
    _, op, frags = _operation(query, op_name)
    coerced = coerce_variables(schema, op, variables)
    if isinstance(coerced, list):  # the recording itself sent invalid variables
        coerced = variables or {}
    got = CostCalculator(schema, op, frags, coerced).requested()
    if (cost["requestedQueryCost"], got) in KNOWN_COST_DEVIATIONS:
        pytest.xfail("known deviation of the calibrated model (NOTES §3.2)")
    assert got == cost["requestedQueryCost"]


def test_only_the_documented_cost_deviations_remain():
    schema = get_schema()
    misses = set()
    for (query, _, op_name), (_, _, variables, cost) in COSTED.items():
        _, op, frags = _operation(query, op_name)
        coerced = coerce_variables(schema, op, variables)
        got = CostCalculator(schema, op, frags, variables or {} if isinstance(coerced, list) else coerced)
        if got.requested() != cost["requestedQueryCost"]:
            misses.add((cost["requestedQueryCost"], got.requested()))
    assert misses == KNOWN_COST_DEVIATIONS


# -- replay ------------------------------------------------------------------------------------

def _roots(op: OperationDefinitionNode) -> set[str]:
    return {s.name.value for s in op.selection_set.selections if isinstance(s, FieldNode)}


def _has_user_errors(data: Any) -> bool:
    if isinstance(data, dict):
        if isinstance(data.get("userErrors"), list) and data["userErrors"]:
            return True
        return any(_has_user_errors(v) for v in data.values())
    if isinstance(data, list):
        return any(_has_user_errors(v) for v in data)
    return False


def _replayable() -> list[tuple[str, str, str, Any, dict[str, Any], Any]]:
    out = []
    seen = set()
    for f, p, q, v, payload, op_name in PAIRS:
        if f in SKIPPED or (f, p) in SKIPPED_CASES:
            continue
        try:
            _, op, _ = _operation(q, op_name)
        except Exception:
            op = None  # the deliberately broken document: replayed for its PARSE_ERROR
        if op is not None and not _roots(op) <= SUPPORTED_ROOTS:
            continue
        static_error = "data" not in payload and payload.get("errors")
        exec_error = payload.get("errors") and "data" in payload
        if not (static_error or exec_error or _has_user_errors(payload.get("data"))):
            continue
        key = (q, json.dumps(v, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        out.append((f, p, q, v, payload, op_name))
    return out


REPLAY = _replayable()
# Sanity: the replay set is not silently empty.
assert len(REPLAY) >= 20, len(REPLAY)

# 2026-04 behaviour that differs from what the simulator implements for 2026-01.
VERSION_DIFFERENCES: dict[tuple[str, str], str] = {}


def _user_errors(data: Any, out: list[Any]) -> list[Any]:
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "userErrors" and isinstance(v, list):
                out.append(v)
            else:
                _user_errors(v, out)
    elif isinstance(data, list):
        for v in data:
            _user_errors(v, out)
    return out


def _comparable_error(e: dict[str, Any]) -> dict[str, Any]:
    return {k: e.get(k) for k in ("message", "path", "locations", "extensions")}


@pytest.mark.parametrize("case", REPLAY, ids=lambda c: f"{c[0][:45]}{c[1]}"[:100])
def test_replay_capture(case, shopify_sim):
    fname, path, query, variables, payload, op_name = case
    if (fname, path) in VERSION_DIFFERENCES:
        pytest.skip(VERSION_DIFFERENCES[(fname, path)])
    status, _, got = post_graphql(shopify_sim, query, variables, op_name)
    assert status == 200
    assert set(got) == set(payload), got
    if "errors" in payload:
        assert [_comparable_error(e) for e in got["errors"]] == [
            _comparable_error(e) for e in payload["errors"]]
    if "data" in payload:
        assert _user_errors(got["data"], []) == _user_errors(payload["data"], [])
        assert check_response(get_schema(), query, variables, got, op_name) == []
    if "extensions" in payload:
        cost = got["extensions"]["cost"]
        assert cost["requestedQueryCost"] == payload["extensions"]["cost"]["requestedQueryCost"]
        assert cost["actualQueryCost"] is None or cost["actualQueryCost"] <= cost["requestedQueryCost"]
        assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
        assert ("search" in got["extensions"]) == ("search" in payload["extensions"])


# -- layout 3: recorded variables and responses without the document ------------------------------

def _selection(shape: Any) -> str:
    if not isinstance(shape, dict) or not shape:
        return ""
    parts = []
    for k, v in shape.items():
        sub = _selection(v)
        parts.append(f"{k} {{ {sub} }}" if sub else k)
    return " ".join(parts)


def _merge_shape(acc: dict[str, Any], value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _merge_shape(acc, item)
    elif isinstance(value, dict):
        for k, v in value.items():
            child = acc.setdefault(k, {})
            _merge_shape(child, v)


def _cases_with(data: Any, root: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, variables, payload) for recorded cases answering mutation ``root``."""
    def walk(o: Any, path: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        if isinstance(o, dict):
            resp = o.get("response")
            if isinstance(resp, dict) and isinstance(resp.get("data"), dict) and root in resp["data"]:
                yield path, o.get("variables") or (o.get("request") or {}).get("variables") or {}, resp
            for k, v in o.items():
                if k != "upstreamCalls":
                    yield from walk(v, f"{path}/{k}")
    yield from walk(data, "")


def _fill_objects(shape: dict[str, Any], type_: Any) -> None:
    """Object fields seen only as null/[] get ``__typename``; fields 2026-01 no longer has
    (2025-01's ``Customer.loyalty``) are dropped, so the rebuilt document is valid."""
    fields = getattr(type_, "fields", {})
    for k in [k for k in shape if k not in fields]:
        del shape[k]
    for k, sub in shape.items():
        f = fields[k]
        named = get_named_type(f.type)
        if hasattr(named, "fields") or is_abstract_type(named):
            if not sub:
                sub["__typename"] = {}
            else:
                _fill_objects(sub, named)


def _rebuilt(fname: str, root: str, signature: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    data = json.loads((CAPTURES / fname).read_text())
    cases = list(_cases_with(data, root))
    shape: dict[str, Any] = {}
    for _, _, resp in cases:
        _merge_shape(shape, resp["data"][root])
    mutation_type = get_schema().mutation_type
    assert mutation_type is not None
    _fill_objects(shape, get_named_type(mutation_type.fields[root].type))
    args = ", ".join(f"{a}: ${a}" for a in re.findall(r"\$(\w+)", signature))
    doc = f"mutation Rebuilt({signature}) {{ {root}({args}) {{ {_selection(shape)} }} }}"
    return [(name, doc, variables, resp) for name, variables, resp in cases]


EMAIL_CASES = (_rebuilt("2025-01__customers__customer-email-normalization.json", "customerCreate",
                        "$input: CustomerInput!")
               + _rebuilt("2025-01__customers__customer-email-normalization.json", "customerSet",
                          "$input: CustomerSetInput!"))


def test_email_normalisation_cases_replay_in_order(shopify_sim):
    """createSanitized first, then duplicates/invalid/too-long; userErrors must match exactly."""
    created: dict[str, str] = {}
    for name, doc, variables, resp in EMAIL_CASES:
        status, _, got = post_graphql(shopify_sim, doc, variables)
        assert status == 200 and "errors" not in got, (name, got)
        assert _user_errors(got["data"], []) == _user_errors(resp["data"], []), name
        root = next(iter(resp["data"]))
        want = resp["data"][root]["customer"]
        have = got["data"][root]["customer"]
        assert (want is None) == (have is None), name
        if want is not None:
            assert have["email"] == want["email"]
            assert have["defaultEmailAddress"] == want["defaultEmailAddress"]
            created[name] = have["id"]
        assert got["extensions"]["cost"]["requestedQueryCost"] == resp["extensions"]["cost"]["requestedQueryCost"]
    assert len(created) == 2  # createSanitized and customerSetSanitized


TAG_NOTE = _rebuilt("2025-01__customers__customer-tag-note-limits-parity.json", "customerCreate",
                    "$input: CustomerInput!")


def test_tag_and_note_limits_replay(shopify_sim):
    for name, doc, variables, resp in TAG_NOTE:
        _, _, got = post_graphql(shopify_sim, doc, variables)
        assert _user_errors(got["data"], []) == _user_errors(resp["data"], []), name
        want = resp["data"]["customerCreate"]["customer"]
        if want is not None:
            assert got["data"]["customerCreate"]["customer"]["tags"] == want["tags"], name


def _as_customer_owner(variables: dict[str, Any], owner: str) -> dict[str, Any]:
    text = re.sub(r"gid://shopify/Product/\d+", owner, json.dumps(variables))
    return json.loads(text)


@pytest.mark.parametrize("fname", [
    "2025-01__metafields__metafieldsSet-value-type-fidelity.json",
    "2025-01__products__metafields-set-over-limit-parity.json",
    "2025-01__products__metafields-set-missing-type-parity.json",
])
def test_metafields_set_cases_replay_on_a_customer_owner(fname, shopify_sim):
    """Recorded on a Product; replayed with the owner swapped for a simulated customer."""
    c = shopify_sim.create_customer(first_name="Owner")
    owner = f"gid://shopify/Customer/{c.id}"
    cases = _rebuilt(fname, "metafieldsSet", "$metafields: [MetafieldsSetInput!]!")
    assert cases
    for name, doc, variables, resp in cases:
        _, _, got = post_graphql(shopify_sim, doc, _as_customer_owner(variables, owner))
        assert "errors" not in got, (name, got)
        assert _user_errors(got["data"], []) == _user_errors(resp["data"], []), name
        want = resp["data"]["metafieldsSet"]["metafields"]
        have = got["data"]["metafieldsSet"]["metafields"]
        if want is None or want == []:
            assert have == want, name
        else:
            for w, h in zip(want, have, strict=True):
                for key in ("namespace", "key", "type", "value", "jsonValue"):
                    if key in w:
                        assert h[key] == w[key], (name, key)


def test_customer_validation_cases_replay(shopify_sim):
    create = _rebuilt("2025-01__customers__customer-create-parity.json", "customerCreate",
                      "$input: CustomerInput!")
    update = _rebuilt("2025-01__customers__customer-update-parity.json", "customerUpdate",
                      "$input: CustomerInput!")
    checked = 0
    for name, doc, variables, resp in create + update:
        root = next(iter(resp["data"]))
        if resp["data"][root]["customer"] is not None:
            continue  # success cases depend on the recording store's customer
        errors = _user_errors(resp["data"], [])
        missing = any(e["message"] == "Customer does not exist" for es in errors for e in es)
        gid = (variables.get("input") or {}).get("id")
        if gid and not missing:  # seed the recorded customer the case updates
            shopify_sim.create_customer(first_name="Hermes", id=int(gid.rsplit("/", 1)[1]))
        _, _, got = post_graphql(shopify_sim, doc, variables)
        assert "data" in got, (name, doc, got)
        assert _user_errors(got["data"], []) == _user_errors(resp["data"], []), name
        checked += 1
    assert checked == 3  # blank input, unknown id, bad metafield type
    # the bad-enum case fails variable coercion: errors only, no data
    data = json.loads((CAPTURES / "2025-01__customers__customer-update-parity.json").read_text())
    case = data["taxExemptionValidation"]
    doc = update[0][1]
    _, _, got = post_graphql(shopify_sim, doc, case["variables"])
    want = case["response"]["errors"][0]
    assert "data" not in got
    assert got["errors"][0]["message"] == want["message"]
    assert got["errors"][0]["extensions"] == want["extensions"]


def test_bulk_concurrency_capture_in_order(shopify_sim):
    data = json.loads((CAPTURES / "2026-04__bulk-operations__bulk-operation-run-query-concurrency-limit.json").read_text())
    ids = []
    for run in data["successfulRuns"]:
        _, _, got = post_graphql(shopify_sim, run["query"], run["variables"], run["operationName"])
        op = got["data"]["bulkOperationRunQuery"]["bulkOperation"]
        want = run["response"]["data"]["bulkOperationRunQuery"]["bulkOperation"]
        assert {k: op[k] for k in ("status", "type", "objectCount", "rootObjectCount", "url", "query")} == {
            k: want[k] for k in ("status", "type", "objectCount", "rootObjectCount", "url", "query")}
        ids.append(op["id"])
    sixth = data["sixthRun"]
    _, _, got = post_graphql(shopify_sim, sixth["query"], sixth["variables"], sixth["operationName"])
    (err,) = got["data"]["bulkOperationRunQuery"]["userErrors"]
    want = sixth["response"]["data"]["bulkOperationRunQuery"]["userErrors"][0]
    assert (err["field"], err["code"]) == (want["field"], want["code"])
    recorded_ids = re.findall(r"gid://shopify/BulkOperation/\d+", want["message"])
    assert err["message"] == want["message"].replace(", ".join(recorded_ids), ", ".join(ids))


def test_customers_count_search_warnings_replay(shopify_sim):
    data = json.loads((CAPTURES / "2025-01__customers__customers-count.json").read_text())
    call = data["upstreamCalls"][0]
    _, _, got = post_graphql(shopify_sim, call["query"], call["variables"])
    assert got["extensions"]["search"] == data["extensions"]["search"]
    assert got["extensions"]["cost"]["requestedQueryCost"] == 30


# -- the project's documents --------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.graphql")), ids=lambda p: p.stem)
def test_project_documents_validate_as_validate_queries_says(path, shopify_sim):
    text = path.read_text()
    expected_valid = not validate(get_schema(), parse(text))  # exactly validate_queries.py's check
    vf = path.with_suffix(".vars.json")
    variables = json.loads(vf.read_text())["sample"] if vf.exists() else None
    status, _, got = post_graphql(shopify_sim, text, variables)
    assert status == 200
    if path.stem == "bad_field":
        assert not expected_valid
        assert got == {"errors": [{
            "message": "Field 'loyaltyPoints' doesn't exist on type 'Customer'",
            "locations": [{"line": 1, "column": 43}],
            "path": ["query", "customers", "edges", "node", "loyaltyPoints"],
            "extensions": {"code": "undefinedField", "typeName": "Customer", "fieldName": "loyaltyPoints"}}]}
    elif path.stem == "bad_no_first":
        assert expected_valid  # graphql-core accepts it; Shopify refuses it at execution
        assert got["data"] is None
        assert got["errors"] == [{"message": "you must provide one of first or last",
                                  "locations": [{"line": 1, "column": 3}], "path": ["customers"],
                                  "extensions": {"code": "BAD_REQUEST"}}]
        assert got["extensions"]["cost"]["requestedQueryCost"] == 2
    else:
        assert expected_valid
        assert "errors" not in got, got
        assert check_response(get_schema(), text, variables, got) == []
        assert got["extensions"]["cost"]["requestedQueryCost"] <= 1000
