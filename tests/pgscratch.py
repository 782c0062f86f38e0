"""Throwaway PostgreSQL databases and roles for the deployment tests (app role, PgBouncer, replica).

Each is named deploy_<what>_<random> on the TEST_DATABASE_URL server, made by its (superuser) role, and
dropped at the end. No server: the test skips outside CI and fails under CI=true, like conftest.postgres_url.
"""
import uuid
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from .conftest import PG_SERVER_URL, require_postgres


def admin_engine():
    """The server's superuser connection (AUTOCOMMIT), or a skip (a failure under CI) without a server."""
    return require_postgres()[0]


def url_for(database: str, user: str | None = None, *, host: str | None = None, port: int | None = None) -> str:
    url = make_url(PG_SERVER_URL).set(drivername="postgresql+psycopg", database=database)
    if user is not None:
        url = url.set(username=user, password=None)
    if host is not None:
        url = url.set(host=host)
    if port is not None:
        url = url.set(port=port)
    return url.render_as_string(hide_password=False)


def unique(what: str) -> str:
    return f"deploy_{what}_{uuid.uuid4().hex[:8]}"


@contextmanager
def scratch(*, databases: int = 1, roles: tuple[str, ...] = (), owner: str | None = None):
    """Yields (admin engine, [database names], {role: name}); `owner` names the role (of `roles`) that
    owns the databases. Everything is dropped afterwards."""
    engine = admin_engine()
    names = {r: unique(r) for r in roles}
    dbs = [unique("db") for _ in range(databases)]
    try:
        with engine.connect() as conn:
            for role, name in names.items():
                # the owner inherits pg_database_owner's CREATE on schema public (PostgreSQL 15)
                inherit = "INHERIT" if role == owner else "NOINHERIT"
                conn.execute(text(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE {inherit}'))
            for name in dbs:
                conn.execute(text(f'CREATE DATABASE "{name}"' + (f' OWNER "{names[owner]}"' if owner else "")))
                conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        yield engine, dbs, names
    finally:
        with engine.connect() as conn:
            for name in dbs:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for name in names.values():
                conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        engine.dispose()


def log_in(app, client, user, now):
    """Put a login session for `user` into the test client's cookies (as conftest's `login` fixture does)."""
    from flask_login.utils import _create_identifier

    from pointsapp.accounts.services.sessions import SessionRules, start_session
    from pointsapp.core.extensions import db

    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    token = start_session(user, now, user_agent="test client", ip="127.0.0.1",
                          rules=SessionRules.from_config(app.config))
    db.session.commit()
    with client.session_transaction() as sess:
        sess.clear()
        sess.update({"_user_id": token, "_fresh": True, "_id": identifier})
    return client
