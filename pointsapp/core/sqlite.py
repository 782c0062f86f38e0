"""SQLite made safe for concurrent writers.

pysqlite's own transaction handling starts transactions lazily and as DEFERRED, so two requests
that read a balance and then write it can interleave and one update is lost. We take transaction
control away from the driver (isolation_level=None) and emit BEGIN ourselves, as SQLAlchemy's
"Serializable isolation / Savepoints / Transactional DDL" notes for pysqlite show. Writing units
of work begin with BEGIN IMMEDIATE (the write lock is taken up front, so a read-then-write cannot
be overtaken); read-only requests (GET/HEAD) begin DEFERRED so readers never queue behind writers.
"""
import os
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

BUSY_TIMEOUT_MS = 10_000

_begin_mode: ContextVar[str] = ContextVar("sqlite_begin_mode", default="IMMEDIATE")


def set_read_only(read_only: bool) -> None:
    """Mark the current request/context as read-only (DEFERRED) or writing (IMMEDIATE)."""
    _begin_mode.set("DEFERRED" if read_only else "IMMEDIATE")


@contextmanager
def read_only():
    token = _begin_mode.set("DEFERRED")
    try:
        yield
    finally:
        _begin_mode.reset(token)


def make_private(database_url: str, instance_path: str) -> None:
    """The instance folder (0700) and the SQLite file (0600) readable by the owner alone: the file holds
    phones and ID digits. The file is created here, before SQLite opens it, because SQLite creates its
    -wal and -shm files with the database file's permissions (and a umask of 022 would give 0644)."""
    if not database_url.startswith("sqlite"):
        return
    instance = Path(instance_path)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    instance.chmod(0o700)
    database = make_url(database_url).database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        # Only a file that is not there yet is opened. Closing any descriptor of a file drops every POSIX
        # lock this process holds on it, SQLite's too: a second app made in a process whose connections are
        # open (a test, a CLI command inside the app) would silently lose their shared lock, and another
        # process closing its last connection would then take the database for unused, checkpoint and delete
        # the WAL under them: "database disk image is malformed". (SQLite's "How To Corrupt", 2.2.)
        with suppress(FileExistsError):  # made meanwhile by another process: SQLite opens it as it is
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    for private in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if private.exists():
            private.chmod(0o600)  # a database made before this rule


def install(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(f"BEGIN {_begin_mode.get()}")
