"""Races between real requests: real threads, each with its own app context, session and connection,
and real commits. Each race is forced into the interleaving that breaks it (a lock held by a third
connection, or a thread paused at a chosen statement until the other one is waiting for a lock), so the
test fails every time the hole is open, not only on an unlucky day.

The races need PostgreSQL's row locks: on SQLite a writing unit of work holds the database's one write
lock from BEGIN IMMEDIATE, so they cannot happen there (those tests skip). The tests of the "busy"
answer run on both databases where they can.
"""
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import has_request_context
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from pointsapp.core import sqlite as sqlite_setup
from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import LedgerEntry, PointsAccount
from pointsapp.ledger.services import posting as ledger
from pointsapp.rankings import services as rankings
from pointsapp.rankings.models import EarningTotal
from pointsapp.volunteering.models import Activity, Attendance
from pointsapp.volunteering.services import activities, checkin

from .concurrency import run_threads

WAIT = 5.0  # seconds a paused thread waits at most for the other side


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("a row-lock race: on SQLite every writing unit of work holds the one write lock "
                    "(BEGIN IMMEDIATE), so these interleavings cannot happen there")


# ---- helpers -------------------------------------------------------------------------------------

def lock_waiters(app) -> int:
    """Backends of this database waiting for a lock right now (asked on a connection of its own)."""
    with app.app_context(), _db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar()


def until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Holder:
    """A third connection holding row locks until released: `with Holder(app, sql, params): …`."""

    def __init__(self, app, sql: str, params: dict | None = None):
        self.app, self.sql, self.params = app, sql, params or {}
        self.held, self.release = threading.Event(), threading.Event()

    def _run(self):
        with self.app.app_context(), _db.engine.connect() as conn:
            conn.execute(text(self.sql), self.params)
            self.held.set()
            self.release.wait(30)
            conn.rollback()

    def __enter__(self):
        _db.session.rollback()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        assert self.held.wait(10)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(30)


def pause_after_first(app, thread_name: str, matches: Callable[[str], bool], resume: Callable[[], bool]):
    """In the thread called `thread_name`, stop right after the first statement that `matches`, until
    `resume()` holds (or WAIT passes). Returns (installed listener, event set once it has paused)."""
    paused = threading.Event()

    def after(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread().name == thread_name and not paused.is_set() and matches(statement):
            paused.set()
            until(resume)

    with app.app_context():
        event.listen(_db.engine, "after_cursor_execute", after)
    return after, paused


def named(name: str, work: Callable[[], object]) -> Callable[[], object]:
    def run():
        threading.current_thread().name = name
        return work()
    return run


@pytest.fixture
def place(make, db, now):
    """One community: a grid with two buildings (two households in the second), a team with its lead,
    an admin, and an activity awarded after the lead's approval."""
    community = make.community()
    grid = make.grid(community)
    b1, b2 = make.building(community, grid=grid), make.building(community, grid=grid)
    team = make.team(community)
    lead = make.user(name="队长")
    make.grant(lead, "team_lead", community, team=team)
    admin = make.admin(community)

    def new_activity(**overrides):
        fields = dict(title="敲门行动", kind="楼道广告清理", place="1号楼", starts_at=now - timedelta(hours=2),
                      ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="approval")
        fields.update(overrides)
        return activities.create_activity(lead, team, activities.ActivityFields(**fields), now)

    return dict(community=community, b1=b1, b2=b2, lead=lead, admin=admin, team=team, new_activity=new_activity)


def attend(place, activity, resident, now):
    """A pending attendance (the activity awards after the lead's approval), scanned by the lead."""
    return checkin.check_in(place["lead"], resident, activity, now - timedelta(hours=1), method="lead_scan").attendance


def outcome(result):
    """A worker's value when it succeeded, else its error code."""
    return result[1] if result[0] == "ok" else result[0]


def ids(*rows):
    return [r.id for r in rows]


# ---- a. the lead's batch approval against single awards -------------------------------------------

def test_batch_approval_while_one_of_its_residents_gets_an_award_does_not_deadlock(app, postgres_only, place,
                                                                                    make, now):
    """The batch posted resident by resident, taking each account only when it got to it; a single
    award holding the second account then waited for the earning totals the batch had moved for the
    first, while the batch waited for that account: a deadlock, a 500."""
    act = place["new_activity"]()
    r1 = make.resident(make.household(building=place["b1"]))
    r2 = make.resident(make.household(building=place["b1"]))
    a1, a2 = attend(place, act, r1, now), attend(place, act, r2, now)
    _db.session.commit()
    lead_id, admin_id, act_id, r2_id, att = place["lead"].id, place["admin"].id, act.id, r2.id, ids(a1, a2)
    single_holds = threading.Event()

    def batch():
        assert single_holds.wait(WAIT)
        lead, act = _db.session.get(type(place["lead"]), lead_id), _db.session.get(Activity, act_id)
        return checkin.approve(lead, act, att, now)

    def single():
        from pointsapp.tree.models import Resident
        resident = _db.session.get(Resident, r2_id)
        ledger.lock_account(resident)  # as any posting to r2 in flight does
        single_holds.set()
        until(lambda: lock_waiters(app) >= 1)  # the batch is now waiting for something
        admin = _db.session.get(type(place["admin"]), admin_id)
        return ledger.manual(admin, resident, 5, "好人好事", "manual:single", now).id

    results = run_threads(app, batch, single)
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert ledger.balance_of(r2_id) == 15


def test_batch_approval_while_a_neighbour_outside_it_gets_an_award_does_not_deadlock(app, postgres_only, place,
                                                                                     make, now):
    """Earning totals are shared (building, grid, team). The batch had moved the first resident's totals
    (building 1, the grid) and was about to move the second's (building 2); an award to a neighbour in
    building 2 had taken building 2's total and waited for the grid's: a deadlock, even with every
    account of the batch locked up front. A batch takes all its totals in the same order first."""
    act = place["new_activity"]()
    first = make.resident(make.household(building=place["b1"]))
    second = make.resident(make.household(building=place["b2"]))
    neighbour = make.resident(make.household(building=place["b2"]))
    a1, a2 = attend(place, act, first, now), attend(place, act, second, now)
    _db.session.commit()
    lead_id, admin_id, act_id, n_id, att = place["lead"].id, place["admin"].id, act.id, neighbour.id, ids(a1, a2)

    # pause the batch once the first resident's totals have been moved, until the neighbour waits
    original, moved = rankings.record, threading.Event()

    def record(resident, moment, earning):
        original(resident, moment, earning)
        if threading.current_thread().name == "batch" and not moved.is_set():
            moved.set()
            until(lambda: lock_waiters(app) >= 1)

    def batch():
        threading.current_thread().name = "batch"
        lead, act = _db.session.get(type(place["lead"]), lead_id), _db.session.get(Activity, act_id)
        return checkin.approve(lead, act, att, now)

    def award():
        from pointsapp.tree.models import Resident
        assert moved.wait(WAIT)
        admin = _db.session.get(type(place["admin"]), admin_id)
        return ledger.manual(admin, _db.session.get(Resident, n_id), 5, "好人好事", "manual:neighbour", now).id

    rankings.record = record
    try:
        results = run_threads(app, batch, award)
    finally:
        rankings.record = original
    assert [r[0] for r in results] == ["ok", "ok"], results
    grid_total = _db.session.scalar(select(EarningTotal.points).where(
        EarningTotal.period == "A", EarningTotal.subject_type == "grid"))
    assert grid_total == 10 + 10 + 5


# ---- b. approve and reject of the same attendances at once ---------------------------------------

def test_approve_and_reject_of_the_same_attendances_at_once_leave_no_rejected_attendance_with_points(
        app, postgres_only, place, make, now):
    """The reject read the attendances (pending, nothing to reverse), the approval then awarded them and
    committed, and the reject marked them rejected: rejected, but the points stayed."""
    act = place["new_activity"]()
    residents = [make.resident(make.household(building=place["b1"])) for _ in range(3)]
    rows = [attend(place, act, r, now) for r in residents]
    _db.session.commit()
    lead_id, act_id, att = place["lead"].id, act.id, ids(*rows)
    approved = threading.Event()
    listener, paused = pause_after_first(
        app, "reject", lambda sql: sql.lstrip().upper().startswith("SELECT") and "FROM attendance" in sql,
        lambda: approved.is_set() or lock_waiters(app) >= 1)

    def lead_and_activity():
        return _db.session.get(type(place["lead"]), lead_id), _db.session.get(Activity, act_id)

    def reject():
        return checkin.reject(*lead_and_activity(), att, "不在现场", now)

    def approve():
        assert paused.wait(WAIT)
        try:
            result = checkin.approve(*lead_and_activity(), att, now)
            _db.session.commit()
            return result
        finally:
            approved.set()

    try:
        results = run_threads(app, named("reject", reject), approve)
    finally:
        event.remove(_db.engine, "after_cursor_execute", listener)
    assert [r[0] for r in results] == ["ok", "ok"], results
    for attendance in _db.session.scalars(select(Attendance).where(Attendance.id.in_(att))):
        balance = ledger.balance_of(attendance.resident_id)
        assert (attendance.status, balance) in (("approved", 10), ("rejected", 0)), (attendance.status, balance)


# ---- c. two reversals of one entry under different keys ----------------------------------------------

def test_two_reversals_of_one_entry_at_once_give_already_reversed_not_a_500(app, postgres_only, place, make, now):
    """Both saw no reversal yet, then queued for the account; the second then broke the unique
    (community, reverses_id): an IntegrityError instead of already_reversed."""
    resident = make.resident(make.household(building=place["b1"]))
    ledger.manual(place["admin"], resident, 30, "好人好事", "manual:0", now)  # enough to be reversed twice
    entry = ledger.manual(place["admin"], resident, 10, "好人好事", "manual:1", now)
    _db.session.commit()
    admin_id, entry_id, resident_id = place["admin"].id, entry.id, resident.id

    def reverse(key):
        def work():
            admin, e = _db.session.get(type(place["admin"]), admin_id), _db.session.get(LedgerEntry, entry_id)
            return ledger.reverse(admin, e, "录错了", now, key=key).id
        return work

    # a third posting to this resident is in flight: both reversals queue behind it
    with Holder(app, "SELECT 1 FROM points_account WHERE resident_id = :r FOR UPDATE", {"r": resident_id}) as holder:
        releaser = threading.Thread(target=lambda: (until(lambda: lock_waiters(app) >= 2), holder.release.set()))
        releaser.start()
        results = run_threads(app, reverse("k1"), reverse("k2"))
        releaser.join(10)
    assert sorted(r[0] for r in results) == ["already_reversed", "ok"], results
    assert ledger.balance_of(resident_id) == 30


def test_a_reject_and_an_admin_reversal_of_the_same_award_at_once(app, postgres_only, place, make, now):
    """The same hole through two doors: the lead rejects an approved attendance (key reject:<id>) while
    the office reverses its award on the ledger page (key reverse:<id>)."""
    act = place["new_activity"](award_on="check_in")
    resident = make.resident(make.household(building=place["b1"]))
    attendance = attend(place, act, resident, now)  # awarded at once
    ledger.manual(place["admin"], resident, 30, "好人好事", "manual:0", now)  # enough to be reversed twice
    _db.session.commit()
    assert ledger.balance_of(resident.id) == 40
    lead_id, admin_id, act_id, att_id = place["lead"].id, place["admin"].id, act.id, attendance.id
    entry_id, resident_id, community_id = attendance.ledger_entry_id, resident.id, place["community"].id

    def reject():
        lead, a = _db.session.get(type(place["lead"]), lead_id), _db.session.get(Activity, act_id)
        return checkin.reject(lead, a, [att_id], "不在现场", now)

    def office():
        admin = _db.session.get(type(place["admin"]), admin_id)
        return ledger.reverse_by_admin(admin, entry_id, community_id, "录错了", now).id

    with Holder(app, "SELECT 1 FROM points_account WHERE resident_id = :r FOR UPDATE", {"r": resident_id}) as holder:
        releaser = threading.Thread(target=lambda: (until(lambda: lock_waiters(app) >= 2), holder.release.set()))
        releaser.start()
        results = run_threads(app, reject, office)
        releaser.join(10)
    codes = sorted(r[0] for r in results)
    assert codes in (["already_reversed", "ok"], ["ok", "ok"]), results
    assert ledger.balance_of(resident_id) == 30
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)
                              .where(LedgerEntry.reverses_id == entry_id)) == 1


# ---- d. check-ins to an activity without a capacity do not queue ------------------------------------

def test_checkins_to_an_activity_without_capacity_do_not_wait_for_each_other(app, postgres_only, place, make, now):
    """Every check-in locked the activity row, so one activity's check-ins ran one at a time: the lock
    is needed only to count places. (Awarded after approval: no points move at check-in.)"""
    act = place["new_activity"]()
    r1, r2 = (make.resident(make.household(building=place["b1"])) for _ in range(2))
    _db.session.commit()
    lead_id, act_id, r1_id, r2_id = place["lead"].id, act.id, r1.id, r2.id
    first_in, second_done = threading.Event(), threading.Event()

    def scan(resident_id):
        from pointsapp.tree.models import Resident
        lead, a = _db.session.get(type(place["lead"]), lead_id), _db.session.get(Activity, act_id)
        return checkin.check_in(lead, _db.session.get(Resident, resident_id), a, now, method="lead_scan").action

    def first():
        action = scan(r1_id)
        first_in.set()
        second_done.wait(WAIT)  # a slow request: its transaction stays open meanwhile
        return action, second_done.is_set()

    def second():
        assert first_in.wait(WAIT)
        try:
            action = scan(r2_id)
            _db.session.commit()
            return action
        finally:
            second_done.set()

    results = run_threads(app, first, second)
    assert results == [("ok", ("checked_in", True)), ("ok", "checked_in")], results


def test_checkins_to_an_activity_with_a_capacity_still_count_places_one_at_a_time(app, postgres_only, place,
                                                                                   make, now):
    act = place["new_activity"](capacity=1)
    r1, r2 = (make.resident(make.household(building=place["b1"])) for _ in range(2))
    _db.session.commit()
    lead_id, act_id = place["lead"].id, act.id

    def scan(resident_id):
        def work():
            from pointsapp.tree.models import Resident
            lead, a = _db.session.get(type(place["lead"]), lead_id), _db.session.get(Activity, act_id)
            return checkin.check_in(lead, _db.session.get(Resident, resident_id), a, now, method="lead_scan").action
        return work

    with Holder(app, "SELECT 1 FROM activity WHERE id = :a FOR UPDATE", {"a": act_id}) as holder:
        releaser = threading.Thread(target=lambda: (until(lambda: lock_waiters(app) >= 2), holder.release.set()))
        releaser.start()
        results = run_threads(app, scan(r1.id), scan(r2.id))
        releaser.join(10)
    assert sorted(outcome(r) for r in results) == ["capacity_full", "checked_in"], results


# ---- e. two check-out scans of one attendance at once ------------------------------------------------

def test_two_checkout_scans_at_once_check_out_once(app, postgres_only, place, make, now):
    """Both read the attendance still checked in; the second then overwrote the first's check-out time
    and asked the ledger for a different amount under the same key (idempotency_key_reused)."""
    act = place["new_activity"](rule="hourly", award_on="check_out")
    resident = make.resident(make.household(building=place["b1"]))
    user = make.user(resident=resident)
    checkin.check_in(user, resident, act, now - timedelta(minutes=90))
    _db.session.commit()
    user_id, act_id = user.id, act.id
    first_done = threading.Event()
    listener, paused = pause_after_first(
        app, "late", lambda sql: sql.lstrip().upper().startswith("SELECT") and "FROM attendance" in sql,
        lambda: first_done.is_set() or lock_waiters(app) >= 1)

    def scan(moment):
        u, a = _db.session.get(type(user), user_id), _db.session.get(Activity, act_id)
        return checkin.check_in(u, u.resident, a, moment).action

    def early():
        assert paused.wait(WAIT)
        try:
            action = scan(now)  # 90 minutes: 15 points
            _db.session.commit()
            return action
        finally:
            first_done.set()

    try:
        results = run_threads(app, early, named("late", lambda: scan(now + timedelta(minutes=6))))  # 16 points
    finally:
        event.remove(_db.engine, "after_cursor_execute", listener)
    assert sorted(outcome(r) for r in results) == ["already", "checked_out"], results
    attendance = _db.session.scalar(select(Attendance))
    entry = _db.session.get(LedgerEntry, attendance.ledger_entry_id)
    assert entry.amount == attendance.points_awarded == checkin.points_for(act, attendance.checked_in_at,
                                                                            attendance.checked_out_at)


# ---- e. a double click past a check-then-insert ------------------------------------------------------

def test_a_twin_request_past_a_check_then_insert_answers_409_not_a_500(app, postgres_only, place, make, login):
    """Adding a member checks that they are not one yet, then inserts: two clicks at once both passed the
    check and the second ran into the unique (community, team, resident), a 500. The insert's savepoint
    makes it the service's own "already a member" (a message on the page, issue 11 finding 10); a unique
    violation no service expects still reaches the error pages as a 409 "reload and check"."""
    team, lead = place["team"], place["lead"]
    resident = make.resident(make.household(building=place["b1"]))
    _db.session.commit()
    first, second = app.test_client(), app.test_client()
    login(first, lead)
    login(second, lead)
    url, data = f"/lead/teams/{team.id}", {"resident_id": str(resident.id)}
    second_done = threading.Event()
    listener, paused = pause_after_first(app, "first", lambda sql: "FROM team_member" in sql,
                                         lambda: second_done.is_set())

    def click(client, name):
        def run():
            threading.current_thread().name = name
            try:
                return client.post(url, data=data).status_code
            finally:
                if name == "second":
                    second_done.set()
        return run

    def later():
        assert paused.wait(WAIT)
        return click(second, "second")()

    try:
        results = run_threads(app, click(first, "first"), later)
    finally:
        event.remove(_db.engine, "after_cursor_execute", listener)
    assert [outcome(r) for r in results] == [302, 302], results
    from pointsapp.volunteering.models import TeamMember
    assert _db.session.scalar(select(func.count()).select_from(TeamMember)) == 1
    assert "已经是队员" in first.get(url).get_data(as_text=True)  # the click that lost sees why


# ---- busy: a lock wait that runs out is "try again", never a 500 --------------------------------------

@pytest.fixture
def short_lock_timeout(app):
    before = app.config.get("LOCK_TIMEOUT_MS")
    app.config["LOCK_TIMEOUT_MS"] = 200
    yield
    if before is None:
        app.config.pop("LOCK_TIMEOUT_MS")
    else:
        app.config["LOCK_TIMEOUT_MS"] = before


def test_a_lock_wait_that_times_out_is_the_busy_domain_error(app, postgres_only, short_lock_timeout, place, make,
                                                             now):
    resident = make.resident(make.household(building=place["b1"]))
    ledger.lock_account(resident)  # creates the account row
    _db.session.commit()
    with Holder(app, "SELECT 1 FROM points_account WHERE resident_id = :r FOR UPDATE", {"r": resident.id}):
        started = time.monotonic()
        with pytest.raises(DomainError) as err:
            ledger.manual(place["admin"], resident, 5, "好人好事", "manual:busy", now)
        waited = time.monotonic() - started
        _db.session.rollback()
    assert err.value.code == "busy" and err.value.http_status == 503
    assert str(err.value) == "系统繁忙，请稍后再试"
    assert 0.15 < waited < 3
    assert ledger.balance_of(resident.id) == 0


def test_the_points_page_answers_busy_when_the_account_is_locked(app, postgres_only, short_lock_timeout, client,
                                                                 login, place, make, now):
    resident = make.resident(make.household(building=place["b1"]))
    ledger.lock_account(resident)
    c_id, r_id = place["community"].id, resident.id
    login(client, place["admin"])
    _db.session.commit()
    with Holder(app, "SELECT 1 FROM points_account WHERE resident_id = :r FOR UPDATE", {"r": r_id}):
        response = client.post(f"/admin/c/{c_id}/residents/{r_id}/points", follow_redirects=True,
                               data={"direction": "award", "amount": "5", "reason": "好人好事", "request_id": "x1"})
    assert response.status_code == 200
    assert "系统繁忙，请稍后再试" in response.get_data(as_text=True)
    assert ledger.balance_of(r_id) == 0


def test_a_wait_on_a_shared_earning_total_is_busy_too(app, postgres_only, short_lock_timeout, client, login,
                                                       place, make, now):
    """The wait is on an earning total (rankings' upsert inside the posting), not on the account."""
    resident = make.resident(make.household(building=place["b1"]))
    ledger.manual(place["admin"], resident, 5, "好人好事", "manual:first", now)  # the totals' rows exist
    c_id, r_id, b_id = place["community"].id, resident.id, place["b1"].id
    login(client, place["admin"])
    _db.session.commit()
    with Holder(app, "SELECT 1 FROM earning_total WHERE subject_type = 'building' AND subject_id = :b FOR UPDATE",
                {"b": b_id}):
        response = client.post(f"/admin/c/{c_id}/residents/{r_id}/points", follow_redirects=True,
                               data={"direction": "award", "amount": "5", "reason": "好人好事", "request_id": "x2"})
    assert response.status_code == 200
    assert "系统繁忙，请稍后再试" in response.get_data(as_text=True)
    assert ledger.balance_of(r_id) == 5
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_a_lock_wait_outside_any_helper_answers_the_busy_page_not_a_500(app, postgres_only, short_lock_timeout,
                                                                        client, login, place, make, now):
    """A checkout's stock update waits for a product another transaction holds: the error page handler
    turns the lock timeout into the busy page (503) and the unit of work rolls back."""
    from pointsapp.store.services import catalogue
    from pointsapp.volunteering.services import codes

    community = place["community"]
    clerk = make.clerk(community)
    store = clerk.grants[0].store
    resident = make.resident(make.household(building=place["b1"]))
    ledger.manual(place["admin"], resident, 50, "好人好事", "manual:seed", now)
    soap = catalogue.create_product(place["admin"], store, catalogue.ProductFields(name="香皂", price=8), 5, now)
    login(client, clerk)
    _db.session.commit()
    s_id, r_id, p_id = store.id, resident.id, soap.id
    assert client.post(f"/store/{s_id}/counter",
                       data={"code": codes.member_phone_code(app.secret_key, resident, now)}).status_code == 302
    with Holder(app, "SELECT 1 FROM product WHERE id = :p FOR UPDATE", {"p": p_id}):
        response = client.post(f"/store/{s_id}/checkout", data={"request_id": "r1", f"qty_{p_id}": "1"})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "系统繁忙，请稍后再试" in response.get_data(as_text=True)
    assert ledger.balance_of(r_id) == 50
    assert catalogue.products(s_id)[0].stock == 5


def _locked_error(statement="COMMIT"):
    return OperationalError(statement, None, sqlite3.OperationalError("database is locked"))


def test_busy_errors_are_recognised(backend):
    from pointsapp.core import locks

    class PgError(Exception):
        def __init__(self, sqlstate):
            self.sqlstate = sqlstate

    for state in ("40P01", "55P03"):
        assert locks.is_busy(OperationalError("SELECT", None, PgError(state)))
    assert not locks.is_busy(OperationalError("SELECT", None, PgError("42P01")))
    assert locks.is_busy(_locked_error())
    assert not locks.is_busy(OperationalError("SELECT", None, sqlite3.OperationalError("no such table: x")))
    assert not locks.is_busy(ValueError("database is locked"))


def test_a_commit_that_finds_the_database_busy_answers_the_busy_page(app, client, login, place, make, now,
                                                                     monkeypatch):
    resident = make.resident(make.household(building=place["b1"]))
    c_id, r_id = place["community"].id, resident.id
    login(client, place["admin"])
    _db.session.commit()
    from flask_sqlalchemy.session import Session

    def locked_commit(self):
        if has_request_context():  # (the test client commits the test's own session before the request)
            raise _locked_error()
        return real_commit(self)

    real_commit = Session.commit

    monkeypatch.setattr(Session, "commit", locked_commit)
    response = client.post(f"/admin/c/{c_id}/residents/{r_id}/points",
                           data={"direction": "award", "amount": "5", "reason": "好人好事", "request_id": "x3"})
    monkeypatch.undo()
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "系统繁忙，请稍后再试" in body
    assert "Saved" not in body and "已保存" not in body
    _db.session.rollback()
    assert ledger.balance_of(r_id) == 0


def test_sqlite_database_is_locked_answers_the_busy_page(app, backend, client, login, place, make, now,
                                                         monkeypatch, database_url):
    if backend != "sqlite":
        pytest.skip("SQLite's own write lock")
    resident = make.resident(make.household(building=place["b1"]))
    c_id, r_id = place["community"].id, resident.id
    login(client, place["admin"])
    _db.session.commit()
    _db.session.remove()
    monkeypatch.setattr(sqlite_setup, "BUSY_TIMEOUT_MS", 100)
    _db.engine.dispose()  # new connections wait 100 ms for the lock instead of 10 s
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        response = client.post(f"/admin/c/{c_id}/residents/{r_id}/points",
                               data={"direction": "award", "amount": "5", "reason": "好人好事", "request_id": "x4"})
    finally:
        other.rollback()
        other.close()
        monkeypatch.undo()
        _db.engine.dispose()
    assert response.status_code in (409, 503)
    assert "系统繁忙，请稍后再试" in response.get_data(as_text=True)
    assert ledger.balance_of(r_id) == 0


def test_the_lock_helper_locks_in_id_order_and_reads_fresh_rows(app, place, make, now):
    from pointsapp.core import locks

    rs = [make.resident(make.household(building=place["b1"])) for _ in range(3)]
    for r in rs:
        ledger.lock_account(r)
    _db.session.commit()
    wanted = [rs[2].id, rs[0].id, rs[2].id, rs[1].id]
    stale = _db.session.get(PointsAccount, rs[0].id)
    _db.session.execute(text("UPDATE points_account SET entry_count = 7 WHERE resident_id = :r"), {"r": rs[0].id})
    seen = []
    listener = lambda conn, cursor, statement, *a: seen.append(statement)  # noqa: E731
    event.listen(_db.engine, "before_cursor_execute", listener)
    try:
        rows = locks.lock_rows(PointsAccount, wanted)
    finally:
        event.remove(_db.engine, "before_cursor_execute", listener)
    assert [r.resident_id for r in rows] == sorted(set(wanted))
    assert stale.entry_count == 7  # the same object, read fresh
    locking = [s for s in seen if "points_account" in s]
    assert len(locking) == 1 and "ORDER BY" in locking[0]
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert "FOR NO KEY UPDATE" in locking[0]
        # the wait is bounded: set on the connection when it opened, or for this transaction
        bound = _db.session.scalar(text("SELECT EXTRACT(EPOCH FROM current_setting('lock_timeout')::interval) * 1000"))
        assert int(bound) == locks.lock_timeout_ms()
    assert locks.lock_rows(PointsAccount, []) == []


# ---- recognition: a veto while the office publishes ----------------------------------------------

def test_publish_waits_for_a_veto_being_written_and_freezes_it(app, postgres_only, make, db, now):
    """publish() froze the results without waiting for a veto in flight: the veto then committed onto a
    published evaluation whose frozen stars did not show it. The notice workflow locks the evaluation."""
    from pointsapp.accounts.models import User
    from pointsapp.rankings.services import period_keys
    from pointsapp.recognition.models import Evaluation, StarResult
    from pointsapp.recognition.services import stars
    from pointsapp.tree.models import Household

    community = make.community()
    admin = make.admin(community)
    home = make.household(building=make.building(community))
    resident = make.resident(home)
    ledger.post(ledger.Posting(resident, 50, "award", "manual", "seed", "好人好事"), None, now)
    rules = stars.create_rule_set(admin, community, "年度", [10, 20, 40, 80, 100], 0, now)
    evaluation = stars.create_evaluation(admin, community, rules, "2026年度", period_keys(now)[2], 7, now)
    stars.start_notice(admin, evaluation, now)
    _db.session.commit()
    admin_id, evaluation_id, home_id = admin.id, evaluation.id, home.id
    later = now + timedelta(days=8)
    publish_waited = []

    def publish_is_waiting() -> bool:
        if lock_waiters(app) >= 1:
            publish_waited.append(True)
            return True
        return False

    listener, paused = pause_after_first(app, "veto", lambda sql: "INSERT INTO star_veto" in sql,
                                         publish_is_waiting)

    def veto():
        return stars.veto(_db.session.get(User, admin_id), _db.session.get(Evaluation, evaluation_id),
                          _db.session.get(Household, home_id), "违规搭建", later).id

    def publish():
        assert paused.wait(WAIT)  # the veto is written, not yet committed
        return stars.publish(_db.session.get(User, admin_id), _db.session.get(Evaluation, evaluation_id), later)

    try:
        results = run_threads(app, named("veto", veto), named("publish", publish))
    finally:
        with app.app_context():
            event.remove(_db.engine, "after_cursor_execute", listener)
    assert [r[0] for r in results] == ["ok", "ok"], results
    # without the lock the publish went through first, and the veto's refresh then rewrote the
    # results of an evaluation already published
    assert publish_waited, "the publish did not wait for the veto in flight"
    frozen = _db.session.scalar(select(StarResult).where(StarResult.evaluation_id == evaluation_id,
                                                         StarResult.household_id == home_id))
    assert (frozen.stars, frozen.vetoed) == (0, True)  # the veto made it into what was published


# ---- uniqueness conflicts: a form sent again, or ten times at once, is a message, never a 500 ---------

STRONG = "Qiu-8472-Lan"  # survives any password rule


def test_a_star_rule_set_with_an_existing_name_is_a_conflict_with_a_message(app, place, client, login, now):
    """Sequential, both databases: the second rule set of the same name was an IntegrityError (a 500)."""
    from pointsapp.recognition.services import stars

    community, admin = place["community"], place["admin"]
    stars.create_rule_set(admin, community, "年度标准", [10, 20, 30, 40, 50], 0, now)
    with pytest.raises(DomainError) as exc:
        stars.create_rule_set(admin, community, "年度标准", [10, 20, 30, 40, 50], 0, now)
    assert exc.value.code == "already_exists" and "年度标准" in str(exc.value)
    login(client, admin)
    data = {"what": "rules", "name": "年度标准", **{f"star{i}": str(i * 10) for i in range(1, 6)},
            "min_attendances": "0"}
    page = client.post(f"/admin/c/{community.id}/stars", data=data, follow_redirects=True)
    assert page.status_code == 200 and "年度标准" in page.get_data(as_text=True)
    assert "已有" in page.get_data(as_text=True)


def _ten(app, work) -> list:
    return run_threads(app, *[work] * 10, together=True)


def _crashes(results) -> list:
    return [r for r in results if r[0].startswith("crash")]


def test_ten_identical_add_member_submits_at_once_add_one_member(app, postgres_only, place, make, now):
    from pointsapp.accounts.models import User
    from pointsapp.tree.models import Resident
    from pointsapp.volunteering.models import Team, TeamMember

    resident = make.resident(make.household(building=place["b1"]))
    ids = (place["lead"].id, place["team"].id, resident.id)
    _db.session.commit()

    def add():
        lead, team, who = _db.session.get(User, ids[0]), _db.session.get(Team, ids[1]), _db.session.get(Resident, ids[2])
        activities.add_member(lead, team, who, now)

    results = _ten(app, add)
    assert _crashes(results) == [] and {r[0] for r in results} <= {"ok", "already_member"}, results
    assert [r[0] for r in results].count("ok") == 1
    assert _db.session.scalar(select(func.count()).select_from(TeamMember)) == 1


def test_ten_identical_set_first_password_submits_at_once_make_one_account(app, postgres_only, place, make, now):
    from pointsapp.accounts import services as accounts
    from pointsapp.accounts.models import User
    from pointsapp.tree.models import Resident

    resident = make.resident(make.household(building=place["b1"]), phone="13905351111")
    ids = (place["admin"].id, resident.id)
    _db.session.commit()

    def set_first_password():  # what the resident page's "set password" form does
        admin, who = _db.session.get(User, ids[0]), _db.session.get(Resident, ids[1])
        user = accounts.account_for_resident(admin, who, now)
        accounts.set_password(admin, user, STRONG, now)

    results = _ten(app, set_first_password)
    assert _crashes(results) == [], results
    assert {r[0] for r in results} <= {"ok", "busy"} and "ok" in {r[0] for r in results}, results
    users = _db.session.scalars(select(User).where(User.resident_id == ids[1])).all()
    assert len(users) == 1 and users[0].password_hash


def test_ten_identical_word_list_replacements_at_once_leave_the_list_once(app, postgres_only, place, now):
    from pointsapp.accounts.models import User
    from pointsapp.tree.models import Community
    from pointsapp.volunteering.models import Label

    ids = (place["admin"].id, place["community"].id)
    names = ["楼道广告清理", "安全值守", "助老服务"]
    _db.session.commit()

    def replace():
        admin, community = _db.session.get(User, ids[0]), _db.session.get(Community, ids[1])
        activities.set_labels(admin, community, "activity_kind", names, now)

    results = _ten(app, replace)
    assert _crashes(results) == [] and {r[0] for r in results} <= {"ok", "busy"}, results
    stored = _db.session.scalars(select(Label.name).where(Label.community_id == ids[1]).order_by(Label.id)).all()
    assert stored == names


def test_ten_identical_grant_staff_submits_at_once_make_one_account_and_one_grant(app, postgres_only, place, now):
    from pointsapp.accounts import services as accounts
    from pointsapp.accounts.models import RoleGrant, User
    from pointsapp.tree.models import Community

    ids = (place["admin"].id, place["community"].id)
    _db.session.commit()

    def grant_staff():  # the staff page's form: find or create the account, then grant
        admin, community = _db.session.get(User, ids[0]), _db.session.get(Community, ids[1])
        user = accounts.staff_user(admin, community, "13705350000", "孙主任", now)
        accounts.grant_role(admin, user, "community_admin", community, now)

    results = _ten(app, grant_staff)
    assert _crashes(results) == [] and {r[0] for r in results} <= {"ok", "role_exists", "busy"}, results
    assert [r[0] for r in results].count("ok") == 1
    user = _db.session.scalar(select(User).where(User.phone == "13705350000"))
    assert _db.session.scalar(select(func.count()).select_from(RoleGrant).where(RoleGrant.user_id == user.id)) == 1


def test_ten_identical_grants_to_an_existing_person_at_once_make_one_grant(app, postgres_only, place, make, now):
    """Role grants have no unique key (NULL scopes): before the fix all ten were written."""
    from pointsapp.accounts import services as accounts
    from pointsapp.accounts.models import RoleGrant, User
    from pointsapp.tree.models import Community

    person = make.user(name="钱会计")
    ids = (place["admin"].id, place["community"].id, person.id)
    _db.session.commit()

    def grant():
        admin, community = _db.session.get(User, ids[0]), _db.session.get(Community, ids[1])
        accounts.grant_role(admin, _db.session.get(User, ids[2]), "community_admin", community, now)

    results = _ten(app, grant)
    assert _crashes(results) == [] and {r[0] for r in results} <= {"ok", "role_exists", "busy"}, results
    assert _db.session.scalar(select(func.count()).select_from(RoleGrant).where(RoleGrant.user_id == ids[2])) == 1


def test_two_photos_for_a_product_without_one_at_once_keep_one(app, postgres_only, place, make, now):
    import io as _io

    from PIL import Image

    from pointsapp.accounts.models import User
    from pointsapp.store.models import Product, ProductPhoto
    from pointsapp.store.services import catalogue

    store = make.store(place["community"])
    product = Product(community_id=store.community_id, store_id=store.id, name="香皂", kind="goods", category="",
                      price=10, barcode="", low_stock=5, is_active=True, stock=10, created_at=now)
    _db.session.add(product)
    _db.session.flush()
    buffer = _io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 30)).save(buffer, "PNG")
    ids, data = (place["admin"].id, product.id), buffer.getvalue()
    _db.session.commit()

    def upload():
        catalogue.set_photo(_db.session.get(User, ids[0]), _db.session.get(Product, ids[1]), data, now)

    results = run_threads(app, *[upload] * 4, together=True)
    assert _crashes(results) == [] and {r[0] for r in results} <= {"ok", "busy"}, results
    assert _db.session.scalar(select(func.count()).select_from(ProductPhoto)) == 1
