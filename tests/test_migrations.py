"""Migrations build exactly the schema the models describe, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from pointsapp.core import sharding
from pointsapp.core.extensions import db as _db


def test_upgrade_from_empty_matches_models(app, db):
    # the session-wide app was migrated from an empty database by the fixture
    with _db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, _db.metadata)
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert diff == [], f"models and migrations differ: {diff}"
    assert head


def test_every_growing_table_carries_community_id_in_its_unique_constraints(app, db):
    """Sharding by community later needs no redesign (DESIGN.md: Data and scale)."""
    inspector = inspect(_db.engine)
    global_tables = sharding.REFERENCE_TABLES | sharding.COORDINATOR_TABLES | {"alembic_version"}
    for table in inspector.get_table_names():
        if table in global_tables:
            continue
        columns = {c["name"] for c in inspector.get_columns(table)}
        assert "community_id" in columns, table
        for unique in inspector.get_unique_constraints(table):
            assert "community_id" in unique["column_names"], (table, unique)


def test_downgrade_to_base_and_up_again(tmp_path):
    """The migration chain can be walked both ways (on a scratch SQLite file)."""
    from flask_migrate import downgrade, upgrade

    from tests.conftest import make_test_app

    url = f"sqlite:///{tmp_path / 'walk.sqlite'}"
    app = make_test_app(url)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        tables = set(inspect(_db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert "resident" in inspect(_db.engine).get_table_names()
        _db.engine.dispose()
    create_engine(url).dispose()
