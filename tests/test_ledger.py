"""The ledger contract: DESIGN.md invariants 1-4 and 9."""
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from pointsapp.core.errors import Conflict, DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting


def award(resident, amount, key, now, actor=None):
    return ledger.post(Posting(resident, amount, EntryKind.AWARD, "attendance", key, "楼道广告清理"), actor, now)


def spend(resident, amount, key, now):
    return ledger.post(Posting(resident, -amount, EntryKind.REDEMPTION, "redemption", key, "兑换"), None, now)


def entry_sum(resident_id):
    return _db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                              .where(LedgerEntry.resident_id == resident_id))


def test_award_and_spend_keep_balance_equal_to_sum(make, db, now):
    r = make.resident()
    award(r, 10, "a1", now)
    spend(r, 4, "s1", now)
    assert ledger.balance_of(r.id) == 6 == entry_sum(r.id)
    assert ledger.account_of(r.id).earned_total == 10  # spending never lowers earning


def test_spend_beyond_balance_is_refused_and_writes_nothing(make, db, now):
    r = make.resident()
    award(r, 5, "a1", now)
    with pytest.raises(DomainError) as err:
        spend(r, 6, "s1", now)
    assert err.value.code == "insufficient_points"
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_same_key_twice_returns_first_entry(make, db, now):
    r = make.resident()
    first = award(r, 5, "same", now)
    again = award(r, 5, "same", now + timedelta(minutes=1))
    assert again.id == first.id
    assert ledger.balance_of(r.id) == 5


def test_same_key_with_other_amount_is_refused(make, db, now):
    r = make.resident()
    award(r, 5, "same", now)
    with pytest.raises(Conflict) as err:
        award(r, 7, "same", now)
    assert err.value.code == "idempotency_key_reused"


def test_reversal_names_the_entry_and_happens_once(make, db, now):
    r = make.resident()
    e = award(r, 8, "a1", now)
    rev = ledger.reverse(None, e, "录错了", now)
    assert rev.reverses_id == e.id and rev.amount == -8
    assert ledger.account_of(r.id).earned_total == 0  # reversing an award takes the earning back
    with pytest.raises(Conflict) as err:
        ledger.reverse(None, e, "again", now, key="other-key")
    assert err.value.code == "already_reversed"
    with pytest.raises(Conflict):
        ledger.reverse(None, rev, "undo the undo", now)


def test_reversing_a_spend_gives_points_back_without_counting_as_earning(make, db, now):
    r = make.resident()
    award(r, 10, "a1", now)
    s = spend(r, 10, "s1", now)
    ledger.reverse(None, s, "作废兑换", now)
    acc = ledger.account_of(r.id)
    assert (acc.balance, acc.earned_total) == (10, 10)


def test_moved_out_resident_cannot_earn(make, db, now):
    r = make.resident()
    r.moved_out_on = now.date()
    with pytest.raises(DomainError) as err:
        award(r, 5, "a1", now)
    assert err.value.code == "resident_moved_out"


def test_manual_award_needs_admin_and_reason(make, db, now):
    c = make.community()
    r = make.resident(community=c)
    admin = make.admin(c)
    outsider = make.admin(make.community())
    with pytest.raises(DomainError) as err:
        ledger.manual(admin, r, 5, "  ", "k1", now)
    assert err.value.code == "reason_missing"
    with pytest.raises(DomainError) as err:
        ledger.manual(outsider, r, 5, "好人好事", "k1", now)
    assert err.value.code == "forbidden"
    e = ledger.manual(admin, r, 5, "好人好事", "k1", now)
    assert (e.kind, e.actor_id, e.reason) == ("manual_award", admin.id, "好人好事")


def _run_threads(app, n, work):
    # End this thread's transaction first: on SQLite it would hold the write lock the workers need.
    _db.session.rollback()
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        with app.app_context():
            barrier.wait()
            try:
                work(i)
                _db.session.commit()
                results[i] = "ok"
            except DomainError as exc:
                _db.session.rollback()
                results[i] = exc.code
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_spends_succeed_exactly_as_often_as_the_balance_covers(app, make, db, now):
    k, price, n = 5, 3, 16
    r = make.resident()
    award(r, k * price, "seed", now)
    _db.session.commit()
    rid = r.id

    def work(i):
        from pointsapp.tree.models import Resident
        spend(_db.session.get(Resident, rid), price, f"spend-{i}", now)

    results = _run_threads(app, n, work)
    assert results.count("ok") == k, results
    assert set(results) <= {"ok", "insufficient_points"}
    _db.session.expire_all()
    assert ledger.balance_of(rid) == 0 == entry_sum(rid)
    assert ledger_audit.verify().ok


def test_same_key_posted_concurrently_writes_one_entry(app, make, db, now):
    r = make.resident()
    _db.session.commit()
    rid = r.id

    def work(i):
        from pointsapp.tree.models import Resident
        award(_db.session.get(Resident, rid), 5, "one-checkin", now)

    results = _run_threads(app, 12, work)
    assert results.count("ok") == 12, results  # every caller gets the (same) result
    _db.session.expire_all()
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert ledger.balance_of(rid) == 5


def _history(make, now):
    c = make.community()
    residents = [make.resident(community=c) for _ in range(3)]
    for i, r in enumerate(residents):
        for j in range(4):
            award(r, 5 + j, f"a-{i}-{j}", now + timedelta(hours=j))
        spend(r, 3, f"s-{i}", now + timedelta(hours=5))
    _db.session.commit()
    return c, residents


def _forge(statement, params):
    """A forger with the owner's rights: on PostgreSQL the append-only trigger is off for her transaction
    (the app's role could not do even that: it has no UPDATE or DELETE on ledger_entry, docs/deploy.md)."""
    postgres = _db.session.get_bind().dialect.name == "postgresql"
    if postgres:
        _db.session.execute(text("ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_append_only"))
    _db.session.execute(statement, params)
    if postgres:
        _db.session.execute(text("ALTER TABLE ledger_entry ENABLE TRIGGER ledger_entry_append_only"))


def test_untouched_ledger_verifies_clean(make, db, now):
    c, _ = _history(make, now)
    ledger_audit.checkpoint(c.id, now)
    _db.session.commit()
    report = ledger_audit.verify(c.id)
    assert report.ok, [str(p) for p in report.problems]
    assert report.entries == 15 and report.residents == 3


def test_verify_names_an_entry_whose_amount_was_changed(make, db, now):
    c, rs = _history(make, now)
    target = _db.session.scalar(select(LedgerEntry).where(LedgerEntry.resident_id == rs[1].id,
                                                          LedgerEntry.seq == 2))
    _forge(text("UPDATE ledger_entry SET amount = amount + 100 WHERE id = :id"), {"id": target.id})
    _db.session.commit()
    problems = ledger_audit.verify(c.id).problems
    assert [(p.resident_id, p.entry_id) for p in problems][:1] == [(rs[1].id, target.id)]


def test_verify_names_a_deleted_entry(make, db, now):
    c, rs = _history(make, now)
    gone = _db.session.scalar(select(LedgerEntry).where(LedgerEntry.resident_id == rs[0].id, LedgerEntry.seq == 3))
    _forge(text("DELETE FROM ledger_entry WHERE id = :id"), {"id": gone.id})
    _db.session.commit()
    problems = ledger_audit.verify(c.id).problems
    assert problems and problems[0].resident_id == rs[0].id
    assert problems[0].seq == 4 and "missing" in problems[0].message


def test_verify_catches_a_truncated_chain_against_the_checkpoint(make, db, now):
    c, rs = _history(make, now)
    ledger_audit.checkpoint(c.id, now + timedelta(days=1))
    _db.session.commit()
    # rewind resident 2's chain to 2 entries and make the account agree, as a careful forger would
    rid = rs[2].id
    kept = _db.session.scalar(select(LedgerEntry).where(LedgerEntry.resident_id == rid, LedgerEntry.seq == 2))
    _forge(text("DELETE FROM ledger_entry WHERE resident_id = :r AND seq > 2"), {"r": rid})
    _db.session.execute(text("UPDATE points_account SET entry_count = 2, balance = :b, head_hash = :h "
                             "WHERE resident_id = :r"), {"b": kept.balance_after, "h": kept.hash, "r": rid})
    _db.session.commit()
    problems = ledger_audit.verify(c.id).problems
    assert [p.resident_id for p in problems] == [rid]
    assert "checkpoint" in problems[0].message


def test_verify_catches_a_dropped_chain(make, db, now):
    c, rs = _history(make, now)
    ledger_audit.checkpoint(c.id, now + timedelta(days=1))
    _db.session.commit()
    rid = rs[0].id
    _forge(text("DELETE FROM ledger_entry WHERE resident_id = :r"), {"r": rid})
    _db.session.execute(text("DELETE FROM points_account WHERE resident_id = :r"), {"r": rid})
    _db.session.commit()
    problems = ledger_audit.verify(c.id).problems
    assert [p.resident_id for p in problems] == [rid] and "gone" in problems[0].message


def test_verify_cli_exits_non_zero_on_tamper(app, make, db, now):
    c, rs = _history(make, now)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["ledger", "verify", "--community", str(c.id)]).exit_code == 0
    _forge(text("UPDATE ledger_entry SET reason = 'x' WHERE resident_id = :r AND seq = 1"),
                        {"r": rs[0].id})
    _db.session.commit()
    result = runner.invoke(args=["ledger", "verify", "--community", str(c.id)])
    assert result.exit_code == 1
    assert f"resident {rs[0].id}" in result.output


def test_expiry_run_twice_on_one_day_lapses_once(make, db):
    """The nightly job at 02:00 and `flask ledger expire` by hand at 10:00 (China time) the same day: the cut-off
    is the start of the day, so the second run finds nothing. It used to keep the time of day: the 10:00 run's
    cut-off passed points earned at 08:00 a year before, under the 02:00 run's key (idempotency_key_reused)."""
    c = make.community()
    c.points_expire_months = 12
    r = make.resident(community=c)
    award(r, 10, "a", datetime(2025, 11, 25, 10, tzinfo=UTC))  # 18:00 on 25 November 2025 in China
    award(r, 5, "b", datetime(2025, 11, 26, 0, tzinfo=UTC))  # 08:00 on 26 November 2025
    _db.session.commit()
    night = datetime(2026, 11, 25, 18, tzinfo=UTC)  # 02:00 on 26 November 2026 in China
    assert ledger_audit.expire(c.id, night) == (1, 10)
    _db.session.commit()
    assert ledger_audit.expire(c.id, night + timedelta(hours=8)) == (0, 0)
    assert ledger.balance_of(r.id) == 5 == entry_sum(r.id)


def test_expiry_lapses_oldest_points_first_and_is_idempotent(make, db, now):
    c = make.community()
    c.points_expire_months = 24
    r = make.resident(community=c)
    award(r, 10, "old", now - timedelta(days=800))
    award(r, 7, "new", now - timedelta(days=10))
    spend(r, 4, "s", now - timedelta(days=5))  # uses 4 of the old 10 first
    _db.session.commit()
    assert ledger_audit.expire(c.id, now) == (1, 6)
    assert ledger_audit.expire(c.id, now) == (0, 0)
    assert ledger.balance_of(r.id) == 7 == entry_sum(r.id)
    assert ledger.account_of(r.id).earned_total == 17
    assert ledger_audit.verify(c.id).ok
