"""Browser tests: one live server and one Chromium per session, a fresh browser context per test.

- The live server is the real app (real CSRF, real sessions) on a throwaway SQLite file, migrated to
  head and seeded with the demo data, served by werkzeug in a background thread.
- Chromium is Debian's /usr/bin/chromium (Playwright's own browser download does not work here).
  Without it the tests skip, saying why; under CI=true they fail, since CI requires them.
- Screenshots go to test-artifacts/screenshots/ (gitignored) for people to look at.
- Under pytest-xdist all of them run on one worker, in the order of a plain run (the scheduler in
  tests/conftest.py), so they share one live server and one Chromium as they do in one process, and
  the files they write never collide.
"""
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from .pages import RESIDENT_PHONE, ROOT, TIMEOUT_MS, VIEWPORTS

TRANSLATIONS = ROOT / "pointsapp" / "translations"
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]


def _require(condition: bool, message: str) -> None:
    """Skip outside CI; fail under CI=true, where browser tests are required."""
    if condition:
        return
    if ON_CI:
        pytest.fail(message + " (CI=true requires the browser tests)", pytrace=False)
    pytest.skip(message)


def _check_catalogues() -> None:
    """The UI text comes from compiled catalogues (`make translations`; .mo files are not committed).
    Without them every page is English and the Chinese checks would fail for the wrong reason."""
    stale = []
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(str(mo.relative_to(ROOT)))
    if stale:
        pytest.fail("translation catalogues missing or older than their .po files: " + ", ".join(stale)
                    + " - run `make translations` (`make test` does it for you)", pytrace=False)


@dataclass
class LiveServer:
    url: str
    app: object
    errors: list  # exceptions raised by views while serving; each test checks none were added


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    from flask import got_request_exception
    from flask_migrate import upgrade

    from pointsapp import create_app
    from pointsapp.core import passwords
    from pointsapp.core.extensions import db
    from pointsapp.demo.seed import build_activities, build_demo, build_store

    _check_catalogues()
    path = tmp_path_factory.mktemp("browser-db") / "live.sqlite"
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "browser-test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "WTF_CSRF_ENABLED": True,  # browsers post real forms with real tokens
        "LOGIN_FREE_TRIES_PER_IP": 1000,  # every browser test logs in from 127.0.0.1
        "SERVER_NAME": None,
        "PASSWORD_HASH_METHOD": passwords.TEST_METHOD,  # every log_in() checks a password
        "PUBLIC_BASE_URL": "http://127.0.0.1",  # the port is added below, once the OS has picked it
        # the job queue: a SQLite file beside the database, consumed by a real worker process (below)
        "JOBS_URL": f"sqlite:///{path.parent / 'jobs.sqlite'}",
    })
    with app.app_context():
        upgrade()
        # The demo logins live in 梨园社区's 3号楼, so the demo needs at least three buildings per
        # community (build_demo(buildings_per_community=2) fails looking for 3号楼).
        build_demo(datetime(2026, 11, 25, 2, 30, tzinfo=UTC), buildings_per_community=3)
        # activities around the real clock (the app reads it), so one is open for check-in now
        build_activities(datetime.now(UTC))
        build_store(datetime.now(UTC))  # the supermarket's catalogue and the demo resident's card PIN
        db.session.commit()
        db.session.remove()

    errors: list = []

    def record(sender, exception, **extra):
        errors.append(exception)

    got_request_exception.connect(record, app)
    server = make_server("127.0.0.1", 0, app, threaded=True)  # port 0: the OS picks a free port
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"  # what the QR codes name
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    # the job worker, as `make run` starts it beside the server (big imports run there)
    worker_log = (path.parent / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "pointsapp", "jobs", "worker", "--no-periodic"],
                              env={**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "browser-test-secret",
                                   "JOBS_URL": app.config["JOBS_URL"], "POINTSAPP_INSTANCE": str(path.parent)},
                              stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, errors=errors)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        worker_log.close()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        got_request_exception.disconnect(record, app)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def _no_server_errors(request):
    """A view that raised fails the test that caused it, with the exception, not just a 500 page."""
    if "live_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("live_server")
    before = len(server.errors)
    yield
    new = server.errors[before:]
    assert not new, f"the server raised while this test ran: {new!r}"


@contextmanager
def _real_clock_for_children():
    """Under Debian's faketime (the suite run with the machine's clock moved) libfaketime is preloaded
    into this process, and would be into Playwright's driver and Chromium, which then hang. The app under
    test is what the moved clock is for: start the browser without the preload, then put it back
    (FAKETIME itself must stay: libfaketime rereads it in this process)."""
    preload = os.environ.get("LD_PRELOAD", "")
    if "faketime" not in preload:
        yield
        return
    del os.environ["LD_PRELOAD"]
    try:
        yield
    finally:
        os.environ["LD_PRELOAD"] = preload


@pytest.fixture(scope="session")
def browser():
    _require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    with _real_clock_for_children():  # Playwright's driver and Chromium start here
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def new_context(browser, live_server):
    """new_context(viewport="phone"|"desktop", **kw): a fresh browser context (own cookies) on the live server."""
    contexts = []

    def make(viewport: str = "phone", **kwargs):
        options = {"base_url": live_server.url, "viewport": VIEWPORTS[viewport], "locale": "zh-CN",
                   "timezone_id": "Asia/Shanghai"}
        if viewport == "phone":
            options.update(device_scale_factor=2, is_mobile=True, has_touch=True)
        options.update(kwargs)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


@pytest.fixture(scope="session")
def two_months_of_points(live_server):
    """The demo resident's entries in October and November (the browser-test demo gives her none)."""
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services.posting import Posting, post
    from pointsapp.tree.models import Resident

    with live_server.app.app_context():
        me = db.session.query(Resident).filter_by(phone=RESIDENT_PHONE).one()
        for n, (day, amount, reason) in enumerate([((10, 8), 12, "安全值守：梨园安全值守"),
                                                   ((11, 3), 10, "楼道广告清理：梨园楼道广告清理"),
                                                   ((11, 20), 15, "环境整治：梨园环境整治")]):
            post(Posting(me, amount, EntryKind.AWARD, "attendance", f"browser-history-{n}", reason),
                 None, datetime(2026, *day, 2, 0, tzinfo=UTC))
        post(Posting(me, -8, EntryKind.REDEMPTION, "redemption", "browser-history-r", "兑换单 01-20261121-000001"),
             None, datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
        db.session.commit()
        db.session.remove()
