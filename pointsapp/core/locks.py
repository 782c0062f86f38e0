"""Row locks: one helper, one order, and "busy, please try again" instead of a 500.

A service that reads a row and then writes on what it read (a balance, the places left, an attendance's
status) locks the row first, through `lock_rows()` (the idea of pretix's `locking.lock_objects()`):

- the rows of one table are locked in one statement, in ascending primary-key order
  (`SELECT … WHERE id IN (…) ORDER BY id FOR NO KEY UPDATE`: PostgreSQL locks rows in the order it returns
  them), and read fresh (populate_existing): what the caller checks is what was committed;
- on PostgreSQL the wait is bounded: `SET LOCAL lock_timeout` (config LOCK_TIMEOUT_MS, default 5000) for
  the rest of the transaction, so any later wait in the same unit of work is bounded too;
- on SQLite a writing unit of work already holds the database's one write lock (BEGIN IMMEDIATE for every
  request but GET/HEAD, core.sqlite), so the helper just reads the rows.

FOR NO KEY UPDATE rather than FOR UPDATE: lockers still exclude each other (and plain UPDATEs), but
inserting a row that refers to a locked one (an attendance of a locked activity, a ledger entry of a
locked resident) does not have to wait for it.

A deadlock (SQLSTATE 40P01), a lock wait that ran out (55P03), a serialization failure (40001) or SQLite's
"database is locked" is `Busy` (code busy, HTTP 503, 「系统繁忙，请稍后再试」): nothing was written and the
same action, tried again, goes through. `contended()` converts it where a helper waits; core.error_pages
converts it wherever else it surfaces (a statement no helper wrapped, or the commit itself) and the unit
of work rolls back. Likewise a unique violation that reaches the error pages (`is_duplicate`: a twin
request got there first, past a service's check-then-insert) answers 409 "reload and check", not a 500.

The lock order. A deadlock needs two transactions taking the same rows in opposite orders, so every unit
of work takes its locks in this one order, skipping what it does not need, and takes all the rows of one
kind before the next kind (a batch locks everything it will touch before it changes anything):

0. a star evaluation or honour list (recognition's notice workflow: vetoes, objections, notice, publish);
1. the activity, only when it has a capacity (check-in counts the places left);
2. attendances, by id (approve, reject and check-out re-check the status under the lock);
3. points accounts, by resident id (every posting; the counter holds its resident's for the whole
   checkout or void; a batch of postings takes all of its accounts first: ledger.lock_for_batch);
4. the household (a checkout of a product with a household limit);
5. products, by id (stock moves in a checkout or void, a stock correction, the shift's count);
6. earning totals, by (period, subject type, subject id) (rankings' upsert in each posting; before a batch
   posts anything, all of the batch's totals in one sorted statement).

Before anything in the list: a checkout's counter identification (counter_identification), which the
checkout uses up by a conditional UPDATE that locks its row to the end of the unit of work; only a twin of
that checkout waits for it, and then finds it used. Taken alone, in a unit of work of its own: the
clerk's user row (the clerk's budget of wrong guesses across residents), then the resident's row for the
failure counter of the card's PIN and the ID card's last four characters (identify
at the counter; the new identification row is inserted after it). New rows (ledger entries, attendances, redemptions) lock nothing anyone else
waits for, except a second insert of the same unique key, which then fails or finds the first.
"""
import sqlite3
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import current_app, has_app_context
from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import DBAPIError

from pointsapp.core.errors import Busy
from pointsapp.core.extensions import db

M = TypeVar("M")

DEFAULT_LOCK_TIMEOUT_MS = 5000
BUSY_SQLSTATES = frozenset({"40P01", "55P03", "40001"})  # deadlock_detected, lock_not_available, serialization_failure
SQLITE_BUSY = ("database is locked", "database table is locked", "database schema is locked")
_BOUNDED = "pointsapp.locks.bounded"  # session.info: the transaction whose lock waits are already bounded


def is_busy(exc: BaseException) -> bool:
    """A database error that only says "someone else holds it, try again"."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) in BUSY_SQLSTATES:
        return True
    return isinstance(orig, sqlite3.OperationalError) and any(m in str(orig) for m in SQLITE_BUSY)


def is_duplicate(exc: BaseException) -> bool:
    """A unique constraint that a concurrent twin of this request satisfied first (a double click that
    slipped past the service's check-then-insert): PostgreSQL 23505, SQLite "UNIQUE constraint failed"."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) == "23505":
        return True
    return isinstance(orig, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(orig)


def lock_timeout_ms() -> int:
    if has_app_context():
        return int(current_app.config.get("LOCK_TIMEOUT_MS", DEFAULT_LOCK_TIMEOUT_MS))
    return DEFAULT_LOCK_TIMEOUT_MS


def _innermost():
    session = db.session()  # (the scoped session does not proxy get_nested_transaction)
    return session.get_nested_transaction() or session.get_transaction()


_CONNECTION_TIMEOUT = "pointsapp.lock_timeout_ms"  # the pool connection's info: what `SET lock_timeout` set


def install(engine, app) -> None:
    """PostgreSQL: each new connection gets the configured lock_timeout once (`SET`), so a transaction need not
    set it again. Behind PgBouncer in transaction mode (DATABASE_PGBOUNCER) a connection's settings do not
    follow the client, so every transaction sets its own (`SET LOCAL`, _bound_waits)."""
    if engine.dialect.name != "postgresql" or app.config.get("DATABASE_PGBOUNCER"):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        timeout = int(app.config.get("LOCK_TIMEOUT_MS", DEFAULT_LOCK_TIMEOUT_MS))
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # a session setting, outside any transaction
        with dbapi_connection.cursor() as cur:
            cur.execute(f"SET lock_timeout = {timeout}")
        dbapi_connection.autocommit = autocommit
        record.info[_CONNECTION_TIMEOUT] = timeout


def _bound_waits() -> None:
    """The lock wait bounded for this transaction: already, when the connection was given the configured
    timeout (install); else SET LOCAL lock_timeout, once per transaction (again inside a savepoint, whose
    rollback undoes it)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    if db.session.connection().info.get(_CONNECTION_TIMEOUT) == lock_timeout_ms():
        return
    done = db.session.info.get(_BOUNDED)
    current = _innermost()
    if current is not None and done is not None and done() is current:
        return
    db.session.execute(text("SELECT set_config('lock_timeout', :timeout, true)"),
                       {"timeout": f"{lock_timeout_ms()}ms"})
    db.session.info[_BOUNDED] = weakref.ref(_innermost())


ACCOUNTS = "pointsapp.locks.points_accounts"  # held(): points accounts locked in this transaction, by resident id


def held(key: str) -> dict:
    """A dict for what this transaction has locked (rows by id, under `key`), empty in a new transaction.
    Filled by the caller after it locks; a savepoint starts from a copy of its parent's, and what it adds is
    forgotten when it ends (a rolled-back savepoint releases the locks taken inside it)."""
    current = _innermost()
    if current is None:
        return {}
    record = db.session.info.get(key)
    if record is not None:
        taken_in, rows = record[0](), record[1]
        if taken_in is current:
            return rows
        ancestor = current.parent
        while ancestor is not None and ancestor is not taken_in:
            ancestor = ancestor.parent
        rows = dict(rows) if ancestor is not None else {}
    else:
        rows = {}
    db.session.info[key] = (weakref.ref(current), rows)
    return rows


@contextmanager
def contended() -> Iterator[None]:
    """Around statements that may wait for another transaction's locks: the wait is bounded (PostgreSQL),
    and running out of it, a deadlock or SQLite's "database is locked" raise Busy."""
    try:
        _bound_waits()
        yield
    except DBAPIError as exc:
        if is_busy(exc):
            raise Busy() from exc
        raise


def _primary_key(model):
    primary = inspect(model).primary_key
    if len(primary) != 1:
        raise TypeError(f"row locks need a single-column primary key; {model.__name__} has {len(primary)}")
    return primary[0]


def lock_rows(model: type[M], ids: Iterable[int], *criteria) -> list[M]:
    """Lock the rows of `model` with these primary keys (and matching `criteria`, if any), in ascending
    key order, for the rest of the transaction; returns them read fresh, in that order. Rows that do not
    exist are left out. Raises busy."""
    keys = sorted({i for i in ids if i is not None})
    if not keys:
        return []
    column = _primary_key(model)
    stmt = (select(model).where(column.in_(keys), *criteria).order_by(column)
            .with_for_update(key_share=True).execution_options(populate_existing=True))
    with contended():
        return list(db.session.scalars(stmt))


def lock_matching(model: type[M], *criteria) -> list[M]:
    """Lock every row of `model` matching `criteria` (a store's products for the shift's count), in
    ascending key order; returns them read fresh. Raises busy."""
    column = _primary_key(model)
    stmt = (select(model).where(*criteria).order_by(column)
            .with_for_update(key_share=True).execution_options(populate_existing=True))
    with contended():
        return list(db.session.scalars(stmt))


def lock_row(model: type[M], row_id: int, *criteria) -> M | None:
    """lock_rows() for one row: the row, locked and fresh, or None."""
    rows = lock_rows(model, [row_id], *criteria)
    return rows[0] if rows else None
