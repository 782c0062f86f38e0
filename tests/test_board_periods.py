"""The board early in a month (rankings.services.fallback_span): on the 2nd it named three people. Until this month has
board_min_ranked ranked residents, the big screen and the rankings page show last month's final standings
(or the last 30 days) beside this month, each panel labelled with its period; edges in China time."""
from datetime import UTC, date, datetime
from itertools import count

import pytest

from pointsapp.core.extensions import db as _db
from pointsapp.core.periods import CHINA
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings import services as rankings

_keys = count(1)


def china(*parts) -> datetime:
    return datetime(*parts, tzinfo=CHINA).astimezone(UTC)


@pytest.mark.parametrize("moment, month, last, last_days, rolling_from", [
    # 00:30 on the 1st in China is still the 30th in UTC: the month is already December
    (china(2026, 12, 1, 0, 30), "M2026-12", "M2026-11", (date(2026, 11, 1), date(2026, 11, 30)), date(2026, 11, 2)),
    (china(2026, 12, 2, 10, 0), "M2026-12", "M2026-11", (date(2026, 11, 1), date(2026, 11, 30)), date(2026, 11, 3)),
    # 1 January: last month is December of the year before
    (china(2027, 1, 1, 8, 0), "M2027-01", "M2026-12", (date(2026, 12, 1), date(2026, 12, 31)), date(2026, 12, 3)),
    # 29 February, and the day after it
    (china(2028, 2, 29, 12, 0), "M2028-02", "M2028-01", (date(2028, 1, 1), date(2028, 1, 31)), date(2028, 1, 31)),
    (china(2028, 3, 1, 0, 10), "M2028-03", "M2028-02", (date(2028, 2, 1), date(2028, 2, 29)), date(2028, 2, 1)),
])
def test_periods_are_edged_in_china_time(moment, month, last, last_days, rolling_from):
    assert rankings.this_month(moment).period == month
    assert rankings.this_month(moment).first_day.day == 1
    span = rankings.last_month(moment)
    assert (span.period, (span.first_day, span.last_day)) == (last, last_days)
    window = rankings.rolling(moment)
    assert (window.first_day, window.last_day) == (rolling_from, moment.astimezone(CHINA).date())
    assert (window.last_day - window.first_day).days == 29


@pytest.fixture
def town(make, db):
    """A community; people(n, when, points) gives n new residents points at `when`."""
    c = make.community()
    b = make.building(c, "3号楼")

    def people(n, when, points=10, names=None):
        out = []
        for i in range(n):
            person = make.resident(make.household(building=b), name=(names or [None] * n)[i])
            earn(person, points + i, when)
            out.append(person)
        return out
    return c, people


def earn(person, points, when):
    return ledger.post(Posting(person, points, EntryKind.AWARD, "manual", f"bp{next(_keys)}", "楼道广告清理"),
                       None, when)


def board(client, c) -> str:
    return client.get(f"/board/{c.id}").get_data(as_text=True)


def test_on_the_2nd_the_board_shows_last_months_final_standings_beside_this_month(client, clock, town):
    c, people = town
    clock.set(china(2026, 12, 2, 9, 0))
    # the last evening of November in China (15:30 UTC on the 30th) counts in November
    november = people(12, china(2026, 11, 30, 23, 30), names=[f"刘{'一二三四五六七八九十甲乙'[i]}华" for i in range(12)])
    people(3, china(2026, 12, 1, 0, 5), names=["赵一明", "赵二明", "赵三明"])
    november[-1].hide_from_board = True  # first in November: left out, the others keep their places
    _db.session.commit()
    page = board(client, c)
    assert page.count('class="period"') == 6
    first = page.split('id="panel-1"')[1].split("</section>")[0]
    assert "本月（12月1日至今）" in first and "上月最终排名（2026年11月）" in first
    this_month, last_month = first.split("上月最终排名")
    assert "赵*明" in this_month and "刘*华" not in this_month
    assert "刘*华" in last_month and "赵*明" not in last_month
    assert '<span class="rank">2</span>' in last_month and '<span class="rank">1</span>' not in last_month
    # households and buildings too
    assert "上月最终排名（2026年11月）" in page.split('id="panel-3"')[1].split("</section>")[0]


def test_once_the_month_has_enough_names_the_board_shows_it_alone(client, clock, town):
    c, people = town
    clock.set(china(2026, 12, 9, 9, 0))
    people(12, china(2026, 11, 20, 10, 0))
    people(10, china(2026, 12, 3, 10, 0))
    _db.session.commit()
    page = board(client, c)
    assert "上月最终排名" not in page and page.count('class="period"') == 3
    assert "本月（12月1日至今）" in page  # each panel still says what it counts


def test_on_new_years_day_last_month_is_december_of_the_year_before(client, clock, town):
    c, people = town
    clock.set(china(2027, 1, 1, 8, 0))
    people(4, china(2026, 12, 31, 23, 50), names=["钱一伟", "钱二伟", "钱三伟", "钱四伟"])
    _db.session.commit()
    page = board(client, c)
    assert "上月最终排名（2026年12月）" in page and "本月（1月1日至今）" in page
    assert "钱*伟" in page


def test_a_community_can_turn_the_second_panel_off(client, clock, town):
    c, people = town
    clock.set(china(2026, 12, 2, 9, 0))
    people(5, china(2026, 11, 15, 10, 0))
    c.board_min_ranked = 0
    _db.session.commit()
    assert "上月最终排名" not in board(client, c)


def test_the_last_30_days_count_whole_china_days_and_reversals(client, clock, town):
    c, people = town
    c.board_fallback = "rolling30"
    clock.set(china(2026, 12, 2, 9, 0))
    early, inside, undone = people(3, china(2026, 11, 10, 10, 0), names=["孙早生", "孙在内", "孙撤销"])
    # 30 days on 2 December: 3 November to today
    earn(early, 500, china(2026, 11, 2, 23, 59))  # the day before the window
    earn(inside, 200, china(2026, 11, 3, 0, 1))
    entry = earn(undone, 300, china(2026, 11, 20, 10, 0))
    ledger.reverse(None, entry, "重复登记", china(2026, 11, 21, 10, 0))
    _db.session.commit()
    page = board(client, c)
    assert "近30天（11月3日至今）" in page and "上月最终排名" not in page
    window = page.split("近30天")[1].split("</ol>")[0]
    # 孙在内 200 + 11, 孙早生 only its 10 (the 500 is outside), 孙撤销 12 (its 300 reversed)
    assert "211 积分" in window and "510" not in window and "312" not in window


def test_the_last_30_days_on_29_february(make, db, town):
    c, people = town
    a, b = people(2, china(2028, 1, 30, 23, 0), names=["周甲", "周乙"])
    earn(b, 50, china(2028, 1, 31, 0, 30))
    places = rankings.rolling_board(c, rankings.rolling(china(2028, 2, 29, 12, 0)), "resident")
    assert [(p.label, p.value) for p in places] == [("周*", 50)]


def test_the_residents_rankings_page_shows_last_month_too(client, login, clock, make, town):
    c, people = town
    clock.set(china(2026, 12, 2, 9, 0))
    people(6, china(2026, 11, 18, 10, 0), names=[f"吴{i}芳" for i in "一二三四五六"])
    viewer = make.resident_user(community=c)
    earn(viewer.resident, 5, china(2026, 12, 1, 9, 0))
    _db.session.commit()
    login(client, viewer)
    page = client.get("/rankings").get_data(as_text=True)
    assert "本月（12月1日至今）" in page and "上月最终排名（2026年11月）" in page
    assert page.split("上月最终排名（2026年11月）", 1)[1].count("吴*芳") == 6
    # other periods, and custom ranges, are shown alone
    assert "上月最终排名" not in client.get("/rankings?period=year").get_data(as_text=True)


def test_the_office_chooses_the_second_panel(client, login, make, town):
    c, _people = town
    admin = make.admin(c)
    _db.session.commit()
    login(client, admin)
    client.post(f"/admin/c/{c.id}/board", data={"mask": "middle", "fallback": "rolling30", "min_ranked": "５"})
    _db.session.refresh(c)
    assert (c.board_fallback, c.board_min_ranked) == ("rolling30", 5)
    for bad in ({"fallback": "everything"}, {"min_ranked": "10" * 20}, {"min_ranked": "-1"}):
        response = client.post(f"/admin/c/{c.id}/board", data={"mask": "middle", **bad}, follow_redirects=True)
        assert response.status_code == 200
    _db.session.refresh(c)
    assert (c.board_fallback, c.board_min_ranked) == ("rolling30", 5)
