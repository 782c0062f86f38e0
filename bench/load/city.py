"""Seed the synthetic city the load benchmark runs against.

The residents and their ledger chains come from bench/synthetic.py (the generator bench/ledger_verify.py
checks against post() and verify()), with an opening award of OPENING points as each chain's first entry so
the checkout residents can afford thousands of checkouts, and chains that end shortly before now (the boards
have this month's totals). On top of it, with bulk inserts: a store per community with PRODUCTS products
(unlimited per resident, a large stock logged by an opening stock movement), clerks, teams with team leads,
activities running now (fixed points at check-in, rotating check-in codes), logins for some residents, and
the earning totals the boards read, computed from the ledger in SQL as rankings.rebuild() would. The result
passes `flask ledger verify`.

What the load driver needs (ids, phones, code salts) is written to a JSON manifest next to nothing else:
the caller keeps it.
"""
from __future__ import annotations

import json
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from sqlalchemy import text  # noqa: E402
from synthetic import dispose, generate, make_app  # noqa: E402

OPENING = 100_000  # points: a checkout costs 1-3
PRODUCTS = 20  # per store
STOCK = 1_000_000_000
TEAMS = 4  # per community, each with a lead
PASSWORD = "bench-压测-口令-2026"
CATEGORIES = ("便民", "安民", "助民", "乐民")


@dataclass
class Manifest:
    url: str
    backend: str
    secret_key: str
    password: str
    communities: list[int]
    residents: int = 0
    entries: int = 0
    seconds: dict = field(default_factory=dict)
    stores: dict = field(default_factory=dict)  # community -> store id
    products: dict = field(default_factory=dict)  # community -> [product ids]
    clerks: dict = field(default_factory=dict)  # community -> [[user id, phone]]
    leads: dict = field(default_factory=dict)  # community -> [[user id, phone]]
    activities: dict = field(default_factory=dict)  # community -> [[id, salt, code_seconds]]
    logins: dict = field(default_factory=dict)  # community -> [[resident id, phone, user id]]: residents who log in
    others: dict = field(default_factory=dict)  # community -> [first, last] resident ids without a login
    admins: dict = field(default_factory=dict)  # community -> admin user id (actor of baseline movements)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text())
        for key in ("stores", "products", "clerks", "leads", "activities", "logins", "others", "admins"):
            data[key] = {int(k): v for k, v in data[key].items()}
        return cls(**data)


def _bar(desc: str, total: int, unit: str = "it"):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5)


def seed(url: str, backend: str, *, residents: int, entries: int, communities: int, secret_key: str,
         clerks: int, logins: int, activities: int, now: datetime | None = None) -> Manifest:
    """Build the city in the freshly created (empty) database at `url`. clerks and logins are per community;
    activities per community."""
    now = now or datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    out = Manifest(url=url, backend=backend, secret_key=secret_key, password=PASSWORD,
                   communities=list(range(1, communities + 1)))
    started = time.perf_counter()
    bar = _bar("ledger entries", entries, "entry")

    def progress(_stage: str, done: int, _total: int) -> None:
        bar.update(done - bar.n)

    info = generate(url, residents, entries, communities, seed=2026, quiet=True, now=now, opening=OPENING,
                    recent=True, progress=progress)
    bar.update(info.entries - bar.n)
    bar.close()
    out.residents, out.entries = info.residents, info.entries
    out.seconds["tree_and_ledger"] = round(time.perf_counter() - started, 1)
    print(f"  {info.buildings:,} buildings, {info.households:,} households, {info.residents:,} residents, "
          f"{info.entries:,} entries in {out.seconds['tree_and_ledger']:.0f} s", file=sys.stderr)

    t = time.perf_counter()
    _city(out, now, clerks=clerks, logins=logins, activities=activities)
    out.seconds["store_people_activities"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    _earning_totals(url)
    out.seconds["earning_totals"] = round(time.perf_counter() - t, 1)
    out.seconds["total"] = round(time.perf_counter() - started, 1)
    print(f"  store, people, activities {out.seconds['store_people_activities']:.1f} s; earning totals "
          f"{out.seconds['earning_totals']:.1f} s; seeded in {out.seconds['total']:.0f} s", file=sys.stderr)
    return out


def _city(out: Manifest, now: datetime, *, clerks: int, logins: int, activities: int) -> None:
    from pointsapp.accounts.models import RoleGrant, User
    from pointsapp.core.extensions import db
    from pointsapp.core.passwords import hash_password
    from pointsapp.core.permissions import Role
    from pointsapp.store.models import Product, StockMovement, Store
    from pointsapp.volunteering.models import Activity, Team, TeamMember

    app = make_app(out.url)
    with app.app_context():
        s = db.session
        ins = lambda model, rows: rows and s.execute(model.__table__.insert(), rows)  # noqa: E731
        password_hash = hash_password(PASSWORD)  # one KDF run shared by every bench login
        next_user = (s.execute(text('SELECT max(id) FROM "user"')).scalar() or 0) + 1
        users, grants, stores, products, movements, teams, members, acts = [], [], [], [], [], [], [], []
        pid = team_id = act_id = 0
        for c in out.communities:
            admin = (c - 1) * 3 + 1  # synthetic.generate's actors: admin, lead, clerk per community
            out.admins[c] = admin
            grants.append({"user_id": admin, "role": Role.COMMUNITY_ADMIN, "community_id": c, "granted_at": now})
            stores.append({"id": c, "community_id": c, "name": f"测试社区{c}爱心积分超市", "address": ""})
            out.stores[c] = c
            out.products[c] = []
            for k in range(PRODUCTS):
                pid += 1
                products.append({"id": pid, "community_id": c, "store_id": c, "name": f"商品{k + 1:02d}", "kind": "goods",
                                 "category": "日用品", "price": 1 + k % 3, "stock": STOCK, "low_stock": 5,
                                 "limit_per_week": None, "limit_per_month": None, "household_limit_per_month": None,
                                 "barcode": "", "is_active": True, "created_at": now})
                movements.append({"community_id": c, "store_id": c, "product_id": pid, "change": STOCK,
                                  "stock_after": STOCK, "kind": "restock", "reason": "期初库存", "actor_id": admin,
                                  "redemption_id": None, "created_at": now})
                out.products[c].append(pid)
            out.clerks[c] = []
            for k in range(clerks):
                phone = f"150{c:04d}{k:04d}"
                users.append({"id": next_user, "phone": phone, "name": f"店员{c}-{k}", "password_hash": password_hash,
                              "resident_id": None, "is_enabled": True, "created_at": now, "consent_at": now,
                              "consent_version": None})
                grants.append({"user_id": next_user, "role": Role.CLERK, "community_id": c, "store_id": c,
                               "granted_at": now})
                out.clerks[c].append([next_user, phone])
                next_user += 1
            out.leads[c] = []
            lead_ids = []
            for k in range(TEAMS):
                team_id += 1
                teams.append({"id": team_id, "community_id": c, "name": f"测试{CATEGORIES[k % 4]}服务队{k + 1}",
                              "category": CATEGORIES[k % 4]})
                phone = f"151{c:04d}{k:04d}"
                users.append({"id": next_user, "phone": phone, "name": f"队长{c}-{k}", "password_hash": password_hash,
                              "resident_id": None, "is_enabled": True, "created_at": now, "consent_at": now,
                              "consent_version": None})
                grants.append({"user_id": next_user, "role": Role.TEAM_LEAD, "community_id": c, "team_id": team_id,
                               "granted_at": now})
                out.leads[c].append([next_user, phone])
                lead_ids.append((team_id, next_user))
                next_user += 1
            out.activities[c] = []
            for k in range(activities):
                act_id += 1
                tid, lead = lead_ids[k % TEAMS]
                starts = now - timedelta(hours=1)
                salt = secrets.token_hex(8)
                acts.append({"id": act_id, "community_id": c, "team_id": tid, "title": f"压测活动{k + 1}",
                             "kind": "环境整治", "place": "小区绿地", "description": "", "starts_at": starts,
                             "ends_at": starts + timedelta(hours=24),
                             "checkin_opens_at": starts - timedelta(minutes=30),
                             "checkin_closes_at": starts + timedelta(hours=24, minutes=30), "capacity": None,
                             "signup_closes_minutes": 120, "rule": "fixed", "points": 10, "hourly_cap": None,
                             "award_on": "check_in", "allow_poster": False, "code_seconds": 30, "code_salt": salt,
                             "is_cancelled": False, "created_by_id": lead, "created_at": now})
                out.activities[c].append([act_id, salt, 30])
            ids = s.execute(text("SELECT id, phone FROM resident WHERE community_id = :c ORDER BY id"),
                            {"c": c}).all()
            chosen = ids[:logins]
            out.logins[c] = []
            out.others[c] = [ids[len(chosen)][0], ids[-1][0]] if len(ids) > len(chosen) else [0, -1]
            for rid, phone in chosen:
                out.logins[c].append([rid, phone, next_user])
                users.append({"id": next_user, "phone": phone, "name": f"居民{rid}", "password_hash": password_hash,
                              "resident_id": rid, "is_enabled": True, "created_at": now, "consent_at": now,
                              "consent_version": None})
                next_user += 1
            for rid, _phone in chosen[:40]:  # volunteers in the teams (the team board has members)
                members.append({"community_id": c, "team_id": lead_ids[rid % TEAMS][0], "resident_id": rid,
                                "joined_at": now})
        ins(User, users)
        ins(Store, stores)
        ins(Team, teams)
        ins(RoleGrant, [{"team_id": None, "store_id": None, "granted_by_id": None, **g} for g in grants])
        ins(Product, products)
        ins(StockMovement, movements)
        ins(TeamMember, members)
        ins(Activity, acts)
        s.flush()
        if s.get_bind().dialect.name == "postgresql":
            for table in ("user", "role_grant", "store", "product", "stock_movement", "team", "team_member",
                          "activity"):
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                               f"(SELECT coalesce(max(id), 1) FROM \"{table}\"))"))
        s.commit()
        assert s.scalar(text("SELECT count(*) FROM resident WHERE moved_out_on IS NOT NULL")) == 0
    dispose(app)


def _earning_totals(url: str) -> None:
    """earning_total from the ledger, as rankings.rebuild() computes it (the generated entries have no
    attendance rows: points only, no minutes, no team), in SQL: per resident and month first, then every
    period (month, quarter, year, all) for every subject (resident, household, building, grid)."""
    from pointsapp.core.extensions import db

    app = make_app(url)
    with app.app_context():
        s = db.session
        pg = s.get_bind().dialect.name == "postgresql"
        if pg:
            local = "((le.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai')"
            y, m = f"to_char({local}, 'YYYY')", f"to_char({local}, 'MM')"
            q = f"CAST(EXTRACT(QUARTER FROM {local}) AS INTEGER)"
        else:
            local = "datetime(le.created_at, '+8 hours')"
            y, m = f"strftime('%Y', {local})", f"strftime('%m', {local})"
            q = f"((CAST(strftime('%m', {local}) AS INTEGER) + 2) / 3)"
        s.execute(text(f"""CREATE TEMP TABLE bench_rm AS
            SELECT le.community_id AS cid, le.resident_id AS rid, {y} AS y, {q} AS q, {m} AS m, sum(le.amount) AS pts
            FROM ledger_entry le WHERE le.kind IN ('award', 'manual_award', 'reversal')
            GROUP BY le.community_id, le.resident_id, {y}, {q}, {m}"""))
        periods = {"M": "'M' || x.y || '-' || x.m", "Q": "'Q' || x.y || '-' || CAST(x.q AS TEXT)", "Y": "'Y' || x.y",
                   "A": "'A'"}
        subjects = {"resident": "r.id", "household": "r.household_id", "building": "h.building_id",
                    "grid": "b.grid_id"}
        parts = [f"SELECT x.cid AS cid, {p} AS period, '{name}' AS st, {col} AS sid, x.pts AS pts "
                 f"FROM bench_rm x JOIN resident r ON r.id = x.rid JOIN household h ON h.id = r.household_id "
                 f"JOIN building b ON b.id = h.building_id WHERE {col} IS NOT NULL"
                 for p in periods.values() for name, col in subjects.items()]
        s.execute(text("INSERT INTO earning_total (community_id, period, subject_type, subject_id, points, minutes, "
                       "attendances) SELECT cid, period, st, sid, sum(pts), 0, 0 FROM (" + " UNION ALL ".join(parts)
                       + ") t GROUP BY cid, period, st, sid"))
        s.execute(text("DROP TABLE bench_rm"))
        s.commit()
        if pg:
            s.execute(text("ANALYZE"))
            s.commit()
    dispose(app)


def verify(url: str) -> tuple[bool, int, list[str]]:
    """`flask ledger verify`'s check on the database: (ok, entries, first problems)."""
    from pointsapp.core.extensions import db
    from pointsapp.ledger.services import audit as ledger_audit

    app = make_app(url)
    with app.app_context():
        report = ledger_audit.verify()
        db.session.rollback()
    dispose(app)
    return report.ok, report.entries, [str(p) for p in report.problems[:5]]
