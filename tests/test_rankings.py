"""Leaderboards: ties, period edges in China time, spending never lowers a rank, reversals do."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pointsapp.extensions import db as _db
from pointsapp.models import EarningTotal, EntryKind
from pointsapp.services import ledger, rankings
from pointsapp.services.ledger import Posting


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
