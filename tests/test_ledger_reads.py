"""Reads never block writes (issue 10 item 6): verify and exports are readers, expiry computes in one
grouped query and posts in chunks, the resident's history uses an index."""
import random
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.core.periods import local_date
from pointsapp.core.uow import unit_of_work
from pointsapp.ledger.models import EntryKind, LedgerEntry, PointsAccount
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.tree.models import Resident

PROMPT_S = 2.0  # a write must finish well under the 10 s busy timeout while a reader is paused
BLOCKED_S = 5.0  # how long we wait before calling the write blocked


def award(resident, amount, key, now):
    return ledger.post(Posting(resident, amount, EntryKind.AWARD, "attendance", key, "楼道广告清理"), None, now)


@contextmanager
def paused_reader(app, fragment: str):
    """Pause the thread named "reader" right after it executes its first statement containing `fragment`
    (its transaction is open and has read); yields (reached, release) events."""
    reached, release = threading.Event(), threading.Event()

    def after(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread().name == "reader" and fragment in statement and not reached.is_set():
            reached.set()
            release.wait(30)

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield reached, release
    finally:
        release.set()
        event.remove(engine, "after_cursor_execute", after)


def write_while_reading(app, read, fragment: str, resident_id: int, now) -> dict:
    """Run `read` in a thread, pause it mid-read, post and commit an award in another thread with its own
    app context, then let the reader finish. Returns what happened."""
    _db.session.commit()  # end the test's own transaction: on SQLite it would hold the write lock
    # (callers pass ids, not objects: loading an expired attribute now would begin a transaction again)
    out: dict = {}

    def reader():
        try:
            out["read"] = read()
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            out["read_error"] = repr(exc)

    def writer():
        started = time.perf_counter()
        try:
            with app.app_context():
                with unit_of_work():
                    award(_db.session.get(Resident, resident_id), 5, "while-reading", now)
                _db.session.remove()
            out["write"] = "ok"
        except Exception as exc:  # noqa: BLE001
            out["write"] = repr(exc)
        out["write_s"] = time.perf_counter() - started

    with paused_reader(app, fragment) as (reached, release):
        r = threading.Thread(target=reader, name="reader")
        r.start()
        assert reached.wait(30), f"the reader never ran a statement with {fragment!r}: {out}"
        w = threading.Thread(target=writer, name="writer")
        w.start()
        w.join(BLOCKED_S)
        out["blocked"] = w.is_alive()
        release.set()
        w.join(30)
        r.join(30)
    return out


def assert_write_not_blocked(out: dict) -> None:
    assert not out["blocked"], f"the write waited more than {BLOCKED_S} s for the paused reader: {out}"
    assert out["write"] == "ok", out
    assert out["write_s"] < PROMPT_S, out
    assert "read_error" not in out, out


def _ledger(make, now, residents=3, entries=4):
    c = make.community()
    rs = [make.resident(community=c) for _ in range(residents)]
    for r in rs:
        for i in range(entries):
            award(r, 3 + i, f"seed-{r.id}-{i}", now)
    return c, rs


# --------------------------------------------------------------------------- readers


def test_verify_cli_does_not_block_a_concurrent_write(app, make, db, now):
    c, rs = _ledger(make, now)
    cid, rid = c.id, rs[0].id  # after the commit below, touching the objects would begin a transaction here
    runner = app.test_cli_runner()

    def read():
        with app.app_context():
            result = runner.invoke(args=["ledger", "verify", "--community", str(cid)])
            _db.session.remove()
        return result

    out = write_while_reading(app, read, "ORDER BY ledger_entry.resident_id, ledger_entry.seq", rid, now)
    assert_write_not_blocked(out)
    result = out["read"]
    assert result.exit_code == 0, result.output
    assert "3 chains, 12 entries checked" in result.output  # its own snapshot: the award came after it
    assert ledger.account_of(rid).entry_count == 5  # and the write is there


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_ledger_export_does_not_block_a_concurrent_write(app, make, db, now, client, login, fmt):
    c, rs = _ledger(make, now)
    login(client, make.admin(c))
    cid, rid, day = c.id, rs[0].id, f"{now:%Y-%m-%d}"

    def read():
        return client.get(f"/admin/c/{cid}/ledger?start={day}&end={day}&format={fmt}")

    out = write_while_reading(app, read, "FROM ledger_entry JOIN resident", rid, now)
    assert_write_not_blocked(out)
    assert out["read"].status_code == 200
    assert out["read"].headers["Content-Disposition"].endswith(f".{fmt}")


def test_store_report_export_does_not_block_a_concurrent_write(app, make, db, now, client, login):
    c, rs = _ledger(make, now)
    clerk = make.clerk(c)
    login(client, clerk)
    store_id, rid = clerk.grants[0].store_id, rs[0].id

    def read():
        return client.get(f"/store/{store_id}/report?format=xlsx")

    out = write_while_reading(app, read, "FROM redemption", rid, now)
    assert_write_not_blocked(out)
    assert out["read"].status_code == 200


# --------------------------------------------------------------------------- expiry


@contextmanager
def counting(app, what: str = "before_cursor_execute"):
    """Count the engine's statements (or commits, what="commit") inside the block."""
    with app.app_context():
        engine = _db.engine
    seen = [0]

    def count(*_args, **_kw):
        seen[0] += 1

    event.listen(engine, what, count)
    try:
        yield seen
    finally:
        event.remove(engine, what, count)


def _old_expiry(community_id: int, cutoff) -> dict[int, int]:
    """What expire() lapsed before it was rewritten: per account of the community with a balance, the
    resident's whole ledger scanned in Python (first earned, first spent)."""
    out = {}
    for rid in _db.session.scalars(select(PointsAccount.resident_id).where(
            PointsAccount.community_id == community_id, PointsAccount.balance > 0)):
        entries = _db.session.execute(select(LedgerEntry.amount, LedgerEntry.created_at)
                                      .where(LedgerEntry.resident_id == rid)).all()
        old_credits = sum(e.amount for e in entries if e.amount > 0 and e.created_at < cutoff)
        debits = -sum(e.amount for e in entries if e.amount < 0)
        if old_credits - debits > 0:
            out[rid] = old_credits - debits
    return out


def _random_histories(make, community, n: int, now, rng: random.Random) -> None:
    """n residents with awards on both sides of the cut-off, spends, deductions, reversals and earlier
    expiries; some with nothing, some spent out."""
    household = None
    for i in range(n):
        if i % 8 == 0:
            household = make.household(community)
        r = make.resident(household)
        if i % 17 == 0:
            continue  # no points at all
        t = now - timedelta(days=rng.randint(400, 1000))
        posted = []
        for j in range(rng.randint(1, 9)):
            t += timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 600))
            if t >= now:
                break
            roll, key = rng.random(), f"h{r.id}-{j}"
            try:
                if roll < 0.55:
                    posted.append(award(r, rng.randint(1, 40), key, t))
                elif roll < 0.75:
                    posted.append(ledger.post(Posting(r, -rng.randint(1, 30), EntryKind.REDEMPTION, "redemption",
                                                      key, "兑换"), None, t))
                elif roll < 0.82:
                    posted.append(ledger.post(Posting(r, -rng.randint(1, 5), EntryKind.MANUAL_DEDUCTION, "manual",
                                                      key, "误登记"), None, t))
                elif roll < 0.92 and posted:
                    ledger.reverse(None, rng.choice(posted), "更正", t, key=key)
                else:
                    ledger.post(Posting(r, -rng.randint(1, 10), EntryKind.EXPIRY, "expiry",
                                        f"expire:{r.id}:{local_date(t)}", "早先的到期", str(local_date(t))), None, t)
            except DomainError as exc:
                assert exc.code in {"insufficient_points", "already_reversed", "cannot_reverse_reversal"}
        if i % 11 == 0 and ledger.balance_of(r.id) > 0:  # spent out
            ledger.post(Posting(r, -ledger.balance_of(r.id), EntryKind.REDEMPTION, "redemption", f"all{r.id}", "兑换"),
                        None, now - timedelta(days=1))


def _expiry_entries(community_id: int) -> dict[int, tuple]:
    rows = _db.session.execute(select(LedgerEntry).where(
        LedgerEntry.community_id == community_id, LedgerEntry.kind == EntryKind.EXPIRY,
        LedgerEntry.created_at == datetime(2026, 11, 25, 2, 30, tzinfo=UTC))).scalars()
    return {e.resident_id: (-e.amount, e.idempotency_key, e.reason, e.source_id) for e in rows}


def test_expiry_of_many_residents_gives_the_old_results_from_one_grouped_query(app, make, db, now):
    rng = random.Random(10)
    c, other = make.community(), make.community()
    c.points_expire_months, other.points_expire_months = 12, 24
    no_policy = make.community()
    _random_histories(make, c, 120, now, rng)
    _random_histories(make, other, 25, now, rng)
    _random_histories(make, no_policy, 6, now, rng)
    _db.session.commit()
    cutoffs = {c.id: ledger_audit._months_ago(now, 12), other.id: ledger_audit._months_ago(now, 24)}
    expected = {cid: _old_expiry(cid, cutoff) for cid, cutoff in cutoffs.items()}
    assert len(expected[c.id]) > 30 and expected[other.id]  # the histories do lapse points
    cid, oid, nid = c.id, other.id, no_policy.id

    # the computation: two statements for 120 residents, as for one
    with counting(app) as statements:
        plan = ledger_audit.plan_expiry(cid, now)
    assert statements[0] == 2
    assert dict(plan.lapses) == expected[cid]
    with counting(app) as statements:
        assert len(ledger_audit.plan_expiry(nid, now) or ()) == 0
    assert statements[0] == 1
    _db.session.rollback()

    # the command posts 25 residents per unit of work
    runner = app.test_cli_runner()
    with counting(app, "commit") as commits:
        result = runner.invoke(args=["ledger", "expire", "--chunk-size", "25"])
    assert result.exit_code == 0, result.output
    chunks = sum(-(-len(e) // 25) for e in expected.values())
    assert commits[0] == chunks
    for community_id, lapses in expected.items():
        assert (f"community {community_id}: {sum(lapses.values())} points lapsed for {len(lapses)} residents"
                in result.output)
        day = local_date(cutoffs[community_id])
        months = 12 if community_id == cid else 24
        assert _expiry_entries(community_id) == {
            rid: (points, f"expire:{rid}:{day}", f"积分有效期 {months} 个月，{day} 前获得的积分到期", str(day))
            for rid, points in lapses.items()}
    assert f"community {nid}: 0 points lapsed for 0 residents" in result.output
    assert ledger_audit.verify().ok

    # a rerun lapses nothing more
    count = _db.session.scalar(select(func.count()).select_from(LedgerEntry))
    _db.session.rollback()
    again = runner.invoke(args=["ledger", "expire"])
    assert again.exit_code == 0, again.output
    for community_id in (cid, oid, nid):
        assert f"community {community_id}: 0 points lapsed for 0 residents" in again.output
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)) == count
    assert ledger_audit.expire(cid, now) == (0, 0)


def test_a_chunk_recomputes_what_lapses_under_the_lock(make, db, now):
    c = make.community()
    c.points_expire_months = 12
    r = make.resident(community=c)
    award(r, 10, "old", now - timedelta(days=500))
    award(r, 5, "new", now - timedelta(days=5))
    plan = ledger_audit.plan_expiry(c.id, now)
    assert plan.lapses == ((r.id, 10),)
    _db.session.commit()
    # a redemption between the plan and its chunk spends 8 of the old points
    ledger.post(Posting(r, -8, EntryKind.REDEMPTION, "redemption", "spent", "兑换"), None, now)
    assert ledger_audit.apply_expiry(plan, [r.id], now) == (1, 2)
    assert ledger.balance_of(r.id) == 5
    assert ledger_audit.apply_expiry(plan, [r.id], now) == (0, 0)
    assert ledger_audit.verify(c.id).ok


def test_expire_dry_run_writes_nothing(app, make, db, now):
    c = make.community()
    c.points_expire_months = 12
    r = make.resident(community=c)
    award(r, 10, "old", now - timedelta(days=500))
    _db.session.commit()
    cid = c.id
    result = app.test_cli_runner().invoke(args=["ledger", "expire", "--community", str(cid), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"community {cid}: 10 points would lapse for 1 residents" in result.output
    assert _db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


# --------------------------------------------------------------------------- the history index


def _plans(app, call) -> list[str]:
    """Run `call`, then EXPLAIN each statement it ran (EXPLAIN QUERY PLAN on SQLite); with sequential
    scans discouraged on PostgreSQL, where a tiny table would be scanned whatever its indexes."""
    with app.app_context():
        engine = _db.engine
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):  # not the BEGIN core.sqlite emits
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    conn = _db.session.connection()
    plans = []
    for statement, parameters in seen:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            plans.append("\n".join(r[0] for r in rows))
        else:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans.append("\n".join(r[-1] for r in rows))
    _db.session.rollback()
    return plans


def test_a_residents_history_and_month_list_use_the_resident_index(app, make, db, now):
    c, rs = _ledger(make, now, residents=20, entries=6)
    _db.session.commit()
    rid = rs[7].id
    for label, call in (("history", lambda: ledger.history(rid)),
                        ("one month", lambda: ledger.history(rid, month=f"{now:%Y-%m}")),
                        ("months", lambda: ledger.months_with_entries(rid))):
        [plan] = _plans(app, call)
        assert "ix_ledger_entry_resident_seq" in plan, f"{label}: {plan}"
        if _db.engine.dialect.name == "sqlite":
            assert "SCAN ledger_entry" not in plan, f"{label}: {plan}"
            if label != "months":
                assert "TEMP B-TREE" not in plan, f"{label} sorts instead of reading the index backwards: {plan}"
    assert [e.seq for e in ledger.history(rid)] == [6, 5, 4, 3, 2, 1]
