"""Reads never block writes (issue 10 item 6): verify and exports are readers, expiry computes in one
grouped query and posts in chunks, the resident's history uses an index."""
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from pointsapp.core.extensions import db as _db
from pointsapp.core.uow import unit_of_work
from pointsapp.ledger.models import EntryKind
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
