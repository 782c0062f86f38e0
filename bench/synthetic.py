"""The synthetic city the benchmarks seed: databases handed out and dropped, a tree of communities, buildings,
households and residents, and each resident's ledger chain built in Python with the product's own
entry_hash()/canonical()/earning_delta() (exactly as post() computes seq, balance_after, prev_hash and hash),
bulk-inserted (executemany on SQLite, COPY on PostgreSQL) with the PointsAccount rows, so `flask ledger verify`
passes on it. bench/ledger_verify.py checks the generator against post() and verify(); bench/load/ builds the
rest of a city on it (stores, clerks, activities).
"""
from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
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
                start: datetime, opening: int = 0) -> tuple[list[Row], tuple[int, int, int, str]]:
    """n entries for one resident, ids first_id…; returns the rows and (balance, earned, count, head).
    opening > 0: the first entry is a manual award of that many points (the load benchmark's residents
    must afford many checkouts); it is never reversed."""
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
        if seq == 1 and opening > 0:
            e.amount, e.kind, e.source_type = opening, EntryKind.MANUAL_AWARD, "manual"
            e.reason, e.actor_id, e.idempotency_key = "开户积分（压力测试）", actors.admin, f"opening:{rid}"
        elif r < 0.03 and reversible and reversible[-1].amount <= balance:
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
        elif r < 0.26 and balance > opening // 2:
            # (with an opening award, at least half of it stays: the load benchmark's residents must not run dry
            # partway through a run; a random lapse of up to the whole balance left some near 0)
            cutoff = (t - timedelta(days=365)).date().isoformat()
            e.amount, e.kind, e.source_type = -rng.randint(1, balance - opening // 2), EntryKind.EXPIRY, "expiry"
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
        if e.kind in (EntryKind.AWARD, EntryKind.MANUAL_AWARD) and not (seq == 1 and opening > 0):
            reversible.append(e)
        rows.append(e)
    return rows, (balance, earned, n, prev)


def generate(url: str, residents: int, entries: int, communities: int = 2, seed: int = 1,
             batch: int = 20_000, quiet: bool = False, *, now: datetime = NOW, opening: int = 0,
             recent: bool = False, progress: Callable[[str, int, int], None] | None = None) -> Generated:
    """Fill a freshly migrated database with `residents` residents and `entries` ledger entries.

    now: the moment the data is made at (created_at of the tree, the checkpoint); the chains end before it.
    opening: see build_chain(). recent: each chain starts so that it ends by `now` (otherwise all start
    about four years before it). progress(stage, done, total) is called as entries are written (instead of
    the printed lines)."""
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
                              "created_at": now})
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
                                   "moved_out_on": None, "created_at": now})
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
        start = now - timedelta(days=4 * 365)
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
            if recent:  # at most 20 days + 4 days an entry, 2 on average: the last entry lands before now
                start = now - timedelta(days=20 + 4 * n, seconds=n + 1)
            rows, (balance, earned, count, head) = build_chain(rng, person["community_id"], person["id"], n, next_id,
                                                               actors[person["community_id"]], start, opening)
            for e in rows:
                out.kinds[e.kind] = out.kinds.get(e.kind, 0) + 1
            next_id += n
            pending.extend(rows)
            accounts.append({"resident_id": person["id"], "community_id": person["community_id"],
                             "balance": balance, "earned_total": earned, "entry_count": count, "head_hash": head})
            if len(pending) >= batch:
                flush(pending)
                if progress:
                    progress("entries", next_id - 1, entries)
                elif not quiet and next_id - 1 >= reported + 200_000:
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
            ledger_audit.checkpoint(c, now)
        session.commit()
        if pg:
            session.execute(text("ANALYZE"))
            session.commit()
    dispose(app)
    out.seconds = time.perf_counter() - started
    return out


