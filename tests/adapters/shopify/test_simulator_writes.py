"""Mutations: customers, tags, metafields, definitions, discounts, fulfillments, webhooks."""

from __future__ import annotations

from decimal import Decimal

from tests.fixtures.shopify_simulator import post_graphql

CREATE = """mutation C($input: CustomerInput!) { customerCreate(input: $input) {
  customer { id email tags defaultEmailAddress { emailAddress } } userErrors { field message } } }"""
UPDATE = """mutation U($input: CustomerInput!) { customerUpdate(input: $input) {
  customer { id email tags updatedAt } userErrors { field message } } }"""
MF = """mutation M($metafields: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $metafields) {
  metafields { id namespace key value type jsonValue compareDigest } userErrors { field message code elementIndex } } }"""
BASIC = """mutation D($d: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $d) {
  codeDiscountNode { id codeDiscount { __typename ... on DiscountCodeBasic { title status usageLimit
    appliesOncePerCustomer endsAt codes(first: 1) { nodes { code } }
    context { __typename ... on DiscountCustomers { customers { id } } } } } }
  userErrors { field message code extraInfo } } }"""
BY_CODE = """query B($code: String!) { codeDiscountNodeByCode(code: $code) { id
  codeDiscount { __typename ... on DiscountCodeFreeShipping { title usageLimit } } } }"""


def _data(sim, q, v=None):
    status, _, body = post_graphql(sim, q, v)
    assert status == 200, body
    assert "errors" not in body, body
    return body["data"]


def test_customer_create_normalises_email_and_rejects_duplicates(shopify_sim):
    d = _data(shopify_sim, CREATE, {"input": {"email": "Ana Lopez@Example.com ", "tags": "b, A ,a"}})
    c = d["customerCreate"]
    assert c["userErrors"] == []
    assert c["customer"]["email"] == "analopez@example.com"
    assert c["customer"]["defaultEmailAddress"] == {"emailAddress": "analopez@example.com"}
    assert c["customer"]["tags"] == ["A", "b"]
    d = _data(shopify_sim, CREATE, {"input": {"email": "ANALOPEZ@example.com"}})
    assert d["customerCreate"] == {"customer": None, "userErrors": [
        {"field": ["email"], "message": "Email has already been taken"}]}
    d = _data(shopify_sim, CREATE, {"input": {"email": "foo@bar"}})
    assert d["customerCreate"]["userErrors"] == [{"field": ["email"], "message": "Email is invalid"}]
    d = _data(shopify_sim, CREATE, {"input": {"email": ""}})
    assert d["customerCreate"]["userErrors"] == [
        {"field": None, "message": "A name, phone number, or email address must be present"}]
    assert len(shopify_sim.store.customers) == 1


def test_customer_update_replaces_tags_and_unknown_id_errors(shopify_sim):
    c = shopify_sim.create_customer(first_name="A", email="a@example.com", tags=["old"])
    gid = f"gid://shopify/Customer/{c.id}"
    d = _data(shopify_sim, UPDATE, {"input": {"id": gid, "tags": ["vip"]}})
    assert d["customerUpdate"]["customer"]["tags"] == ["vip"]
    d = _data(shopify_sim, UPDATE, {"input": {"id": "gid://shopify/Customer/1", "tags": ["x"]}})
    assert d["customerUpdate"] == {"customer": None, "userErrors": [
        {"field": ["id"], "message": "Customer does not exist"}]}


def test_tags_add_and_remove_on_customer(shopify_sim):
    c = shopify_sim.create_customer(first_name="A", tags=["b"])
    gid = f"gid://shopify/Customer/{c.id}"
    q = """mutation T($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) {
      node { ... on Customer { tags } } userErrors { field message } } }"""
    assert _data(shopify_sim, q, {"id": gid, "tags": ["vinculo-tier-gold", "B"]})["tagsAdd"] == {
        "node": {"tags": ["b", "vinculo-tier-gold"]}, "userErrors": []}
    q2 = q.replace("tagsAdd", "tagsRemove")
    assert _data(shopify_sim, q2, {"id": gid, "tags": ["vinculo-tier-gold", "missing"]})["tagsRemove"] == {
        "node": {"tags": ["b"]}, "userErrors": []}


def test_metafields_set_typed_values_limit_missing_type_and_cas(shopify_sim):
    c = shopify_sim.create_customer(first_name="A")
    owner = f"gid://shopify/Customer/{c.id}"
    d = _data(shopify_sim, MF, {"metafields": [
        {"ownerId": owner, "namespace": "$app:vinculo", "key": "points", "type": "number_integer", "value": "150.0"},
        {"ownerId": owner, "namespace": "custom", "key": "vip", "type": "boolean", "value": " TRUE "}]})
    m1, m2 = d["metafieldsSet"]["metafields"]
    assert (m1["namespace"], m1["value"], m1["jsonValue"]) == ("app--9100001--vinculo", "150", 150)
    assert (m2["value"], m2["jsonValue"]) == ("true", True)
    d = _data(shopify_sim, MF, {"metafields": [
        {"ownerId": owner, "namespace": "x", "key": f"k{i}", "type": "single_line_text_field", "value": "v"}
        for i in range(26)]})
    assert d["metafieldsSet"] == {"metafields": None, "userErrors": [{
        "field": ["metafields"], "message": "Exceeded the maximum metafields input limit of 25.",
        "code": "LESS_THAN_OR_EQUAL_TO", "elementIndex": None}]}
    d = _data(shopify_sim, MF, {"metafields": [{"ownerId": owner, "namespace": "custom", "key": "t", "value": "v"}]})
    assert d["metafieldsSet"] == {"metafields": [], "userErrors": [{
        "field": ["metafields", "0", "type"], "message": "Type can't be blank", "code": "BLANK",
        "elementIndex": None}]}
    stale = {"ownerId": owner, "namespace": "$app:vinculo", "key": "points", "type": "number_integer",
             "value": "175", "compareDigest": "not-the-digest"}
    d = _data(shopify_sim, MF, {"metafields": [stale]})
    assert d["metafieldsSet"]["userErrors"][0]["code"] == "INVALID_COMPARE_DIGEST"
    d = _data(shopify_sim, MF, {"metafields": [{**stale, "compareDigest": m1["compareDigest"]}]})
    assert d["metafieldsSet"]["metafields"][0]["value"] == "175"
    d = _data(shopify_sim, MF, {"metafields": [{**stale, "value": "+5", "compareDigest": None}]})
    assert d["metafieldsSet"]["userErrors"][0]["message"] == "Value must be an integer."


def test_metafield_definition_create_and_read_through_customer(shopify_sim):
    q = """mutation D($d: MetafieldDefinitionInput!) { metafieldDefinitionCreate(definition: $d) {
      createdDefinition { id namespace key ownerType type { name } } userErrors { field message code } } }"""
    v = {"d": {"namespace": "$app:vinculo", "key": "points", "name": "Loyalty points",
               "ownerType": "CUSTOMER", "type": "number_integer",
               "access": {"admin": "MERCHANT_READ", "storefront": "PUBLIC_READ"}}}
    d = _data(shopify_sim, q, v)["metafieldDefinitionCreate"]
    assert d["userErrors"] == []
    assert d["createdDefinition"]["namespace"] == "app--9100001--vinculo"
    assert d["createdDefinition"]["type"] == {"name": "number_integer"}
    again = _data(shopify_sim, q, v)["metafieldDefinitionCreate"]
    assert again["createdDefinition"] is None and again["userErrors"][0]["code"] == "TAKEN"
    # with a definition, metafieldsSet may omit the type
    c = shopify_sim.create_customer(first_name="A")
    r = _data(shopify_sim, MF, {"metafields": [{"ownerId": f"gid://shopify/Customer/{c.id}",
                                                "namespace": "$app:vinculo", "key": "points", "value": "3"}]})
    assert r["metafieldsSet"]["metafields"][0]["type"] == "number_integer"
    read = _data(shopify_sim, 'query($id: ID!) { customer(id: $id) { metafield(namespace: "$app:vinculo", '
                 'key: "points") { value } } }', {"id": f"gid://shopify/Customer/{c.id}"})
    assert read["customer"]["metafield"] == {"value": "3"}


def test_discount_perk_for_one_customer_and_taken_code(shopify_sim):
    c = shopify_sim.create_customer(first_name="A")
    perk = {"title": "10% VIP", "code": "VIN-ABC", "startsAt": "2025-01-01T00:00:00.250Z",
            "endsAt": "2099-01-01T00:00:00Z", "usageLimit": 1, "appliesOncePerCustomer": True,
            "context": {"customers": {"add": [f"gid://shopify/Customer/{c.id}"]}},
            "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}}}
    d = _data(shopify_sim, BASIC, {"d": perk})["discountCodeBasicCreate"]
    assert d["userErrors"] == []
    cd = d["codeDiscountNode"]["codeDiscount"]
    assert cd == {"__typename": "DiscountCodeBasic", "title": "10% VIP", "status": "ACTIVE",
                  "usageLimit": 1, "appliesOncePerCustomer": True, "endsAt": "2099-01-01T00:00:00Z",
                  "codes": {"nodes": [{"code": "VIN-ABC"}]},
                  "context": {"__typename": "DiscountCustomers",
                              "customers": [{"id": f"gid://shopify/Customer/{c.id}"}]}}
    d = _data(shopify_sim, BASIC, {"d": {**perk, "code": "vin-abc"}})["discountCodeBasicCreate"]
    assert d == {"codeDiscountNode": None, "userErrors": [{
        "field": ["basicCodeDiscount", "code"], "message": "Code must be unique. Please try a different code.",
        "code": "TAKEN", "extraInfo": None}]}
    bad = {**perk, "code": "VIN-2", "endsAt": "2024-01-01T00:00:00Z",
           "customerSelection": {"all": True}}
    errs = _data(shopify_sim, BASIC, {"d": bad})["discountCodeBasicCreate"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errs] == [
        (["basicCodeDiscount", "endsAt"], "INVALID"), (["basicCodeDiscount", "context"], "INVALID")]


def test_free_shipping_discount_and_lookup_by_code(shopify_sim):
    q = """mutation F($d: DiscountCodeFreeShippingInput!) { discountCodeFreeShippingCreate(freeShippingCodeDiscount: $d) {
      codeDiscountNode { id } userErrors { field message code } } }"""
    d = _data(shopify_sim, q, {"d": {"title": "Free ship", "code": "SHIP-1", "startsAt": "2025-01-01T00:00:00Z",
                                     "usageLimit": 1, "destination": {"all": True}}})
    node_id = d["discountCodeFreeShippingCreate"]["codeDiscountNode"]["id"]
    found = _data(shopify_sim, BY_CODE, {"code": "ship-1"})["codeDiscountNodeByCode"]
    assert found == {"id": node_id, "codeDiscount": {"__typename": "DiscountCodeFreeShipping",
                                                     "title": "Free ship", "usageLimit": 1}}
    assert _data(shopify_sim, BY_CODE, {"code": "NOPE"})["codeDiscountNodeByCode"] is None


def test_fulfillment_create_through_fulfillment_orders(shopify_sim):
    o = shopify_sim.create_order(customer_id=None, email="g@example.com",
                                 lines=[("S1", "Mug", 2, Decimal("5")), ("S2", "Tee", 1, Decimal("9"))])
    read = _data(shopify_sim, """query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 10) { nodes { id remainingQuantity } } } } } }""",
                 {"id": f"gid://shopify/Order/{o.id}"})
    fo = read["order"]["fulfillmentOrders"]["nodes"][0]
    assert fo["status"] == "OPEN"
    first_line = fo["lineItems"]["nodes"][0]
    q = """mutation F($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
      fulfillment { id status trackingInfo { company number url } } userErrors { field message } } }"""
    f = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"],
                                          "fulfillmentOrderLineItems": [{"id": first_line["id"], "quantity": 2}]}],
         "trackingInfo": {"company": "Correos", "number": "PK123", "url": "https://t.example/PK123"}}
    d = _data(shopify_sim, q, {"f": f})["fulfillmentCreate"]
    assert d["userErrors"] == []
    assert d["fulfillment"]["status"] == "SUCCESS"
    assert d["fulfillment"]["trackingInfo"] == [{"company": "Correos", "number": "PK123",
                                                 "url": "https://t.example/PK123"}]
    again = _data(shopify_sim, q, {"f": f})["fulfillmentCreate"]
    assert again["fulfillment"] is None
    assert again["userErrors"] == [{"field": ["fulfillment"],
                                    "message": "Invalid fulfillment order line item quantity requested."}]
    status = _data(shopify_sim, "query($id: ID!) { order(id: $id) { displayFulfillmentStatus } }",
                   {"id": f"gid://shopify/Order/{o.id}"})
    assert status["order"]["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"


def test_webhook_subscription_create_and_duplicate(shopify_sim):
    q = """mutation W($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
      webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
        webhookSubscription { id topic uri format } userErrors { field message } } }"""
    v = {"topic": "ORDERS_CREATE", "sub": {"uri": "https://example.com/hook", "format": "JSON"}}
    d = _data(shopify_sim, q, v)["webhookSubscriptionCreate"]
    assert d["webhookSubscription"]["topic"] == "ORDERS_CREATE" and d["userErrors"] == []
    d = _data(shopify_sim, q, v)["webhookSubscriptionCreate"]
    assert d["webhookSubscription"] is None
    assert d["userErrors"][0]["message"] == "Address for this topic has already been taken"
