"""The counter through HTTP: identify, checkout, receipt, retry, void, PIN lockout, shift, reports."""
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from pointsapp.core.clock import utcnow
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.store.models import Redemption, StockMovement
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter
from pointsapp.volunteering.services import codes


@pytest.fixture
def shop(make, db, now):
    community = make.community()
    clerk = make.clerk(community)
    store = clerk.grants[0].store
    admin = make.admin(community)
    resident_user = make.resident_user(community=community)
    resident = resident_user.resident
    ledger.post(Posting(resident, 100, EntryKind.AWARD, "attendance", "seed", "楼道广告清理"), None, now)
    noodles = store_service.create_product(admin, store, store_service.ProductFields(name="挂面", price=10), 5, now)
    soap = store_service.create_product(admin, store, store_service.ProductFields(name="香皂", price=8), 5, now)
    _db.session.commit()
    return store, clerk, admin, resident, noodles, soap


def identify(app, client, store, resident, now=None):
    code = codes.member_phone_code(app.secret_key, resident, now or utcnow())  # the app's fixed clock
    return client.post(f"/store/{store.id}/counter", data={"code": code})


def test_clerk_identifies_redeems_and_sees_the_receipt(app, client, login, shop):
    store, clerk, _, resident, noodles, soap = shop
    login(client, clerk)
    assert identify(app, client, store, resident).status_code == 302
    page = client.get(f"/store/{store.id}/counter").get_data(as_text=True)
    assert resident.name in page and 'data-balance="100"' in page
    done = client.post(f"/store/{store.id}/checkout",
                       data={"request_id": "r1", f"qty_{noodles.id}": "2", f"qty_{soap.id}": "1"})
    receipt = client.get(done.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="balance-after">72<', receipt) and "挂面" in receipt
    assert ledger.balance_of(resident.id) == 72
    _db.session.expire_all()
    assert (noodles.stock, soap.stock) == (3, 4)


def test_a_retried_checkout_returns_the_first_receipt_and_charges_once(app, client, login, shop):
    store, clerk, _, resident, noodles, _ = shop
    login(client, clerk)
    identify(app, client, store, resident)
    first = client.post(f"/store/{store.id}/checkout", data={"request_id": "same", f"qty_{noodles.id}": "1"})
    again = client.post(f"/store/{store.id}/checkout", data={"request_id": "same", f"qty_{noodles.id}": "1"})
    assert first.headers["Location"] == again.headers["Location"]
    assert _db.session.scalar(select(func.count()).select_from(Redemption)) == 1
    assert ledger.balance_of(resident.id) == 90


def test_checkout_without_identification_charges_nothing(client, login, shop):
    store, clerk, _, resident, noodles, _ = shop
    login(client, clerk)
    response = client.post(f"/store/{store.id}/checkout", data={"request_id": "x", f"qty_{noodles.id}": "1"},
                           follow_redirects=True)
    assert "请先识别居民" in response.get_data(as_text=True)
    assert ledger.balance_of(resident.id) == 100


def test_too_expensive_cart_is_refused_with_a_reason(app, client, login, shop):
    store, clerk, _, resident, noodles, _ = shop
    login(client, clerk)
    identify(app, client, store, resident)
    response = client.post(f"/store/{store.id}/checkout", data={"request_id": "big", f"qty_{noodles.id}": "11"},
                           follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and ("库存不足" in text or "积分不够" in text)
    assert ledger.balance_of(resident.id) == 100


def test_card_pin_failures_persist_across_requests_and_lock(app, client, login, shop, now):
    store, clerk, admin, resident, *_ = shop
    counter.set_pin(admin, resident, "2468", now)
    _db.session.commit()
    login(client, clerk)
    card = codes.member_card_code(app.secret_key, resident)
    asked = client.post(f"/store/{store.id}/counter", data={"code": card}).get_data(as_text=True)
    assert "卡密码" in asked and 'name="pin"' in asked
    for left in (4, 3, 2, 1):
        page = client.post(f"/store/{store.id}/counter", data={"code": card, "pin": "1111"}).get_data(as_text=True)
        assert f"还可以再试 {left} 次" in page
    page = client.post(f"/store/{store.id}/counter", data={"code": card, "pin": "1111"}).get_data(as_text=True)
    assert "锁定" in page
    page = client.post(f"/store/{store.id}/counter", data={"code": card, "pin": "2468"}).get_data(as_text=True)
    assert "锁定" in page  # even the right PIN waits out the lock


def test_clerk_voids_own_receipt_and_points_and_stock_return(app, client, login, shop):
    store, clerk, _, resident, noodles, _ = shop
    login(client, clerk)
    identify(app, client, store, resident)
    done = client.post(f"/store/{store.id}/checkout", data={"request_id": "v", f"qty_{noodles.id}": "2"})
    client.post(done.headers["Location"] + "/void", data={"reason": "拿错了"})
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "已作废" in page and "拿错了" in page
    assert ledger.balance_of(resident.id) == 100
    _db.session.expire_all()
    assert noodles.stock == 5


def test_shift_close_needs_a_reason_for_a_difference(client, login, shop):
    store, clerk, _, _, noodles, soap = shop
    login(client, clerk)
    page = client.post(f"/store/{store.id}/shift", data={f"count_{noodles.id}": "4", f"count_{soap.id}": "5"})
    assert "请说明原因" in page.get_data(as_text=True)
    _db.session.expire_all()
    assert noodles.stock == 5
    done = client.post(f"/store/{store.id}/shift", data={f"count_{noodles.id}": "4", f"reason_{noodles.id}": "破损",
                                                         f"count_{soap.id}": "5"})
    assert done.status_code == 302
    _db.session.expire_all()
    assert noodles.stock == 4
    movement = _db.session.scalar(select(StockMovement).where(StockMovement.kind == "stocktake"))
    assert movement.change == -1 and "破损" in movement.reason
    report = client.get(f"/store/{store.id}/report").get_data(as_text=True)
    assert "破损" in report


def test_report_export_lists_todays_receipts(app, client, login, shop):
    store, clerk, _, resident, noodles, _ = shop
    login(client, clerk)
    identify(app, client, store, resident)
    client.post(f"/store/{store.id}/checkout", data={"request_id": "e", f"qty_{noodles.id}": "1"})
    data = client.get(f"/store/{store.id}/report?format=xlsx").data
    ws = load_workbook(io.BytesIO(data))["兑换记录"]
    rows = list(ws.values)
    assert rows[0][0] == "小票号" and len(rows) == 2 and rows[1][2] == resident.name and rows[1][4] == 10


def test_clerk_of_another_store_is_refused(client, login, make, shop):
    store, *_ = shop
    other_clerk = make.clerk(store.community if hasattr(store, "community") else make.community())
    _db.session.commit()
    login(client, other_clerk)
    assert client.get(f"/store/{store.id}/counter").status_code == 403


def test_expired_member_code_at_the_counter_says_so(app, client, login, shop, now):
    store, clerk, _, resident, *_ = shop
    login(client, clerk)
    old = codes.member_phone_code(app.secret_key, resident, now - timedelta(minutes=5))
    page = client.post(f"/store/{store.id}/counter", data={"code": old}).get_data(as_text=True)
    assert "会员码已过期" in page
