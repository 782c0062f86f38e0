"""Claims approved at the same moment: real threads, each with its own connection, committing as requests do.

On PostgreSQL the first approval is paused right after it has counted the limit, until the second is waiting
for a lock (or WAIT passes): without the account lock taken before the count, the second would count the same
free slot and both would be approved, so the test fails every time that hole is open. On SQLite a writing unit
of work holds the database's write lock from BEGIN IMMEDIATE, so the same race runs serialised."""
import pytest
from sqlalchemy import event, func, select

from pointsapp.accounts.models import User
from pointsapp.claims import services as claims
from pointsapp.claims.models import Claim, ClaimStatus
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import LedgerEntry

from .claim_scenes import build_scene, item
from .concurrency import run_threads
from .test_races import lock_waiters, named, pause_after_first


@pytest.fixture
def scene(make, db, now):
    return build_scene(make, db, now)


def approving(user_id: int, claim_id: int, now):
    def work():
        return claims.approve(_db.session.get(User, user_id), _db.session.get(Claim, claim_id), now).id
    return work


def counting_claims(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT") and "count(*)" in sql and "FROM claim" in sql


def locking_the_claim(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT") and "FROM claim" in sql and "FOR NO KEY UPDATE" in sql


def race(app, backend, first, second, pause_after=counting_claims):
    """Run both at once; on PostgreSQL hold the first after `pause_after` (by default: its limit count) until the
    second waits for a lock."""
    if backend != "postgresql":
        return run_threads(app, first, second, together=True)
    listener, paused = pause_after_first(app, "first", pause_after, lambda: lock_waiters(app) >= 1)

    def second_after_pause():
        assert paused.wait(5)
        return second()

    try:
        return run_threads(app, named("first", first), second_after_pause)
    finally:
        event.remove(_db.engine, "after_cursor_execute", listener)


def test_two_claims_approved_at_once_for_the_last_slot_give_exactly_one_award(app, backend, scene, db, now):
    it = item(db, scene, limit_count=2, limit_period="month", confirmer="building_leader")
    a, b = scene.file(it), scene.file(it)
    _db.session.commit()
    # one slot left when both are already filed: the month allows one (the office narrowed the item's limit
    # after both were filed; at approval the approved claims are what count)
    it.limit_count = 1
    _db.session.commit()
    results = race(app, backend, approving(scene.leader.id, a.id, now), approving(scene.admin.id, b.id, now))
    assert sorted(r[0] for r in results) == ["limit_reached", "ok"], results
    statuses = _db.session.scalars(select(Claim.status).where(Claim.id.in_([a.id, b.id]))).all()
    assert sorted(statuses) == [ClaimStatus.APPROVED, ClaimStatus.PENDING]
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_the_same_claim_approved_twice_at_once_gives_one_entry(app, backend, scene, db, now):
    claim = scene.file(item(db, scene, points=6))
    _db.session.commit()
    results = race(app, backend, approving(scene.leader.id, claim.id, now), approving(scene.admin.id, claim.id, now),
                   pause_after=locking_the_claim)
    assert sorted(r[0] for r in results) == ["claim_state", "ok"], results
    assert _db.session.scalars(select(LedgerEntry.amount)).all() == [6]


def test_two_claims_filed_at_once_for_the_last_slot_are_not_both_accepted(app, backend, scene, db, now):
    it = item(db, scene, limit_count=1, limit_period="day")
    _db.session.commit()
    user_id, resident_id, fields = scene.claimant.id, scene.claimant.resident_id, scene.fields(it.id)

    def filing():
        from pointsapp.tree.models import Resident
        return claims.file_claim(_db.session.get(User, user_id), _db.session.get(Resident, resident_id), fields,
                                 now).id

    results = race(app, backend, filing, filing)
    assert sorted(r[0] for r in results) == ["limit_reached", "ok"], results
    assert _db.session.scalar(select(func.count()).select_from(Claim)) == 1


def test_ten_filings_of_one_form_at_once_give_one_claim(app, backend, scene, db, now):
    if backend != "postgresql":
        pytest.skip("SQLite serialises writing units of work: the race needs PostgreSQL")
    it = item(db, scene, points=5)
    _db.session.commit()
    user_id, resident_id, fields = scene.claimant.id, scene.claimant.resident_id, scene.fields(it.id)

    def filing():
        from pointsapp.tree.models import Resident
        return claims.file_claim(_db.session.get(User, user_id), _db.session.get(Resident, resident_id), fields,
                                 now, request_key="one-form").id

    results = run_threads(app, *[filing] * 10, together=True)
    assert {r[0] for r in results} == {"ok"}, results
    assert len({r[1] for r in results}) == 1
    assert _db.session.scalar(select(func.count()).select_from(Claim)) == 1
