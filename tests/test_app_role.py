"""The restricted PostgreSQL app role (docs/deploy.md): it owns nothing, it cannot UPDATE or DELETE ledger
entries, checkpoints, stock movements or audit events (no privilege), and the owner or a superuser, who
have the privilege, are stopped by the append-only trigger; the app's own flows all work as that role.

Two roles and a database of their own (deploy_owner_…, deploy_app_…, deploy_db_…): the owner runs the
migrations and `flask db grant-app-role`, the app connects as the app role."""
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from pointsapp.core.clock import FixedClock
from pointsapp.core.clock import install as install_clock
from pointsapp.core.dbroles import APPEND_ONLY_TABLES, grant_app_role_command
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.privacy import services as privacy
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter
from pointsapp.volunteering.services import activities, checkin

from .conftest import PG_SERVER_URL, make_test_app, migrate_to_head
from .factories import Factory
from .pgscratch import log_in, scratch, url_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def roles(tmp_path_factory):
    """(admin engine, database, owner role, app role): migrated by the owner, granted by the real CLI."""
    with scratch(roles=("owner", "app"), owner="owner") as (admin, [database], names):
        owner_app = make_test_app(url_for(database, names["owner"]))
        migrate_to_head(owner_app)
        with owner_app.app_context():
            _db.engine.dispose()
        env = dict(os.environ, DATABASE_URL=url_for(database, names["owner"]),
                   POINTSAPP_INSTANCE=str(tmp_path_factory.mktemp("instance")))
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "pointsapp", "db", "grant-app-role",
                               names["app"], "--show"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert f'GRANT SELECT, INSERT ON public.ledger_entry TO {names["app"]};' in done.stdout
        assert f'GRANT SELECT, INSERT, UPDATE, DELETE ON public.product TO {names["app"]};' in done.stdout
        yield admin, database, names["owner"], names["app"]


@pytest.fixture(scope="module")
def books(roles, now_module):
    """The app's flows, run by an app connected as the restricted role; returns what they made."""
    _admin, database, _owner, app_role = roles
    app = make_test_app(url_for(database, app_role))
    install_clock(app, FixedClock(now_module))
    now = now_module
    with app.app_context():
        make = Factory(_db, now)
        community = make.community()
        community.points_expire_months = 24
        community.retention_years = 3
        admin = make.admin(community)
        clerk = make.clerk(community)
        store = clerk.grants[0].store
        resident_user = make.resident_user(community=community)
        resident = resident_user.resident
        # earning: an old manual award (for expiry), a check-in, a reversal
        ledger.manual(admin, resident, 10, "志愿服务", "old", now - timedelta(days=800))
        _db.session.commit()
        expired = ledger_audit.expire(community.id, now)  # the 800-day-old award lapses
        _db.session.commit()
        team = make.team(community)
        lead = make.user(name="队长")
        make.grant(lead, "team_lead", community, team=team)
        activity = activities.create_activity(lead, team, activities.ActivityFields(
            title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(minutes=30),
            ends_at=now + timedelta(hours=2), rule="fixed", points=20, award_on="check_in"), now)
        checked = checkin.check_in(resident_user, resident, activity, now)
        wrong = ledger.manual(admin, resident, 5, "录错了", "wrong", now)
        ledger.reverse_by_admin(admin, wrong.id, community.id, "更正", now)
        # spending: a checkout and its void (stock movements, a redemption's status update)
        product = store_service.create_product(admin, store, store_service.ProductFields(
            name="花生油", kind="goods", price=3), 10, now)
        who = make.identified(clerk, store, resident, now)
        receipt = counter.redeem(clerk, store, who.id, counter.Cart({product.id: 2}), "req-1", now)
        counter.void(clerk, receipt.redemption, "顾客退回", now)
        who = make.identified(clerk, store, resident, now)
        counter.redeem(clerk, store, who.id, counter.Cart({product.id: 1}), "req-2", now)
        _db.session.commit()
        # retention: a resident who moved out four years ago has her personal fields erased
        gone = make.resident(community=community, name="搬走的人", phone="13900000000")
        gone.moved_out_on = date(2021, 6, 1)
        erased = [r.id for r in privacy.apply_retention(now, community.id)]
        checkpoint = ledger_audit.checkpoint(community.id, now)
        _db.session.commit()
        report = ledger_audit.verify(community.id)
        # and through the web: her balance page and the public board
        client = log_in(app, app.test_client(), resident_user, now)
        balance_page = client.get("/me/points")
        board_page = app.test_client().get(f"/board/{community.id}")
        result = dict(community_id=community.id, resident_id=resident.id, gone_id=gone.id, erased=erased,
                      checked=checked.action, expired=expired, checkpoint_id=checkpoint.id, report=report,
                      balance=ledger.balance_of(resident.id), balance_page=balance_page, board_page=board_page,
                      entry_id=wrong.id, product_id=product.id)
        _db.session.remove()
        _db.engine.dispose()
    return result


@pytest.fixture(scope="module")
def now_module():
    from datetime import UTC, datetime

    return datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def test_the_apps_flows_all_work_as_the_restricted_role(books):
    assert books["checked"]  # the check-in went through and awarded
    assert books["expired"] == (1, 10)  # the 800-day-old award lapsed: one expiry entry of 10 points
    assert books["erased"] == [books["gone_id"]]
    assert books["report"].ok, [str(p) for p in books["report"].problems]
    assert books["balance"] == 20 - 3  # check-in 20, +5 −5 reversed, 2 bought and voided, 1 bought
    assert books["balance_page"].status_code == 200 and "17" in books["balance_page"].get_data(as_text=True)
    assert books["board_page"].status_code == 200


def _refusal(engine, sql: str) -> str:
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as err:
            conn.execute(text(sql))
        conn.rollback()
    assert err.value.orig.sqlstate == "42501", err.value  # insufficient_privilege, both ways
    return str(err.value.orig)


def test_the_app_role_has_no_privilege_to_update_or_delete_append_only_rows(roles, books):
    _admin, database, _owner, app_role = roles
    engine = create_engine(url_for(database, app_role))
    try:
        for table in APPEND_ONLY_TABLES:
            for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                assert f"permission denied for table {table}" in _refusal(engine, sql)
            assert "must be owner" in _refusal(engine, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        assert "permission denied for schema public" in _refusal(engine, "CREATE TABLE mine (x int)")
        with engine.begin() as conn:  # what the app needs stays: updates of ordinary rows
            assert conn.execute(text("UPDATE product SET stock = stock WHERE id = :p"),
                                {"p": books["product_id"]}).rowcount == 1
            entries = conn.execute(text("SELECT count(*) FROM ledger_entry WHERE resident_id = :r"),
                                   {"r": books["resident_id"]}).scalar()
        # the rows are all there: old award, its expiry, check-in, wrong award, its reversal, two checkouts, a void
        assert entries == 8
    finally:
        engine.dispose()


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_the_trigger_refuses_the_owner_and_a_superuser_who_hold_the_privilege(roles, books, who):
    admin, database, owner, _app_role = roles
    engine = create_engine(url_for(database, owner if who == "owner" else None))
    try:
        for table in APPEND_ONLY_TABLES:
            for sql, op in ((f"UPDATE {table} SET id = id", "UPDATE"), (f"DELETE FROM {table}", "DELETE")):
                assert f"{table} is append-only: {op} refused" in _refusal(engine, sql)
        with engine.connect() as conn:
            amount = conn.execute(select(LedgerEntry.amount).where(LedgerEntry.id == books["entry_id"])).scalar()
        assert amount == 5
    finally:
        engine.dispose()


@pytest.mark.parametrize("whom", ["owner", "superuser"])
def test_grant_app_role_refuses_a_role_that_owns_tables_or_is_a_superuser(roles, whom):
    _admin, database, owner, _app_role = roles
    app = make_test_app(url_for(database, owner))
    role = owner if whom == "owner" else make_url(PG_SERVER_URL).username
    result = app.test_cli_runner().invoke(grant_app_role_command, [role])
    with app.app_context():
        _db.engine.dispose()
    assert result.exit_code == 1
    assert ("owns" if whom == "owner" else "is a superuser") in result.output


def test_a_backup_can_run_as_the_app_role(roles, books, tmp_path):
    """pg_dump reads every table and sequence: the app role's SELECTs suffice (no owner needed for backups)."""
    _admin, database, _owner, app_role = roles
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    url = make_url(url_for(database, app_role))
    done = subprocess.run([pg_dump, "-h", url.host, "-p", str(url.port or 5432), "-U", app_role, "-d", database,
                           "-Fc", "-f", str(tmp_path / "backup.pgc")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "backup.pgc").stat().st_size > 10_000


def test_grant_app_role_refuses_a_member_of_the_owners_role(roles):
    admin, database, owner, app_role = roles
    app = make_test_app(url_for(database, owner))
    with admin.connect() as conn:
        conn.execute(text(f'GRANT "{owner}" TO "{app_role}"'))
    try:
        result = app.test_cli_runner().invoke(grant_app_role_command, [app_role])
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'REVOKE "{owner}" FROM "{app_role}"'))
        with app.app_context():
            _db.engine.dispose()
    assert result.exit_code == 1 and "could SET ROLE to the owner" in result.output
