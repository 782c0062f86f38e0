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
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

PG_SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- app and databases

def make_app(url: str):
    from pointsapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench"})


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def dispose(app) -> None:
    from pointsapp.core.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Databases:
    """Hands out fresh databases and removes them all at the end."""

    def __init__(self, keep: bool = False):
        self.keep = keep
        self.tmpdir = Path(tempfile.mkdtemp(prefix="pointsapp-bench-"))
        self.pg_names: list[str] = []
        self._pg_admin = None

    def pg_admin(self):
        if self._pg_admin is None:
            url = make_url(PG_SERVER_URL).set(drivername="postgresql+psycopg")
            self._pg_admin = (create_engine(url, isolation_level="AUTOCOMMIT"), url)
        return self._pg_admin

    def new(self, backend: str, label: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmpdir / (label + '.sqlite')}"
        engine, url = self.pg_admin()
        name = f"pointsapp_bench_{label}_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.pg_names.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        if self.keep:
            return
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):])
            for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
                p.unlink(missing_ok=True)
            return
        name = make_url(url).database
        engine, _ = self.pg_admin()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.pg_names.remove(name)

    def close(self) -> None:
        if self.keep:
            print(f"kept: {self.tmpdir} {self.pg_names}", file=sys.stderr)
        else:
            if self._pg_admin:
                engine, _ = self._pg_admin
                with engine.connect() as conn:
                    for name in list(self.pg_names):
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self._pg_admin:
            self._pg_admin[0].dispose()


# --------------------------------------------------------------------------- the generator

ENTRY_COLUMNS = ("id", "community_id", "resident_id", "seq", "amount", "balance_after", "kind", "source_type",
                 "source_id", "reason", "actor_id", "idempotency_key", "reverses_id", "created_at", "prev_hash",
                 "hash")


class Row:
    """A LedgerEntry-shaped object: entry_hash()/canonical() read exactly these attributes."""

    __slots__ = ENTRY_COLUMNS

    def values(self) -> tuple:
        return tuple(getattr(self, c) for c in ENTRY_COLUMNS)


MANUAL_REASONS = ("协助社区防汛值守", "疫苗接种点志愿服务", "捐赠图书二十册", "协助调解邻里纠纷", "寻回走失老人")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
GIVEN = ("秀英", "建国", "桂兰", "志强", "丽娟", "海燕", "浩然", "子涵", "德明", "玉兰", "立新", "晓东", "春燕", "思远")
RELATIONS = ("户主", "配偶", "子女", "孙子女")


@dataclass
class Actors:
    admin: int
    lead: int
    clerk: int


@dataclass
class Generated:
    residents: int = 0
    entries: int = 0
    households: int = 0
    buildings: int = 0
    seconds: float = 0.0
    kinds: dict = field(default_factory=dict)


def build_chain(rng: random.Random, cid: int, rid: int, n: int, first_id: int, actors: Actors,
                start: datetime) -> tuple[list[Row], tuple[int, int, int, str]]:
    """n entries for one resident, ids first_id…; returns the rows and (balance, earned, count, head)."""
    from pointsapp.demo.seed import ACTIVITIES, GOODS
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services.posting import earning_delta, entry_hash

    rows: list[Row] = []
    prev, balance, earned = "0" * 64, 0, 0
    reversible: list[Row] = []
    t = start + timedelta(seconds=rng.randrange(86400 * 20), microseconds=rng.randrange(1_000_000))

    for seq in range(1, n + 1):
        t += timedelta(seconds=rng.randint(600, 86400 * 4), microseconds=rng.randrange(1_000_000))
        e = Row()
        e.id, e.community_id, e.resident_id, e.seq, e.created_at = first_id + seq - 1, cid, rid, seq, t
        e.reverses_id, e.source_id = None, ""
        reverses = None
        r = rng.random()
        if r < 0.03 and reversible and reversible[-1].amount <= balance:
            reverses = reversible.pop()
            e.amount, e.kind, e.source_type = -reverses.amount, EntryKind.REVERSAL, "reversal"
            e.source_id, e.reason, e.actor_id = str(reverses.id), "重复登记，予以冲正", actors.admin
            e.idempotency_key, e.reverses_id = f"reverse:{reverses.id}", reverses.id
        elif r < 0.20 and balance >= 8:
            label, price = rng.choice([g for g in GOODS if g[1] <= balance])
            e.amount, e.kind, e.source_type = -price, EntryKind.REDEMPTION, "redemption"
            e.source_id, e.reason, e.actor_id = f"R{rid}-{seq}", f"兑换：{label}", actors.clerk
            e.idempotency_key = f"redeem:{rid}:{seq}"
        elif r < 0.24:
            e.amount, e.kind, e.source_type = rng.randint(1, 50), EntryKind.MANUAL_AWARD, "manual"
            e.reason, e.actor_id = rng.choice(MANUAL_REASONS), actors.admin
            e.idempotency_key = f"manual:{rid}:{seq}"
        elif r < 0.25 and balance > 0:
            e.amount, e.kind, e.source_type = -rng.randint(1, min(balance, 20)), EntryKind.MANUAL_DEDUCTION, "manual"
            e.reason, e.actor_id, e.idempotency_key = "误登记，扣回", actors.admin, f"manual:{rid}:{seq}"
        elif r < 0.26 and balance > 0:
            cutoff = (t - timedelta(days=365)).date().isoformat()
            e.amount, e.kind, e.source_type = -rng.randint(1, balance), EntryKind.EXPIRY, "expiry"
            e.source_id, e.actor_id = cutoff, None
            e.reason = f"积分有效期 12 个月，{cutoff} 前获得的积分到期"
            e.idempotency_key = f"expire:{rid}:{cutoff}:{seq}"
        else:
            label, points = rng.choice(ACTIVITIES)
            e.amount, e.kind, e.source_type = points, EntryKind.AWARD, "attendance"
            e.source_id, e.reason, e.actor_id = f"{rid}{seq:03d}", f"{label}（志愿服务）", actors.lead
            e.idempotency_key = f"attendance:{rid}:{seq}"
        e.kind = str(e.kind)  # post() stores str(kind)
        # exactly as post(): seq = entry_count + 1, balance_after = balance + amount, prev = head
        e.balance_after = balance + e.amount
        e.prev_hash = prev
        e.hash = entry_hash(prev, e)
        balance, prev = e.balance_after, e.hash
        earned += earning_delta(e.kind, e.amount, reverses)
        if e.kind in (EntryKind.AWARD, EntryKind.MANUAL_AWARD):
            reversible.append(e)
        rows.append(e)
    return rows, (balance, earned, n, prev)


def generate(url: str, residents: int, entries: int, communities: int = 2, seed: int = 1,
             batch: int = 20_000, quiet: bool = False) -> Generated:
    """Fill a freshly migrated database with `residents` residents and `entries` ledger entries."""
    from pointsapp.accounts.models import User
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import LedgerEntry, PointsAccount
    from pointsapp.ledger.services import audit as ledger_audit
    from pointsapp.tree.models import Building, Community, Grid, Household, Resident, Subdistrict

    started = time.perf_counter()
    rng = random.Random(seed)
    app = make_app(url)
    migrate(app)
    out = Generated()
    with app.app_context():
        session = db.session
        pg = session.get_bind().dialect.name == "postgresql"
        ins = lambda model, rows: rows and session.execute(model.__table__.insert(), rows)  # noqa: E731
        ins(Subdistrict, [{"id": 1, "name": "城厢街道", "city": "莱阳市"}])
        ins(Community, [{"id": c, "subdistrict_id": 1, "name": f"测试社区{c}", "address": "", "phone": "",
                         "points_expire_months": None} for c in range(1, communities + 1)])
        ins(Grid, [{"id": (c - 1) * 4 + g, "community_id": c, "name": f"第{g}网格", "worker_name": "",
                    "worker_phone": ""} for c in range(1, communities + 1) for g in range(1, 5)])
        users, actors = [], {}
        for c in range(1, communities + 1):
            ids = [(c - 1) * 3 + k for k in (1, 2, 3)]
            actors[c] = Actors(*ids)
            for uid, role in zip(ids, ("admin", "lead", "clerk"), strict=True):
                users.append({"id": uid, "phone": f"139{uid:08d}", "name": f"{role}{c}", "password_hash": None,
                              "resident_id": None, "is_enabled": True,
                              "created_at": NOW})
        ins(User, users)

        # the tree: households of 1-4 residents, 24 households (2 units x 6 floors x 2 doors) a building
        per_community = [residents // communities + (1 if c < residents % communities else 0)
                         for c in range(communities)]
        buildings, households, people = [], [], []
        hid = bid = rid = 0
        for c, count in enumerate(per_community, start=1):
            left, slot = count, 24
            while left:
                if slot == 24:
                    bid, slot = bid + 1, 0
                    buildings.append({"id": bid, "community_id": c, "name": f"{len(buildings) + 1}号楼",
                                      "grid_id": (c - 1) * 4 + 1 + bid % 4, "leader_id": None})
                hid += 1
                unit, rest = divmod(slot, 12)
                households.append({"id": hid, "community_id": c, "building_id": bid, "unit": str(unit + 1),
                                   "room": f"{rest // 2 + 1}0{rest % 2 + 1}", "note": ""})
                slot += 1
                surname = rng.choice(SURNAMES)
                for k in range(min(left, rng.randint(1, 4))):
                    rid += 1
                    people.append({"id": rid, "community_id": c, "household_id": hid,
                                   "name": surname + GIVEN[(k * 5 + hid) % len(GIVEN)],
                                   "relation": RELATIONS[min(k, 3)], "phone": f"13{rid:09d}", "id_tail": "0425",
                                   "birth_year": rng.randint(1940, 2015), "moved_in_on": date(2010, 5, 1),
                                   "moved_out_on": None, "created_at": NOW})
                    left -= 1
        for chunk in range(0, len(buildings), batch):
            ins(Building, buildings[chunk:chunk + batch])
        for chunk in range(0, len(households), batch):
            ins(Household, households[chunk:chunk + batch])
        for chunk in range(0, len(people), batch):
            ins(Resident, people[chunk:chunk + batch])
        out.residents, out.households, out.buildings = len(people), len(households), len(buildings)
        if not quiet:
            print(f"  tree: {len(buildings)} buildings, {len(households)} households, {len(people)} residents "
                  f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)

        # the chains
        per_resident = [entries // len(people) + (1 if i < entries % len(people) else 0) for i in range(len(people))]
        start = NOW - timedelta(days=4 * 365)
        next_id, pending, accounts, reported = 1, [], [], 0
        raw = session.connection().connection.driver_connection if pg else None
        cols = ", ".join(ENTRY_COLUMNS)

        def flush(rows: list[Row]) -> None:
            if not rows:
                return
            if pg:  # COPY; created_at as naive UTC, as UTCDateTime stores it
                with raw.cursor() as cur, cur.copy(f"COPY ledger_entry ({cols}) FROM STDIN") as copy:
                    for e in rows:
                        v = list(e.values())
                        v[13] = v[13].astimezone(UTC).replace(tzinfo=None)
                        copy.write_row(v)
            else:  # executemany through the table (UTCDateTime does the conversion)
                session.execute(LedgerEntry.__table__.insert(), [dict(zip(ENTRY_COLUMNS, e.values(), strict=True)) for e in rows])
            rows.clear()

        for person, n in zip(people, per_resident, strict=True):
            if not n:
                continue
            rows, (balance, earned, count, head) = build_chain(rng, person["community_id"], person["id"], n, next_id,
                                                               actors[person["community_id"]], start)
            for e in rows:
                out.kinds[e.kind] = out.kinds.get(e.kind, 0) + 1
            next_id += n
            pending.extend(rows)
            accounts.append({"resident_id": person["id"], "community_id": person["community_id"],
                             "balance": balance, "earned_total": earned, "entry_count": count, "head_hash": head})
            if len(pending) >= batch:
                flush(pending)
                if not quiet and next_id - 1 >= reported + 200_000:
                    reported = next_id - 1
                    print(f"  {reported} entries ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        flush(pending)
        out.entries = next_id - 1
        for chunk in range(0, len(accounts), batch):
            ins(PointsAccount, accounts[chunk:chunk + batch])
        if pg:  # explicit ids were given: move the sequences past them
            for table in ("subdistrict", "community", "grid", "building", "household", "resident", "user",
                          "ledger_entry"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f"(SELECT max(id) FROM \"{table}\"))"))
        session.commit()
        for c in range(1, communities + 1):
            ledger_audit.checkpoint(c, NOW)
        session.commit()
        if pg:
            session.execute(text("ANALYZE"))
            session.commit()
    dispose(app)
    out.seconds = time.perf_counter() - started
    return out


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
