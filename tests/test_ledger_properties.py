"""Property test: any sequence of awards, spends, reversals and expiries keeps invariants 1-3."""
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EARNING_KINDS, EntryKind, LedgerEntry
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting

operation = st.one_of(
    st.tuples(st.just("award"), st.integers(1, 50)),
    st.tuples(st.just("spend"), st.integers(1, 60)),
    st.tuples(st.just("reverse"), st.integers(0, 30)),
    st.tuples(st.just("expire"), st.integers(0, 0)),
    st.tuples(st.just("wait_days"), st.integers(1, 400)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_random_histories_keep_the_ledger_invariants(make, db, now, ops):
    community = make.community()
    community.points_expire_months = 12
    resident = make.resident(community=community)
    clock = now - timedelta(days=3 * 365)
    posted: list[LedgerEntry] = []
    for i, (op, value) in enumerate(ops):
        try:
            if op == "award":
                posted.append(ledger.post(Posting(resident, value, EntryKind.AWARD, "attendance", f"a{i}"), None, clock))
            elif op == "spend":
                posted.append(ledger.post(Posting(resident, -value, EntryKind.REDEMPTION, "redemption", f"s{i}"),
                                          None, clock))
            elif op == "reverse" and posted:
                posted.append(ledger.reverse(None, posted[value % len(posted)], "更正", clock, key=f"r{i}"))
            elif op == "expire":
                ledger_audit.expire(community.id, clock)
            elif op == "wait_days":
                clock += timedelta(days=value)
        except DomainError as exc:
            assert exc.code in {"insufficient_points", "already_reversed", "cannot_reverse_reversal"}
        entries = _db.session.scalars(select(LedgerEntry).where(LedgerEntry.resident_id == resident.id)).all()
        account = ledger.account_of(resident.id)
        total = sum(e.amount for e in entries)
        # invariant 1: balance equals the sum of entries and is never negative
        assert (account.balance if account else 0) == total >= 0
        # invariant 2: each entry reversed at most once, and reversals name their entry
        reversed_ids = [e.reverses_id for e in entries if e.kind == EntryKind.REVERSAL]
        assert len(reversed_ids) == len(set(reversed_ids)) and None not in reversed_ids
        # invariant 9: earned total counts earning (less reversed earning) only
        by_id = {e.id: e for e in entries}
        earned = sum(e.amount for e in entries if e.kind in EARNING_KINDS) + sum(
            e.amount for e in entries if e.kind == EntryKind.REVERSAL and by_id[e.reverses_id].kind in EARNING_KINDS)
        assert (account.earned_total if account else 0) == earned
    # invariant 3: the chain verifies
    assert ledger_audit.verify(community.id).ok
    # nothing is written beside what the operations posted (expiry entries come from expire())
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.resident_id == resident.id, LedgerEntry.kind != EntryKind.EXPIRY)) == len({e.id for e in posted})
    _db.session.rollback()
