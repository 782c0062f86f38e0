"""Leaderboards: ties, period edges in China time, spending never lowers a rank, reversals do."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings import services as rankings
from pointsapp.rankings.models import EarningTotal


def award(r, n, key, when):
    return ledger.post(Posting(r, n, EntryKind.AWARD, "attendance", key, "楼道广告清理"), None, when)


@pytest.fixture
def block(make, db):
    c = make.community()
    grid = make.grid(c)
    b1, b2 = make.building(c, "1号楼", grid=grid), make.building(c, "2号楼", grid=grid)
    h1, h2 = make.household(building=b1), make.household(building=b2)
    people = [make.resident(h1, name="甲"), make.resident(h1, name="乙"), make.resident(h2, name="丙"),
              make.resident(h2, name="丁")]
    return c, people, (h1, h2), (b1, b2)


def test_ties_share_a_rank(block, now):
    c, (a, b, cc, d), _, _ = block
    for r, n in ((a, 30), (b, 20), (cc, 20), (d, 10)):
        award(r, n, f"k{r.id}", now)
    board = rankings.leaderboard(c.id, rankings.period_keys(now)[0], "resident")
    assert [(p.rank, p.label, p.value) for p in board] == [(1, "甲", 30), (2, "乙", 20), (2, "丙", 20), (4, "丁", 10)]
    assert rankings.rank_of(c.id, "A", "resident", d.id).rank == 4


def test_households_and_buildings_add_up_their_residents(block, now):
    c, (a, b, cc, d), (h1, h2), (b1, b2) = block
    for r, n in ((a, 5), (b, 7), (cc, 20)):
        award(r, n, f"k{r.id}", now)
    assert [(p.subject_id, p.value) for p in rankings.leaderboard(c.id, "A", "household")] == [(h2.id, 20), (h1.id, 12)]
    assert [(p.label, p.value) for p in rankings.leaderboard(c.id, "A", "building")] == [("2号楼", 20), ("1号楼", 12)]
    assert rankings.leaderboard(c.id, "A", "grid")[0].value == 32


def test_spending_never_lowers_a_rank(block, now):
    c, (a, b, *_), _, _ = block
    award(a, 30, "a", now)
    award(b, 20, "b", now)
    ledger.post(Posting(a, -30, EntryKind.REDEMPTION, "redemption", "spend", "兑换"), None, now)
    assert rankings.rank_of(c.id, "A", "resident", a.id).rank == 1
    assert rankings.rank_of(c.id, "A", "resident", a.id).value == 30


def test_a_reversed_award_lowers_the_rank(block, now):
    c, (a, b, *_), _, _ = block
    wrong = award(a, 30, "a", now)
    award(b, 20, "b", now)
    ledger.reverse(None, wrong, "重复登记", now)
    assert rankings.rank_of(c.id, "A", "resident", a.id) is None  # nothing earned any more
    assert rankings.leaderboard(c.id, "A", "resident")[0].subject_id == b.id


@pytest.mark.parametrize("utc_moment, month, quarter, year", [
    # 2026-03-31 23:59 in China is 15:59 UTC: still March, Q1
    (datetime(2026, 3, 31, 15, 59, tzinfo=UTC), "M2026-03", "Q2026-1", "Y2026"),
    # one minute later it is April in China (still March 31 in UTC): Q2
    (datetime(2026, 3, 31, 16, 0, tzinfo=UTC), "M2026-04", "Q2026-2", "Y2026"),
    # New Year's Eve: 2026-12-31 16:00 UTC is already 2027 in China
    (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "M2027-01", "Q2027-1", "Y2027"),
    (datetime(2026, 12, 31, 15, 59, tzinfo=UTC), "M2026-12", "Q2026-4", "Y2026"),
])
def test_periods_follow_china_time_at_the_edges(block, utc_moment, month, quarter, year):
    c, (a, *_), _, _ = block
    award(a, 9, "edge", utc_moment)
    for period in (month, quarter, year, "A"):
        assert rankings.rank_of(c.id, period, "resident", a.id).value == 9, period
    other_month = "M2026-05" if month != "M2026-05" else "M2026-06"
    assert rankings.rank_of(c.id, other_month, "resident", a.id) is None


def test_incremental_totals_equal_a_rebuild_from_the_ledger(block, now):
    c, people, _, _ = block
    entries = [award(r, 5 + i, f"k{i}", now - timedelta(days=40 * i)) for i, r in enumerate(people * 2)]
    ledger.reverse(None, entries[3], "更正", now)
    ledger.post(Posting(people[0], -5, EntryKind.REDEMPTION, "redemption", "s", "兑换"), None, now)
    snapshot = sorted(_db.session.execute(select(EarningTotal.period, EarningTotal.subject_type, EarningTotal.subject_id,
                                                 EarningTotal.points).where(EarningTotal.community_id == c.id)).all())
    rankings.rebuild(c.id)
    again = sorted(_db.session.execute(select(EarningTotal.period, EarningTotal.subject_type, EarningTotal.subject_id,
                                              EarningTotal.points).where(EarningTotal.community_id == c.id)).all())
    assert snapshot == again and len(snapshot) > 20


def test_cover_uses_the_fewest_years_quarters_and_months():
    months = rankings.month_keys("2025-12", "2026-11")
    assert rankings.cover(months) == ["M2025-12", "Q2026-1", "Q2026-2", "Q2026-3", "M2026-10", "M2026-11"]
    assert rankings.cover(rankings.month_keys("2025-01", "2026-03")) == ["Y2025", "Q2026-1"]
    assert rankings.cover(rankings.month_keys("2026-02", "2026-03")) == ["M2026-02", "M2026-03"]


def _seed_totals(community_id, rng, subjects=400):
    """Month totals (skewed, with many ties and a few negative months, as reversals in a later month
    make), and the quarter and year totals record() would keep beside them."""
    rows = {}
    for sid in range(1, subjects + 1):
        weight = rng.choice((0, 1, 1, 2, 3, 5, 8))
        for m in range(1, 13):
            value = rng.choice((0, 5, 10, 10, 20)) * weight // 2 - (15 if rng.random() < 0.02 else 0)
            if value:
                for key in (f"M2026-{m:02d}", f"Q2026-{(m + 2) // 3}", "Y2026"):
                    rows[(key, sid)] = rows.get((key, sid), 0) + value
    # who the threshold is for: ten one-month stars each month lead every month's list, while three
    # steady volunteers, never near the top of a month, lead any range of several months
    for m in range(1, 13):
        for n in range(10):
            rows[(f"M2026-{m:02d}", 1000 + 10 * m + n)] = 100
        for n in range(3):
            rows[(f"M2026-{m:02d}", 2000 + n)] = 60 + n
    for (key, sid), value in list(rows.items()):
        if sid >= 1000:
            for other in (f"Q2026-{(int(key[6:8]) + 2) // 3}", "Y2026"):
                rows[(other, sid)] = rows.get((other, sid), 0) + value
    _db.session.add_all(EarningTotal(community_id=community_id, period=key, subject_type="resident", subject_id=sid,
                                     points=value, minutes=0, attendances=0) for (key, sid), value in rows.items())
    _db.session.flush()
    return {key_sid: v for key_sid, v in rows.items() if key_sid[0].startswith("M")}


# EVEN as shipped; 0: always the GROUP BY; 10**9: always the threshold algorithm's candidates
@pytest.mark.parametrize("even", [2, 0, 10**9])
def test_top_of_a_month_range_equals_summing_every_month(make, db, monkeypatch, even):
    """top() reads a few rows of each period; the answer must be exactly the full sum's, ranks included
    (hidden subjects left out but counted), for any range, limit and hidden set."""
    import random

    monkeypatch.setattr(rankings, "EVEN", even)
    c = make.community()
    rng = random.Random(6)
    months_total = _seed_totals(c.id, rng)
    for _ in range(60):
        first = rng.randint(1, 12)
        last = rng.randint(first, 12)
        months = [f"M2026-{m:02d}" for m in range(first, last + 1)]
        limit = rng.choice((1, 2, 5, 10, 50, 120))
        hidden = set(rng.sample(range(1, 401), rng.choice((0, 5, 60)))) | ({2001} if rng.random() < 0.3 else set())
        sums = {}
        for (key, sid), value in months_total.items():
            if key in months:
                sums[sid] = sums.get(sid, 0) + value
        everyone = sorted(((sid, v) for sid, v in sums.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
        expected = [(1 + sum(1 for _s, w in everyone if w > v), sid, v) for sid, v in everyone
                    if sid not in hidden][:limit]
        got = [(p.rank, p.subject_id, p.value) for p in rankings.top(c.id, rankings.cover(months), "resident",
                                                                        "points", limit, hidden=hidden)]
        # places and totals exactly; who: exactly, except the order among ties at the last total shown
        assert [(rank, v) for rank, _sid, v in got] == [(rank, v) for rank, _sid, v in expected], (months, limit)
        cut = expected[-1][2] if expected else 0
        assert [x for x in got if x[2] > cut] == [x for x in expected if x[2] > cut]
        assert all(sums[sid] == v and sid not in hidden for _rank, sid, v in got)


def test_custom_range_on_the_rankings_page_masks_names_and_leaves_out_the_opted_out(client, login, make, db):
    import re

    c = make.community()
    c.board_mask = "given"
    viewer = make.resident_user(community=c)
    people = [make.resident(community=c, name=n) for n in ("张小明", "李秀英", "王建国")]
    jan, feb = datetime(2026, 1, 10, 2, tzinfo=UTC), datetime(2026, 2, 10, 2, tzinfo=UTC)
    for r, n, when in ((people[0], 30, jan), (people[1], 25, jan), (people[1], 10, feb), (people[2], 20, feb),
                       (viewer.resident, 5, feb), (people[2], 99, datetime(2026, 3, 5, 2, tzinfo=UTC))):
        award(r, n, f"k{r.id}-{when.month}", when)
    people[1].hide_from_board = True  # 35 points, first: left out, but still counts
    db.session.commit()
    login(client, viewer)
    page = client.get("/rankings?period=custom&from=2026-01&to=2026-02&by=resident").get_data(as_text=True)
    table = page.split('<table class="ranking">')[1].split("</table>")[0]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]]
    mine = rankings.mask_name(viewer.resident.name, "given")
    assert cells == [["2", "张**", "30"], ["3", "王**", "20"], ["4", mine, "5"]], cells
    assert "李" not in table and "张小明" not in page  # March (99 points for 王建国) is outside the range
    # her own totals over the range, not "you have not earned anything"
    cards = re.findall(r'<p class="value">(.*?)</p>', page)
    assert cards == ["5", "5"] and "还没有获得积分" not in page, cards


def test_top_reads_on_when_reversals_pull_totals_below_what_was_seen(make, db):
    """A month below zero (an award reversed in a later month) makes a subject's seen values more than
    its total: top() must not leave out, on the strength of those values, someone who totals more."""
    c = make.community()
    months = {  # subject: (January, February)
        1: (100, -90),  # 10: its January hides its February
        2: (95, -90), 3: (95, -90), 4: (95, -90),
        5: (60, 29),  # 89: the best, never among the first rows read of either month
        6: (0, 30), 7: (0, 30), 8: (0, 30), 9: (0, 30),
    }
    for sid, values in months.items():
        for m, value in zip((1, 2), values, strict=True):
            if value:
                _db.session.add(EarningTotal(community_id=c.id, period=f"M2026-0{m}", subject_type="resident",
                                             subject_id=sid, points=value, minutes=0, attendances=0))
    _db.session.flush()
    best = rankings.top(c.id, ["M2026-01", "M2026-02"], "resident", "points", limit=1)
    assert [(p.rank, p.subject_id, p.value) for p in best] == [(1, 5, 89)]
