"""DATABASE_REPLICA_URL: boards and reports read from the replica, a resident's balance (and her login, and
every write) from the primary (core/replica.py, docs/deploy.md).

Proved with two databases holding different data under the same ids: the primary says 王芳 earned 10
points, the "replica" says 司马懿 earned 99. A page showing 司马懿 read the replica; one showing 王芳's
10 read the primary."""
from datetime import UTC, datetime

import pytest

from pointsapp.core.clock import FixedClock
from pointsapp.core.clock import install as install_clock
from pointsapp.core.extensions import db as _db
from pointsapp.core.replica import REPLICA_ENDPOINTS
from pointsapp.ledger.services import posting as ledger

from .conftest import make_test_app, migrate_to_head
from .factories import Factory
from .pgscratch import log_in, scratch, url_for

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


def _seed(url: str, name: str, points: int) -> dict:
    """One community whose one resident (with a login) earned `points` this month."""
    app = make_test_app(url)
    migrate_to_head(app)
    with app.app_context():
        make = Factory(_db, NOW)
        community = make.community()
        community.board_mask, community.board_min_ranked = "none", 0
        admin = make.admin(community)
        user = make.resident_user(community=community)
        user.resident.name = name
        ledger.manual(admin, user.resident, points, "志愿服务", "seed", NOW)
        _db.session.commit()
        ids = dict(community=community.id, resident=user.resident.id, user=user.id)
        _db.session.remove()
        _db.engine.dispose()
    return ids


@pytest.fixture(scope="module")
def routed():
    with scratch(databases=2) as (_admin, [primary, replica], _roles):
        here = _seed(url_for(primary), "王芳", 10)
        there = _seed(url_for(replica), "司马懿", 99)
        assert here == there  # the same ids in both: only the data differs
        app = make_test_app(url_for(primary), DATABASE_REPLICA_URL=url_for(replica))
        install_clock(app, FixedClock(NOW))
        yield app, here
        with app.app_context():
            _db.session.remove()
            for engine in _db.engines.values():
                engine.dispose()


def test_the_public_board_reads_the_replica(routed):
    app, ids = routed
    page = app.test_client().get(f"/board/{ids['community']}").get_data(as_text=True)
    assert "司马懿" in page and "王芳" not in page


def test_her_balance_and_her_login_come_from_the_primary_and_the_rankings_from_the_replica(routed):
    app, ids = routed
    from pointsapp.accounts.models import User

    with app.app_context():
        client = log_in(app, app.test_client(), _db.session.get(User, ids["user"]), NOW)  # a session row: primary only
        balance = client.get("/me/points")
        rankings = client.get("/rankings")
    assert balance.status_code == 200 and rankings.status_code == 200  # logged in: the primary's session row
    assert "10" in balance.get_data(as_text=True) and "99" not in balance.get_data(as_text=True)
    assert "司马懿" in rankings.get_data(as_text=True)


def test_a_write_in_a_replica_page_goes_to_the_primary(routed):
    """The board reads through the replica session, yet a flush in the same request writes the primary."""
    app, ids = routed
    from sqlalchemy import select

    from pointsapp.core.replica import reads
    from pointsapp.tree.models import Resident

    with app.app_context():
        with reads():
            resident = _db.session.scalar(select(Resident).where(Resident.id == ids["resident"]))
            assert resident.name == "司马懿"  # read from the replica
            resident.relation = "本人"
            _db.session.flush()  # UPDATE … WHERE id: the primary
            locked = _db.session.scalar(select(Resident.name).where(Resident.id == ids["resident"])
                                        .with_for_update())
        _db.session.rollback()
    assert locked == "王芳"  # a locking read is the primary's


def test_without_a_replica_every_endpoint_listed_exists_and_nothing_is_wrapped(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'one.sqlite'}")
    for endpoint in REPLICA_ENDPOINTS:
        assert endpoint in app.view_functions
        assert not hasattr(app.view_functions[endpoint], "__wrapped__")
    with app.app_context():
        assert set(_db.engines) == {None}
