"""The raw-SQL baseline: N processes run the checkout's or the check-in's transaction (bench/load/txn.py)
straight through psycopg (PostgreSQL) or sqlite3 (BEGIN IMMEDIATE, busy_timeout 10 s, as the app), one
connection each, back to back for the measured window. No HTTP, no framework: the database's speed for the
same work, the ceiling the app is compared with."""
from __future__ import annotations

import multiprocessing as mp
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parents[1]):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import txn  # noqa: E402
from assign import Assign  # noqa: E402


def _connect(url: str, dialect: str):
    if dialect == "postgresql":
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        conn = psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                               dbname=u.database, autocommit=False)
        sql = {k: txn.pyformat(v) for k, v in txn.sql_for(dialect).items()}
        cur = conn.cursor()

        def run(statement, params):
            cur.execute(statement, params, prepare=True)
            return cur.fetchall() if cur.description else []

        return conn, run, sql, (lambda: None), conn.commit, conn.rollback
    import sqlite3

    conn = sqlite3.connect(url.split("sqlite:///", 1)[1], timeout=10, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    cur = conn.cursor()
    sql = txn.sql_for(dialect)

    def run(statement, params):
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []

    return (conn, run, sql, lambda: conn.execute("BEGIN IMMEDIATE"), lambda: conn.execute("COMMIT"),
            lambda: conn.execute("ROLLBACK"))


def _worker(w: int, assign: Assign, scenario: str, dialect: str, ready, go, stop_at, out) -> None:
    conn, run, sql, begin, commit, rollback = _connect(assign.manifest.url, dialect)
    rng = random.Random(w)
    samples, errors = [], {}
    ready.put(w)
    go.wait()
    start = time.time()
    j = 0
    while time.time() < stop_at.value:
        t0, at = time.perf_counter(), time.time() - start
        try:
            begin()
            if scenario == "checkout":
                c, rid = assign.checkout_resident(w)
                txn.checkout(run, sql, dialect, cid=c, sid=assign.manifest.stores[c],
                             rid=rid, pid=rng.choice(assign.manifest.products[c]), clerk=assign.clerk(w)[0],
                             request_id=uuid.uuid4().hex, now=datetime.now(UTC))
            else:
                c, rid, aid = assign.checkin_pair(w, j)
                txn.check_in(run, sql, dialect, cid=c, aid=aid, rid=rid, actor=assign.lead(c), points=10,
                             title="压测活动", now=datetime.now(UTC))
            commit()
            samples.append((at, (time.perf_counter() - t0) * 1000))
        except Exception as exc:  # noqa: BLE001 - counted and reported, as the load generator counts HTTP errors
            rollback()
            key = str(exc).splitlines()[0][:120]
            errors[key] = errors.get(key, 0) + 1
        j += 1
    conn.close()
    out.put((samples, errors))


def run(assign: Assign, scenario: str, clients: int, duration: float) -> dict:
    """Run `clients` processes for `duration` seconds; returns {"samples": [(t, ms)], "errors": {msg: n},
    "elapsed": s}. The window starts when every process is connected."""
    ctx = mp.get_context("fork")
    dialect = "postgresql" if assign.manifest.backend == "postgresql" else "sqlite"
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    stop_at = ctx.Value("d", 0.0)
    procs = [ctx.Process(target=_worker, args=(w, assign, scenario, dialect, ready, go, stop_at, out), daemon=True)
             for w in range(clients)]
    for p in procs:
        p.start()
    for _ in procs:  # every process connected
        ready.get(timeout=120)
    stop_at.value = time.time() + duration
    go.set()
    samples, errors = [], {}
    for _ in procs:
        s, e = out.get(timeout=duration + 120)
        samples += s
        for k, v in e.items():
            errors[k] = errors.get(k, 0) + v
    for p in procs:
        p.join(timeout=30)
    return {"samples": samples, "errors": errors, "elapsed": duration}
