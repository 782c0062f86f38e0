"""Through PgBouncer in transaction mode (docs/deploy.md): with DATABASE_PGBOUNCER=1 the app's real flows
(check-ins, checkouts, in threads, every transaction possibly on another server connection) work, and
without it psycopg's prepared statements break as soon as two clients share a server connection.

A real pgbouncer (Debian's package; .ci/ensure-services installs it) is started on a free port with two
entries for one scratch database: `wide` (3 server connections) and `narrow` (1). Without the binary the
test skips outside CI and fails under CI=true."""
import os
import pwd
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from pointsapp.core import config
from pointsapp.core.clock import FixedClock
from pointsapp.core.clock import install as install_clock
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.models import Product, StockMovement
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter

from .concurrency import run_threads
from .conftest import ON_CI, make_test_app, migrate_to_head
from .factories import Factory
from .pgscratch import scratch, url_for

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
RESIDENTS, CHECKOUTS = 6, 6  # each resident: a check-in, then 6 checkouts, one unit of work each


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bouncer(tmp_path_factory):
    """(url of `wide`, url of `narrow`): one migrated scratch database behind a running pgbouncer."""
    binary = shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer",) if os.path.exists(p)), None)
    if binary is None:
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if ON_CI:
            pytest.fail(message + " (CI=true requires it: .ci/ensure-services installs it)", pytrace=False)
        pytest.skip(message)
    with scratch() as (_admin, [database], _roles):
        migrate_app = make_test_app(url_for(database))
        migrate_to_head(migrate_app)
        with migrate_app.app_context():
            _db.engine.dispose()
        u = make_url(url_for(database))
        folder = tmp_path_factory.mktemp("pgbouncer")
        port = _free_port()
        target = f"host={u.host} port={u.port or 5432} dbname={database} user={u.username}"
        ini = folder / "pgbouncer.ini"
        ini.write_text(f"""[databases]
wide = {target} pool_size=3
narrow = {target} pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 100
logfile =
pidfile =
""")
        command = [binary, str(ini)]
        if os.geteuid() == 0:  # pgbouncer will not run as root
            user = "postgres" if _user_exists("postgres") else "nobody"
            command[1:1] = ["-u", user]
            for path in (folder, *folder.parents):
                if str(path) in ("/", "/tmp"):
                    break
                path.chmod(path.stat().st_mode | 0o055)
            ini.chmod(0o644)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_for(port, process)
            yield (url_for("wide", host="127.0.0.1", port=port), url_for("narrow", host="127.0.0.1", port=port))
        finally:
            process.terminate()
            process.communicate(timeout=10)  # waits, and closes its output pipe


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _wait_for(port: int, process) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {process.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("pgbouncer did not start listening")


def _alternate(url: str, pgbouncer: bool) -> None:
    """Two clients take turns running the same statements (psycopg prepares them after 5 runs)."""
    settings = {"SQLALCHEMY_DATABASE_URI": config.normalise_db_url(url), "DATABASE_PGBOUNCER": pgbouncer}
    config.database_engines(settings)
    engine = create_engine(settings["SQLALCHEMY_DATABASE_URI"], **settings["SQLALCHEMY_ENGINE_OPTIONS"])
    try:
        with engine.connect() as a, engine.connect() as b:
            for i in range(8):
                for conn in (a, b):
                    assert conn.execute(text("SELECT count(*) + :i FROM ledger_entry"), {"i": i}).scalar() == i
                    conn.commit()
    finally:
        engine.dispose()


def test_without_the_switch_prepared_statements_break_on_a_shared_server_connection(bouncer):
    _wide, narrow = bouncer
    with pytest.raises(DBAPIError, match="prepared statement"):
        _alternate(narrow, pgbouncer=False)
    _alternate(narrow, pgbouncer=True)  # the switch: the same turns go through


def test_checkins_and_checkouts_in_threads_go_through_pgbouncer_in_transaction_mode(bouncer):
    wide, _narrow = bouncer
    app = make_test_app(wide, DATABASE_PGBOUNCER=True)
    install_clock(app, FixedClock(NOW))
    from pointsapp.volunteering.services import activities, checkin

    with app.app_context():
        assert _db.engine.dialect.name == "postgresql"
        make = Factory(_db, NOW)
        community = make.community()
        admin = make.admin(community)
        clerk = make.clerk(community)
        store = clerk.grants[0].store
        team = make.team(community)
        lead = make.user(name="队长")
        make.grant(lead, "team_lead", community, team=team)
        activity = activities.create_activity(lead, team, activities.ActivityFields(
            title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=NOW - timedelta(minutes=30),
            ends_at=NOW + timedelta(hours=2), rule="fixed", points=10, award_on="check_in"), NOW)
        product = store_service.create_product(admin, store, store_service.ProductFields(
            name="花生油", kind="goods", price=3), 100, NOW)
        users = [make.resident_user(community=community) for _ in range(RESIDENTS)]
        for u in users:
            ledger.manual(admin, u.resident, 100, "志愿服务", f"seed-{u.id}", NOW - timedelta(days=1))
        _db.session.commit()
        ids = dict(clerk=clerk.id, store=store.id, activity=activity.id, product=product.id)
        residents = [(u.id, u.resident_id) for u in users]

        def volunteer_then_shop(user_id, resident_id):
            from pointsapp.accounts.models import User
            from pointsapp.store.models import Store
            from pointsapp.volunteering.models import Activity

            def work():
                u = _db.session.get(User, user_id)
                checkin.check_in(u, u.resident, _db.session.get(Activity, ids["activity"]), NOW)
                _db.session.commit()
                for n in range(CHECKOUTS):
                    c, s = _db.session.get(User, ids["clerk"]), _db.session.get(Store, ids["store"])
                    who = make.identified(c, s, u.resident, NOW + timedelta(seconds=n))
                    counter.redeem(c, s, who.id, counter.Cart({ids["product"]: 1}), f"r{resident_id}-{n}",
                                   NOW + timedelta(seconds=n))
                    _db.session.commit()
                return resident_id
            return work

        results = run_threads(app, *[volunteer_then_shop(*r) for r in residents], together=True)
        assert [status for status, _ in results] == ["ok"] * RESIDENTS, results
        for _user_id, resident_id in residents:
            assert ledger.balance_of(resident_id) == 100 + 10 - 3 * CHECKOUTS
        stock = _db.session.scalar(select(Product.stock).where(Product.id == ids["product"]))
        moved = _db.session.scalar(select(func.sum(StockMovement.change))
                                   .where(StockMovement.product_id == ids["product"]))
        assert stock == moved == 100 - RESIDENTS * CHECKOUTS
        report = ledger_audit.verify(community.id)
        assert report.ok and report.entries == RESIDENTS * (2 + CHECKOUTS)
        _db.session.remove()
        _db.engine.dispose()
