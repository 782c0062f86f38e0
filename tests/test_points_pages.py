"""我的积分, the admin's award/deduct/correct forms and the ledger export, through HTTP."""
import csv
import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting


def _award(resident, amount, key, when, reason="楼道广告清理"):
    return ledger.post(Posting(resident, amount, EntryKind.AWARD, "attendance", key, reason), None, when)


def test_resident_sees_own_balance_and_history_with_sources(client, login, make, db, now):
    user = make.resident_user()
    _award(user.resident, 15, "a1", now - timedelta(days=40), "安全值守")
    _award(user.resident, 10, "a2", now)
    ledger.post(Posting(user.resident, -8, EntryKind.REDEMPTION, "redemption", "r1", "兑换：挂面"), None, now)
    db.session.commit()
    login(client, user)
    page = client.get("/me/points").get_data(as_text=True)
    assert ">17<" in page  # balance
    # the latest month first: this month's entries, not last month's
    assert "挂面" in page and "-8" in page and "安全值守" not in page
    month = (now - timedelta(days=40)).strftime("%Y-%m")
    page = client.get(f"/me/points?month={month}").get_data(as_text=True)
    assert "安全值守" in page and "挂面" not in page


def test_resident_never_sees_another_residents_points(client, login, make, db, now):
    me = make.resident_user()
    other = make.resident(household=me.resident.household, name="邻居")
    _award(other, 99, "x", now, "只属于邻居的记录")
    db.session.commit()
    login(client, me)
    assert "只属于邻居的记录" not in client.get("/me/points").get_data(as_text=True)


def test_admin_award_is_idempotent_per_form(client, login, make, db, now):
    c = make.community()
    r = make.resident(community=c)
    admin = make.admin(c)
    db.session.commit()
    login(client, admin)
    form = {"direction": "award", "amount": "12", "reason": "好人好事", "request_id": "form-1"}
    url = f"/admin/c/{c.id}/residents/{r.id}/points"
    assert client.post(url, data=form).status_code == 302
    assert client.post(url, data=form).status_code == 302  # double click: same request id
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert ledger.balance_of(r.id) == 12


def test_admin_deduction_needs_reason_and_cannot_go_negative(client, login, make, db, now):
    c = make.community()
    r = make.resident(community=c)
    admin = make.admin(c)
    _award(r, 5, "a", now)
    db.session.commit()
    login(client, admin)
    url = f"/admin/c/{c.id}/residents/{r.id}/points"
    page = client.post(url, data={"direction": "deduct", "amount": "3", "reason": "", "request_id": "f2"})
    assert page.status_code == 200 and "请填写原因" in page.get_data(as_text=True)
    page = client.post(url, data={"direction": "deduct", "amount": "9", "reason": "违规", "request_id": "f3"})
    assert "积分不够" in page.get_data(as_text=True)
    db.session.expire_all()
    assert ledger.balance_of(r.id) == 5


def test_admin_reverses_an_entry_once(client, login, make, db, now):
    c = make.community()
    r = make.resident(community=c)
    admin = make.admin(c)
    e = _award(r, 7, "a", now)
    db.session.commit()
    login(client, admin)
    url = f"/admin/c/{c.id}/entries/{e.id}/reverse"
    assert client.post(url, data={"reason": "重复登记"}).status_code == 302
    client.post(url, data={"reason": "再来一次"})
    db.session.expire_all()
    assert ledger.balance_of(r.id) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2


def test_admin_of_another_community_cannot_touch_points(client, login, make, db, now):
    c = make.community()
    r = make.resident(community=c)
    e = _award(r, 7, "a", now)
    outsider = make.admin(make.community())
    db.session.commit()
    login(client, outsider)
    assert client.post(f"/admin/c/{c.id}/entries/{e.id}/reverse", data={"reason": "x"}).status_code == 403
    assert client.get(f"/admin/c/{c.id}/residents/{r.id}/points").status_code == 403


def test_export_csv_and_xlsx_cover_the_date_range(client, login, make, db, now):
    c = make.community()
    r = make.resident(community=c, name="王秀英")
    admin = make.admin(c)
    _award(r, 5, "in", now)
    _award(r, 6, "before", now - timedelta(days=60))
    db.session.commit()
    login(client, admin)
    day = now.strftime("%Y-%m-%d")
    body = client.get(f"/admin/c/{c.id}/ledger?start={day}&end={day}&format=csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][0] == "流水号" and len(rows) == 2 and rows[1][2] == "王秀英" and rows[1][5] == "5"
    data = client.get(f"/admin/c/{c.id}/ledger?start=2026-01-01&end={day}&format=xlsx").data
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.max_row == 3 and ws.title == "积分流水" and ws["E2"].value == "志愿服务"
    client.post("/lang/en")  # an office working in English gets English headers and kinds; reasons as recorded
    body = client.get(f"/admin/c/{c.id}/ledger?start={day}&end={day}&format=csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:5] == ["Entry no.", "Time", "Resident", "Address", "Kind"] and rows[1][4] == "Volunteer service"
    assert load_workbook(io.BytesIO(client.get(
        f"/admin/c/{c.id}/ledger?start={day}&end={day}&format=xlsx").data)).active.title == "Points ledger"


def test_export_with_end_before_start_says_why(client, login, make, db):
    c = make.community()
    admin = make.admin(c)
    db.session.commit()
    login(client, admin)
    page = client.get(f"/admin/c/{c.id}/ledger?start=2026-11-10&end=2026-11-01&format=xlsx")
    assert page.status_code == 200 and "结束日期早于开始日期" in page.get_data(as_text=True)
