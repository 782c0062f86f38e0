"""负向扣分 (issue 14): deductions under catalogue items never take a balance below zero (the rest is owed and
taken from the next earning), a retried form records once, the item version decides whether the points count
against earning (rankings, stars) and whether the household is vetoed (一票否决), and an upheld objection
withdraws the deduction through the ledger."""
import io
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from pointsapp.audit.models import AuditEvent
from pointsapp.catalogue.models import CatalogueItem
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db as _db
from pointsapp.deductions import services as deductions
from pointsapp.deductions.models import Deduction
from pointsapp.ledger.models import EntryKind, LedgerEntry, PointsAccount
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.queries import services as queries
from pointsapp.rankings.models import EarningTotal
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import stars
from pointsapp.volunteering.services import activities, checkin

from .concurrency import run_threads

_lineage = count(1000)


def item(make, community, admin, now, *, points=10, title="高空抛物", veto=False, counts=True, kind="deduct"):
    return make._add(CatalogueItem(
        community_id=community.id, lineage_id=next(_lineage), version=1, kind=kind, category="文明行为", title=title,
        points=points, is_veto=veto, counts_against_earning=counts, created_by_id=admin.id, created_at=now,
        claimable=False))


def earn(resident, n, key, when):
    return ledger.post(Posting(resident, n, EntryKind.AWARD, "manual", key, "好人好事"), None, when)


def account(resident):
    _db.session.expire_all()
    return _db.session.get(PointsAccount, resident.id)


def entries(resident):
    return [(e.kind, e.amount) for e in _db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.resident_id == resident.id).order_by(LedgerEntry.seq))]


def total(community, subject, sid, when):
    return _db.session.scalar(select(EarningTotal.points).where(
        EarningTotal.community_id == community.id, EarningTotal.period == period_keys(when)[0],
        EarningTotal.subject_type == subject, EarningTotal.subject_id == sid))


def assert_owed_agrees(community):
    """The invariant of what is owed: every resident's PointsAccount.owed is the sum of what the standing
    deductions she carries (Deduction.owed_by) still owe, no more and no less."""
    _db.session.expire_all()
    carried = dict(_db.session.execute(select(PointsAccount.resident_id, PointsAccount.owed).where(
        PointsAccount.community_id == community.id)).all())
    owing = dict(_db.session.execute(select(Deduction.owed_by_id, func.sum(Deduction.owed)).where(
        Deduction.community_id == community.id, Deduction.withdrawn_at.is_(None))
        .group_by(Deduction.owed_by_id)).all())
    assert None not in owing, "a deduction that owes names no account"
    for rid in carried.keys() | owing.keys():
        assert carried.get(rid, 0) == int(owing.get(rid) or 0), (rid, carried, owing)


@pytest.fixture
def place(make, db, now):
    """A community with its office, a grid and building, and a resident (户主) with 3 points."""
    c = make.community()
    admin = make.admin(c)
    b = make.building(c, "3号楼", grid=make.grid(c))
    home = make.household(building=b, unit="1", room="301")
    her = make.resident_user(household=home)
    earn(her.resident, 3, "seed", now - timedelta(days=1))
    return c, admin, home, her, item(make, c, admin, now)


def deduct(admin, it, now, key="k1", **whom):
    return deductions.record_deduction(admin, it, occurred_at=now - timedelta(hours=1), reason="从3楼扔下花盆",
                                       evidence=None, request_key=key, now=now, **whom)


# ---- never negative; what is owed is taken from the next earning ------------------------------------

def test_a_deduction_takes_what_the_balance_has_and_the_rest_is_owed_then_collected_from_the_next_earning(
        place, now):
    c, admin, _home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    assert (d.points, d.taken, d.owed) == (10, 3, 7)
    assert entries(her.resident)[-1] == ("deduction", -3)
    assert (account(her.resident).balance, account(her.resident).owed) == (0, 7)

    earning = earn(her.resident, 5, "next", now + timedelta(hours=1))
    assert entries(her.resident)[-2:] == [("award", 5), ("deduction", -5)]
    collected = _db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == f"owed:{earning.id}"))
    assert collected.source_id == str(d.id)
    assert (account(her.resident).balance, account(her.resident).owed) == (0, 2)
    assert (_db.session.get(Deduction, d.id).taken, _db.session.get(Deduction, d.id).owed) == (8, 2)
    earn(her.resident, 6, "more", now + timedelta(hours=2))
    assert (account(her.resident).balance, account(her.resident).owed) == (4, 0)
    assert _db.session.get(Deduction, d.id).owed == 0
    assert _db.session.scalar(select(func.min(LedgerEntry.balance_after))) >= 0
    assert_owed_agrees(c)


def test_a_check_in_after_a_deduction_pays_what_is_owed(place, make, now):
    c, admin, _home, her, it = place
    deduct(admin, it, now, resident=her.resident)
    lead = make.team_lead(c)
    activity = activities.create_activity(lead, lead.grants[0].team, activities.ActivityFields(
        title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="check_in"), now - timedelta(days=1))
    checkin.check_in(her, her.resident, activity, now)
    assert entries(her.resident)[-2:] == [("award", 10), ("deduction", -7)]
    assert (account(her.resident).balance, account(her.resident).owed) == (3, 0)
    assert_owed_agrees(c)


def test_a_redemption_or_a_voided_receipt_never_pays_what_is_owed(place, make, now):
    c, admin, _home, her, _it = place
    earn(her.resident, 20, "rich", now)
    spend = ledger.post(Posting(her.resident, -10, EntryKind.REDEMPTION, "redemption", "spend", "兑换单 1"), None, now)
    deduct(admin, item(make, c, admin, now, points=30), now, resident=her.resident)  # takes 13 of 30
    assert (account(her.resident).balance, account(her.resident).owed) == (0, 17)
    ledger.reverse(admin, _db.session.get(LedgerEntry, spend.id), "作废兑换单 1：退货", now)  # +10, not earning
    assert (account(her.resident).balance, account(her.resident).owed) == (10, 17)
    ledger.post(Posting(her.resident, -5, EntryKind.REDEMPTION, "redemption", "spend-2", "兑换单 2"), None, now)
    assert (account(her.resident).balance, account(her.resident).owed) == (5, 17)
    assert _db.session.scalar(select(func.min(LedgerEntry.balance_after))) >= 0
    assert_owed_agrees(c)


def test_a_household_deduction_takes_from_the_head_first_then_the_others_and_the_head_owes_the_rest(
        place, make, now):
    c, admin, home, her, _it = place
    son = make.resident(home, name="儿子")
    son.relation = "子"
    earn(son, 4, "son", now)
    big = item(make, c, admin, now, points=12, title="乱堆乱放")
    d = deduct(admin, big, now, household=home)
    assert d.resident_id is None and (d.taken, d.owed) == (7, 5)
    assert entries(her.resident)[-1] == ("deduction", -3) and entries(son)[-1] == ("deduction", -4)
    keys = set(_db.session.scalars(select(LedgerEntry.idempotency_key).where(LedgerEntry.kind == "deduction")))
    assert keys == {f"deduction:{d.id}:{her.resident_id}", f"deduction:{d.id}:{son.id}"}
    assert (account(her.resident).owed, account(son).owed) == (5, 0)
    assert _db.session.get(Deduction, d.id).owed_by_id == her.resident_id
    assert_owed_agrees(c)


# ---- one account carries what is owed ------------------------------------------------------------

def _family(make, place, now):
    """A household of two with no points: the head (户主) and his wife, each her own account."""
    c, admin, home, her, _it = place
    flat = make.household(building=home.building, unit="1", room="808")
    head = make.resident(flat, name="老王")
    wife = make.resident(flat, name="王妻")
    wife.relation = "配偶"
    _db.session.flush()
    d_item = item(make, c, admin, now, points=20, title="乱堆乱放")
    household = deduct(admin, d_item, now, key="h1", household=flat)
    own = deduct(admin, d_item, now, key="w1", resident=wife)
    return c, admin, head, wife, household, own


def test_each_deduction_names_the_account_that_owes_its_rest(place, make, now):
    c, _admin, head, wife, household, own = _family(make, place, now)
    assert (household.owed_by_id, own.owed_by_id) == (head.id, wife.id)
    assert (household.owed, own.owed) == (20, 20)
    assert (account(head).owed, account(wife).owed) == (20, 20)
    assert_owed_agrees(c)


def test_her_earning_pays_her_own_deduction_not_the_households_the_head_owes(place, make, now):
    c, _admin, head, wife, household, own = _family(make, place, now)
    earn(wife, 5, "wife-earns", now + timedelta(minutes=1))  # the household's deduction is older: not hers
    assert (_db.session.get(Deduction, own.id).taken, _db.session.get(Deduction, own.id).owed) == (5, 15)
    assert (_db.session.get(Deduction, household.id).taken, _db.session.get(Deduction, household.id).owed) == (0, 20)
    assert (account(wife).balance, account(wife).owed) == (0, 15)
    assert account(head).owed == 20
    assert_owed_agrees(c)


def test_withdrawing_a_household_deduction_after_the_head_moved_out_clears_only_his_account(place, make, now):
    c, admin, head, wife, household, own = _family(make, place, now)
    head.moved_out_on = (now - timedelta(days=1)).date()  # the wife is the household's first payer now
    _db.session.flush()
    deductions.withdraw_deduction(admin, household, "异议成立", now + timedelta(minutes=5))
    assert (account(head).owed, account(wife).owed) == (0, 20)
    assert _db.session.get(Deduction, own.id).owed == 20
    assert_owed_agrees(c)
    earn(wife, 15, "wife-earns", now + timedelta(minutes=6))
    assert (_db.session.get(Deduction, own.id).taken, _db.session.get(Deduction, own.id).owed) == (15, 5)
    assert (account(wife).balance, account(wife).owed) == (0, 5)
    assert_owed_agrees(c)


def test_the_household_deduction_stays_on_the_heads_account_after_he_moves_out(place, make, now):
    c, _admin, head, wife, household, own = _family(make, place, now)
    head.moved_out_on = (now - timedelta(days=1)).date()  # the wife is the household's first payer now
    _db.session.flush()
    earn(wife, 30, "wife-earns", now + timedelta(minutes=2))
    assert (_db.session.get(Deduction, own.id).owed, _db.session.get(Deduction, household.id).owed) == (0, 20)
    assert (account(wife).balance, account(wife).owed) == (10, 0)
    assert account(head).owed == 20
    assert_owed_agrees(c)


# ---- a retried form records once -------------------------------------------------------------------

def test_the_same_request_key_twice_records_one_deduction(place, now):
    c, admin, _home, her, it = place
    first = deduct(admin, it, now, resident=her.resident, key="form-1")
    again = deduct(admin, it, now, resident=her.resident, key="form-1")
    assert again.id == first.id
    assert _db.session.scalar(select(func.count()).select_from(Deduction)) == 1
    assert account(her.resident).owed == 7
    assert _db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "deduction_recorded")) == 1


def test_ten_submissions_of_one_form_at_once_record_one_deduction(app, backend, place, now):
    if backend != "postgresql":
        pytest.skip("SQLite serialises every writing unit of work")
    c, admin, _home, her, it = place
    _db.session.commit()
    admin_id, resident_id, item_id = admin.id, her.resident_id, it.id

    def submit():
        from pointsapp.accounts.models import User
        from pointsapp.tree.models import Resident
        d = deduct(_db.session.get(User, admin_id), _db.session.get(CatalogueItem, item_id), now,
                   resident=_db.session.get(Resident, resident_id), key="twin")
        return d.id

    results = run_threads(app, *[submit] * 10, together=True)
    ids = {value for outcome, value in results if outcome == "ok"}
    assert len(ids) == 1, results
    assert all(outcome in ("ok", "busy") for outcome, _v in results), results
    assert _db.session.scalar(select(func.count()).select_from(Deduction)) == 1
    assert (account(her.resident).balance, account(her.resident).owed) == (0, 7)


# ---- rankings and stars, as the item version says ----------------------------------------------------

def test_a_deduction_counts_against_earning_totals_and_a_withdrawal_gives_it_back(place, make, now):
    c, admin, home, her, it = place
    earn(her.resident, 20, "month", now)
    before = {s: total(c, s, sid, now) for s, sid in (("resident", her.resident_id), ("household", home.id),
                                                      ("building", home.building_id))}
    d = deduct(admin, it, now, resident=her.resident)
    assert {s: total(c, s, sid, now) for s, sid in (("resident", her.resident_id), ("household", home.id),
                                                     ("building", home.building_id))} == \
        {s: v - 10 for s, v in before.items()}
    deductions.withdraw_deduction(admin, d, "核实有误", now)
    assert total(c, "resident", her.resident_id, now) == before["resident"]
    assert total(c, "household", home.id, now) == before["household"]


def test_a_rebuild_of_the_totals_keeps_the_deductions_that_stand(place, make, now):
    from pointsapp.rankings import services as rankings
    c, admin, home, her, it = place
    earn(her.resident, 20, "month", now)
    deduct(admin, it, now, resident=her.resident)
    withdrawn = deduct(admin, it, now, resident=her.resident, key="second")
    deductions.withdraw_deduction(admin, withdrawn, "核实有误", now)
    before = total(c, "household", home.id, now)
    rankings.rebuild(c.id)
    assert total(c, "household", home.id, now) == before == 23 - 10


def test_a_rebuild_after_withdrawing_a_household_deduction_whose_head_moved_out_agrees_with_the_live_totals(
        place, make, now):
    from pointsapp.rankings import services as rankings
    c, admin, head, wife, household, own = _family(make, place, now)
    earn(head, 30, "head-earns", now - timedelta(hours=2))
    earn(wife, 12, "wife-earns", now - timedelta(hours=2))
    standing = deduct(admin, item(make, c, admin, now, points=6, title="楼道堆物"), now, key="h2",
                      household=household.household)
    head.moved_out_on = (now - timedelta(days=1)).date()
    _db.session.flush()
    deductions.withdraw_deduction(admin, household, "异议成立", now + timedelta(minutes=5))
    assert standing.withdrawn_at is None

    def totals():
        _db.session.expire_all()
        return sorted(_db.session.execute(select(
            EarningTotal.period, EarningTotal.subject_type, EarningTotal.subject_id, EarningTotal.points).where(
            EarningTotal.community_id == c.id, EarningTotal.points != 0)).all())

    live = totals()
    # the household earned 42; the withdrawn 20 no longer counts against it, her own 20 and the 6 still do
    assert (period_keys(now)[0], "household", household.household_id, 42 - 20 - 6) in live
    rankings.rebuild(c.id)
    assert totals() == live
    assert_owed_agrees(c)


def test_the_evaluation_page_shows_the_veto_of_a_deduction(app, place, make, db, login, now):
    c, admin, home, her, _it = place
    earn(her.resident, 50, "year", now)
    evaluation = _evaluation(admin, c, now)
    deduct(admin, item(make, c, admin, now, veto=True, title="违章搭建"), now, resident=her.resident)
    db.session.commit()
    page = login(app.test_client(), admin).get(f"/admin/c/{c.id}/stars/{evaluation.id}").get_data(as_text=True)
    assert "扣分项：违章搭建（2026-11-25）" in page


def test_an_item_that_does_not_count_against_earning_leaves_the_totals_alone(place, make, now):
    c, admin, home, her, _it = place
    mild = item(make, c, admin, now, counts=False, title="未按时缴费")
    before = total(c, "household", home.id, now)
    deduct(admin, mild, now, resident=her.resident)
    assert total(c, "household", home.id, now) == before


def test_a_household_deduction_lowers_the_household_building_and_grid_but_no_resident(place, make, now):
    c, admin, home, her, it = place
    before = total(c, "resident", her.resident_id, now)
    deduct(admin, it, now, household=home)
    assert total(c, "resident", her.resident_id, now) == before
    assert total(c, "household", home.id, now) == 3 - 10
    grid_id = home.building.grid_id
    assert total(c, "grid", grid_id, now) == 3 - 10


def _evaluation(admin, c, now, period=None):
    rules = stars.create_rule_set(admin, c, f"星级{period}", [5, 10, 20, 40, 80], 0, now)
    return stars.create_evaluation(admin, c, rules, "2026年度星级文明户", period or period_keys(now)[2], 7, now)


def test_a_deduction_lowers_the_households_points_in_a_star_evaluation(place, make, now):
    c, admin, home, her, it = place
    earn(her.resident, 20, "year", now)
    evaluation = _evaluation(admin, c, now)
    assert next(r for r in stars.compute(evaluation) if r.household_id == home.id).points == 23
    deduct(admin, it, now, resident=her.resident)
    assert next(r for r in stars.compute(evaluation) if r.household_id == home.id).points == 13


def test_a_veto_item_vetoes_the_household_in_the_period_with_a_note(place, make, now):
    c, admin, home, her, _it = place
    earn(her.resident, 50, "year", now)
    veto = item(make, c, admin, now, veto=True, title="违章搭建")
    evaluation = _evaluation(admin, c, now)
    deduct(admin, veto, now, resident=her.resident)
    rating = next(r for r in stars.compute(evaluation) if r.household_id == home.id)
    assert (rating.stars, rating.vetoed) == (0, True)
    assert rating.note == "扣分项：违章搭建（2026-11-25）"


def test_a_veto_outside_the_period_or_withdrawn_does_not_veto(place, make, now):
    c, admin, home, her, _it = place
    earn(her.resident, 50, "year", now)
    veto = item(make, c, admin, now, veto=True, title="违章搭建")
    october = _evaluation(admin, c, now, "M2026-10")
    d = deduct(admin, veto, now, resident=her.resident)
    assert not next(r for r in stars.compute(october) if r.household_id == home.id).vetoed
    year = _evaluation(admin, c, now, "Y2026")
    assert next(r for r in stars.compute(year) if r.household_id == home.id).vetoed
    deductions.withdraw_deduction(admin, d, "异议成立", now)
    assert not next(r for r in stars.compute(year) if r.household_id == home.id).vetoed


def test_a_veto_recorded_during_the_notice_shows_in_the_stored_results(place, make, now):
    c, admin, home, her, _it = place
    earn(her.resident, 50, "year", now)
    evaluation = _evaluation(admin, c, now)
    stars.start_notice(admin, evaluation, now)
    deduct(admin, item(make, c, admin, now, veto=True, title="违章搭建"), now, resident=her.resident)
    row = next(r for r in stars.results(evaluation) if r.household_id == home.id)
    assert row.vetoed and "违章搭建" in row.note


# ---- an objection upheld -------------------------------------------------------------------------

def test_an_objection_through_a_query_withdraws_the_deduction(place, make, now):
    c, admin, home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    earn(her.resident, 5, "later", now)  # pays 5 of the 7 owed
    query = queries.raise_query(her, "我家没有扔花盆", now, deduction_id=d.id)
    assert query.kind == "deduction" and queries.office_queue(admin, c) == [query]
    queries.answer_with_withdrawal(admin, query, "经核实，撤销扣分。", now)
    d = _db.session.get(Deduction, d.id)
    assert d.withdrawn_at is not None and d.owed == 0
    reversed_keys = set(_db.session.scalars(select(LedgerEntry.idempotency_key).where(
        LedgerEntry.kind == "reversal")))
    assert len(reversed_keys) == 2 and all(k.startswith("withdraw:") for k in reversed_keys)
    assert (account(her.resident).balance, account(her.resident).owed) == (8, 0)  # 3 + 5, nothing owed
    assert_owed_agrees(c)
    assert total(c, "resident", her.resident_id, now) == 3 + 5
    with pytest.raises(Conflict):
        deductions.withdraw_deduction(admin, d, "再撤一次", now)
    assert _db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "deduction_withdrawn")) == 1


# ---- a deduction's entries are undone by withdrawing it, never by reversing one -----------------------

def test_the_office_cannot_reverse_a_deductions_entry_and_withdraws_the_deduction_instead(place, now):
    c, admin, _home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)  # takes 3, owes 7
    earn(her.resident, 5, "later", now + timedelta(minutes=1))  # pays 5 of the 7
    taken = _db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "deduction")
                                .order_by(LedgerEntry.id)).all()
    assert [e.amount for e in taken] == [-3, -5] and {e.source_type for e in taken} == {"deduction"}
    for entry in taken:  # the one it took when recorded, and the one collected later
        with pytest.raises(Conflict) as refused:
            ledger.reverse_by_admin(admin, entry.id, c.id, "居民疑问成立", now + timedelta(minutes=2))
        assert refused.value.code == "withdraw_deduction_instead"
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "reversal")) == 0
    assert (account(her.resident).balance, account(her.resident).owed) == (0, 2)
    deductions.withdraw_deduction(admin, d, "异议成立", now + timedelta(minutes=3))
    assert (account(her.resident).balance, account(her.resident).owed) == (8, 0)
    assert total(c, "resident", her.resident_id, now) == 3 + 5
    assert_owed_agrees(c)


def test_a_query_about_a_deductions_entry_is_answered_by_withdrawing_the_deduction(place, now):
    c, admin, _home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    entry = _db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "deduction"))
    query = queries.raise_query(her, "这笔扣分不对", now, entry_id=entry.id)
    assert query.kind == "entry" and queries.queried_deduction(query) == d
    with pytest.raises(Conflict) as refused:
        queries.answer_with_reversal(admin, query, "已冲正", now)
    assert refused.value.code == "withdraw_deduction_instead" and query.status == "open"
    queries.answer_with_withdrawal(admin, query, "经核实，撤销扣分。", now)
    d = _db.session.get(Deduction, d.id)
    assert d.withdrawn_at is not None and query.status == "answered"
    assert (account(her.resident).balance, account(her.resident).owed) == (3, 0)
    assert_owed_agrees(c)


def test_only_the_resident_or_her_household_may_object(place, make, now):
    c, admin, home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    neighbour = make.resident_user(c)
    with pytest.raises(NotFound):
        queries.raise_query(neighbour, "不是我", now, deduction_id=d.id)
    whole = deduct(admin, it, now, household=home, key="household")
    housemate = make.resident_user(household=home)
    assert queries.raise_query(housemate, "我们家没有", now, deduction_id=whole.id).deduction_id == whole.id
    with pytest.raises(NotFound):
        queries.raise_query(housemate, "不是我", now, deduction_id=d.id)


# ---- who may, and what is refused ------------------------------------------------------------------

def test_only_the_office_of_the_community_records_or_withdraws(place, make, now):
    c, admin, home, her, it = place
    for who in (her, make.team_lead(c), make.admin(make.community())):
        with pytest.raises(PermissionDenied):
            deduct(who, it, now, resident=her.resident, key=f"x{who.id}")
    d = deduct(admin, it, now, resident=her.resident)
    for who in (her, make.team_lead(c), make.admin(make.community())):
        with pytest.raises(PermissionDenied):
            deductions.withdraw_deduction(who, d, "x", now)


def test_an_earning_item_another_communitys_item_or_a_superseded_version_is_refused(place, make, now):
    c, admin, home, her, _it = place
    for wrong in (item(make, c, admin, now, kind="earn"), item(make, make.community(), admin, now)):
        with pytest.raises(NotFound):
            deduct(admin, wrong, now, resident=her.resident, key=f"w{wrong.id}")
    old = item(make, c, admin, now)
    old.superseded_at = now
    with pytest.raises(NotFound):
        deduct(admin, old, now, resident=her.resident, key="old")


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_missing_or_overlong_reason_is_refused(place, now, reason):
    c, admin, home, her, it = place
    with pytest.raises(InvalidInput):
        deductions.record_deduction(admin, it, resident=her.resident, occurred_at=now, reason=reason, evidence=None,
                                    request_key="r", now=now)


def test_a_photo_is_kept_without_its_metadata_and_a_non_photo_is_refused(place, now):
    from PIL import Image
    c, admin, home, her, it = place
    raw = io.BytesIO()
    Image.new("RGB", (3000, 2000), "red").save(raw, "JPEG")
    d = deductions.record_deduction(admin, it, resident=her.resident, occurred_at=now, reason="照片",
                                    evidence=raw.getvalue(), request_key="p", now=now)
    assert max(Image.open(io.BytesIO(d.evidence)).size) == 1280
    with pytest.raises(InvalidInput):
        deductions.record_deduction(admin, it, resident=her.resident, occurred_at=now, reason="照片",
                                    evidence=b"%PDF-1.4", request_key="q", now=now)


# ---- the pages -----------------------------------------------------------------------------------

def _web(place, db):
    c, admin, home, her, it = place
    db.session.commit()
    return c, admin, home, her, it


def test_the_office_records_a_deduction_on_its_page_once_even_when_the_form_is_sent_twice(app, place, db, login,
                                                                                         now):
    c, admin, home, her, it = _web(place, db)
    client = login(app.test_client(), admin)
    page = client.get(f"/admin/c/{c.id}/deductions?q={her.resident.name}").get_data(as_text=True)
    assert "高空抛物" in page and her.resident.name in page and "记录扣分" in page
    form = {"request_id": "r-web-1", "item": str(it.id), "whom": "resident", "resident_id": str(her.resident_id),
            "occurred_at": "2026-11-25T09:00", "reason": "从3楼扔下花盆"}
    assert client.post(f"/admin/c/{c.id}/deductions", data=form).status_code == 302
    assert client.post(f"/admin/c/{c.id}/deductions", data=form).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Deduction)) == 1
    page = client.get(f"/admin/c/{c.id}/deductions").get_data(as_text=True)
    assert "从3楼扔下花盆" in page and "撤销" in page


def test_the_office_records_against_a_household_typed_with_full_width_digits(app, place, db, login, now):
    c, admin, home, her, it = _web(place, db)
    client = login(app.test_client(), admin)
    done = client.post(f"/admin/c/{c.id}/deductions", data={
        "request_id": "r-web-2", "item": str(it.id), "whom": "household", "building": str(home.building_id),
        "unit": "１", "room": "３０１", "occurred_at": "2026-11-25T09:00", "reason": "乱堆乱放"})
    assert done.status_code == 302
    d = db.session.scalar(select(Deduction))
    assert (d.household_id, d.resident_id) == (home.id, None)


@pytest.mark.parametrize("field,value", [
    ("reason", "x" * 10_000), ("reason", ""), ("item", str(10**20)), ("item", "=cmd|' /C calc'!A0"),
    ("resident_id", "１２３４５６７８９０１２"), ("occurred_at", "昨天"), ("whom", "household"),
    ("request_id", "k" * 500)])
def test_hostile_input_on_the_office_form_gets_a_message_not_a_500(app, place, db, login, field, value):
    c, admin, home, her, it = _web(place, db)
    client = login(app.test_client(), admin)
    form = {"request_id": "r-hostile", "item": str(it.id), "whom": "resident", "resident_id": str(her.resident_id),
            "occurred_at": "2026-11-25T09:00", "reason": "扔花盆", field: value}
    answer = client.post(f"/admin/c/{c.id}/deductions", data=form)
    assert answer.status_code == 422
    assert 'class="error"' in answer.get_data(as_text=True) or 'class="flash error"' in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Deduction)) == 0


def test_a_bad_photo_on_the_office_form_gets_a_message(app, place, db, login):
    c, admin, home, her, it = _web(place, db)
    client = login(app.test_client(), admin)
    answer = client.post(f"/admin/c/{c.id}/deductions", content_type="multipart/form-data", data={
        "request_id": "r-photo", "item": str(it.id), "whom": "resident", "resident_id": str(her.resident_id),
        "occurred_at": "2026-11-25T09:00", "reason": "扔花盆", "photo": (io.BytesIO(b"%PDF-1.4"), "x.pdf")})
    assert answer.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Deduction)) == 0


def test_she_is_told_objects_through_a_query_and_the_office_withdraws_it_from_the_answer_page(
        app, place, db, login, now):
    c, admin, home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    db.session.commit()
    resident = login(app.test_client(), her)
    home_page = resident.get("/").get_data(as_text=True)
    assert "高空抛物" in home_page and "有异议？" in home_page and "待扣 7 分" in home_page
    history = resident.get("/me/points").get_data(as_text=True)
    assert "待扣 7 分" in history and "负向扣分" in history and "从3楼扔下花盆" in history
    assert "高空抛物" in resident.get(f"/me/queries/new?deduction={d.id}").get_data(as_text=True)
    assert resident.post("/me/queries/new", data={"deduction": str(d.id), "text": "我家没有扔花盆"}).status_code == 302
    query = db.session.scalar(select(queries.PointsQuery))
    assert query.deduction_id == d.id
    office = login(app.test_client(), admin)
    page = office.get(f"/admin/c/{c.id}/queries/{query.id}").get_data(as_text=True)
    assert "撤销扣分" in page
    done = office.post(f"/admin/c/{c.id}/queries/{query.id}", data={"action": "withdraw", "reply": "经核实，撤销扣分。"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(Deduction, d.id).withdrawn_at is not None
    assert (account(her.resident).balance, account(her.resident).owed) == (3, 0)
    assert "已撤销" in resident.get("/").get_data(as_text=True)


def test_the_office_withdraws_from_its_page_with_a_reason(app, place, db, login, now):
    c, admin, home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    db.session.commit()
    office = login(app.test_client(), admin)
    url = f"/admin/c/{c.id}/deductions/{d.id}/withdraw"
    office.post(url, data={"reason": ""})
    db.session.expire_all()
    assert db.session.get(Deduction, d.id).withdrawn_at is None
    assert office.post(url, data={"reason": "核实有误"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Deduction, d.id).withdrawn_at is not None
    assert office.get(f"/admin/c/{c.id}/deductions/{10**20}/photo.jpg").status_code == 404


def test_another_communitys_office_cannot_see_or_withdraw(app, place, make, db, login, now):
    c, admin, home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    stranger = make.admin(make.community())
    db.session.commit()
    client = login(app.test_client(), stranger)
    assert client.get(f"/admin/c/{c.id}/deductions").status_code == 403
    assert client.post(f"/admin/c/{c.id}/deductions/{d.id}/withdraw", data={"reason": "x"}).status_code == 403


def test_the_ledger_page_offers_no_reversal_of_a_deductions_entry_but_points_to_the_deductions_page(
        app, place, db, login, now):
    c, admin, home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "deduction"))
    seed = db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == "seed"))
    db.session.commit()
    office = login(app.test_client(), admin)
    page = office.get(f"/admin/c/{c.id}/residents/{her.resident_id}/points").get_data(as_text=True)
    assert f"/entries/{seed.id}/reverse" in page  # an ordinary entry keeps its correction form
    assert f"/entries/{entry.id}/reverse" not in page
    assert f"/admin/c/{c.id}/deductions#deduction-{d.id}" in page
    assert f'id="deduction-{d.id}"' in office.get(f"/admin/c/{c.id}/deductions").get_data(as_text=True)
    office.post(f"/admin/c/{c.id}/entries/{entry.id}/reverse", data={"reason": "疑问成立"})  # a stale page
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "reversal")) == 0
    told = office.get(f"/admin/c/{c.id}/residents/{her.resident_id}/points").get_data(as_text=True)
    assert "请到“扣分”页面撤销该扣分" in told  # the refusal, in her language


def test_the_answer_page_for_a_query_about_a_deductions_entry_offers_the_withdrawal_not_a_reversal(
        app, place, db, login, now):
    c, admin, home, her, it = place
    d = deduct(admin, it, now, resident=her.resident)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "deduction"))
    query = queries.raise_query(her, "这笔扣分不对", now, entry_id=entry.id)
    db.session.commit()
    office = login(app.test_client(), admin)
    url = f"/admin/c/{c.id}/queries/{query.id}"
    page = office.get(url).get_data(as_text=True)
    assert 'value="withdraw"' in page and 'value="reverse"' not in page
    office.post(url, data={"action": "reverse", "reply": "已冲正"})  # not offered: nothing is reversed
    db.session.expire_all()
    assert db.session.get(queries.PointsQuery, query.id).status == "open"
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "reversal")) == 0
    assert office.post(url, data={"action": "withdraw", "reply": "经核实，撤销扣分。"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Deduction, d.id).withdrawn_at is not None
    assert (account(her.resident).balance, account(her.resident).owed) == (3, 0)
    assert_owed_agrees(c)


def test_the_same_form_sent_again_for_another_resident_is_refused_not_answered_with_the_first(place, make, now):
    """The office changed the resident (or the address) and sent the form again without reloading it."""
    c, admin, home, her, it = place
    first = deduct(admin, it, now, resident=her.resident, key="form-1")
    neighbour = make.resident(make.household(building=home.building, unit="1", room="302"))
    with pytest.raises(Conflict) as refused:
        deduct(admin, it, now, resident=neighbour, key="form-1")
    assert refused.value.code == "form_reused"
    with pytest.raises(Conflict):
        deduct(admin, it, now, household=home, key="form-1")
    assert deduct(admin, it, now, resident=her.resident, key="form-1").id == first.id
    assert _db.session.scalar(select(func.count()).select_from(Deduction)) == 1
