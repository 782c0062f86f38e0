"""More than one machine (issue 13): two app servers behind one address must behave as one.

Two gunicorn instances with the production configuration, on two ports, share nothing but what production
shares: the SECRET_KEY, one PostgreSQL database and one Redis (the login counters, RATELIMIT_STORAGE_URI; db 12,
or TEST_REDIS_INSTANCES_URL; flushed here). Each has an instance folder of its own. Over real HTTP:
- a login made through A works on B (the signed cookie and the login session row), and a logout on B ends it
  on A: a copy of the cookie opens nothing on either;
- wrong passwords are counted across both: the free tries spread over A and B, the next one is refused on
  either (with a counter per process, memory://, each instance would have given its own free tries);
- the same checkout form posted to A and B at the same moment (the same request id: a double tap that a load
  balancer sent two ways) makes one receipt, one ledger entry and one stock movement per product;
- the same check-in confirmed on A and B at the same moment counts once.
Outside CI a missing PostgreSQL or Redis skips this with the reason; under CI=true it fails.
"""
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import func, select

from pointsapp.core.extensions import db
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.models import Product, Redemption, StockMovement
from pointsapp.store.services import catalogue
from pointsapp.volunteering.models import Attendance
from pointsapp.volunteering.services import activities, codes

from .conftest import make_test_app, migrate_to_head
from .factories import PASSWORD, Factory
from .servers import Server, base_env, csrf_token, free_port, login, postgres_database, require_redis

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("TEST_REDIS_INSTANCES_URL", "redis://127.0.0.1:6379/12")
SECRET = "two-instances-secret"
FREE_TRIES = 5
TIMEOUT = 30


@dataclass
class Site:
    a: Server
    b: Server
    app: object  # the test's own app on the same database, to look at what the servers wrote
    store_id: int
    product_id: int
    clerk_phone: str
    residents: list  # (resident id, phone)
    posters: list  # (activity id, printed check-in code)


def _seed(app) -> dict:
    now = datetime.now(UTC)  # the servers run on the machine's clock
    with app.app_context():
        make = Factory(db, now)
        community = make.community()
        admin = make.admin(community)
        clerk = make.clerk(community)
        store = clerk.grants[0].store
        product = catalogue.create_product(admin, store, catalogue.ProductFields(name="花生油", kind="goods", price=5),
                                           1000, now)
        lead = make.team_lead(community)
        residents = []
        for _ in range(4):
            user = make.resident_user(community=community)
            ledger.manual(admin, user.resident, 1000, "志愿服务", f"seed-{user.resident.id}", now - timedelta(days=1))
            residents.append((user.resident.id, user.phone))
        posters = []
        for i in range(3):
            activity = activities.create_activity(lead, lead.grants[0].team, activities.ActivityFields(
                title=f"楼道清理 {i}", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=4), points=2, allow_poster=True), now)
            posters.append((activity.id, codes.checkin_code(SECRET, activity, None)))
        seeded = {"store_id": store.id, "product_id": product.id, "clerk_phone": clerk.phone, "residents": residents,
                  "posters": posters}
        db.session.commit()
        return seeded


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    redis_client = require_redis(REDIS_URL)
    redis_client.flushdb()
    tmp = tmp_path_factory.mktemp("two-instances")
    with postgres_database("serve_two") as url:
        app = make_test_app(url)
        migrate_to_head(app)
        seeded = _seed(app)
        servers = []
        for name in ("a", "b"):
            (tmp / name).mkdir()
            env = base_env(DATABASE_URL=url, SECRET_KEY=SECRET, POINTSAPP_INSTANCE=tmp / name, WEB_CONCURRENCY=2,
                           RATELIMIT_STORAGE_URI=REDIS_URL, LOGIN_FREE_TRIES=FREE_TRIES, LOGIN_MAX_DELAY_SECONDS=900,
                           PUBLIC_BASE_URL="http://127.0.0.1", LOG_LEVEL="warning")
            servers.append(Server(free_port(), env, tmp / f"{name}.log"))
        try:
            for server in servers:
                server.start()
            yield Site(*servers, app, **seeded)
        finally:
            for server in servers:
                server.stop()
            with app.app_context():
                db.engine.dispose()
            redis_client.flushdb()


def _cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def _at_once(*calls):
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _post(url: str, cookie: str, data: dict) -> requests.Response:
    return requests.post(url, data=data, headers={"Cookie": cookie}, allow_redirects=False, timeout=TIMEOUT)


def test_a_login_on_one_instance_holds_on_the_other_and_a_logout_on_either_ends_it_on_both(site):
    _rid, phone = site.residents[0]
    browser = requests.Session()
    login(browser, site.a.url, phone, PASSWORD)
    copy = _cookie_header(browser)  # what a thief, or a forgotten tab, would keep

    page = browser.get(site.b.url + "/account/sessions", allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 200, "instance B does not know A's login"
    for server in (site.a, site.b):  # the copy opens both, for now
        assert requests.get(server.url + "/account/sessions", headers={"Cookie": copy}, allow_redirects=False,
                            timeout=TIMEOUT).status_code == 200

    out = browser.post(site.b.url + "/logout", data={"csrf_token": csrf_token(page.text)}, allow_redirects=False,
                       timeout=TIMEOUT)
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")

    for server in (site.a, site.b):
        after = requests.get(server.url + "/account/sessions", headers={"Cookie": copy}, allow_redirects=False,
                             timeout=TIMEOUT)
        assert after.status_code == 302 and "/login" in after.headers["Location"], \
            f"the logout on B did not end the login on {server.url}"


def test_wrong_passwords_are_counted_across_both_instances(site):
    _rid, phone = site.residents[1]
    forms = {}
    for server in (site.a, site.b):
        browser = requests.Session()
        forms[server.url] = (browser, csrf_token(browser.get(server.url + "/login", timeout=TIMEOUT).text))

    def guess(server: Server, password: str) -> int:
        browser, token = forms[server.url]
        return browser.post(server.url + "/login", data={"phone": phone, "password": password, "csrf_token": token},
                            allow_redirects=False, timeout=TIMEOUT).status_code

    # the free tries, spread over the two: every one reaches the password check (422: wrong password)
    spread = [site.a, site.b] * FREE_TRIES
    assert [guess(spread[i], f"guess-{i}") for i in range(FREE_TRIES)] == [422] * FREE_TRIES
    # the next one waits, whichever instance it reaches; even the right password waits its turn
    assert guess(site.b, "guess-next") == 429
    assert guess(site.a, "guess-next") == 429
    assert guess(site.a, PASSWORD) == 429


def _counter_session(site) -> tuple[requests.Session, str]:
    clerk = requests.Session()
    login(clerk, site.a.url, site.clerk_phone, PASSWORD)
    page = clerk.get(f"{site.b.url}/store/{site.store_id}/counter", timeout=TIMEOUT)  # B serves A's login
    return clerk, csrf_token(page.text)


def test_one_checkout_form_posted_to_both_instances_at_once_is_one_checkout(site):
    clerk, token = _counter_session(site)
    with site.app.app_context():
        stock_before = db.session.scalar(select(Product.stock).where(Product.id == site.product_id))
    rounds, quantity = 6, 2
    request_ids = []
    for i in range(rounds):
        resident_id, _phone = site.residents[i % len(site.residents)]
        code = codes.member_phone_code(SECRET, SimpleNamespace(id=resident_id), datetime.now(UTC))
        held = clerk.post(f"{site.a.url}/store/{site.store_id}/counter", data={"csrf_token": token, "code": code},
                          allow_redirects=False, timeout=TIMEOUT)
        assert held.status_code == 302 and held.headers["Location"].endswith(f"/store/{site.store_id}/counter")
        request_id = uuid.uuid4().hex
        request_ids.append(request_id)
        form = {"csrf_token": token, "request_id": request_id, f"qty_{site.product_id}": quantity}
        cookie = _cookie_header(clerk)  # the browser holding this resident, as both copies of the post carry it
        replies = _at_once(*[lambda s=s, c=cookie, f=form: _post(f"{s.url}/store/{site.store_id}/checkout", c, f)
                             for s in (site.a, site.b)])
        locations = {r.headers.get("Location", f"{r.status_code}") for r in replies}
        assert [r.status_code for r in replies] == [302, 302] and len(locations) == 1, locations
        assert "/receipts/" in locations.pop()
        clerk.post(f"{site.a.url}/store/{site.store_id}/counter/next", data={"csrf_token": token}, timeout=TIMEOUT)

    with site.app.app_context():
        made = db.session.execute(select(Redemption.request_id, func.count()).where(
            Redemption.request_id.in_(request_ids)).group_by(Redemption.request_id)).all()
        assert sorted(made) == sorted((r, 1) for r in request_ids)
        entries = db.session.execute(select(LedgerEntry.idempotency_key, func.count()).where(
            LedgerEntry.idempotency_key.in_([f"redemption:{r}" for r in request_ids]))
            .group_by(LedgerEntry.idempotency_key)).all()
        assert sorted(entries) == sorted((f"redemption:{r}", 1) for r in request_ids)
        stock = db.session.scalar(select(Product.stock).where(Product.id == site.product_id))
        assert stock == stock_before - rounds * quantity
        assert stock == db.session.scalar(select(func.sum(StockMovement.change))
                                          .where(StockMovement.product_id == site.product_id))
        db.session.remove()


def test_one_check_in_confirmed_on_both_instances_at_once_counts_once(site):
    resident_id, phone = site.residents[3]
    browser = requests.Session()
    login(browser, site.b.url, phone, PASSWORD)
    with site.app.app_context():
        balance_before = ledger.balance_of(resident_id)
        db.session.remove()
    for _activity_id, poster in site.posters:
        confirm = browser.get(f"{site.a.url}/c/{poster}", timeout=TIMEOUT)  # the scan, then the confirm page
        assert confirm.status_code == 200 and "/c/confirm" in confirm.url
        cookie, form = _cookie_header(browser), {"csrf_token": csrf_token(confirm.text)}
        replies = _at_once(*[lambda s=s, c=cookie, f=form: _post(f"{s.url}/c/confirm", c, f) for s in (site.a, site.b)])
        locations = {r.headers.get("Location", f"{r.status_code}") for r in replies}
        assert [r.status_code for r in replies] == [302, 302] and len(locations) == 1, locations
        assert "/c/done/" in locations.pop()

    with site.app.app_context():
        ids = [activity_id for activity_id, _ in site.posters]
        attended = db.session.execute(select(Attendance.activity_id, func.count()).where(
            Attendance.resident_id == resident_id, Attendance.activity_id.in_(ids))
            .group_by(Attendance.activity_id)).all()
        assert sorted(attended) == sorted((i, 1) for i in ids)
        awards = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.resident_id == resident_id, LedgerEntry.source_type == "attendance"))
        assert awards == len(ids)
        assert ledger.balance_of(resident_id) == balance_before + 2 * len(ids)
        db.session.remove()
