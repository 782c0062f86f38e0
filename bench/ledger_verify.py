"""Benchmark `flask --app pointsapp ledger verify` (pointsapp.ledger.services.audit.verify).

Not a test. Measures verify on
  1. the demo data (build_demo + build_history, as `flask demo` builds it), and
  2. a generated ledger of --entries entries (default 1,000,000: 50,000 residents x 20 entries in
     2 communities),
on SQLite (a temp file) and/or PostgreSQL (a throwaway database, dropped at the end).

The big ledger is not posted through post() (far too slow); the tree is bulk-inserted and each
resident's chain is built in Python with the product's own entry_hash()/canonical()/earning_delta(),
exactly as post() computes seq, balance_after, prev_hash and hash, then bulk-inserted (executemany
on SQLite, COPY on PostgreSQL) together with the PointsAccount rows; ledger_audit.checkpoint() then
stores a checkpoint. Before anything is timed, the generator is checked on a small sample on each
backend: verify() must report OK, post() must extend a generated chain and verify must still be OK,
and an edited entry must be reported.

Each measurement runs verify() in a fresh child process (this script with --verify-only), so the
peak RSS reported (getrusage ru_maxrss) is that of a verify process, not of the generator. The child
runs verify as `flask ledger verify` does: inside core.sqlite.read_only() (BEGIN DEFERRED on SQLite).

--concurrent-write (SQLite): on the generated ledger, verify runs again in a child, once as the CLI
runs it (DEFERRED) and once as it ran before (IMMEDIATE, --begin immediate), while this process posts
an award and commits every 0.2 s from the moment verify's transaction has begun until verify is done;
the write latencies and failures ("database is locked" after the 10 s busy timeout) are reported.

--expire: a ledger of --expire-residents residents (default 20,000, --expire-entries entries) whose
communities lapse points after --expire-months months (default 47: the cut-off falls inside the
generated histories, so some residents lapse points and some do not); `flask ledger expire` is run
twice through the CLI (the second run must lapse nothing), counting SQL statements.

    .venv/bin/python bench/ledger_verify.py                      # everything, both databases
    .venv/bin/python bench/ledger_verify.py --backend sqlite --entries 100000 --residents 5000
    .venv/bin/python bench/ledger_verify.py --verify-only sqlite:////tmp/x.sqlite --runs 1 --profile
    .venv/bin/python bench/ledger_verify.py --backend sqlite --no-demo --concurrent-write
    .venv/bin/python bench/ledger_verify.py --backend sqlite --no-demo --no-big --expire
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from synthetic import (  # noqa: E402,F401  (the generator lives in bench/synthetic.py; rankings.py imports from here)
    ENTRY_COLUMNS,
    GIVEN,
    MANUAL_REASONS,
    NOW,
    PG_SERVER_URL,
    RELATIONS,
    SURNAMES,
    Actors,
    Databases,
    Generated,
    Row,
    build_chain,
    dispose,
    generate,
    make_app,
    migrate,
)


def check_generator(dbs: Databases, backend: str) -> None:
    """The generator must produce what post() produces: verify OK, post() continues a chain, and an
    edited entry is caught."""
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind, LedgerEntry
    from pointsapp.ledger.services import audit as ledger_audit
    from pointsapp.ledger.services.posting import Posting, post
    from pointsapp.tree.models import Resident

    url = dbs.new(backend, "sample")
    try:
        info = generate(url, residents=300, entries=6_007, seed=99, batch=1000, quiet=True)
        assert info.entries == 6_007, info
        assert len(info.kinds) == 6, f"every entry kind should occur in the sample: {info.kinds}"
        app = make_app(url)
        with app.app_context():
            report = ledger_audit.verify()
            assert report.ok and report.entries == 6_007 and report.residents == 300, \
                [str(p) for p in report.problems[:5]]
            resident = db.session.get(Resident, 10)  # residents 1-7 have 21 entries, the rest 20
            entry = post(Posting(resident, 12, EntryKind.AWARD, "demo", "bench-check-1", "检查"), None, NOW)
            assert entry.seq == 21 and entry.id == 6_008, (entry.seq, entry.id)
            db.session.commit()
            report = ledger_audit.verify()
            assert report.ok and report.entries == 6_008, [str(p) for p in report.problems[:5]]
            db.session.execute(update(LedgerEntry).where(LedgerEntry.id == 1234).values(reason="改过"))
            db.session.commit()
            problems = ledger_audit.verify().problems
            assert len(problems) == 1 and problems[0].entry_id == 1234, [str(p) for p in problems]
            db.session.rollback()
        dispose(app)
    finally:
        dbs.drop(url)
    print(f"  generator check on {backend}: OK (verify clean, post() continues a generated chain, "
          f"an edited entry is named)", file=sys.stderr)


def build_demo_data(url: str) -> tuple[int, float]:
    from pointsapp.core.extensions import db
    from pointsapp.demo import seed as demo

    started = time.perf_counter()
    app = make_app(url)
    migrate(app)
    with app.app_context():
        now = datetime.now(UTC)
        demo.build_demo(now)
        entries = demo.build_history(now)
        db.session.commit()
    dispose(app)
    return entries, time.perf_counter() - started


# --------------------------------------------------------------------------- timing verify

def _proc_status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's VmHWM (Linux: writing 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def verify_only(url: str, runs: int, profile: bool, begin: str = "deferred", signal_start: bool = False) -> dict:
    """Runs in the child process: time verify() `runs` times, as the CLI command runs it (inside
    sqlite.read_only(); begin="immediate" runs it as it ran before, holding the write lock).

    Peak RSS: getrusage's ru_maxrss survives exec on Linux (the child starts out with the high-water
    mark of the parent that forked it, here the generator), so where /proc allows it the peak is read
    from VmHWM, reset before each run; ru_maxrss is the fallback."""
    from contextlib import nullcontext

    from pointsapp.core import sqlite
    from pointsapp.core.extensions import db
    from pointsapp.ledger.services import audit as ledger_audit

    app = make_app(url)
    times, cpu, report, baseline, peak = [], [], None, 0, 0
    reader = sqlite.read_only if begin == "deferred" else nullcontext
    for i in range(runs):
        with app.app_context():
            prof = None
            if profile and i == runs - 1:
                import cProfile

                prof = cProfile.Profile()
            resettable = _reset_peak_rss()
            baseline = max(baseline, _proc_status_kb("VmRSS") or 0)
            if prof:
                prof.enable()
            started, cpu_started = time.perf_counter(), time.process_time()
            with reader():
                if signal_start:  # begin the transaction (IMMEDIATE takes the write lock here), then say so
                    db.session.execute(text("SELECT 1"))
                    print("STARTED", flush=True)
                report = ledger_audit.verify()
            if signal_start:
                print("FINISHED", flush=True)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            if prof:
                prof.disable()
            peak = max(peak, (_proc_status_kb("VmHWM") if resettable else None)
                       or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            db.session.rollback()
        if prof:
            import pstats

            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    dispose(app)
    return {"begin": begin, "times": times, "cpu": cpu, "load": os.getloadavg(), "entries": report.entries, "residents": report.residents, "ok": report.ok,
            "problems": [str(p) for p in report.problems[:5]], "rss_before_kb": baseline, "peak_rss_kb": peak,
            "peak_source": "VmHWM" if resettable else "ru_maxrss"}


def measure(url: str, runs: int, profile: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--verify-only", url, "--runs", str(runs)]
    if profile:
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"verify child failed ({proc.returncode}):\n{proc.stdout}")
    result = json.loads(lines[-1][len("RESULT "):])
    if not result["ok"]:
        raise SystemExit(f"verify reported problems: {result['problems']}")
    return result


# --------------------------------------------------------------------------- a write during verify

def concurrent_write(url: str, begin: str, interval: float = 0.2) -> dict:
    """Run verify in a child (as the CLI does, or IMMEDIATE as before) and meanwhile post and commit an
    award every `interval` seconds from this process; report the writes' latencies and failures."""
    from pointsapp.core.clock import FixedClock
    from pointsapp.core.clock import install as install_clock
    from pointsapp.core.extensions import db
    from pointsapp.core.uow import unit_of_work
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services.posting import Posting, post
    from pointsapp.tree.models import Resident

    app = make_app(url)
    install_clock(app, FixedClock(NOW))
    with app.app_context():
        ids = list(db.session.scalars(text("SELECT id FROM resident ORDER BY id LIMIT 200")))
        db.session.rollback()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--verify-only", url, "--runs", "1", "--begin", begin,
           "--signal-start"]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout.readline().strip() == "STARTED"
    finished, rest = threading.Event(), []

    def read_child() -> None:
        for line in child.stdout:
            if line.strip() == "FINISHED":
                finished.set()
            rest.append(line)

    reading = threading.Thread(target=read_child)
    reading.start()
    latencies, failures, i = [], [], 0
    while not finished.is_set() and child.poll() is None:  # only writes begun while verify runs
        i += 1
        started = time.perf_counter()
        try:
            with app.app_context(), unit_of_work():
                resident = db.session.get(Resident, ids[i % len(ids)])
                post(Posting(resident, 1, EntryKind.AWARD, "demo", f"bench-write-{begin}-{i}", "并发写入"), None, NOW)
            latencies.append(time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - a locked database is what we measure
            failures.append((time.perf_counter() - started, str(exc).splitlines()[0][:80]))
        time.sleep(interval)
    child.wait()
    reading.join()
    err = child.stderr.read()
    if err:
        sys.stderr.write(err)
    out = "".join(rest)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if child.returncode or not lines:
        raise SystemExit(f"verify child failed ({child.returncode}):\n{out}")
    result = json.loads(lines[-1][len("RESULT "):])
    dispose(app)
    return {"begin": begin, "verify_s": result["times"][0], "ok": result["ok"], "writes": len(latencies),
            "failures": failures, "median_s": statistics.median(latencies) if latencies else None,
            "max_s": max(latencies) if latencies else None}


# --------------------------------------------------------------------------- expire

def expire_bench(dbs: Databases, backend: str, residents: int, entries: int, months: int) -> dict:
    """`flask ledger expire` twice on a generated ledger: time, SQL statements, what lapsed."""
    from sqlalchemy import event

    from pointsapp.core.clock import FixedClock
    from pointsapp.core.clock import install as install_clock
    from pointsapp.core.extensions import db
    from pointsapp.ledger.services import audit as ledger_audit
    from pointsapp.tree.models import Community

    url = dbs.new(backend, "expire")
    try:
        print(f"[{backend}] generating {entries} entries for {residents} residents (expiry) …", file=sys.stderr)
        generate(url, residents, entries, quiet=True)
        app = make_app(url)
        install_clock(app, FixedClock(NOW))
        with app.app_context():
            db.session.execute(update(Community).values(points_expire_months=months))
            db.session.commit()
            engine = db.engine
        statements = [0]

        def count(*_args):
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        runs = []
        for label in ("first", "rerun"):
            statements[0] = 0
            with app.app_context():
                started, cpu_started = time.perf_counter(), time.process_time()
                result = app.test_cli_runner().invoke(args=["ledger", "expire"])
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if result.exit_code:
                raise SystemExit(f"expire failed: {result.output} {result.exception!r}")
            touched = points = 0
            for line in result.output.splitlines():  # "community 1: 123 points lapsed for 4 residents"
                words = line.split()
                points, touched = points + int(words[2]), touched + int(words[-2])
            runs.append({"run": label, "seconds": elapsed, "cpu": cpu, "statements": statements[0],
                         "touched": touched, "points": points})
            print(f"  expire {label}: {elapsed:.2f} s (CPU {cpu:.2f} s), {statements[0]} statements, {points} points lapsed for "
                  f"{touched} residents", file=sys.stderr)
        event.remove(engine, "before_cursor_execute", count)
        with app.app_context():
            assert ledger_audit.verify().ok
            db.session.rollback()
        dispose(app)
    finally:
        dbs.drop(url)
    return {"backend": backend, "residents": residents, "entries": entries, "months": months, "runs": runs}


# --------------------------------------------------------------------------- main

def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    except OSError:
        mem = 0
    import platform

    import sqlalchemy

    return (f"{os.cpu_count()} cores ({cpu}), {mem} GB RAM, Python {platform.python_version()}, "
            f"SQLAlchemy {sqlalchemy.__version__}, SQLite {__import__('sqlite3').sqlite_version}")


def pg_version() -> str:
    engine = create_engine(make_url(PG_SERVER_URL).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        v = conn.execute(text("SHOW server_version")).scalar()
    engine.dispose()
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000, help="generated ledger entries (default 1,000,000)")
    ap.add_argument("--residents", type=int, default=50_000, help="generated residents (default 50,000)")
    ap.add_argument("--communities", type=int, default=2)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--runs", type=int, default=3, help="verify runs per data set; the median is reported")
    ap.add_argument("--big-runs", type=int, help="runs for the generated ledger (default: --runs)")
    ap.add_argument("--no-demo", action="store_true", help="skip the demo data")
    ap.add_argument("--no-big", action="store_true", help="skip the generated ledger")
    ap.add_argument("--profile", action="store_true", help="cProfile the last verify run of each measurement")
    ap.add_argument("--keep", action="store_true", help="keep the databases (their names are printed)")
    ap.add_argument("--verify-only", metavar="URL", help="only time verify() on this database (child mode)")
    ap.add_argument("--begin", choices=("deferred", "immediate"), default="deferred",
                    help="child mode: run verify as the CLI does (deferred) or holding the write lock (immediate)")
    ap.add_argument("--signal-start", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--concurrent-write", action="store_true",
                    help="SQLite: also time writes made while verify runs, DEFERRED (now) and IMMEDIATE (before)")
    ap.add_argument("--expire", action="store_true", help="also time `flask ledger expire` on a generated ledger")
    ap.add_argument("--expire-residents", type=int, default=20_000)
    ap.add_argument("--expire-entries", type=int, default=200_000)
    ap.add_argument("--expire-months", type=int, default=47)
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()

    if args.verify_only:
        print("RESULT " + json.dumps(verify_only(args.verify_only, args.runs, args.profile, args.begin,
                                                 args.signal_start)))
        return

    import logging

    logging.disable(logging.INFO)  # alembic's "Running upgrade …" lines
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    big_runs = args.big_runs or args.runs
    print(f"machine: {machine()}", file=sys.stderr)
    if "postgresql" in backends:
        print(f"PostgreSQL {pg_version()}", file=sys.stderr)
    results, writes, expiries = [], [], []
    dbs = Databases(keep=args.keep)
    try:
        for backend in backends:
            if not args.no_demo:
                url = dbs.new(backend, "demo")
                print(f"[{backend}] building the demo data …", file=sys.stderr)
                entries, built = build_demo_data(url)
                r = measure(url, args.runs, args.profile)
                results.append({"backend": backend, "data": "demo", "build_s": built, **r})
                dbs.drop(url)
            if not args.no_big:
                print(f"[{backend}] checking the generator on a sample …", file=sys.stderr)
                check_generator(dbs, backend)
                url = dbs.new(backend, "big")
                print(f"[{backend}] generating {args.entries} entries for {args.residents} residents …",
                      file=sys.stderr)
                info = generate(url, args.residents, args.entries, args.communities)
                print(f"  done in {info.seconds:.1f} s; kinds {info.kinds}", file=sys.stderr)
                if backend == "sqlite":
                    size = sum(p.stat().st_size for p in dbs.tmpdir.glob("big.sqlite*"))
                    print(f"  SQLite file {size / 2**20:.0f} MB", file=sys.stderr)
                print(f"[{backend}] timing verify ({big_runs} runs) …", file=sys.stderr)
                r = measure(url, big_runs, args.profile)
                results.append({"backend": backend, "data": "generated", "build_s": info.seconds, **r})
                if args.concurrent_write and backend == "sqlite":
                    for begin in ("deferred", "immediate"):
                        print(f"[{backend}] writes during verify ({begin}) …", file=sys.stderr)
                        writes.append(concurrent_write(url, begin))
                dbs.drop(url)
            if args.expire:
                expiries.append(expire_bench(dbs, backend, args.expire_residents, args.expire_entries,
                                             args.expire_months))
    finally:
        dbs.close()

    print(f"machine: {machine()}" + (f"; PostgreSQL {pg_version()}" if "postgresql" in backends else ""))
    header = ("backend", "data", "residents", "entries", "runs", "median s", "min s", "entries/s",
              "client CPU s", "RSS before MB", "peak RSS MB")
    table = []
    for r in results:
        med = statistics.median(r["times"])
        table.append((r["backend"], r["data"], f"{r['residents']:,}", f"{r['entries']:,}", str(len(r["times"])),
                      f"{med:.2f}", f"{min(r['times']):.2f}", f"{r['entries'] / med:,.0f}",
                      f"{statistics.median(r['cpu']):.2f}",
                      f"{r['rss_before_kb'] / 1024:.0f}", f"{r['peak_rss_kb'] / 1024:.0f}"))
    widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(header)]
    if table:
        print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table:
        print("| " + " | ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
              + " |")
    for r in results:
        print(f"  {r['backend']}/{r['data']}: runs {', '.join(f'{t:.2f}' for t in r['times'])} s; "
              f"data built in {r['build_s']:.1f} s; load average after {r['load'][0]:.2f}")
    for w in writes:
        latency = (f"median {w['median_s'] * 1000:.0f} ms, max {w['max_s'] * 1000:.0f} ms" if w["writes"]
                   else "none succeeded")
        failed = (f"; {len(w['failures'])} failed after {max(f[0] for f in w['failures']):.1f} s "
                  f"({w['failures'][0][1]})") if w["failures"] else "; none failed"
        print(f"  writes during verify, {w['begin'].upper()}: verify {w['verify_s']:.1f} s; "
              f"{w['writes']} writes committed ({latency}){failed}")
    for e in expiries:
        for r in e["runs"]:
            print(f"  expire on {e['backend']}, {e['residents']:,} residents / {e['entries']:,} entries, "
                  f"{e['months']} months, {r['run']} run: {r['seconds']:.2f} s (client CPU {r['cpu']:.2f} s), "
                  f"{r['statements']:,} statements, "
                  f"{r['points']:,} points lapsed for {r['touched']:,} residents")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": results, "writes": writes,
                                               "expiries": expiries}, indent=2))


if __name__ == "__main__":
    main()
