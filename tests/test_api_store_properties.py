"""Property test of the store API's checkout and void (issue 15): whatever the cart, the caller and the ids
(this store's products, another store's and another community's, ids no row has; quantities at the edges;
the clerk's token, another clerk's, another community's, a resident's, the office's), the resident's
balance and every product's stock change by exactly what the receipt says, never below zero, and a refusal
(in the one error shape, never a 5xx) writes nothing."""
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pointsapp.accounts.models import Role
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.models import Product, Redemption, StockMovement
from pointsapp.store.services import catalogue as store_service
from pointsapp.volunteering.services import codes

from .api_helpers import bearer, error_of, token_for

API = "/api/v1/stores"
EDGES = st.sampled_from([0, -1, 999, 1000, 10**20, -(10**20), "１", "2", "", "x", None, True, 1.5])
QUANTITIES = st.one_of(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), EDGES)  # mostly a real cart
PRODUCTS = st.one_of(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 9))  # mostly ours


def _product(admin, store, now, name, price, stock, **fields):
    return store_service.create_product(admin, store, store_service.ProductFields(name=name, price=price, **fields),
                                        stock, now)


def _world(make, now):
    a, b = make.community(), make.community()
    clerk, other_clerk_b = make.clerk(a), make.clerk(b)
    admin, admin_b = make.admin(a), make.admin(b)
    store = clerk.grants[0].store
    second_store_clerk = make.clerk(a)  # a clerk of another store of the same community
    second_store = second_store_clerk.grants[0].store
    resident_user = make.resident_user(a)
    resident = resident_user.resident
    ledger.manual(admin, resident, 120, "志愿服务", "seed", now - timedelta(days=30))
    ours = [_product(admin, store, now, "挂面", 10, 6), _product(admin, store, now, "香皂", 7, 2),
            _product(admin, store, now, "花生油", 30, 5, limit_per_week=1),
            _product(admin, store, now, "理发", 15, None, kind="service"),
            _product(admin, store, now, "旧货", 5, 3, is_active=False)]
    foreign = [_product(admin, second_store, now, "毛巾", 4, 9).id, _product(admin_b, other_clerk_b.grants[0].store,
                                                                              now, "大米", 3, 9).id]
    _db.session.commit()
    tokens = {
        "clerk": token_for(clerk, a, [Role.CLERK]),
        "office": token_for(admin, a, [Role.COMMUNITY_ADMIN]),
        "store_device": token_for(admin, a, [Role.CLERK], store=store),
        "other_store_clerk": token_for(second_store_clerk, a, [Role.CLERK]),
        "other_community_clerk": token_for(other_clerk_b, b, [Role.CLERK]),
        "resident": token_for(resident_user, a, [Role.RESIDENT]),
    }
    return {"store": store.id, "resident": resident, "ours": [p.id for p in ours], "foreign": foreign,
            "tokens": tokens}


def _state(world) -> dict:
    _db.session.expire_all()
    ids = world["ours"] + world["foreign"]
    stocks = dict(_db.session.execute(select(Product.id, Product.stock).where(Product.id.in_(ids))).all())
    return {"balance": ledger.balance_of(world["resident"].id), "stocks": stocks,
            "rows": tuple(_db.session.scalar(select(func.count()).select_from(m))
                          for m in (Redemption, LedgerEntry, StockMovement))}


def _assert_sane(state):
    assert state["balance"] >= 0
    assert all(s is None or s >= 0 for s in state["stocks"].values())


def _identify(client, world, token, now) -> int | None:
    code = codes.member_phone_code(client.application.secret_key, world["resident"], now)
    response = client.post(f"{API}/{world['store']}/identify", json={"code": code}, headers=bearer(token))
    assert response.status_code < 500
    return response.get_json().get("identification_id") if response.status_code == 201 else None


operation = st.one_of(
    st.tuples(st.just("checkout"), st.sampled_from(["clerk", "clerk", "clerk", "clerk", "office", "store_device",
                                                    "other_store_clerk", "other_community_clerk", "resident"]),
              st.lists(st.tuples(PRODUCTS, QUANTITIES), min_size=0, max_size=3, unique_by=lambda line: line[0])),
    st.tuples(st.just("void"), st.sampled_from(["clerk", "office", "other_store_clerk", "other_community_clerk",
                                                "resident"]), st.integers(-2, 6)),
)


FIRST = st.tuples(st.just("checkout"), st.just("clerk"),  # a history starts with a real sale, mostly
                  st.lists(st.tuples(st.integers(0, 3), st.integers(1, 2)), min_size=1, max_size=2,
                           unique_by=lambda line: line[0]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(first=FIRST, ops=st.lists(operation, min_size=1, max_size=6))
def test_checkout_and_void_change_balance_and_stock_by_exactly_the_receipt(app, make, db, now, first, ops):
    ops = [first, *ops]
    world = _world(make, now)
    client = app.test_client()
    pool = world["ours"] + world["foreign"] + [999999, 0, -1, 2**31]  # real ids of every kind, and none
    receipts: list[dict] = []
    for i, (what, who, arg) in enumerate(ops):
        token = world["tokens"][who]
        if what == "checkout":
            # the staff of this store identify her themselves; for the others, the clerk did
            held = _identify(client, world, world["tokens"][who if who in ("office", "store_device") else "clerk"], now)
            before = _state(world)
            cart = [{"product_id": pool[k], "quantity": q} for k, q in arg]
            response = client.post(f"{API}/{world['store']}/checkout", headers=bearer(token),
                                   json={"identification_id": held, "lines": cart, "request_id": f"prop-{i}"})
        else:
            before = _state(world)
            target = receipts[arg % len(receipts)]["id"] if receipts and arg >= 0 else (999999 if arg == -1 else 0)
            response = client.post(f"{API}/{world['store']}/redemptions/{target}/void", headers=bearer(token),
                                   json={"reason": "性质测试"})
        after = _state(world)
        event(f"{what}: {response.status_code}")
        _assert_sane(after)
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code >= 400:
            error_of(response)
            assert after == before, (what, who, arg, response.get_json())  # a refusal writes nothing
            continue
        body = response.get_json()
        sign = -1 if what == "checkout" else 1
        assert body["total_points"] == sum(x["points"] for x in body["lines"]) > 0
        assert all(x["points"] == x["quantity"] * x["unit_price"] and x["quantity"] > 0 for x in body["lines"])
        assert after["balance"] == before["balance"] + sign * body["total_points"]
        moved = {x["product_id"]: x["quantity"] for x in body["lines"]}
        assert set(moved) <= set(world["ours"])  # never another store's product
        for pid, stock in after["stocks"].items():
            old = before["stocks"][pid]
            expected = old if old is None or pid not in moved else old + sign * moved[pid]
            assert stock == expected, (pid, old, stock, body)
        if what == "checkout":
            assert response.status_code == 201 and body["status"] == "done"
            assert body["balance_after"] == after["balance"]
            assert who in ("clerk", "office", "store_device")
            receipts.append(body)
        else:
            assert response.status_code == 200 and body["status"] == "void"
            assert who in ("clerk", "office")
    _db.session.rollback()
