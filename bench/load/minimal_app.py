"""The minimal-endpoint baseline: Flask + SQLAlchemy Core doing the checkout's and the check-in's
transaction (bench/load/txn.py) and nothing else: no login, no session, no CSRF, no templates, no ORM.
Served by the same gunicorn settings as the app and driven by the same load generator:

    MINIMAL_DATABASE_URL=postgresql+psycopg://… gunicorn -c python:pointsapp.serving.gunicorn_conf \
        --chdir bench/load 'minimal_app:create()'

POST /checkout  cid, sid, rid, pid, clerk, request_id  -> 200 "receipt <id>"
POST /checkin   cid, aid, rid, actor                   -> 200 "attendance <id>"
"""
from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parents[1]):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import txn  # noqa: E402
from flask import Flask, request  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402


def make_engine(url: str):
    from pointsapp.core.config import normalise_db_url

    url = normalise_db_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10})

        @event.listens_for(engine, "connect")
        def _connect(dbapi, _record):  # as pointsapp.core.sqlite: we BEGIN IMMEDIATE ourselves
            dbapi.isolation_level = None
            cur = dbapi.cursor()
            cur.execute("PRAGMA busy_timeout = 10000")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        engine = create_engine(url, pool_size=5, max_overflow=5)
    return engine


def create(url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = make_engine(url or os.environ["MINIMAL_DATABASE_URL"])
    dialect = engine.dialect.name
    sql = {k: text(v) for k, v in txn.sql_for(dialect).items()}
    app.config["ENGINE"] = engine

    def runner(conn):
        def run(statement, params):
            result = conn.execute(statement, params)
            return result.all() if result.returns_rows else []
        return run

    def number(name: str) -> int:
        return int(request.form[name])

    @app.post("/checkout")
    def checkout():
        with engine.begin() as conn:
            rid = txn.checkout(runner(conn), sql, dialect, cid=number("cid"), sid=number("sid"), rid=number("rid"),
                               pid=number("pid"), clerk=number("clerk"), request_id=request.form["request_id"],
                               now=datetime.now(UTC))
        return f"receipt {rid}"

    @app.post("/checkin")
    def checkin():
        with engine.begin() as conn:
            aid = txn.check_in(runner(conn), sql, dialect, cid=number("cid"), aid=number("aid"), rid=number("rid"),
                               actor=number("actor"), points=10, title="压测活动", now=datetime.now(UTC))
        return f"attendance {aid}"

    @app.get("/ping")
    def ping():
        return "ok"

    return app
