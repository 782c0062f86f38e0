"""Test fixtures. The whole suite runs once on SQLite and once on PostgreSQL.

- TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test) names a PostgreSQL
  server; each run creates its own throwaway database there, so parallel runs never collide.
- Outside CI an unreachable PostgreSQL skips the PostgreSQL half with the reason; under CI
  (CI=true) it fails the run.
- Each test gets a clean database: rows are deleted after the test (cheaper than rebuilding the
  schema, and commits stay real, which the concurrency tests need).
- Under pytest-xdist (`make test` runs `pytest -n auto`) each worker is a session of its own: its
  own SQLite file (tmp_path_factory is per worker), its own PostgreSQL database, created and dropped
  by that worker; the browser tests all go to one worker (pytest_xdist_make_scheduler below).
"""
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pointsapp import create_app
from pointsapp.accounts.services.sessions import SessionRules, start_session
from pointsapp.accounts.services.throttle import login_throttle
from pointsapp.core import passwords
from pointsapp.core.clock import FixedClock
from pointsapp.core.clock import install as install_clock
from pointsapp.core.dbroles import APPEND_ONLY_TABLES
from pointsapp.core.extensions import db as _db

from .factories import Factory

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
BROWSER_TESTS = "tests/browser/"
APPEND_ONLY = set(APPEND_ONLY_TABLES)  # tables whose rows PostgreSQL's triggers refuse to update or delete


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's; without it this is never called
def pytest_xdist_make_scheduler(config, log):
    """`pytest -n N` (`make test`): the browser tests are one unit of work, sent to one worker and run
    there in order (one Chromium and one seeded live server, which take seconds to start, and the demo
    data changes as in a plain run); every other test is handed out on its own to whichever worker
    is free. (xdist's `--dist loadgroup` would do this with marks, but it loses them on pytest 9.2:
    pytest-dev/pytest-xdist#1386.) Any other `--dist` is left to xdist."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        # LoadScopeScheduling queues the biggest unit first, so the browser worker starts at once
        def _split_scope(self, nodeid: str) -> str:
            return BROWSER_TESTS if nodeid.startswith(BROWSER_TESTS) else nodeid

    return BrowserTestsTogether(config, log)


def _pg_admin_engine():
    url = make_url(PG_SERVER_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}), url


def require_postgres():
    """(admin engine, url) on TEST_DATABASE_URL's server; skips outside CI when there is none, fails under CI.
    The one check every PostgreSQL-needing fixture and helper makes."""
    engine, url = _pg_admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server here"
        engine.dispose()
        message = f"PostgreSQL not reachable at {PG_SERVER_URL}: {exc.__class__.__name__}"
        if ON_CI:
            pytest.fail(message + " (CI=true requires PostgreSQL)", pytrace=False)
        pytest.skip(message)
    return engine, url


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this run, dropped at the end."""
    engine, url = require_postgres()
    name = f"pointsapp_test_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # a throwaway database: a commit need not wait for the WAL to reach the disk (what commits
        # make visible, and the locks, are the same); halves the time of a test that writes
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (own `g`, own DB session), as in production.

    Without this, a request made while the test holds an app context reuses it, so `g` (where
    Flask-Login keeps the current user) leaks from one request into the next."""

    def open(self, *args, **kwargs):
        if has_app_context():
            # End the test's own transaction first: the request must see what the test set up,
            # and on SQLite an open write transaction here would hold the lock the request needs.
            _db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_test_app(database_url: str, **extra):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,  # turned on by the tests that check it
        "LOGIN_FREE_TRIES_PER_IP": 1000,  # the whole suite logs in from 127.0.0.1
        "SERVER_NAME": None,
        "PASSWORD_HASH_METHOD": passwords.TEST_METHOD,  # scrypt costs ~0.1 s a hash; production keeps it
        "PUBLIC_BASE_URL": "https://jifen.example.cn",  # what QR codes and slips must name (tests/test_hosts.py)
        "TRUSTED_HOSTS": ["localhost"],  # the test client's host, besides the public one
        "JOBS_URL": "memory://",  # queued jobs wait in memory; tests run them (tests/test_jobs.py: a real worker)
        "WEBHOOK_ALLOW_HTTP_HOSTS": ["127.0.0.1", "localhost"],  # tests/test_webhooks.py's receiver
    }
    config.update(extra)
    app = create_app(config)
    app.test_client_class = FreshContextClient
    return app


def migrate_to_head(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


def _runs_browser_tests(session) -> bool:
    return any(item.nodeid.startswith(BROWSER_TESTS) for item in session.items)


@pytest.fixture(scope="session")
def _databases(tmp_path_factory, request):
    """backend -> (database URL, migrated app), each made when first asked for and kept to the end.

    pytest tears a session fixture down whenever the next test has another `backend`; run alone the
    tests come sorted by backend, but an xdist worker is handed sqlite and postgresql tests in turns,
    and each switch would rebuild and re-migrate the app. Keeping them here makes a switch free."""
    made: dict = {}

    def get(backend: str):
        if not made and os.environ.get("PYTEST_XDIST_WORKER") and _runs_browser_tests(request.session):
            # Database tests only take longer on a busy CPU; the browser tests' worker, with its
            # Chromium, waits on timeouts (a camera must read a QR code within 30 s). So a worker
            # yields the CPU once it starts on database tests (the browser worker runs its browser
            # tests first, then may join in).
            os.nice(5)
        if backend not in made:
            if backend == "postgresql":
                url = request.getfixturevalue("postgres_url")  # skips (or fails under CI) without a server
            else:
                url = f"sqlite:///{Path(tmp_path_factory.mktemp('sqlite')) / 'test.sqlite'}"
            app = make_test_app(url)
            migrate_to_head(app)
            made[backend] = (url, app)
        return made[backend]

    yield get
    for _url, app in made.values():
        with app.app_context():
            _db.engine.dispose()


@pytest.fixture(scope="session")
def database_url(backend, _databases) -> str:
    return _databases(backend)[0]


@pytest.fixture(scope="session")
def app(backend, _databases):
    return _databases(backend)[1]


def _wipe(app) -> None:
    """Delete every row, children first, and start the ids at 1 again.

    DELETE, not TRUNCATE, on PostgreSQL too: TRUNCATE gives each of the ~34 tables and their indexes
    new files, about 0.45 s per test here, while deleting the few rows a test made takes ~10 ms (it
    was 40% of the suite's time). SQLite reuses ids of an emptied table by itself; PostgreSQL's
    sequences are reset in the same transaction."""
    with app.app_context():
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            conn.execute(text("UPDATE building SET leader_id = NULL"))  # the one cycle: building <-> resident
            for t in tables:
                if t in APPEND_ONLY and conn.dialect.name == "postgresql":
                    # its trigger refuses DELETE: the owner (the tests' role) turns it off for this
                    # transaction alone (TRUNCATE would not do: other tables refer to ledger_entry)
                    if conn.execute(text(f'SELECT EXISTS (SELECT 1 FROM "{t}")')).scalar():
                        conn.execute(text(f'ALTER TABLE "{t}" DISABLE TRIGGER "{t}_append_only"'))
                        conn.execute(text(f'DELETE FROM "{t}"'))
                        conn.execute(text(f'ALTER TABLE "{t}" ENABLE TRIGGER "{t}_append_only"'))
                    continue
                conn.execute(text(f'DELETE FROM "{t}"'))
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c "
                                  "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"))


@pytest.fixture
def now() -> datetime:
    """The moment every test runs at (10:30 China time); the app's clock is fixed to it."""
    return datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


@pytest.fixture
def clock(app, now) -> FixedClock:
    """The app's clock for this test, standing at `now`; `clock.advance(minutes=5)` moves it."""
    fixed = FixedClock(now)
    previous = install_clock(app, fixed)
    yield fixed
    install_clock(app, previous)


@pytest.fixture
def db(app, clock):
    """An app context with a clean database; everything written is removed afterwards."""
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        login_throttle().clear()
        app.extensions["pointsapp.api_limiter"].reset()  # the API's counters (memory://) start empty too
        yield _db
        _db.session.remove()
    _wipe(app)


@pytest.fixture
def make(db, now) -> Factory:
    return Factory(db, now)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def login(app, clock):
    """login(client, user): start a login session for user (as logging in does) and put it into the test
    client's cookie jar."""
    from flask_login.utils import _create_identifier

    def do_login(client, user):
        # the identifier Flask-Login's "strong" protection expects: this client's address and agent
        with app.test_request_context(environ_base=client.environ_base):
            identifier = _create_identifier()
        token = start_session(user, clock.now(), user_agent="test client", ip="127.0.0.1",
                              rules=SessionRules.from_config(app.config))
        # committed now: a request from another thread (the race tests) must find the session row
        _db.session.commit()
        with client.session_transaction() as sess:
            sess.clear()
            sess["_user_id"] = token
            sess["_fresh"] = True
            sess["_id"] = identifier
        return client

    return do_login
