"""Benchmark the JSON API (issue 15) beside the pages it shares its services with and the same work as raw SQL,
in process through the WSGI test client, on SQLite and PostgreSQL: `make bench-api` (about 3 minutes).

    .venv/bin/python bench/api.py                                 # both databases, writes docs/performance.md
    .venv/bin/python bench/api.py --backend sqlite --no-docs --calls 20   # a quick look

For each database: bench/load/city.py seeds a small city (2 communities, --residents residents each, 10 ledger
entries each, a store of 20 products, clerks, leads, activities running now, logins), then 40 residents check in
at one activity (the lead's live list has rows). Tokens are made with the integrations service as the token
pages make them: the clerk's token limited to the store, the resident's and the lead's personal tokens; the same
people log in through the login form for the pages.

Each operation is called --calls times, interleaved (API, page, raw SQL in turn, after WARMUP untimed rounds);
the table gives the median ms of each, the ratios of the medians, and the SQL statements of one call (counted
with a before_cursor_execute listener on the app's engine, transaction control left out):
  - her balance: GET /api/v1/me/balance | GET / (her home page, which shows it) | one SELECT of points_account;
  - her month: GET /api/v1/me/history | GET /me/points | the month's ledger entries, newest first;
  - the board: GET /api/v1/public/communities/1/board | GET /board/1 | the month's top 10 residents;
  - the lead's live list: GET /api/v1/lead/activities/<id>/attendance | GET /lead/activities/<id>/attendances |
    the activity's attendances joined to their residents;
  - a checkout: POST …/identify and POST …/checkout (2 requests) | the counter's POST identify, GET counter, POST
    checkout, GET receipt (4 requests) | bench/load/txn.py's checkout (7 statements, one transaction).
Writes the block between `<!-- api-bench:start -->` and `<!-- api-bench:end -->` in docs/performance.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench", ROOT / "bench" / "load"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import raw_sql  # noqa: E402
import txn  # noqa: E402
from city import seed  # noqa: E402
from docs_block import write_block  # noqa: E402
from synthetic import Databases, dispose  # noqa: E402

SECTION = "## The JSON API beside the pages (issue 15)"
BEGIN, END = "<!-- api-bench:start -->", "<!-- api-bench:end -->"
SECRET = "test-secret"  # tests.conftest.make_test_app's key: member codes are made with it
INTRO = ("`make bench-api` (bench/api.py): the API's operations beside the pages that show the same thing and the "
         "same reads or checkout as raw SQL, in one run per database.")
WARMUP = 3
ATTENDEES = 40


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Counter:
    """Statements issued on the app's engine while counting (BEGIN/COMMIT/SAVEPOINT left out)."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.n, self.on = 0, False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_args):
        if self.on and not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
                                                                    "RELEASE")):
            self.n += 1


class World:
    """The people, tokens and cookie clients of one seeded database."""

    def __init__(self, app, manifest):
        from sqlalchemy import select

        from pointsapp.accounts.models import Role
        from pointsapp.core.extensions import db
        from pointsapp.integrations.services import tokens
        from pointsapp.tree.models import Resident
        from pointsapp.volunteering.models import Activity
        from pointsapp.volunteering.services import checkin

        self.app, self.m = app, manifest
        self.c = manifest.communities[0]
        self.store = manifest.stores[self.c]
        self.products = manifest.products[self.c]
        self.rid, self.resident_phone, self.resident_user = manifest.logins[self.c][0]
        clerk_id, self.clerk_phone = manifest.clerks[self.c][0]
        lead_id, self.lead_phone = manifest.leads[self.c][0]
        self.activity = manifest.activities[self.c][0][0]
        now = datetime.now(UTC)
        with app.app_context():
            from pointsapp.accounts.models import User
            lead = db.session.get(User, lead_id)
            activity = db.session.get(Activity, self.activity)
            first, _last = manifest.others[self.c]
            for resident in db.session.scalars(select(Resident).where(Resident.id >= first).order_by(Resident.id)
                                               .limit(ATTENDEES)):
                checkin.check_in(lead, resident, activity, now, method="lead_scan")
            make = lambda user_id, roles, store=None, kind="personal": tokens.create(  # noqa: E731
                db.session.get(User, user_id), user=db.session.get(User, user_id), kind=kind, name=uuid.uuid4().hex[:8],
                roles=roles, community_id=self.c, store_id=store, days=30, rate_per_minute=6000, now=now)[1]
            self.clerk_token = make(clerk_id, [Role.CLERK], self.store)
            self.resident_token = make(self.resident_user, [Role.RESIDENT])
            self.lead_token = make(lead_id, [Role.TEAM_LEAD])
            self.checkout_rid = self.rid
            db.session.commit()
            db.session.remove()
        self.clients = {who: self._logged_in(phone) for who, phone in
                        (("resident", self.resident_phone), ("clerk", self.clerk_phone), ("lead", self.lead_phone))}
        self.api = app.test_client()

    def _logged_in(self, phone):
        client = self.app.test_client()
        r = client.post("/login", data={"phone": phone, "password": self.m.password, "next": ""})
        assert r.status_code == 302, (phone, r.status_code)
        return client

    def code(self) -> str:
        from types import SimpleNamespace

        from pointsapp.volunteering.services import codes
        return codes.member_phone_code(SECRET, SimpleNamespace(id=self.checkout_rid), datetime.now(UTC))


def _bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def _ok(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    return response


def operations(w: World, raw):
    """name -> (api, page, raw): each a function doing one call."""
    run, sql, begin, commit, dialect = raw
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=8)
    from pointsapp.rankings.services import period_keys
    period = period_keys(datetime.now(UTC))[0]  # this month, as the board reads it ("M2026-12")

    def api_checkout():
        who = _ok(w.api.post(f"/api/v1/stores/{w.store}/identify", json={"code": w.code()},
                             headers=_bearer(w.clerk_token)), 201).get_json()["identification_id"]
        _ok(w.api.post(f"/api/v1/stores/{w.store}/checkout", headers=_bearer(w.clerk_token),
                       json={"identification_id": who, "lines": [{"product_id": w.products[0], "quantity": 1}]}), 201)

    def page_checkout():
        import re
        clerk = w.clients["clerk"]
        _ok(clerk.post(f"/store/{w.store}/counter", data={"code": w.code(), "pin": ""}), 302, 303)
        page = _ok(clerk.get(f"/store/{w.store}/counter"), 200).get_data(as_text=True)
        request_id = re.search(r'name="request_id"[^>]*value="([^"]+)"', page).group(1)
        done = _ok(clerk.post(f"/store/{w.store}/checkout", data={"request_id": request_id,
                                                                  f"qty_{w.products[0]}": "1"}), 302, 303)
        _ok(clerk.get(done.headers["Location"]), 200)

    def raw_checkout():
        begin()
        txn.checkout(run, sql, dialect, cid=w.c, sid=w.store, rid=w.checkout_rid, pid=w.products[1],
                     clerk=w.m.clerks[w.c][0][0], request_id=uuid.uuid4().hex[:20], now=datetime.now(UTC))
        commit()

    def raw_read(statement, params):
        if dialect == "postgresql":
            statement = txn.pyformat(statement)

        def do():
            begin()
            run(statement, params)
            commit()
        return do

    get = lambda client, url, headers=None: (lambda: _ok(client.get(url, headers=headers or {}), 200))  # noqa: E731
    resident, lead = w.clients["resident"], w.clients["lead"]
    return {
        "her balance": (get(w.api, "/api/v1/me/balance", _bearer(w.resident_token)), get(resident, "/"),
                        raw_read("SELECT balance, earned_total, owed FROM points_account WHERE resident_id = :rid",
                                 {"rid": w.rid})),
        "her month": (get(w.api, "/api/v1/me/history", _bearer(w.resident_token)), get(resident, "/me/points"),
                      raw_read("SELECT id, amount, balance_after, kind, reason, created_at FROM ledger_entry "
                               "WHERE resident_id = :rid AND created_at >= :start ORDER BY seq DESC",
                               {"rid": w.rid, "start": month_start.replace(tzinfo=None)})),
        "the board": (get(w.api, f"/api/v1/public/communities/{w.c}/board"), get(w.api, f"/board/{w.c}"),
                      raw_read("SELECT t.subject_id, t.points, r.name FROM earning_total t JOIN resident r "
                               "ON r.id = t.subject_id WHERE t.community_id = :cid AND t.period = :period AND "
                               "t.subject_type = 'resident' ORDER BY t.points DESC LIMIT 10",
                               {"cid": w.c, "period": period})),
        "lead's live list": (get(w.api, f"/api/v1/lead/activities/{w.activity}/attendance", _bearer(w.lead_token)),
                             get(lead, f"/lead/activities/{w.activity}/attendances"),
                             raw_read("SELECT a.id, a.status, a.checked_in_at, r.name FROM attendance a JOIN "
                                      "resident r ON r.id = a.resident_id WHERE a.activity_id = :aid "
                                      "ORDER BY a.checked_in_at DESC", {"aid": w.activity})),
        "a checkout": (api_checkout, page_checkout, raw_checkout),
    }


def measure(app, ops: dict, calls: int) -> dict:
    from pointsapp.core.extensions import db

    with app.app_context():
        counter = Counter(db.engine)
    out = {}
    for name, fns in ops.items():
        times: list[list[float]] = [[], [], []]
        statements = [0, 0, 0]
        for i in range(WARMUP + calls):
            for k, fn in enumerate(fns):
                counter.n, counter.on = 0, k < 2
                t = time.perf_counter()
                fn()
                ms = (time.perf_counter() - t) * 1000
                counter.on = False
                if i >= WARMUP:
                    times[k].append(ms)
                    statements[k] = counter.n
        med = [statistics.median(t) for t in times]
        out[name] = {"api": med[0], "page": med[1], "raw": med[2], "api_statements": statements[0],
                     "page_statements": statements[1]}
        log(f"  {name}: API {med[0]:.2f} ms ({statements[0]} stmts), page {med[1]:.2f} ms ({statements[1]}), "
            f"raw {med[2]:.3f} ms")
    return out


def run_backend(backend: str, dbs: Databases, args) -> dict:
    from tests.conftest import make_test_app

    url = dbs.new(backend, "api")
    log(f"{backend}: seeding {2 * args.residents:,} residents")
    manifest = seed(url, backend, residents=2 * args.residents, entries=20 * args.residents, communities=2,
                    secret_key=SECRET, clerks=2, logins=4, activities=2)
    app = make_test_app(url, WTF_CSRF_ENABLED=False, LOGIN_FREE_TRIES_PER_IP=10**6)
    try:
        w = World(app, manifest)
        conn, run, sql, begin, commit, _rollback = raw_sql._connect(url, backend)
        try:
            return measure(app, operations(w, (run, sql, begin, commit, backend)), args.calls)
        finally:
            conn.close()
    finally:
        dispose(app)
        dbs.drop(url)


def table(results: dict, args) -> str:
    lines = [f"In process (Flask's test client, no network), {args.calls} calls of each, interleaved, after "
             f"{WARMUP} untimed rounds; {2 * args.residents:,} residents, 20 products, {ATTENDEES} attendances. "
             "Median ms per operation; statements of one call. The API's answers carry the same data as the "
             "pages' (the same services); what differs is the frame: a token looked up and its last use, "
             "JSON instead of a template, no session cookie written.", "",
             "| database | operation | API ms (stmts) | page ms (stmts) | raw SQL ms | API / page | API / raw |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for backend, ops in results.items():
        for name, r in ops.items():
            lines.append(f"| {backend} | {name} | {r['api']:.2f} ({r['api_statements']}) | {r['page']:.2f} "
                         f"({r['page_statements']}) | {r['raw']:.3f} | {r['api'] / r['page']:.2f} | "
                         f"{r['api'] / r['raw']:.0f}× |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--residents", type=int, default=1000, help="per community (default 1000)")
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    dbs = Databases(keep=args.keep)
    results = {}
    try:
        for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
            results[backend] = run_backend(backend, dbs, args)
    finally:
        dbs.close()
    text = table(results, args)
    print(text)
    if not args.no_docs:
        write_block(text, BEGIN, END, SECTION, INTRO)


if __name__ == "__main__":
    main()
