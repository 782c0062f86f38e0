"""Benchmark leaderboards, the public board and star evaluations on a large generated community.

Not a test. For each --sizes (default 500k and 5M ledger entries, over 100,000 residents in about
40,000 households, 1,000 buildings, 16 grids, 24 volunteer teams and 2 communities, entries spread
over 24 months) and each --backend (SQLite file and/or a throwaway PostgreSQL database, dropped at
the end) it:

  1. generates the data (see "The data" below),
  2. times, in a fresh child process (this script with --measure URL), p50/p95 over --calls calls of
     - rankings.leaderboard() for every subject x period x metric (top 50),
     - rankings.rank_of() for random residents and their households,
     - rankings.public_board() for the three panels of the board page,
     - GET /board/<community_id> and GET /rankings (logged in as a resident) through the Flask test
       client,
     - stars.compute() and stars.start_notice() (compute + store + commit) for the community with
       30,000 households,
     - ledger.post() of an attendance award (the write side: the totals move in that transaction),
  3. prints the table, the growth ratio p95(largest size)/p95(smallest size) per query, and the
     targets missed.

The data. The tree, the volunteer teams, activities (about two a day a community), attendances and
ledger entries (about 72 % attendance awards, 6 % manual awards, 16 % redemptions, 3 % reversals,
1 % deductions, 1 % expiries; entries per resident exponentially distributed, so many residents earn
little and a few earn a lot) are bulk-inserted with explicit ids (executemany on SQLite, COPY on
PostgreSQL). Entries get placeholder hashes (hash = the id in hex, prev_hash = the previous hash):
the hash chain plays no part in rankings, and `ledger verify` on this data reports every entry.
The points accounts (balance, entry count, head) are consistent with the entries, so post() can
continue any chain. The earning totals are then built from the stored entries by set-based SQL
(INSERT ... SELECT ... GROUP BY: per resident, team and China-time month from ledger_entry ->
attendance -> activity, then rolled up to quarters, years, all time, households, buildings, grids
and teams), which reproduces earning_of()/record() for each entry. Before anything is timed, this
is checked on a sample on each backend: the totals must equal, row for row, what
rankings.rebuild() (record() for every entry, as ledger.post() does) writes.

    .venv/bin/python bench/rankings.py                                 # 500k and 5M, both databases
    .venv/bin/python bench/rankings.py --backend sqlite --sizes 200k --calls 50
    .venv/bin/python bench/rankings.py --sizes 5M --backend postgresql --keep  # keep the database
    .venv/bin/python bench/rankings.py --measure postgresql://postgres@127.0.0.1:5432/<db>  # re-time one
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from ledger_verify import (  # noqa: E402  (same machinery as the ledger verify benchmark)
    GIVEN,
    MANUAL_REASONS,
    RELATIONS,
    SURNAMES,
    Databases,
    dispose,
    machine,
    make_app,
    migrate,
    pg_version,
)
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)  # the clock of the pages is frozen here while timing
MONTHS = 24
TARGET_MS = 50.0  # leaderboards and the board page, p95
TARGET_GROWTH = 1.5
TARGET_STARS_S = 10.0

TEAM_NAMES = (("便民服务队", "便民"), ("安民巡逻队", "安民"), ("助民帮扶队", "助民"), ("乐民文艺队", "乐民"))
ACTIVITY_KINDS = (("楼道广告清理", 10), ("安全值守", 15), ("环境整治", 10), ("扶老助弱", 20), ("文明倡导", 5),
                  ("垃圾分类督导", 8), ("文艺汇演", 10))
PLACES = ("社区广场", "1号楼楼道", "社区活动室", "东门岗亭", "老年活动中心", "垃圾分类站")
GOODS = (("食用油", 50), ("洗衣粉", 20), ("挂面", 10), ("香皂", 8), ("大米5斤", 30), ("理发服务", 15), ("家电维修", 25))
HOUSEHOLDS_PER_BUILDING = 40  # 2 units x 10 floors x 2 doors
GRIDS_PER_COMMUNITY = 8
TEAMS_PER_COMMUNITY = 12
ACTIVITIES_PER_DAY = 2  # per community


def parse_size(s: str) -> int:
    s = s.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    return int(float(s[:-1] if factor > 1 else s) * factor)


def fmt_size(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- bulk loading

class Loader:
    """Bulk inserts below SQLAlchemy: executemany on a raw sqlite3 connection, COPY on PostgreSQL.
    Values are naive UTC datetimes (as UTCDateTime stores them), dates, bools, ints and strings."""

    def __init__(self, url: str):
        self.pg = url.startswith("postgresql")
        if self.pg:
            import psycopg

            u = make_url(url)
            self.conn = psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                                        dbname=u.database)
            with self.conn.cursor() as cur:
                # bulk load of rows consistent by construction: skip the FK triggers
                cur.execute("SET session_replication_role = replica")
                cur.execute("SET synchronous_commit = off")
                cur.execute("SET maintenance_work_mem = '512MB'")
                cur.execute("SET work_mem = '256MB'")
        else:
            sqlite3.register_adapter(datetime, lambda d: d.isoformat(" ", "microseconds"))
            sqlite3.register_adapter(date, lambda d: d.isoformat())
            self.path = url[len("sqlite:///"):]
            self.conn = sqlite3.connect(self.path, isolation_level=None)
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -3000000", "temp_store = MEMORY",
                           "foreign_keys = OFF"):
                self.conn.execute(f"PRAGMA {pragma}")
            self.conn.execute("BEGIN")

    def insert(self, table: str, columns: tuple[str, ...], rows) -> None:
        if not rows:
            return
        cols = ", ".join(f'"{c}"' for c in columns)
        if self.pg:
            with self.conn.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', rows)

    def execute(self, sql: str) -> None:
        if self.pg:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        else:
            self.conn.execute(sql)

    def scalar(self, sql: str):
        if self.pg:
            with self.conn.cursor() as cur:
                return cur.execute(sql).fetchone()[0]
        return self.conn.execute(sql).fetchone()[0]

    def close(self) -> None:
        if self.pg:
            self.conn.commit()
            self.conn.close()
        else:
            self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA journal_mode = WAL")  # as the app runs it
            self.conn.close()


# --------------------------------------------------------------------------- the generator

ENTRY_COLS = ("id", "community_id", "resident_id", "seq", "amount", "balance_after", "kind", "source_type",
              "source_id", "reason", "actor_id", "idempotency_key", "reverses_id", "created_at", "prev_hash", "hash")
ATT_COLS = ("id", "community_id", "activity_id", "resident_id", "checked_in_at", "checked_out_at", "method",
            "recorded_by_id", "manual_reason", "status", "reviewed_by_id", "reviewed_at", "reject_reason",
            "points_awarded", "ledger_entry_id")
ACT_COLS = ("id", "community_id", "team_id", "title", "kind", "place", "description", "starts_at", "ends_at",
            "checkin_opens_at", "checkin_closes_at", "capacity", "rule", "points", "hourly_cap", "award_on",
            "allow_poster", "code_seconds", "code_salt", "is_cancelled", "created_by_id", "created_at")


class Info(dict):
    """What was generated (a dict, so it goes into the JSON as is)."""


def _community_sizes(residents: int, communities: int, share: float) -> list[int]:
    first = round(residents * share) if communities > 1 else residents
    rest = residents - first
    others = [rest // (communities - 1) + (1 if i < rest % (communities - 1) else 0) for i in range(communities - 1)]
    return [first, *others]


def generate(url: str, residents: int, entries: int, communities: int = 2, share: float = 0.75, seed: int = 1,
             activities_per_day: int = ACTIVITIES_PER_DAY, quiet: bool = False, batch: int = 50_000) -> Info:
    """Fill a freshly migrated database. Community 1 holds `share` of the residents."""
    from pointsapp.ledger.models import EntryKind
    from pointsapp.volunteering.services.checkin import points_for

    started = time.perf_counter()
    rng = random.Random(seed)
    app = make_app(url)
    migrate(app)
    dispose(app)
    now = NOW.replace(tzinfo=None)  # naive UTC below, as stored
    start = now - timedelta(days=MONTHS * 365 // 12)
    info = Info(residents=residents, entries=entries, communities=communities)
    ld = Loader(url)
    say = (lambda m: None) if quiet else (lambda m: log(f"  {m} ({time.perf_counter() - started:.0f} s)"))

    # ---- the tree, staff, teams
    ld.insert("subdistrict", ("id", "name", "city"), [(1, "城厢街道", "莱阳市")])
    ld.insert("community", ("id", "subdistrict_id", "name", "address", "phone", "points_expire_months", "board_mask",
                            "board_frozen"),
              [(c, 1, f"测试社区{c}", "", "", None, "middle", False) for c in range(1, communities + 1)])
    ld.insert("grid", ("id", "community_id", "name", "worker_name", "worker_phone"),
              [((c - 1) * GRIDS_PER_COMMUNITY + g, c, f"第{g}网格", "", "") for c in range(1, communities + 1)
               for g in range(1, GRIDS_PER_COMMUNITY + 1)])
    teams = {c: [(c - 1) * TEAMS_PER_COMMUNITY + k for k in range(1, TEAMS_PER_COMMUNITY + 1)]
             for c in range(1, communities + 1)}
    ld.insert("team", ("id", "community_id", "name", "category"),
              [(tid, c, f"{TEAM_NAMES[k % 4][0]}{k // 4 + 1}", TEAM_NAMES[k % 4][1])
               for c in teams for k, tid in enumerate(teams[c])])
    ld.insert("store", ("id", "community_id", "name", "address"),
              [(c, c, f"爱心超市{c}", "") for c in range(1, communities + 1)])
    users, grants, staff = [], [], {}
    for c in range(1, communities + 1):
        admin, lead, clerk = ((c - 1) * 3 + k for k in (1, 2, 3))
        staff[c] = (admin, lead, clerk)
        for uid, role in ((admin, "admin"), (lead, "lead"), (clerk, "clerk")):
            users.append((uid, f"139{uid:08d}", f"{role}{c}", None, None, True, NOW.replace(tzinfo=None)))
        grants += [(admin, admin, "community_admin", c, None, None, None, now),
                   (lead, lead, "team_lead", c, teams[c][0], None, None, now),
                   (clerk, clerk, "clerk", c, None, c, None, now)]

    sizes = _community_sizes(residents, communities, share)
    buildings, households, people = [], [], []
    hid = bid = rid = 0
    for c, count in enumerate(sizes, start=1):
        left, slot, nb = count, HOUSEHOLDS_PER_BUILDING, 0
        while left:
            if slot == HOUSEHOLDS_PER_BUILDING:
                bid, nb, slot = bid + 1, nb + 1, 0
                buildings.append((bid, c, (c - 1) * GRIDS_PER_COMMUNITY + 1 + nb % GRIDS_PER_COMMUNITY, f"{nb}号楼",
                                  None))
            hid += 1
            unit, rest = divmod(slot, 20)
            households.append((hid, c, bid, str(unit + 1), f"{rest // 2 + 1}0{rest % 2 + 1}", ""))
            slot += 1
            surname = rng.choice(SURNAMES)
            for k in range(min(left, rng.randint(1, 4))):
                rid += 1
                people.append((rid, c, hid, surname + GIVEN[(k * 5 + hid) % len(GIVEN)], RELATIONS[min(k, 3)],
                               f"13{rid:09d}", "0425", rng.randint(1940, 2015), date(2010, 5, 1), None, 1, 0,
                               rng.random() < 0.01, now))  # 1 % keep their name off public boards
                left -= 1
    ld.insert("building", ("id", "community_id", "grid_id", "name", "leader_id"), buildings)
    ld.insert("household", ("id", "community_id", "building_id", "unit", "room", "note"), households)
    ld.insert("resident", ("id", "community_id", "household_id", "name", "relation", "phone", "id_tail",
                           "birth_year", "moved_in_on", "moved_out_on", "card_serial", "pin_failures",
                           "hide_from_board", "created_at"), people)
    # a resident login for the /rankings page: an active household head of community 1
    viewer = next(p for p in people if p[1] == 1 and p[4] == "户主" and p[0] > 100 and not p[12])
    users.append((len(users) + 1, "13800000000", viewer[3], None, viewer[0], True, now))
    ld.insert("user", ("id", "phone", "name", "password_hash", "resident_id", "is_enabled", "created_at"), users)
    ld.insert("role_grant", ("id", "user_id", "role", "community_id", "team_id", "store_id", "granted_by_id",
                             "granted_at"), grants)
    info.update(households=len(households), buildings=len(buildings), viewer_user=len(users),
                viewer_resident=viewer[0], household_counts={c: sum(1 for h in households if h[1] == c)
                                                             for c in range(1, communities + 1)})
    say(f"tree: {len(buildings)} buildings, {len(households)} households, {len(people)} residents")

    # ---- activities: about two a day a community, in the daytime (China time), 1-3 hours
    acts: dict[int, list[tuple]] = {}
    act_rows, aid = [], 0
    days = (now - start).days
    for c in range(1, communities + 1):
        acts[c] = []
        planned = []
        for _ in range(days * activities_per_day):
            day = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=rng.randrange(days))
            begins = day + timedelta(hours=rng.randint(8, 16) - 8, minutes=rng.choice((0, 30)))  # 08-16 h CST
            ends = begins + timedelta(minutes=rng.choice((60, 90, 120, 180)))
            if begins > start and ends < now - timedelta(hours=1):
                planned.append((begins, ends))
        for begins, ends in sorted(planned):
            aid += 1
            kind, points = rng.choice(ACTIVITY_KINDS)
            hourly = rng.random() < 0.15
            rule, award_on = ("hourly", "check_out") if hourly else \
                ("fixed", rng.choices(("check_out", "check_in", "approval"), (7, 2, 1))[0])
            team = rng.choice(teams[c])
            act = (aid, begins, ends, team, points, rule, award_on, kind, 30 if hourly else None)
            acts[c].append(act)
            act_rows.append((aid, c, team, f"{kind}（{rng.choice(PLACES)}）", kind, rng.choice(PLACES), "", begins, ends,
                             begins - timedelta(minutes=30), ends + timedelta(minutes=30), None, rule, points,
                             act[8], award_on, False, 30, f"{rng.getrandbits(128):032x}", False, staff[c][1],
                             begins - timedelta(days=7)))
    ld.insert("activity", ACT_COLS, act_rows)
    info["activities"] = len(act_rows)
    say(f"{len(act_rows)} activities")

    # ---- ledger entries and attendances, resident by resident
    weights = [rng.expovariate(1.0) for _ in people]
    total_w = sum(weights)
    counts = [int(w * entries / total_w) for w in weights]
    for i in rng.sample(range(len(people)), entries - sum(counts)):
        counts[i] += 1
    span = (now - start).total_seconds()

    class _Activity:  # a light stand-in for points_for()
        __slots__ = ("rule", "points", "starts_at", "ends_at", "hourly_cap")

    probe = _Activity()
    entry_rows, att_rows, accounts = [], [], []
    eid = att_id = 0
    kinds: dict[str, int] = {}
    reported = 0
    award, manual_award, redemption, manual_deduction, reversal, expiry = (
        str(k) for k in (EntryKind.AWARD, EntryKind.MANUAL_AWARD, EntryKind.REDEMPTION, EntryKind.MANUAL_DEDUCTION,
                         EntryKind.REVERSAL, EntryKind.EXPIRY))

    def flush() -> None:
        ld.insert("ledger_entry", ENTRY_COLS, entry_rows)
        entry_rows.clear()

    for person, n in zip(people, counts, strict=True):
        if not n:
            continue
        rid, cid = person[0], person[1]
        admin, lead, clerk = staff[cid]
        pool = acts[cid]
        n_att = min(sum(1 for _ in range(n) if rng.random() < 0.72), len(pool))
        events = []
        for act in rng.sample(pool, n_att):
            _aid, begins, ends, _team, points, rule, award_on, kind, cap = act
            cin = begins + timedelta(seconds=rng.uniform(-15 * 60, 20 * 60))
            out_scan = ends + timedelta(seconds=rng.uniform(-30 * 60, 20 * 60))
            cout = min(out_scan, ends)
            if award_on == "check_in":
                cout, when = None, cin
            elif award_on == "check_out":
                when = out_scan
            else:  # approval, a few hours to three days later
                when = min(ends + timedelta(seconds=rng.uniform(3600, 3 * 86400)), now - timedelta(minutes=1))
            probe.rule, probe.points, probe.starts_at, probe.ends_at, probe.hourly_cap = rule, points, begins, ends, cap
            amount = points_for(probe, cin, cout)
            if amount <= 0:  # too short a stay for an hourly point: this one stayed to the end
                cout = ends
                amount = points_for(probe, cin, cout)
                when = max(when, ends)
            assert amount > 0, act
            events.append((when, act, cin, cout, amount))
        for _ in range(n - n_att):
            events.append((start + timedelta(seconds=rng.random() * span), None, None, None, 0))
        events.sort(key=lambda e: e[0])
        balance = earned = seq = 0
        prev = "0" * 64
        reversible: list[tuple] = []  # (entry id, amount, attendance row or None)
        for when, act, cin, cout, amount in events:
            eid += 1
            seq += 1
            reverses, source_id = None, ""
            if act is not None:
                att_id += 1
                kind, source, source_id, actor = award, "attendance", str(att_id), lead
                reason, key = f"{act[7]}：活动{act[0]}", f"attendance:{att_id}"
                row = [att_id, cid, act[0], rid, cin, cout, "self_scan", lead, "",
                       "pending" if act[6] == "approval" else "approved", None, None, "", amount, eid]
                if act[6] == "approval":
                    row[9], row[10], row[11] = "approved", lead, when
                att_rows.append(row)
                reversible.append((eid, amount, row))
            else:
                r = rng.random()
                if r < 0.11 and reversible and reversible[-1][1] <= balance:
                    reverses, rev_amount, row = reversible.pop()
                    amount, kind, source, source_id = -rev_amount, reversal, "reversal", str(reverses)
                    reason, key, actor = "重复登记，予以冲正", f"reverse:{reverses}", admin
                    if row is not None:  # the lead rejected the attendance: points taken back
                        row[9], row[10], row[11], row[12] = "rejected", lead, when, "未实际参加"
                elif r < 0.70 and balance >= 8:
                    label, price = rng.choice([g for g in GOODS if g[1] <= balance])
                    amount, kind, source, source_id = -price, redemption, "redemption", f"R{rid}-{seq}"
                    reason, key, actor = f"兑换：{label}", f"redeem:{rid}:{seq}", clerk
                elif r < 0.75 and balance > 0:
                    amount, kind, source = -rng.randint(1, min(balance, 20)), manual_deduction, "manual"
                    reason, key, actor = "误登记，扣回", f"manual:{rid}:{seq}", admin
                elif r < 0.78 and balance > 0:
                    cutoff = (when - timedelta(days=365)).date().isoformat()
                    amount, kind, source, source_id = -rng.randint(1, balance), expiry, "expiry", cutoff
                    reason, key, actor = f"积分有效期 12 个月，{cutoff} 前获得的积分到期", f"expire:{rid}:{cutoff}:{seq}", None
                else:
                    amount, kind, source = rng.randint(1, 50), manual_award, "manual"
                    reason, key, actor = rng.choice(MANUAL_REASONS), f"manual:{rid}:{seq}", admin
                    reversible.append((eid, amount, None))
            balance += amount
            if kind in (award, manual_award, reversal):
                earned += amount  # only earning kinds are reversed here
            h = f"{eid:064x}"  # placeholder hash (see the module docstring)
            entry_rows.append((eid, cid, rid, seq, amount, balance, kind, source, source_id, reason, actor, key,
                               reverses, when, prev, h))
            prev = h
            kinds[kind] = kinds.get(kind, 0) + 1
        accounts.append((rid, cid, balance, earned, seq, prev))
        if len(entry_rows) >= batch:
            flush()
            if eid >= reported + 1_000_000:
                reported = eid - eid % 1_000_000
                say(f"{reported:,} entries")
        if len(att_rows) >= batch:
            ld.insert("attendance", ATT_COLS, att_rows)
            att_rows.clear()
    flush()
    ld.insert("attendance", ATT_COLS, att_rows)
    ld.insert("points_account", ("resident_id", "community_id", "balance", "earned_total", "entry_count",
                                 "head_hash"), accounts)
    info.update(kinds=kinds, attendances=att_id)
    assert eid == entries, (eid, entries)
    say(f"{eid:,} entries, {att_id:,} attendances")

    # ---- the earning totals, from the stored entries
    for sql in totals_sql("postgresql" if ld.pg else "sqlite"):
        ld.execute(sql)
    info["earning_totals"] = ld.scalar("SELECT count(*) FROM earning_total")
    say(f"{info['earning_totals']:,} earning totals")
    if ld.pg:  # explicit ids were given: move the sequences past them
        for table in ("subdistrict", "community", "grid", "team", "store", "user", "role_grant", "building",
                      "household", "resident", "activity", "ledger_entry", "attendance"):
            ld.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))")
    ld.close()

    # a ledger checkpoint per community, as a nightly job would store it (the board page shows the latest)
    from pointsapp.core.extensions import db
    from pointsapp.ledger.services import audit as ledger_audit

    app = make_app(url)
    with app.app_context():
        for c in range(1, communities + 1):
            ledger_audit.checkpoint(c, NOW)
        db.session.commit()
        if db.session.get_bind().dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    dispose(app)
    if not ld.pg:
        info["sqlite_mb"] = round(sum(p.stat().st_size for p in Path(ld.path).parent.glob(Path(ld.path).name + "*"))
                                  / 2**20)
    info["seconds"] = round(time.perf_counter() - started, 1)
    return info


def totals_sql(dialect: str) -> list[str]:
    """INSERT ... SELECT statements that build earning_total from ledger_entry, attendance and activity
    exactly as record(earning_of(entry)) does for each entry: earning kinds add their amount; a
    reversal of an earning subtracts it; an attendance (source_type 'attendance', source_id its id)
    adds 1 attendance, the minutes between check-in and check-out (for a fixed-points activity without
    check-out, the scheduled end) clipped to the activity (Activity.service_minutes), and the activity's team; periods are China-time (UTC+8, no daylight saving) months, quarters, years."""
    pg = dialect == "postgresql"
    if pg:
        month = "'M' || to_char(e.created_at + interval '8 hours', 'YYYY-MM')"
        digits = "{0} ~ '^[0-9]+$'"
        cast = "CAST({0} AS integer)"
        minutes = ("GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (LEAST(COALESCE(a.checked_out_at, t.ends_at), t.ends_at)"
                   " - GREATEST(a.checked_in_at, t.starts_at))) / 60))::integer")
    else:
        month = "'M' || strftime('%Y-%m', e.created_at, '+8 hours')"
        digits = "({0} <> '' AND {0} NOT GLOB '*[^0-9]*')"
        cast = "CAST({0} AS INTEGER)"

        def us(x: str) -> str:  # microseconds since the epoch of a stored 'YYYY-MM-DD HH:MM:SS.ffffff'
            return f"(CAST(strftime('%s', {x}) AS INTEGER) * 1000000 + CAST(substr({x}, 21, 6) AS INTEGER))"

        minutes = (f"MAX(0, ({us('MIN(COALESCE(a.checked_out_at, t.ends_at), t.ends_at)')}"
                   f" - {us('MAX(a.checked_in_at, t.starts_at)')})"
                   " / 60000000)")
    earning = "('award', 'manual_award')"
    sign = "CASE WHEN e.kind = 'reversal' THEN -1 ELSE 1 END"
    attendance_id = (f"CASE WHEN e.kind <> 'reversal' AND e.source_type = 'attendance' AND {digits.format('e.source_id')}"
                     f" THEN {cast.format('e.source_id')}"
                     f" WHEN e.kind = 'reversal' AND r.source_type = 'attendance' AND {digits.format('r.source_id')}"
                     f" THEN {cast.format('r.source_id')} END")
    quarter = "'Q' || substr(period, 2, 4) || '-' || CAST((CAST(substr(period, 7, 2) AS INTEGER) + 2) / 3 AS VARCHAR(1))"
    year = "'Y' || substr(period, 2, 4)"
    out = ["DROP TABLE IF EXISTS bench_earning",
           f"""CREATE TABLE bench_earning AS
SELECT e.community_id, e.resident_id, h.id AS household_id, b.id AS building_id, b.grid_id, t.team_id,
       {month} AS period, SUM(e.amount) AS points,
       SUM(CASE WHEN a.id IS NULL OR (a.checked_out_at IS NULL AND t.rule <> 'fixed') THEN 0
                ELSE {sign} * {minutes} END) AS minutes,
       SUM(CASE WHEN a.id IS NULL THEN 0 ELSE {sign} END) AS attendances
FROM ledger_entry e
JOIN resident p ON p.id = e.resident_id
JOIN household h ON h.id = p.household_id
JOIN building b ON b.id = h.building_id
LEFT JOIN ledger_entry r ON e.kind = 'reversal' AND r.id = e.reverses_id
LEFT JOIN attendance a ON a.id = ({attendance_id})
LEFT JOIN activity t ON t.id = a.activity_id
WHERE e.kind IN {earning} OR (e.kind = 'reversal' AND r.kind IN {earning})
GROUP BY e.community_id, e.resident_id, h.id, b.id, b.grid_id, t.team_id, {month}"""]
    cols = "community_id, period, subject_type, subject_id, points, minutes, attendances"
    for subject, column in (("resident", "resident_id"), ("household", "household_id"), ("building", "building_id"),
                            ("grid", "grid_id"), ("team", "team_id")):
        out.append(f"""INSERT INTO earning_total ({cols})
SELECT community_id, period, '{subject}', {column}, SUM(points), SUM(minutes), SUM(attendances)
FROM bench_earning WHERE {column} IS NOT NULL GROUP BY community_id, period, {column}""")
        for key in (quarter, year, "'A'"):
            group = "" if key == "'A'" else f"{key}, "  # PostgreSQL refuses a string constant in GROUP BY
            out.append(f"""INSERT INTO earning_total ({cols})
SELECT community_id, {key}, subject_type, subject_id, SUM(points), SUM(minutes), SUM(attendances)
FROM earning_total WHERE subject_type = '{subject}' AND period LIKE 'M%'
GROUP BY community_id, {group}subject_type, subject_id""")
    out.append("DROP TABLE bench_earning")
    return out


def check_generator(dbs: Databases, backend: str) -> None:
    """The generated totals must be what record() writes for each entry (rankings.rebuild())."""
    from sqlalchemy import select

    from pointsapp.core.extensions import db
    from pointsapp.rankings import services as rankings
    from pointsapp.rankings.models import EarningTotal

    url = dbs.new(backend, "sample")
    try:
        info = generate(url, residents=500, entries=10_000, seed=99, activities_per_day=1, quiet=True, batch=2000)
        assert len(info["kinds"]) == 6, info["kinds"]
        app = make_app(url)
        cols = (EarningTotal.community_id, EarningTotal.period, EarningTotal.subject_type, EarningTotal.subject_id,
                EarningTotal.points, EarningTotal.minutes, EarningTotal.attendances)
        with app.app_context():
            generated = set(db.session.execute(select(*cols)).all())
            assert len(generated) == info["earning_totals"]
            subjects = {row[2] for row in generated}
            assert subjects == set(rankings.SUBJECTS), subjects
            counted = sum(rankings.rebuild(c) for c in range(1, info["communities"] + 1))
            rebuilt = set(db.session.execute(select(*cols)).all())
            db.session.rollback()
        dispose(app)
        if generated != rebuilt:
            extra, missing = sorted(generated - rebuilt)[:5], sorted(rebuilt - generated)[:5]
            raise SystemExit(f"generated totals differ from rebuild() on {backend}: extra {extra} missing {missing}")
        minutes = sum(r[5] for r in generated if r[1] == "A" and r[2] == "resident")
        log(f"  generator check on {backend}: OK ({len(generated):,} totals from {counted:,} earning entries equal "
            f"rankings.rebuild(); {minutes:,} volunteer minutes, team totals included)")
    finally:
        dbs.drop(url)


# --------------------------------------------------------------------------- timing

PERIODS = ("month", "quarter", "year", "all")


def _freeze_clock(apps) -> None:
    """The pages read the time through the app's clock: fix it at NOW, where the data ends."""
    from pointsapp.core.clock import FixedClock, install

    for app in apps:
        install(app, FixedClock(NOW))


WHAT_IF = {
    "metric-indexes": "indexes on (community_id, period, subject_type, minutes) and (…, attendances), as "
                      "ix_earning_total_board is for points",
    "defer-checkpoint-heads": "ledger_audit.latest_checkpoint() without loading the checkpoint's heads JSON",
    "board-star-limit": "the board page asks stars.results(notice, min_stars=1, limit=12) instead of slicing [:12]",
}


def _what_if(app, changes: list[str]) -> None:
    """Try a change that lies outside the files this benchmark may touch, in this process (and, for
    the indexes, in this throwaway database) only, to measure what it would bring."""
    from pointsapp.core.extensions import db

    if "metric-indexes" in changes:
        with app.app_context():
            for metric in ("minutes", "attendances"):
                db.session.execute(text(f"CREATE INDEX IF NOT EXISTS ix_earning_total_{metric} ON earning_total "
                                        f"(community_id, period, subject_type, {metric})"))
            db.session.commit()
            if db.session.get_bind().dialect.name == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE earning_total"))
    if "defer-checkpoint-heads" in changes:
        from sqlalchemy import select
        from sqlalchemy.orm import defer

        from pointsapp.ledger.models import LedgerCheckpoint
        from pointsapp.ledger.services import audit as ledger_audit

        def latest_checkpoint(community_id: int):
            return db.session.scalar(select(LedgerCheckpoint).options(defer(LedgerCheckpoint.heads))
                                     .where(LedgerCheckpoint.community_id == community_id)
                                     .order_by(LedgerCheckpoint.created_at.desc(), LedgerCheckpoint.id.desc())
                                     .limit(1))

        ledger_audit.latest_checkpoint = latest_checkpoint
    if "board-star-limit" in changes:
        from types import SimpleNamespace

        import pointsapp.rankings.views as web_rankings
        from pointsapp.recognition.services import stars

        def results(evaluation, *, min_stars=0, limit=None):
            return stars.results(evaluation, min_stars=min_stars, limit=12 if limit is None else limit)

        web_rankings.stars = SimpleNamespace(**{**vars(stars), "results": results})


def measure(urls: list[str], calls: int, warmup: int, star_runs: int, posts: int, only: str | None = None,
            profile: bool = False, what_if: list[str] | None = None, extra_calls: int = 30) -> list[dict]:
    """Runs in the child process. The data sets (same tree, different ledger sizes) are timed
    interleaved, call by call, with the same random residents, so that load from elsewhere on the
    machine affects them alike and the growth ratio stays meaningful. Each timed call gets a fresh
    app context (a fresh session, as a request does) and, on SQLite, a read-only (DEFERRED)
    transaction, as GET requests do; only the call itself is inside the timer."""
    from types import SimpleNamespace

    from flask_login.utils import _create_identifier
    from sqlalchemy import func, select

    from pointsapp.accounts.models import User
    from pointsapp.accounts.services.sessions import SessionRules, start_session
    from pointsapp.core import sqlite as sqlite_mode
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import audit as ledger_audit
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.rankings import services as rankings
    from pointsapp.rankings.models import EarningTotal
    from pointsapp.recognition.models import StarRuleSet
    from pointsapp.recognition.services import stars
    from pointsapp.tree.models import Community, Household, Resident

    wanted = [w for w in (only or "").split(",") if w]

    def skip(name: str) -> bool:
        return bool(wanted) and not any(w in name for w in wanted)

    apps = [make_app(url) for url in urls]
    _freeze_clock(apps)
    if what_if:
        for app in apps:
            _what_if(app, what_if)
    outs: list[dict[str, list[float]]] = [{} for _ in apps]
    extras: list[dict] = [{} for _ in apps]
    for app, extra in zip(apps, extras, strict=True):
        with app.app_context():
            extra["backend"] = db.session.get_bind().dialect.name
            residents = db.session.scalars(select(Resident.id).where(Resident.community_id == 1)
                                           .order_by(Resident.id)).all()
            households = db.session.scalars(select(Household.id).where(Household.community_id == 1)
                                            .order_by(Household.id)).all()
            viewer = db.session.scalar(select(User).where(User.resident_id.is_not(None)))
            # a login session for the resident's pages, as logging in makes one
            token = start_session(viewer, NOW, user_agent="bench", ip="127.0.0.1",
                                  rules=SessionRules.from_config(app.config))
            db.session.commit()
            extra["viewer"] = (viewer.id, token)
            extra["admin_id"] = db.session.scalar(select(User.id).where(User.name == "admin1"))
            extra["totals_rows"] = db.session.scalar(select(func.count()).select_from(EarningTotal))
            extra["household_count"] = len(households)
            extra["board_ranges"] = {
                f"{subject} {which}": db.session.scalar(select(func.count()).select_from(EarningTotal).where(
                    EarningTotal.community_id == 1, EarningTotal.period == period,
                    EarningTotal.subject_type == subject))
                for which, period in rankings.current_periods(NOW).items() for subject in rankings.SUBJECTS}
            db.session.rollback()
    # the same random residents and households for every data set (the tree is the same)
    rng = random.Random(5)
    picks = max(calls, extra_calls, posts) + warmup
    some_residents = [rng.choice(residents) for _ in range(picks)]
    some_households = [rng.choice(households) for _ in range(picks)]
    periods = rankings.current_periods(NOW)
    community = SimpleNamespace(id=1, board_mask="middle")  # what public_board() reads of a community

    def timed(k: int, name: str, i: int, fn) -> None:
        started = time.perf_counter()
        fn(i)
        elapsed = time.perf_counter() - started
        if i >= warmup:
            outs[k].setdefault(name, []).append(elapsed * 1000)

    def run(name: str, fn, n: int = calls) -> None:
        if skip(name):
            return
        prof = None
        for i in range(warmup + n):
            if profile and i == warmup:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            for k, app in enumerate(apps):
                with app.app_context(), sqlite_mode.read_only():
                    timed(k, name, i, fn)
        if prof:
            prof.disable()
            import pstats

            log(f"--- profile of {name} ({n} calls on each data set)")
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumtime").print_stats(12)

    # leaderboards: every subject x period, points; then the minutes and attendances tabs
    for metric in rankings.METRICS:
        for which in PERIODS:
            for subject in rankings.SUBJECTS:
                suffix = "" if metric == "points" else f" ({metric})"
                run(f"leaderboard {subject} {which}{suffix}",
                    lambda i, p=periods[which], s=subject, m=metric: rankings.leaderboard(1, p, s, m))
    for which in PERIODS:
        run(f"rank_of resident {which}",
            lambda i, p=periods[which]: rankings.rank_of(1, p, "resident", some_residents[i]))
        run(f"rank_of household {which}",
            lambda i, p=periods[which]: rankings.rank_of(1, p, "household", some_households[i]))
    for subject in ("resident", "household", "building"):
        run(f"public_board {subject} month (board panel)",
            lambda i, s=subject: rankings.public_board(community, periods["month"], s, limit=10))
    run("public_board resident all, limit 50 (rankings page)",
        lambda i: rankings.public_board(community, periods["all"], "resident", limit=50))
    run("ledger_audit.latest_checkpoint() (board page footer)", lambda i: ledger_audit.latest_checkpoint(1))
    if hasattr(rankings, "leaderboard_range"):  # custom month ranges (the rankings page's "from … to …")
        for n in (3, 12):
            months = rankings.last_months(NOW, n)
            for subject in ("resident", "household"):
                run(f"leaderboard_range {subject} last {n} months",
                    lambda i, m=months, s=subject: rankings.leaderboard_range(1, m, s), extra_calls)

    # the pages, through the test client (each request pushes its own app context)
    clients = []
    for app, extra in zip(apps, extras, strict=True):
        anonymous, resident_client = app.test_client(), app.test_client()
        with app.test_request_context(environ_base=resident_client.environ_base):
            identifier = _create_identifier()
        with resident_client.session_transaction() as sess:
            sess["_user_id"], sess["_fresh"], sess["_id"] = extra["viewer"][1], True, identifier
        clients.append((anonymous, resident_client))

    def get(client, path: str, must: str) -> None:
        response = client.get(path)
        body = response.get_data(as_text=True)
        if response.status_code != 200 or must not in body:
            raise SystemExit(f"GET {path}: {response.status_code}, {must!r} not in the page:\n{body[:2000]}")

    def page_run(name: str, path, must: str, logged_in: bool, n: int = calls) -> None:
        if skip(name):
            return
        for i in range(warmup + n):
            for k in range(len(apps)):
                client = clients[k][1 if logged_in else 0]
                timed(k, name, i, lambda i, client=client: get(client, path(i), must))

    page_run("GET /board/1", lambda i: "/board/1", "*", False)
    page_run("GET /rankings (default tab: month, residents)", lambda i: "/rankings", "ranking", True)
    for label, metrics in (("points", ("points",)), ("minutes/attendances", ("minutes", "attendances"))):
        tabs = [(w, s, m) for m in metrics for w in PERIODS for s in rankings.SUBJECTS]
        page_run(f"GET /rankings ({len(tabs)} {label} tabs in turn)",
                 lambda i, tabs=tabs: "/rankings?period={}&by={}&metric={}".format(*tabs[i % len(tabs)]), "ranking",
                 True)
    first, last = (f"{m[1:5]}-{m[6:]}" for m in rankings.last_months(NOW, 12)[::11])
    page_run("GET /rankings custom range of 12 months, residents",
             lambda i: f"/rankings?period=custom&from={first}&to={last}&by=resident", "ranking", True, extra_calls)

    # star evaluation of community 1's households for this year
    if not skip("stars."):
        rule_ids = []
        for app, extra in zip(apps, extras, strict=True):
            with app.app_context():
                actor, c1 = db.session.get(User, extra["admin_id"]), db.session.get(Community, 1)
                rules = stars.create_rule_set(actor, c1, f"bench {time.time_ns():x}", [50, 150, 300, 600, 1000], 2,
                                              NOW)
                db.session.commit()
                rule_ids.append(rules.id)
        for i in range(star_runs):
            for k, (app, extra) in enumerate(zip(apps, extras, strict=True)):
                with app.app_context():
                    actor, c1 = db.session.get(User, extra["admin_id"]), db.session.get(Community, 1)
                    evaluation = stars.create_evaluation(actor, c1, db.session.get(StarRuleSet, rule_ids[k]),
                                                         f"bench {i}", periods["year"], 7, NOW)
                    db.session.commit()
                    started = time.perf_counter()
                    ratings = stars.compute(evaluation)
                    outs[k].setdefault("stars.compute()", []).append((time.perf_counter() - started) * 1000)
                    db.session.rollback()
                    started = time.perf_counter()
                    stored = stars.start_notice(actor, evaluation, NOW)
                    db.session.commit()
                    outs[k].setdefault("stars.start_notice() + commit", []).append(
                        (time.perf_counter() - started) * 1000)
                    extra["stars"] = {"households": len(ratings), "stored": stored,
                                      "distribution": {n: sum(1 for r in ratings if r.stars == n) for n in range(6)}}
        # the board page while a star evaluation of 30,000 households is on public notice (it lists
        # the starred households)
        page_run("GET /board/1 during a star notice", lambda i: "/board/1", "*", False, extra_calls)

    # the write side: ledger.post() of a manual award (record() moves 16 totals) and the commit
    if posts and not skip("ledger.post()"):
        tag = f"{time.time_ns():x}"  # fresh request keys on every run, or post() returns the first entry
        for i in range(warmup + posts):
            for k, (app, extra) in enumerate(zip(apps, extras, strict=True)):
                with app.app_context():
                    actor, resident = db.session.get(User, extra["admin_id"]), db.session.get(Resident,
                                                                                               some_residents[i])

                    def post(i, actor=actor, resident=resident):
                        ledger.post(ledger.Posting(resident, 5, EntryKind.MANUAL_AWARD, "manual",
                                                   f"bench-post-{tag}-{i}", "协助社区防汛值守"), actor, NOW)
                        db.session.commit()

                    timed(k, "ledger.post() manual award + commit", i, post)
    for app in apps:
        dispose(app)
    return [{"times": out, "extra": extra, "load": os.getloadavg()} for out, extra in zip(outs, extras, strict=True)]


WHAT_IF_ONLY = "(minutes),(attendances),GET /,latest_checkpoint,stars.,ledger.post()"


def measure_child(urls: list[str], args, what_if: list[str] | None = None) -> list[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", *urls, "--calls", str(args.calls),
           "--warmup", str(args.warmup), "--extra-calls", str(args.extra_calls), "--star-runs", str(args.star_runs),
           "--posts", str(args.posts)]
    only = WHAT_IF_ONLY if what_if and not args.only else args.only
    if only:
        cmd += ["--only", only]
    for change in what_if or ():
        cmd += ["--what-if", change]
    if args.profile:
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"measuring child failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# --------------------------------------------------------------------------- reporting

def pct(values: list[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (p95 of 200 calls: the 190th fastest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 1)) - 1))]


def targeted(name: str) -> bool:
    return name.startswith(("leaderboard", "GET /board"))


def report(runs: list[dict], sizes: list[int]) -> str:
    """Markdown: p50/p95 per query per database per size, growth p95(largest)/p95(smallest)."""
    backends = [b for b in ("sqlite", "postgresql") if any(r["backend"] == b for r in runs)]
    cell = {(r["backend"], r["entries"]): r["result"]["times"] for r in runs}
    names: list[str] = []
    for r in runs:
        names += [n for n in r["result"]["times"] if n not in names]
    lo, hi = min(sizes), max(sizes)
    header = ["query"]
    for b in backends:
        header += [f"{'SQLite' if b == 'sqlite' else 'PostgreSQL'} {fmt_size(s)} p50 / p95" for s in sorted(sizes)]
        if lo != hi:
            header.append(f"growth {'SQLite' if b == 'sqlite' else 'PG'} p95 (p50)")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    missed = []
    for name in names:
        row = [name]
        stars_row = name.startswith("stars.")
        unit = (lambda v: f"{v / 1000:.2f} s") if stars_row else (lambda v: f"{v:.1f}")
        for b in backends:
            for s in sorted(sizes):
                t = cell.get((b, s), {}).get(name)
                row.append(f"{unit(pct(t, .5))} / {unit(pct(t, .95))}" if t else "—")
                if t and targeted(name) and pct(t, .95) > TARGET_MS:
                    missed.append(f"{name} on {b} at {fmt_size(s)}: p95 {pct(t, .95):.1f} ms > {TARGET_MS:.0f} ms")
                if t and name == "stars.start_notice() + commit" and max(t) > TARGET_STARS_S * 1000:
                    missed.append(f"{name} on {b} at {fmt_size(s)}: {max(t) / 1000:.1f} s > {TARGET_STARS_S:.0f} s")
            if lo != hi:
                a, z = cell.get((b, lo), {}).get(name), cell.get((b, hi), {}).get(name)
                growth = pct(z, .95) / pct(a, .95) if a and z else None
                row.append(f"{growth:.2f}× ({pct(z, .5) / pct(a, .5):.2f}×)" if growth else "—")
                if growth and targeted(name) and growth >= TARGET_GROWTH:
                    missed.append(f"{name} on {b}: p95 grew {growth:.2f}× from {fmt_size(lo)} to {fmt_size(hi)}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Targets missed: " + ("none" if not missed else ""))
    lines += [f"- {m}" for m in missed]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="500k,5M", help="ledger entries per data set, comma-separated (500k,5M)")
    ap.add_argument("--residents", type=int, default=100_000)
    ap.add_argument("--communities", type=int, default=2)
    ap.add_argument("--share", type=float, default=0.75,
                    help="community 1's share of the residents (0.75 of 100k: about 30,000 households)")
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--calls", type=int, default=200, help="timed calls per query (default 200)")
    ap.add_argument("--extra-calls", type=int, default=30,
                    help="timed calls for the slow extras beyond the issue's list: custom month ranges, the "
                         "board during a star notice (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls before each query's timed calls")
    ap.add_argument("--star-runs", type=int, default=3)
    ap.add_argument("--posts", type=int, default=200, help="timed ledger.post() calls (0: none)")
    ap.add_argument("--only", help="time only the queries whose name contains one of these (comma-separated)")
    ap.add_argument("--what-if", action="append", choices=sorted(WHAT_IF),
                    help="measure with a change outside this benchmark's files: " +
                    "; ".join(f"{k}: {v}" for k, v in WHAT_IF.items()))
    ap.add_argument("--no-check", action="store_true", help="skip the generator check against rebuild()")
    ap.add_argument("--profile", action="store_true", help="cProfile each query's timed calls (stderr)")
    ap.add_argument("--keep", action="store_true", help="keep the databases (their names are printed)")
    ap.add_argument("--measure", metavar="URL", nargs="+",
                    help="only time the queries on these generated databases, interleaved (child mode)")
    ap.add_argument("--json", metavar="FILE", help="also write all timings as JSON")
    args = ap.parse_args()

    import logging

    logging.disable(logging.INFO)  # alembic's "Running upgrade …" lines
    if args.measure:
        print("RESULT " + json.dumps(measure(args.measure, args.calls, args.warmup, args.star_runs, args.posts,
                                             args.only, args.profile, args.what_if, args.extra_calls)))
        return

    sizes = [parse_size(s) for s in args.sizes.split(",")]
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    log(f"machine: {machine()}")
    if "postgresql" in backends:
        log(f"PostgreSQL {pg_version()}")
    runs, started = [], time.perf_counter()
    dbs = Databases(keep=args.keep)
    try:
        for backend in backends:
            if not args.no_check:
                log(f"[{backend}] checking the generated totals against rankings.rebuild() …")
                check_generator(dbs, backend)
            urls, infos = [], []
            for size in sizes:
                urls.append(dbs.new(backend, fmt_size(size).lower()))
                log(f"[{backend}] generating {size:,} entries for {args.residents:,} residents …")
                infos.append(generate(urls[-1], args.residents, size, args.communities, args.share))
                i = infos[-1]
                log(f"  done in {i['seconds']:.0f} s: {i['attendances']:,} attendances, "
                    f"{i['earning_totals']:,} earning totals" +
                    (f", SQLite file {i['sqlite_mb']:,} MB" if "sqlite_mb" in i else ""))
            log(f"[{backend}] timing ({args.calls} calls a query on each data set, interleaved) …")
            t = time.perf_counter()
            results = measure_child(urls, args)
            log(f"  timed in {time.perf_counter() - t:.0f} s")
            for size, info, result in zip(sizes, infos, results, strict=True):
                runs.append({"backend": backend, "entries": size, "info": info, "result": result})
            if args.what_if:
                log(f"[{backend}] timing again with {', '.join(args.what_if)} …")
                t = time.perf_counter()
                for run, result in zip(runs[-len(sizes):], measure_child(urls, args, args.what_if), strict=True):
                    run["what_if"] = result
                log(f"  timed in {time.perf_counter() - t:.0f} s")
            for url in urls:
                dbs.drop(url)
    finally:
        dbs.close()
    total = time.perf_counter() - started
    print(f"machine: {machine()}" + (f"; PostgreSQL {pg_version()}" if "postgresql" in backends else ""))
    print(f"total run {total / 60:.1f} min; times in ms unless marked; growth = p95({fmt_size(max(sizes))}) / "
          f"p95({fmt_size(min(sizes))})\n")
    print(report(runs, sizes))
    print()
    if args.what_if:
        print(f"With {', '.join(args.what_if)} (changes outside this benchmark's files, tried in the measuring "
              "process and the throwaway databases only):\n")
        print(report([{**r, "result": r["what_if"]} for r in runs], sizes))
        print()
    for r in runs:
        i, x = r["info"], r["result"]["extra"]
        print(f"- {r['backend']} {fmt_size(r['entries'])}: built in {i['seconds']:.0f} s; {i['households']:,} households "
              f"({i['household_counts']}), {i['buildings']:,} buildings, {i['activities']:,} activities, "
              f"{i['attendances']:,} attendances, {i['earning_totals']:,} earning totals"
              + (f", SQLite file {i['sqlite_mb']:,} MB" if "sqlite_mb" in i else "")
              + f"; kinds {i['kinds']}; stars {x.get('stars')}; load average after {r['result']['load'][0]:.2f}")
        print(f"  rows per board range (community 1): {x['board_ranges']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1, default=str))


if __name__ == "__main__":
    main()
