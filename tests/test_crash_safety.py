"""Crash safety (issue 13): the production server, killed with SIGKILL at random moments under checkout and
check-in load, loses nothing it acknowledged and leaves nothing half-done.

One run per database: gunicorn with the production configuration (pointsapp/serving/gunicorn_conf.py, 2 workers)
serves a database seeded with a community, a store with stock and residents with points. Threads drive it over
real HTTP, as browsers would: two clerks at the counter (identify a resident by the member code on her phone,
then check out a cart under a request id) and residents checking in by scanning activities' codes. A reply that
names the receipt (302 to /receipts/<id>) or the check-in (302 to /c/done/<id>) is an acknowledgement, and is
recorded. A request whose reply was lost in a crash is sent again after the restart, with the same request id,
until the server answers it: that is what the counter's page does when the clerk taps again.

Every cycle: start gunicorn, let the load run until the server has acknowledged two more requests and then for
a random 0-1.5 s more, SIGKILL the master and the workers at once
(the process group, as a power cut or the OOM killer would), and while nothing holds the database check that
- `ledger verify` is clean (every chain, balance and account);
- every product's stock is what its movement log adds up to, and the last movement's stock_after says the same;
- every acknowledged checkout exists exactly once, as the receipt it named, with exactly one ledger entry;
  every checkout the server refused does not exist; every checkout has its ledger entry and no entry lacks
  its checkout (nothing half-written);
- every acknowledged check-in exists, once per resident and activity, with exactly one award entry;
then restart. CRASH_KILLS (default 20 per database) and CRASH_SEED (random) change the run; the seed is
printed, so a failure can be replayed.

The server runs on the machine's clock (what it serves does not depend on the date: the activities are
placed around the moment the test starts). Outside CI a missing PostgreSQL skips that half; under CI=true it
fails. The kill is of the application, not of the machine: a committed transaction is in SQLite's WAL file or
PostgreSQL's WAL, which survive the process; surviving a power cut is the database's own setting.
"""
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import func, select

from pointsapp.core import sqlite as sqlite_mode
from pointsapp.core.extensions import db
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.models import Product, Redemption, StockMovement
from pointsapp.store.services import catalogue
from pointsapp.volunteering.models import Attendance
from pointsapp.volunteering.services import activities, codes

from .conftest import make_test_app, migrate_to_head
from .factories import PASSWORD, Factory
from .servers import Server, base_env, csrf_token, free_port, login, postgres_database

pytestmark = pytest.mark.slow

SECRET = "crash-safety-secret"
KILLS = int(os.environ.get("CRASH_KILLS", 20))
CLERKS, RESIDENTS, CHECKIN_THREADS, ACTIVITIES = 2, 8, 2, 30
TIMEOUT = (2, 30)  # connect, read


@dataclass
class World:
    store_id: int
    product_ids: list[int]
    clerk_phone: str
    residents: list[tuple[int, str]]  # (resident id, phone)
    posters: list[tuple[int, str]]  # (activity id, its printed check-in code)


def _seed(app) -> World:
    now = datetime.now(UTC)
    with app.app_context():
        make = Factory(db, now)
        community = make.community()
        admin = make.admin(community)
        clerk = make.clerk(community)
        store = clerk.grants[0].store
        products = [catalogue.create_product(admin, store, catalogue.ProductFields(
            name=name, kind="goods", price=price), 1_000_000, now) for name, price in (("花生油", 3), ("大米", 2),
                                                                                       ("洗衣液", 1))]
        lead = make.team_lead(community)
        team = lead.grants[0].team
        residents = []
        for _ in range(RESIDENTS):
            user = make.resident_user(community=community)
            ledger.manual(admin, user.resident, 100_000, "志愿服务", f"seed-{user.resident.id}",
                          now - timedelta(days=1))
            residents.append((user.resident.id, user.phone))
        posters = []
        for i in range(ACTIVITIES):
            activity = activities.create_activity(lead, team, activities.ActivityFields(
                title=f"楼道清理 {i}", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=8), points=1, allow_poster=True), now)
            posters.append((activity.id, codes.checkin_code(SECRET, activity, None)))
        world = World(store.id, [p.id for p in products], clerk.phone, residents, posters)
        db.session.commit()
        return world


@dataclass
class Record:
    """What the server acknowledged, refused, and what went wrong, filled by the load threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    checkouts: dict = field(default_factory=dict)  # request id -> receipt (redemption) id
    refused: set = field(default_factory=set)  # request ids the server answered "not done"
    checkins: dict = field(default_factory=dict)  # (resident id, activity id) -> attendance id
    acks: int = 0  # acknowledgements so far (checkouts and check-ins)
    retried: int = 0  # requests whose reply was lost in a crash (sent again until answered)
    errors: list = field(default_factory=list)  # 5xx and unexpected answers

    def snapshot(self):
        with self.lock:
            return dict(self.checkouts), set(self.refused), dict(self.checkins)


class Load:
    """The counter and check-in threads; they keep going across crashes, retrying until answered."""

    def __init__(self, server: Server, world: World, seed: int):
        self.server, self.world, self.rng = server, world, random.Random(seed)
        self.record = Record()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def _send(self, session: requests.Session, method: str, path: str, **kwargs):
        """One request; None when the connection failed (the server is down or died meanwhile)."""
        try:
            response = session.request(method, self.server.url + path, allow_redirects=False, timeout=TIMEOUT,
                                       **kwargs)
        except requests.RequestException:
            return None
        if response.status_code >= 500:
            with self.record.lock:
                self.record.errors.append(f"{method} {path}: {response.status_code}")
            return None
        return response

    def _pause(self):
        time.sleep(0.05)

    # ---- the counter ------------------------------------------------------------------------------------

    def clerk(self, index: int, session: requests.Session, token: str) -> None:
        store = self.world.store_id
        rng = random.Random(self.rng.random())
        turn = index
        pending = None  # (request id, cart) sent but not answered yet
        lost = False  # its reply was lost
        while not self.stop.is_set() or pending:
            if self.stop.is_set() and not self._up():
                return
            if pending is None:
                resident_id, _phone = self.world.residents[turn % len(self.world.residents)]
                turn += CLERKS
                code = codes.member_phone_code(SECRET, SimpleNamespace(id=resident_id), datetime.now(UTC))
                r = self._send(session, "POST", f"/store/{store}/counter",
                               data={"csrf_token": token, "code": code, "pin": ""})
                if r is None or r.status_code != 302 or not r.headers["Location"].endswith(f"/store/{store}/counter"):
                    if r is not None:
                        self._unexpected("identify", r)
                    self._pause()
                    continue
                cart = {f"qty_{pid}": rng.randint(1, 3) for pid in rng.sample(self.world.product_ids, 2)}
                pending = (uuid.uuid4().hex, cart)
            request_id, cart = pending
            r = self._send(session, "POST", f"/store/{store}/checkout",
                           data={"csrf_token": token, "request_id": request_id, **cart})
            if r is None:
                if not lost:
                    lost = True
                    with self.record.lock:
                        self.record.retried += 1
                self._pause()
                continue
            lost = False
            location = r.headers.get("Location", "") if r.status_code == 302 else ""
            with self.record.lock:
                if f"/store/{store}/receipts/" in location:
                    receipt = int(location.rsplit("/", 1)[1].split("?")[0])
                    self.record.acks += 1
                    previous = self.record.checkouts.setdefault(request_id, receipt)
                    if previous != receipt:
                        self.record.errors.append(f"request {request_id}: receipts {previous} and {receipt}")
                elif location.endswith(f"/store/{store}/counter"):
                    self.record.refused.add(request_id)
                else:
                    self.record.errors.append(f"checkout: {r.status_code} {location or r.text[:200]}")
            pending = None

    # ---- check-in ---------------------------------------------------------------------------------------

    def resident(self, sessions: list[tuple[int, requests.Session, str]]) -> None:
        turn = 0
        while not self.stop.is_set():
            resident_id, session, token = sessions[turn % len(sessions)]
            activity_id, poster = self.world.posters[(turn // len(sessions)) % len(self.world.posters)]
            turn += 1
            lost = False
            while not self.stop.is_set():  # scan, then confirm, until the server has answered both
                r = self._send(session, "GET", f"/c/{poster}")
                if r is None:
                    self._pause()
                    continue
                if r.status_code != 302:
                    self._unexpected("scan", r)
                    break
                r = self._send(session, "POST", "/c/confirm", data={"csrf_token": token})
                if r is None:  # lost: the scan is still in this browser's cookie; confirm again
                    if not lost:
                        lost = True
                        with self.record.lock:
                            self.record.retried += 1
                    self._pause()
                    continue
                location = r.headers.get("Location", "") if r.status_code == 302 else ""
                if "/c/done/" not in location:
                    self._unexpected("confirm", r)
                    break
                attendance = int(location.rsplit("/", 1)[1])
                with self.record.lock:
                    self.record.acks += 1
                    previous = self.record.checkins.setdefault((resident_id, activity_id), attendance)
                    if previous != attendance:
                        self.record.errors.append(f"resident {resident_id} activity {activity_id}: "
                                                  f"check-ins {previous} and {attendance}")
                break

    def _unexpected(self, what: str, r) -> None:
        with self.record.lock:
            self.record.errors.append(f"{what}: {r.status_code} {r.headers.get('Location', '')} {r.text[:200]}")

    def _up(self) -> bool:
        return self.server.process is not None

    # ---- running ----------------------------------------------------------------------------------------

    def start(self) -> None:
        base = self.server.url
        for i in range(CLERKS):
            session = requests.Session()
            login(session, base, self.world.clerk_phone, PASSWORD)
            token = csrf_token(session.get(f"{base}/store/{self.world.store_id}/counter", timeout=TIMEOUT).text)
            self.threads.append(threading.Thread(target=self.clerk, args=(i, session, token), daemon=True))
        residents = []
        for resident_id, phone in self.world.residents:
            session = requests.Session()
            login(session, base, phone, PASSWORD)
            page = session.get(f"{base}/c/{self.world.posters[0][1]}", timeout=TIMEOUT)  # the confirm page's form
            residents.append((resident_id, session, csrf_token(page.text)))
        for j in range(CHECKIN_THREADS):
            self.threads.append(threading.Thread(target=self.resident, args=(residents[j::CHECKIN_THREADS],),
                                                 daemon=True))
        for t in self.threads:
            t.start()

    def wait_for_acks(self, n: int, seconds: float = 120) -> None:
        """Until the server has acknowledged n more checkouts or check-ins."""
        with self.record.lock:
            target = self.record.acks + n
        deadline = time.monotonic() + seconds
        while self.record.acks < target:
            assert time.monotonic() < deadline, f"no progress in {seconds} s: {self.record.errors[:5]}"
            time.sleep(0.02)

    def finish(self, seconds: float = 60) -> None:
        """Stop sending new work; requests still unanswered are sent until answered (the server is up)."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout=seconds)
        assert not any(t.is_alive() for t in self.threads), "load threads did not finish"


def _check(app, world: World, record: Record, when: str) -> dict:
    """The invariants, on the database as the crash left it. Returns a few counts."""
    acked, refused, checkins = record.snapshot()
    with app.app_context(), sqlite_mode.read_only():
        try:
            report = audit.verify()
            assert report.ok, f"{when}: ledger verify: " + "; ".join(map(str, report.problems[:5]))

            stock = dict(db.session.execute(select(Product.id, Product.stock)
                                            .where(Product.id.in_(world.product_ids))).all())
            moved = dict(db.session.execute(select(StockMovement.product_id, func.sum(StockMovement.change))
                                            .group_by(StockMovement.product_id)).all())
            for pid in world.product_ids:
                last = db.session.scalar(select(StockMovement.stock_after).where(StockMovement.product_id == pid)
                                         .order_by(StockMovement.id.desc()).limit(1))
                assert stock[pid] == moved[pid] == last, f"{when}: product {pid}: stock {stock[pid]}, movements " \
                                                         f"add up to {moved[pid]}, last movement says {last}"

            receipts = {}
            for request_id, rid, entry_id in db.session.execute(
                    select(Redemption.request_id, Redemption.id, Redemption.ledger_entry_id)):
                assert request_id not in receipts, f"{when}: request {request_id} checked out twice"
                assert entry_id is not None, f"{when}: receipt {rid} has no ledger entry"
                receipts[request_id] = rid
            for request_id, rid in acked.items():
                assert receipts.get(request_id) == rid, \
                    f"{when}: acknowledged checkout {request_id} (receipt {rid}) is {receipts.get(request_id)}"
            lost_refusals = refused & set(receipts)
            assert not lost_refusals, f"{when}: refused checkouts exist: {sorted(lost_refusals)[:5]}"
            entries = dict(db.session.execute(
                select(LedgerEntry.idempotency_key, func.count()).where(LedgerEntry.source_type.in_(
                    ("redemption", "attendance"))).group_by(LedgerEntry.idempotency_key)).all())
            redemption_keys = {k for k in entries if k.startswith("redemption:")}
            assert redemption_keys == {f"redemption:{r}" for r in receipts}, \
                f"{when}: ledger entries without a checkout or checkouts without an entry"
            assert all(n == 1 for n in entries.values()), f"{when}: a key posted twice"

            attended = {(a.resident_id, a.activity_id): (a.id, a.points_awarded) for a in db.session.execute(
                select(Attendance.resident_id, Attendance.activity_id, Attendance.id, Attendance.points_awarded))}
            for key, attendance_id in checkins.items():
                assert key in attended and attended[key][0] == attendance_id, \
                    f"{when}: acknowledged check-in {attendance_id} {key} is {attended.get(key)}"
            award_keys = {k for k in entries if k.startswith("attendance:")}
            assert award_keys == {f"attendance:{i}" for i, points in attended.values() if points}, \
                f"{when}: award entries and attendances disagree"
            assert all(points == 1 for _i, points in attended.values()), f"{when}: an attendance without its point"
            return {"receipts": len(receipts), "acked": len(acked), "checkins": len(attended),
                    "acked_checkins": len(checkins)}
        finally:
            db.session.remove()


def _crash_run(tmp_path, url: str, kills: int) -> None:
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\ncrash run on {url.split(':')[0]}: {kills} kills, CRASH_SEED={seed}")
    rng = random.Random(seed)
    app = make_test_app(url)
    migrate_to_head(app)
    world = _seed(app)
    server = Server(free_port(), base_env(DATABASE_URL=url, SECRET_KEY=SECRET, POINTSAPP_INSTANCE=tmp_path,
                                          WEB_CONCURRENCY=2, GUNICORN_THREADS=1, RATELIMIT_STORAGE_URI="memory://",
                                          PUBLIC_BASE_URL="http://127.0.0.1", LOG_LEVEL="warning"),
                    tmp_path / "gunicorn.log")
    load = Load(server, world, seed)
    started = time.monotonic()
    boot_times, check_times, counts = [], [], {}
    try:
        boot_times.append(server.start())
        load.start()
        for k in range(kills):
            # a random moment once the restarted server has answered some of the load (however slow the machine)
            load.wait_for_acks(2)
            time.sleep(rng.uniform(0, 1.5))
            server.kill()
            t0 = time.monotonic()
            counts = _check(app, world, load.record, f"after kill {k + 1} (CRASH_SEED={seed})")
            check_times.append(time.monotonic() - t0)
            boot_times.append(server.start())
        load.finish()
        server.stop()
        counts = _check(app, world, load.record, f"at the end (CRASH_SEED={seed})")
    finally:
        load.stop.set()
        server.kill()
        with app.app_context():
            db.engine.dispose()
    record = load.record
    print(f"{kills} kills in {time.monotonic() - started:.0f} s (start-up {min(boot_times):.1f}-{max(boot_times):.1f} s,"
          f" checks {min(check_times):.2f}-{max(check_times):.2f} s):"
          f" {counts['acked']} checkouts acknowledged ({counts['receipts']} made), {counts['acked_checkins']} check-ins"
          f" acknowledged ({counts['checkins']} made), {record.retried} replies lost in a crash and sent again")
    assert record.errors == [], record.errors[:10]
    assert server.starts == kills + 1
    # the load reached the server between the kills, and the kills cut requests short
    assert counts["acked"] >= kills and counts["acked_checkins"] >= kills, counts
    assert record.retried >= kills // 4, "hardly any kill landed while a request was running"


def test_sqlite_survives_sigkill_under_checkout_and_checkin_load(tmp_path):
    _crash_run(tmp_path, f"sqlite:///{tmp_path / 'pointsapp.sqlite'}", KILLS)


def test_postgresql_survives_sigkill_under_checkout_and_checkin_load(tmp_path):
    with postgres_database("serve_crash") as url:
        _crash_run(tmp_path, url, KILLS)
