"""/api/v1/stores/<id>/...: the counter as JSON over the counter's own services (issue 15).

Every operation; who may (a clerk of another store, a resident, a token limited to another store: 403);
refusals in the one error shape with nothing written (another community's products, quantities at the
edges, not enough points, stock short); the checkout's request id and the Idempotency-Key (a repeat is the
first receipt, replayed; another body with the same key is 422; twenty at once make one redemption)."""
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pointsapp.accounts.models import Role, User
from pointsapp.core.extensions import db as _db
from pointsapp.integrations.models import IdempotencyRecord
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.models import CounterIdentification, Product, Redemption, StockMovement, Stocktake, Store
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import identification
from pointsapp.tree.models import Resident
from pointsapp.volunteering.services import codes

from .api_helpers import bearer, error_of, token_for

API = "/api/v1/stores"


@dataclass
class Shop:
    community: object
    admin: User
    clerk: User
    store: Store
    noodles: Product
    soap: Product
    oil: Product  # limited: 1 a week
    resident: Resident
    resident_user: User


def add_product(admin, store, now, name, *, stock=10, price=10, **fields):
    return store_service.create_product(admin, store, store_service.ProductFields(name=name, price=price, **fields),
                                        stock, now)


@pytest.fixture
def shop(make, db, now) -> Shop:
    community = make.community()
    clerk = make.clerk(community)
    admin = make.admin(community)
    store = clerk.grants[0].store
    resident_user = make.resident_user(community)
    resident = resident_user.resident
    ledger.manual(admin, resident, 100, "志愿服务", f"seed-{resident.id}", now - timedelta(days=30))
    shop = Shop(community, admin, clerk, store, add_product(admin, store, now, "挂面", price=10),
                add_product(admin, store, now, "香皂", price=8, stock=2),
                add_product(admin, store, now, "花生油", price=30, limit_per_week=1), resident, resident_user)
    db.session.commit()
    return shop


@pytest.fixture
def elsewhere(make, db, now, shop):
    """Community B with its own store, clerk, product and resident."""
    community = make.community()
    clerk = make.clerk(community)
    admin = make.admin(community)
    store = clerk.grants[0].store
    product = add_product(admin, store, now, "大米", price=5)
    resident = make.resident(community=community)
    db.session.commit()
    return {"community": community, "clerk": clerk, "admin": admin, "store": store, "product": product,
            "resident": resident}


def clerk_token(shop, user=None, store=None):
    return token_for(user or shop.clerk, shop.community, [Role.CLERK], store=store)


def phone_code(resident, now):
    return codes.member_phone_code(current_app.secret_key, resident, now)


def identify(client, shop, secret, now, resident=None, **body):
    body = body or {"code": phone_code(resident or shop.resident, now)}
    return client.post(f"{API}/{shop.store.id}/identify", json=body, headers=bearer(secret))


def identified_id(client, shop, secret, now, resident=None) -> int:
    response = identify(client, shop, secret, now, resident)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["identification_id"]


def counts() -> tuple:
    """What a checkout writes."""
    return tuple(_db.session.scalar(select(func.count()).select_from(m))
                 for m in (Redemption, LedgerEntry, StockMovement))


def stock_of(product) -> int | None:
    _db.session.expire_all()
    return _db.session.get(Product, product.id).stock


def conforms(schema_name: str, body: dict) -> dict:
    """The body is what the operation's output schema documents (every field, typed)."""
    from pointsapp.store import api as store_api

    schema = getattr(store_api, schema_name)()
    assert schema.validate(body) == {}, schema.validate(body)
    assert set(body) == set(schema.fields), set(body) ^ set(schema.fields)
    return body


def lines(*pairs):
    return [{"product_id": p.id if hasattr(p, "id") else p, "quantity": q} for p, q in pairs]


# ---- products --------------------------------------------------------------------------------------------

def test_the_clerk_sees_products_with_stock(client, shop):
    response = client.get(f"{API}/{shop.store.id}/products", headers=bearer(clerk_token(shop)))
    assert response.status_code == 200
    body = conforms("ProductListSchema", response.get_json())
    assert body["view"] == "clerk" and body["balance"] is None
    by_name = {item["name"]: item for item in body["items"]}
    assert by_name["香皂"]["stock"] == 2 and by_name["花生油"]["limit_per_week"] == 1


def test_the_resident_sees_her_allowance_not_the_stock(client, shop, now):
    secret = token_for(shop.resident_user, shop.community, [Role.RESIDENT])
    response = client.get(f"{API}/{shop.store.id}/products?view=resident", headers=bearer(secret))
    assert response.status_code == 200, response.get_json()
    body = conforms("ProductListSchema", response.get_json())
    assert body["view"] == "resident" and body["balance"] == 100
    by_name = {item["name"]: item for item in body["items"]}
    assert by_name["花生油"]["left"] == 1 and by_name["挂面"]["left"] is None
    assert by_name["香皂"]["stock"] is None and by_name["香皂"]["stock_word"] == "few"
    assert by_name["香皂"]["left_in_stock"] == 2 and by_name["挂面"]["stock_word"] == "plenty"
    # her default view is the resident's; the clerk's is refused to her
    assert client.get(f"{API}/{shop.store.id}/products", headers=bearer(secret)).get_json()["view"] == "resident"
    refused = client.get(f"{API}/{shop.store.id}/products?view=clerk", headers=bearer(secret))
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"


def test_products_of_another_community_are_refused(client, shop, elsewhere):
    resident_secret = token_for(shop.resident_user, shop.community, [Role.RESIDENT])
    for secret, view in ((resident_secret, "resident"), (resident_secret, "clerk"), (clerk_token(shop), "clerk"),
                         (clerk_token(shop), "resident")):
        response = client.get(f"{API}/{elsewhere['store'].id}/products?view={view}", headers=bearer(secret))
        assert response.status_code == 403, (view, response.get_json())
        error_of(response)
    other_clerk = token_for(elsewhere["clerk"], elsewhere["community"], [Role.CLERK])
    assert client.get(f"{API}/{shop.store.id}/products", headers=bearer(other_clerk)).status_code == 403


def test_anonymous_gets_401(client, shop):
    response = client.get(f"{API}/{shop.store.id}/products")
    assert response.status_code == 401 and error_of(response)["code"] == "unauthenticated"


# ---- identify --------------------------------------------------------------------------------------------

def test_identify_by_the_phone_code_answers_what_the_counter_shows(client, shop, now):
    response = identify(client, shop, clerk_token(shop), now)
    assert response.status_code == 201, response.get_json()
    body = conforms("IdentificationSchema", response.get_json())
    assert body["method"] == "phone_code" and body["balance"] == 100
    assert body["resident"]["id"] == shop.resident.id
    name = shop.resident.name
    assert body["resident"]["name"] == name[0] + "*" * (len(name) - 2) + name[-1]
    room = {a["product_id"]: a for a in body["allowances"]}
    assert room[shop.oil.id]["left"] == 1 and room[shop.oil.id]["max"] == 1
    assert room[shop.soap.id]["max"] == 2 and room[shop.noodles.id]["left"] is None
    who = _db.session.get(CounterIdentification, body["identification_id"])
    assert who.clerk_id == shop.clerk.id and who.store_id == shop.store.id and who.consumed_at is None


def test_identify_by_card_number_and_pin_counts_wrong_pins(client, shop, now):
    identification.set_pin(shop.admin, shop.resident, "2580", now)
    _db.session.commit()
    secret, number = clerk_token(shop), codes.card_number(shop.resident)
    response = identify(client, shop, secret, now, card_number=number)
    assert response.status_code == 422 and error_of(response)["code"] == "pin_required"
    for left in (4, 3, 2, 1):
        response = identify(client, shop, secret, now, card_number=number, pin="1357")
        assert response.status_code == 422
        assert error_of(response)["code"] == "wrong_pin" and error_of(response)["details"]["n"] == left
    response = identify(client, shop, secret, now, card_number=number, pin="1357")
    assert error_of(response)["code"] == "pin_locked"
    response = identify(client, shop, secret, now, card_number=number, pin="2580")  # locked: even the right one
    assert error_of(response)["code"] == "pin_locked"
    _db.session.expire_all()
    assert _db.session.get(Resident, shop.resident.id).pin_locked_until is not None
    assert _db.session.scalar(select(func.count()).select_from(CounterIdentification)) == 0


def test_identify_by_the_scanned_card_needs_its_pin(client, shop, now):
    identification.set_pin(shop.admin, shop.resident, "2580", now)
    _db.session.commit()
    card = codes.member_card_code(current_app.secret_key, shop.resident)
    secret = clerk_token(shop)
    assert error_of(identify(client, shop, secret, now, code=card))["code"] == "pin_required"
    response = identify(client, shop, secret, now, code=card, pin="2580")
    assert response.status_code == 201 and response.get_json()["method"] == "card_pin"


def test_search_then_identify_by_the_id_digits(client, shop, now):
    shop.resident.id_tail = "0425"
    _db.session.commit()
    secret = clerk_token(shop)
    found = client.get(f"{API}/{shop.store.id}/residents?q={shop.resident.name}", headers=bearer(secret))
    assert found.status_code == 200
    rows = conforms("FoundResidentsSchema", found.get_json())["residents"]
    assert [r["id"] for r in rows] == [shop.resident.id] and rows[0]["has_id_tail"]
    assert "0425" not in found.get_data(as_text=True)
    wrong = identify(client, shop, secret, now, resident_id=shop.resident.id, id_tail="1111")
    assert wrong.status_code == 422 and error_of(wrong)["code"] == "wrong_id_tail"
    _db.session.expire_all()
    assert _db.session.get(Resident, shop.resident.id).pin_failures == 1  # counted, as at the counter
    right = identify(client, shop, secret, now, resident_id=shop.resident.id, id_tail="０４２５")
    assert right.status_code == 201 and right.get_json()["method"] == "search"


def test_a_script_trying_id_digits_across_residents_is_stopped_by_the_clerks_budget(client, make, shop, clock, now):
    """The API makes guessing scriptable: one wrong try at each of many residents locks no card, so the clerk's
    own budget must stop it, with 429 in the one error shape, the same for the right digits, and not replayed
    under an Idempotency-Key (the pause passes; a repeat must be tried again then)."""
    budget = identification.CLERK_GUESS_BUDGET
    people = [make.resident(community=shop.community) for _ in range(budget + 1)]
    for r in people:
        r.id_tail = "0425"
    _db.session.commit()
    secret = clerk_token(shop)
    for r in people[:budget]:
        wrong = identify(client, shop, secret, now, resident_id=r.id, id_tail="9999")
        assert wrong.status_code == 422 and error_of(wrong)["code"] == "wrong_id_tail"
    headers = {**bearer(secret), "Idempotency-Key": "try-11", "Accept-Language": "en"}
    paused = client.post(f"{API}/{shop.store.id}/identify", json={"resident_id": people[budget].id, "id_tail": "0425"},
                         headers=headers)
    assert paused.status_code == 429
    error = error_of(paused)
    assert error["code"] == "counter_paused" and "11:30" in error["message"] and "member code" in error["message"]
    assert _db.session.scalar(select(func.count()).select_from(CounterIdentification)) == 0
    assert _db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    clock.advance(minutes=60)  # the first wrong try leaves the hour
    again = client.post(f"{API}/{shop.store.id}/identify", json={"resident_id": people[budget].id, "id_tail": "0425"},
                        headers=headers)
    assert again.status_code == 201 and again.get_json()["method"] == "search"


def test_identify_needs_exactly_one_way(client, shop, now):
    secret = clerk_token(shop)
    for body in ({"pin": "1234"}, {"code": phone_code(shop.resident, now), "resident_id": shop.resident.id}):
        response = identify(client, shop, secret, now, **body)
        assert response.status_code == 422 and error_of(response)["code"] == "identify_how"


def test_a_resident_of_another_community_is_not_identified(client, shop, elsewhere, now):
    response = identify(client, shop, clerk_token(shop), now, resident=elsewhere["resident"])
    assert response.status_code == 409 and error_of(response)["code"] == "other_community"
    searched = identify(client, shop, clerk_token(shop), now, resident_id=elsewhere["resident"].id, id_tail="0425")
    assert searched.status_code == 404


# ---- the cart's live total ---------------------------------------------------------------------------------

def test_the_cart_prices_lines_and_names_problems_without_writing(client, shop, elsewhere, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    before = counts()
    response = client.post(f"{API}/{shop.store.id}/cart", headers=bearer(secret), json={
        "identification_id": who, "lines": lines((shop.noodles, 2), (shop.soap, 3), (shop.oil, 2),
                                                 (elsewhere["product"], 1))})
    assert response.status_code == 200, response.get_json()
    body = conforms("CartQuoteSchema", response.get_json())
    assert body["total"] == 20 + 24 + 60 and body["balance"] == 100 and body["balance_after"] == -4
    problems = {line["product_id"]: (line["problem"] or {}).get("code") for line in body["lines"]}
    assert problems == {shop.noodles.id: None, shop.soap.id: "out_of_stock", shop.oil.id: "limit_reached",
                        elsewhere["product"].id: "product_unavailable"}
    other = next(line for line in body["lines"] if line["product_id"] == elsewhere["product"].id)
    assert other["name"] is None and "大米" not in response.get_data(as_text=True)  # another store's: no name
    assert [p["code"] for p in body["problems"]] == ["insufficient_points"] and body["ok"] is False
    assert counts() == before
    ok = client.post(f"{API}/{shop.store.id}/cart", headers=bearer(secret),
                     json={"identification_id": who, "lines": lines((shop.noodles, 1))}).get_json()
    assert ok["ok"] is True and ok["total"] == 10 and ok["balance_after"] == 90 and ok["problems"] == []
    assert _db.session.get(CounterIdentification, who).consumed_at is None


def test_the_cart_needs_a_usable_identification(client, shop, make, now):
    secret = clerk_token(shop)
    response = client.post(f"{API}/{shop.store.id}/cart", headers=bearer(secret), json={"lines": []})
    assert response.status_code == 409 and error_of(response)["code"] == "not_identified"
    other_clerk = token_for(make_second_clerk(make, shop), shop.community, [Role.CLERK])
    who = identified_id(client, shop, secret, now)
    response = client.post(f"{API}/{shop.store.id}/cart", headers=bearer(other_clerk),
                           json={"identification_id": who, "lines": lines((shop.noodles, 1))})
    assert response.status_code == 409 and error_of(response)["code"] == "identify_again"


def make_second_clerk(make, shop):
    clerk = make.user(name="店员二")
    make.grant(clerk, Role.CLERK, shop.community, store=shop.store)
    _db.session.commit()
    return clerk


# ---- checkout, receipt, void ---------------------------------------------------------------------------------

def checkout(client, shop, secret, who, cart, key=None, **extra):
    return client.post(f"{API}/{shop.store.id}/checkout", headers=bearer(secret, key=key),
                       json={"identification_id": who, "lines": cart, **extra})


def test_checkout_answers_201_with_the_receipt_and_its_location(client, shop, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    response = checkout(client, shop, secret, who, lines((shop.noodles, 2), (shop.soap, 1)), request_id="r-1")
    assert response.status_code == 201, response.get_json()
    body = conforms("StoreReceiptSchema", response.get_json())
    assert body["total_points"] == 28 and body["balance_after"] == 72 and body["status"] == "done"
    assert body["repeated"] is False and {x["name"]: x["quantity"] for x in body["lines"]} == {"挂面": 2, "香皂": 1}
    assert response.headers["Location"] == f"{API}/{shop.store.id}/redemptions/{body['id']}"
    assert ledger.balance_of(shop.resident.id) == 72 and stock_of(shop.soap) == 1
    got = client.get(response.headers["Location"], headers=bearer(secret))
    assert got.status_code == 200 and got.get_json() == body
    # the same request id again (a retry without a key): the first receipt, nothing charged again
    again = checkout(client, shop, secret, who, lines((shop.noodles, 2), (shop.soap, 1)), request_id="r-1")
    assert again.status_code == 201 and again.get_json() == {**body, "repeated": True}
    assert ledger.balance_of(shop.resident.id) == 72
    # the identification is used up
    used = checkout(client, shop, secret, who, lines((shop.noodles, 1)), request_id="r-2")
    assert used.status_code == 409 and error_of(used)["code"] == "identify_again"


def test_a_resident_cannot_check_out(client, login, shop, now):
    who = identified_id(client, shop, clerk_token(shop), now)
    before = counts()
    response = checkout(client, shop, token_for(shop.resident_user, shop.community, [Role.RESIDENT]), who,
                        lines((shop.noodles, 1)))
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    login(client, shop.resident_user)  # with her session cookie too
    response = client.post(f"{API}/{shop.store.id}/checkout", json={"identification_id": who,
                                                                    "lines": lines((shop.noodles, 1))})
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    assert counts() == before


def test_a_clerk_of_another_store_gets_403_everywhere(client, shop, elsewhere, make, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    sale = checkout(client, shop, secret, who, lines((shop.noodles, 1))).get_json()
    other = token_for(elsewhere["clerk"], elsewhere["community"], [Role.CLERK])
    s = shop.store.id
    calls = [("get", f"{API}/{s}/products", None), ("get", f"{API}/{s}/residents?q=x", None),
             ("post", f"{API}/{s}/identify", {"code": phone_code(shop.resident, now)}),
             ("post", f"{API}/{s}/cart", {"identification_id": who, "lines": []}),
             ("post", f"{API}/{s}/checkout", {"identification_id": who, "lines": lines((shop.noodles, 1))}),
             ("get", f"{API}/{s}/redemptions/{sale['id']}", None),
             ("post", f"{API}/{s}/redemptions/{sale['id']}/void", {"reason": "x"}),
             ("post", f"{API}/{s}/shift/close", {"counts": []}), ("get", f"{API}/{s}/day-report", None)]
    before = counts()
    for method, url, body in calls:
        response = getattr(client, method)(url, json=body, headers=bearer(other)) if body is not None \
            else getattr(client, method)(url, headers=bearer(other))
        assert response.status_code == 403, (url, response.status_code)
        assert error_of(response)["code"] == "forbidden"
    assert counts() == before


def test_a_token_limited_to_store_a_cannot_act_on_store_b(client, shop, make, now):
    store_b = make.store(shop.community)
    product_b = add_product(shop.admin, store_b, now, "毛巾", price=5)
    _db.session.commit()
    # the office's device token for store A: acts as store A's clerk, not as the community's admin
    secret = token_for(shop.admin, shop.community, [Role.CLERK], store=shop.store)
    assert identify(client, shop, secret, now).status_code == 201
    response = client.post(f"{API}/{store_b.id}/identify", json={"code": phone_code(shop.resident, now)},
                           headers=bearer(secret))
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    assert client.get(f"{API}/{store_b.id}/products", headers=bearer(secret)).status_code == 403
    # with the admin's own token for store B, an identification made with store A's token is not B's
    who = identified_id(client, shop, secret, now)
    b_secret = token_for(shop.admin, shop.community, [Role.COMMUNITY_ADMIN])
    response = client.post(f"{API}/{store_b.id}/checkout", headers=bearer(b_secret),
                           json={"identification_id": who, "lines": lines((product_b, 1))})
    assert response.status_code == 409 and error_of(response)["code"] == "identify_again"


def test_products_of_another_community_are_refused_and_nothing_is_written(client, shop, elsewhere, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    before = counts()
    response = checkout(client, shop, secret, who, lines((shop.noodles, 1), (elsewhere["product"], 1)))
    assert response.status_code == 409 and error_of(response)["code"] == "product_unavailable"
    assert "大米" not in response.get_data(as_text=True)
    assert counts() == before and ledger.balance_of(shop.resident.id) == 100 and stock_of(shop.noodles) == 10
    assert _db.session.get(CounterIdentification, who).consumed_at is None  # still usable for a right cart


@pytest.mark.parametrize("quantity, status, code", [
    (0, 422, "empty_cart"),
    (-1, 422, "invalid_input"),
    (10**20, 422, "invalid_input"),
    ("１", 201, None),
    ("1.5", 422, "invalid_input"),
    (True, 422, "invalid_input"),
    (None, 422, "invalid_input"),
    (1000, 422, "invalid_input"),
])
def test_quantities_at_the_edges(client, shop, now, quantity, status, code):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    before = counts()
    response = checkout(client, shop, secret, who, [{"product_id": shop.noodles.id, "quantity": quantity}])
    assert response.status_code == status, response.get_json()
    if code is None:
        assert response.get_json()["lines"][0]["quantity"] == 1 and ledger.balance_of(shop.resident.id) == 90
    else:
        assert error_of(response)["code"] == code
        assert counts() == before


def test_bad_bodies_are_the_error_shape(client, shop, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    for body in ({"identification_id": who, "lines": "x"}, {"identification_id": who, "lines": [{"product_id": "a"}]},
                 {"identification_id": "x"}, [1, 2], {"identification_id": who, "lines": lines((shop.noodles, 1),
                                                                                             (shop.noodles, 2))}):
        response = client.post(f"{API}/{shop.store.id}/checkout", json=body, headers=bearer(secret))
        assert response.status_code in (400, 422), (body, response.status_code)
        error_of(response)
    response = client.post(f"{API}/{shop.store.id}/checkout", data="{not json", headers={
        **bearer(secret), "Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    error_of(response)


def test_not_enough_points_and_stock_short_are_refused_with_their_codes(client, shop, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    before = counts()
    poor = checkout(client, shop, secret, who, lines((shop.noodles, 9), (shop.soap, 2)))
    assert poor.status_code == 409 and error_of(poor)["code"] == "insufficient_points"
    short = checkout(client, shop, secret, who, lines((shop.soap, 3)))
    assert short.status_code == 409 and error_of(short)["code"] == "out_of_stock"
    limit = checkout(client, shop, secret, who, lines((shop.oil, 2)))
    assert limit.status_code == 409 and error_of(limit)["code"] == "limit_reached"
    assert counts() == before and stock_of(shop.soap) == 2 and ledger.balance_of(shop.resident.id) == 100


def test_the_same_idempotency_key_twice_is_one_redemption_and_the_same_response(client, shop, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    cart = lines((shop.noodles, 1))
    first = checkout(client, shop, secret, who, cart, key="k-1")
    second = checkout(client, shop, secret, who, cart, key="k-1")
    assert first.status_code == second.status_code == 201
    assert second.get_data() == first.get_data() and second.headers["Location"] == first.headers["Location"]
    assert second.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert _db.session.scalar(select(func.count()).select_from(Redemption)) == 1
    assert _db.session.scalar(select(Redemption.request_id)).startswith("key-")  # from the key, per caller
    assert ledger.balance_of(shop.resident.id) == 90
    other = checkout(client, shop, secret, who, lines((shop.noodles, 2)), key="k-1")
    assert other.status_code == 422 and error_of(other)["code"] == "idempotency_key_reused"
    assert _db.session.scalar(select(func.count()).select_from(Redemption)) == 1


def test_the_same_key_from_two_clerks_is_two_checkouts(client, shop, make, now):
    """The request id made from a key is per caller: another clerk's "k-1" is her own checkout."""
    second = make_second_clerk(make, shop)
    other_resident = make.resident(community=shop.community)
    ledger.manual(shop.admin, other_resident, 50, "志愿服务", "seed-other", now - timedelta(days=3))
    _db.session.commit()
    a, b = clerk_token(shop), token_for(second, shop.community, [Role.CLERK])
    for secret, resident in ((a, shop.resident), (b, other_resident)):
        who = identified_id(client, shop, secret, now, resident)
        assert checkout(client, shop, secret, who, lines((shop.noodles, 1)), key="k-1").status_code == 201
    assert _db.session.scalar(select(func.count()).select_from(Redemption)) == 2


def test_twenty_checkouts_at_once_with_one_key_make_one_redemption(app, postgres_only, shop, now):
    secret = clerk_token(shop)
    client = app.test_client()
    who = identified_id(client, shop, secret, now)
    cart = lines((shop.noodles, 2))
    url, body = f"{API}/{shop.store.id}/checkout", {"identification_id": who, "lines": cart}
    _db.session.commit()
    barrier = threading.Barrier(20)
    results: list = [None] * 20

    def run(i):
        try:
            c = app.test_client()
            barrier.wait()
            response = c.post(url, json=body, headers=bearer(secret, key="twenty"))
            results[i] = (response.status_code, response.get_data(as_text=True),
                          response.headers.get("Idempotent-Replayed"))
        except Exception as exc:  # noqa: BLE001 - shown in the assertion
            results[i] = (f"crash: {exc!r}", "", None)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None for r in results)
    assert {status for status, _body, _replayed in results} == {201}, results
    assert len({body for _status, body, _replayed in results}) == 1
    assert sorted(replayed or "" for _s, _b, replayed in results) == [""] + ["true"] * 19
    _db.session.expire_all()
    assert _db.session.scalar(select(func.count()).select_from(Redemption)) == 1
    assert _db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
    assert ledger.balance_of(shop.resident.id) == 80 and stock_of(shop.noodles) == 8


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("twenty requests at once wait on each other's rows: PostgreSQL only (SQLite has one writer)")


def test_void_own_receipt_the_same_day_office_any_time(client, shop, clock, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    sale = checkout(client, shop, secret, who, lines((shop.noodles, 3))).get_json()
    url = f"{API}/{shop.store.id}/redemptions/{sale['id']}/void"
    missing = client.post(url, json={}, headers=bearer(secret))
    assert missing.status_code == 422 and error_of(missing)["code"] == "reason_missing"
    clock.advance(days=1)
    late = client.post(url, json={"reason": "拿错了"}, headers=bearer(secret))
    assert late.status_code == 409 and error_of(late)["code"] == "void_too_late"
    office = token_for(shop.admin, shop.community, [Role.COMMUNITY_ADMIN])
    done = client.post(url, json={"reason": "拿错了"}, headers=bearer(office))
    assert done.status_code == 200 and done.get_json()["status"] == "void"
    assert done.get_json()["void_reason"] == "拿错了"
    assert ledger.balance_of(shop.resident.id) == 100 and stock_of(shop.noodles) == 10
    again = client.post(url, json={"reason": "拿错了"}, headers=bearer(office))
    assert again.status_code == 409 and error_of(again)["code"] == "already_void"


def test_the_clerk_voids_her_own_receipt_within_the_day(client, shop, make, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    sale = checkout(client, shop, secret, who, lines((shop.soap, 2))).get_json()
    other = token_for(make_second_clerk(make, shop), shop.community, [Role.CLERK])
    url = f"{API}/{shop.store.id}/redemptions/{sale['id']}/void"
    assert error_of(client.post(url, json={"reason": "x"}, headers=bearer(other)))["code"] == "void_too_late"
    response = client.post(url, json={"reason": "居民改主意"}, headers=bearer(secret))
    assert response.status_code == 200 and response.get_json()["status"] == "void"
    assert stock_of(shop.soap) == 2 and ledger.balance_of(shop.resident.id) == 100


def test_a_receipt_of_another_store_is_not_found(client, shop, elsewhere, now):
    secret = token_for(elsewhere["clerk"], elsewhere["community"], [Role.CLERK])
    r = _db.session.scalar(select(func.max(Redemption.id)))
    response = client.get(f"{API}/{elsewhere['store'].id}/redemptions/{(r or 0) + 1}", headers=bearer(secret))
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


# ---- shift close and the day report ---------------------------------------------------------------------------

def test_shift_close_and_the_day_report(client, shop, elsewhere, now):
    secret = clerk_token(shop)
    who = identified_id(client, shop, secret, now)
    checkout(client, shop, secret, who, lines((shop.noodles, 2)))
    url = f"{API}/{shop.store.id}/shift/close"
    missing = client.post(url, json={"counts": [{"product_id": shop.noodles.id, "counted": 8}]}, headers=bearer(secret))
    assert missing.status_code == 422 and error_of(missing)["code"] == "missing_count"
    counted = [{"product_id": shop.noodles.id, "counted": 8}, {"product_id": shop.soap.id, "counted": 1},
               {"product_id": shop.oil.id, "counted": 10}, {"product_id": elsewhere["product"].id, "counted": 0}]
    no_reason = client.post(url, json={"counts": counted}, headers=bearer(secret))
    assert no_reason.status_code == 422 and error_of(no_reason)["code"] == "reason_missing"
    counted[1]["reason"] = "破损"
    done = client.post(url, json={"counts": counted, "note": "交班"}, headers=bearer(secret))
    assert done.status_code == 201, done.get_json()
    take = conforms("StocktakeSchema", done.get_json())
    assert {x["product_id"]: x["difference"] for x in take["lines"]} == {shop.noodles.id: 0, shop.soap.id: -1,
                                                                        shop.oil.id: 0}
    assert stock_of(shop.soap) == 1 and stock_of(elsewhere["product"]) == 10  # another store's count: ignored
    assert _db.session.scalar(select(func.count()).select_from(Stocktake)) == 1

    report = client.get(f"{API}/{shop.store.id}/day-report?day=2026-11-25", headers=bearer(secret))
    assert report.status_code == 200, report.get_json()
    body = conforms("DayReportOutSchema", report.get_json())
    assert body["day"] == "2026-11-25" and body["points"] == 20 and body["voids"] == 0
    assert body["goods"] == [{"name": "挂面", "quantity": 2, "points": 20}]
    assert [d["difference"] for d in body["differences"]] == [-1] and len(body["receipts"]) == 1
    assert shop.resident.name not in report.get_data(as_text=True)  # masked
    today = client.get(f"{API}/{shop.store.id}/day-report", headers=bearer(secret)).get_json()
    assert today["day"] == "2026-11-25"
    bad = client.get(f"{API}/{shop.store.id}/day-report?day=2026-02-30", headers=bearer(secret))
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_input"


# ---- the session cookie: the counter page's own calls ------------------------------------------------------------

def test_the_counter_page_identifies_through_the_api_and_holds_it(client, login, shop, make, now):
    login(client, shop.clerk)
    response = client.post(f"{API}/{shop.store.id}/identify", json={"code": phone_code(shop.resident, now)})
    assert response.status_code == 201
    who = response.get_json()["identification_id"]
    page = client.get(f"/store/{shop.store.id}/counter?identification={who}")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/store/{shop.store.id}/counter")
    page = client.get(f"/store/{shop.store.id}/counter")
    assert shop.resident.name in page.get_data(as_text=True) and 'id="cart"' in page.get_data(as_text=True)
    # another clerk's identification is not taken over
    other = make_second_clerk(make, shop)
    secret = token_for(other, shop.community, [Role.CLERK])
    theirs = identified_id(client, shop, secret, now)
    client.get(f"/store/{shop.store.id}/counter?identification={theirs}")
    assert _db.session.get(CounterIdentification, theirs).consumed_at is None
    with client.session_transaction() as sess:
        assert sess["counter"]["identification_id"] == who


def test_an_api_post_with_the_cookie_needs_the_csrf_header(app, client, login, shop, now):
    login(client, shop.clerk)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"{API}/{shop.store.id}/identify", json={"code": phone_code(shop.resident, now)})
        assert response.status_code in (400, 403)
        error_of(response)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _db.session.scalar(select(func.count()).select_from(CounterIdentification)) == 0


# ---- the OpenAPI document: every answer of these operations is what it says (schemathesis) -------------------

def _conformance():
    from schemathesis import checks

    # what the answer must be; not whether the API takes this data (a refusal of a well-formed cart is the
    # service's, e.g. 409 limit_reached) nor the auth scenarios (the document offers the cookie or a bearer)
    return [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
            checks.response_schema_conformance, checks.response_headers_conformance]


def _store_operations(app):
    import schemathesis

    with app.test_client() as c:
        document = c.get("/api/v1/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if op.path.startswith("/api/v1/stores/")]


def test_the_store_operations_answer_as_the_document_says(app, shop, now):
    """Requests made from the OpenAPI document (schemathesis) for every store operation, with a real store id
    and the clerk's token: never a 5xx, and every answer (status, headers, body) is the one documented."""
    secret = clerk_token(shop)
    operations, CONFORMANCE = _store_operations(app), _conformance()  # noqa: N806
    assert len(operations) == 9
    store_id = shop.store.id

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def run(data):
        for operation in operations:
            case = data.draw(operation.as_strategy())
            case.path_parameters = {**(case.path_parameters or {}), "store_id": store_id}
            response = case.call(app=app, headers=bearer(secret))
            assert response.status_code < 500, (operation.path, response.text)
            case.validate_response(response, checks=CONFORMANCE)

    run()
