"""我的积分 one month at a time, and what every ledger entry says to its reader, in the reader's language.

The entries are written by the real writers (check-in, the lead's rejection, the counter's checkout and
void, expiry, the office's award and correction), so a writer that changes its wording without
describe.py following shows here as Chinese text on an English page.
"""
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale

from pointsapp.accounts.models import User
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.describe import describe
from pointsapp.ledger.services.history import month_history
from pointsapp.ledger.services.posting import Posting

from .querycount import count_queries
from .scenes import TITLE, TYPED, TYPED_AWARD, TYPED_FIX, TYPED_REJECT, TYPED_VOID, every_kind_of_entry

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def post(resident, amount, when, key, kind=EntryKind.AWARD, reason="安全值守"):
    return ledger.post(Posting(resident, amount, kind, "attendance", key, reason), None, when)


@pytest.fixture
def written(make, db, now):
    scene = every_kind_of_entry(make, now)
    return scene.user.resident, scene.entries, scene.receipt


def texts(entries, lang):
    with force_locale(lang):
        return [describe(e) for e in entries]


def test_every_system_written_reason_reads_in_english_and_typed_text_stays_as_typed(written):
    _, entries, receipt = written
    kinds = {e.kind for e in entries}
    assert kinds == {"award", "manual_award", "reversal", "redemption", "expiry"}
    for text in texts(entries, "en"):
        shown = f"{text.label} {text.detail}"
        for word in TYPED:
            shown = shown.replace(word, "")
        assert not CJK.search(shown), f"Chinese left in an English description: {text}"
        assert "：" not in text.detail  # English colons
    english = {f"{t.label} | {t.detail}" for t in texts(entries, "en")}
    assert f"Volunteer service | Hallway advert cleanup: {TITLE}" in english
    assert f"Redeemed at the supermarket | Receipt {receipt}" in english
    assert any(x.endswith(f"| Receipt {receipt} voided: {TYPED_VOID}") for x in english)
    assert any(x.endswith(f"| Attendance not accepted: {TYPED_REJECT}") for x in english)
    assert any(x.endswith(f"| {TYPED_FIX}") and x.startswith("Correction of entry #") for x in english)
    assert f"Award by the community office | {TYPED_AWARD}" in english
    assert any(x.startswith("Points expired | Earned before ") and "24 months" in x for x in english)


def test_the_same_entries_read_in_chinese_with_full_width_colons(written):
    _, entries, receipt = written
    chinese = {f"{t.label} | {t.detail}" for t in texts(entries, "zh")}
    assert f"志愿服务 | 楼道广告清理：{TITLE}" in chinese
    assert f"爱心积分超市兑换 | 兑换单 {receipt}" in chinese
    assert any(x.endswith(f"兑换单 {receipt} 已作废：{TYPED_VOID}") for x in chinese)
    assert any(x.endswith(f"签到不予认可：{TYPED_REJECT}") for x in chinese)
    assert not any(re.search(r"[\u4e00-\u9fff]:", x) for x in chinese)  # no ASCII colon after Chinese


def test_an_unrecognised_stored_reason_is_shown_as_stored(make, db, now):
    r = make.resident()
    e = post(r, 4, now, "x", reason="某段旧格式的文字")
    assert texts([e], "en")[0].detail == "某段旧格式的文字"


def test_my_points_in_english_has_no_chinese_but_the_data(written, client, login, db):
    r, entries, receipt = written
    user = db.session.query(User).filter_by(resident_id=r.id).one()
    login(client, user)
    client.post("/lang/en")
    html = client.get("/me/points").get_data(as_text=True)
    main = re.sub(r"<[^>]+>", " ", html[html.index("<main"):html.index("</main>")])
    for word in [*TYPED, r.name]:
        main = main.replace(word, "")
    assert not CJK.search(main), CJK.findall(main)
    assert "November 2026" in main and f"Receipt {receipt}" in main
    assert not re.search(r"\d+\s*[年月日]", main)


# ---- months --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("at", "month", "other"), [
    (utc(2026, 11, 30, 15, 30), "2026-11", "2026-12"),  # 23:30 on 30 November in China
    (utc(2026, 11, 30, 16, 0), "2026-12", "2026-11"),  # 00:00 on 1 December in China
    (utc(2026, 12, 31, 15, 59), "2026-12", "2027-01"),  # year end
    (utc(2026, 12, 31, 16, 0), "2027-01", "2026-12"),
    (utc(2028, 2, 29, 15, 59), "2028-02", "2028-03"),  # 29 February
    (utc(2028, 2, 29, 16, 0), "2028-03", "2028-02"),
])
def test_an_entry_belongs_to_its_month_in_china_time(make, db, clock, at, month, other):
    clock.set(utc(2028, 6, 1))
    r = make.resident()
    post(r, 7, at - timedelta(days=400), "before")  # so both months lie inside the picker's range
    e = post(r, 5, at, "edge")
    page = month_history(r.id, month, clock.now())
    assert e in page.entries and page.earned == 5 and page.balance_end == 12
    page = month_history(r.id, other, clock.now())
    assert e not in page.entries and page.earned == 0
    assert page.balance_end == (12 if other > month else 7)


def test_month_totals_split_earning_spending_and_corrections_and_carry_the_balance(make, db, clock):
    clock.set(utc(2027, 1, 10))
    r = make.resident()
    a = post(r, 30, utc(2026, 10, 5), "a")
    post(r, 20, utc(2026, 10, 6), "b")
    ledger.post(Posting(r, -12, EntryKind.REDEMPTION, "redemption", "s", "兑换单 01-1"), None, utc(2026, 10, 7))
    ledger.reverse(None, a, "重复", utc(2026, 10, 8))
    page = month_history(r.id, "2026-10", clock.now())
    assert (page.earned, page.spent, page.other, page.balance_end) == (50, 12, -30, 8)
    assert [e.amount for e in page.entries] == [-30, -12, 20, 30]  # newest first
    quiet = month_history(r.id, "2026-11", clock.now())  # no entries: the balance carries over
    assert (quiet.entries, quiet.earned, quiet.balance_end) == ([], 0, 8)
    assert month_history(r.id, None, clock.now()).month == "2026-10"  # opens on the latest month with entries
    assert page.months == ["2026-10"] and page.newer is None and page.older is None


def test_month_links_walk_newest_first(make, db, clock):
    clock.set(utc(2026, 12, 20))
    r = make.resident()
    post(r, 1, utc(2026, 9, 1), "a")
    post(r, 1, utc(2026, 11, 3), "b")
    page = month_history(r.id, "2026-10", clock.now())
    assert page.months == ["2026-11", "2026-10", "2026-09"]
    assert (page.newer, page.older) == ("2026-11", "2026-09")


def test_my_points_costs_the_same_queries_for_3_or_40_entries(make, db, client, login, now):
    counts = []
    for n in (3, 40):
        user = make.resident_user()
        for i in range(n):
            post(user.resident, 1, now - timedelta(hours=i), f"k{n}-{i}")
        _db.session.commit()
        login(client, user)
        with count_queries() as log:
            assert client.get("/me/points?month=2026-11").status_code == 200
        counts.append(log.count)
        assert ">+1<" in client.get("/me/points").get_data(as_text=True).replace(" ", "")
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("month", ["9999-12", "abc", "２０２６-１１", "2026-13", "0-0", "1" * 30, "2026-11\x00"])
def test_a_bad_month_shows_a_page_not_an_error(make, db, client, login, month):
    user = make.resident_user()
    post(user.resident, 3, datetime(2026, 11, 2, tzinfo=UTC), "a")
    _db.session.commit()
    login(client, user)
    assert client.get("/me/points", query_string={"month": month}).status_code in (200, 400)
