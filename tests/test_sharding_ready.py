"""The Citus plan (pointsapp/core/sharding.py, docs/deploy.md) checked against the models: every table is
placed, every distributed table carries community_id, and what still stands in the way is exactly the
known gaps (a new gap fails here; so does a closed one still listed)."""
import pytest
from sqlalchemy import BigInteger, UniqueConstraint

from pointsapp.core import sharding
from pointsapp.core.extensions import db
from pointsapp.features import load_features

CID = sharding.DISTRIBUTION_COLUMN


@pytest.fixture(scope="module")
def tables():
    load_features()
    return {t.name: t for t in db.metadata.sorted_tables}


@pytest.fixture(scope="module")
def distributed(tables):
    return {name: tables[name] for name in sharding.distributed_tables(tables)}


def _kind(name: str) -> str:
    if name in sharding.REFERENCE_TABLES:
        return "reference"
    return "coordinator" if name in sharding.COORDINATOR_TABLES else "distributed"


def test_every_table_is_placed_once_and_the_lists_name_real_tables(tables):
    assert not sharding.REFERENCE_TABLES & sharding.COORDINATOR_TABLES
    assert set(tables) >= (sharding.REFERENCE_TABLES | sharding.COORDINATOR_TABLES)
    # any other table is distributed: a new one without community_id fails the next test until placed


def test_every_distributed_table_has_the_distribution_column(distributed):
    assert [name for name, t in distributed.items() if CID not in t.c] == []


def test_every_unique_constraint_of_a_distributed_table_includes_community_id(distributed):
    missing = []
    for name, t in distributed.items():
        uniques = [[c.name for c in con.columns] for con in t.constraints if isinstance(con, UniqueConstraint)]
        uniques += [[c.name for c in ix.columns] for ix in t.indexes if ix.unique]
        uniques += [[c.name] for c in t.columns if c.unique]
        missing += [f"{name}({', '.join(cols)})" for cols in uniques if CID not in cols]
    assert missing == []


def test_primary_keys_without_community_id_are_exactly_the_known_gap(distributed):
    found = {name for name, t in distributed.items() if CID not in [c.name for c in t.primary_key.columns]}
    assert found == sharding.KNOWN_GAPS["primary_key_without_community_id"]


def test_a_nullable_distribution_column_is_exactly_the_known_gap(distributed):
    assert {name for name, t in distributed.items() if t.c[CID].nullable} == sharding.KNOWN_GAPS["nullable_community_id"]


def test_foreign_keys_citus_cannot_keep_are_exactly_the_known_gap(tables):
    reference_to_distributed, to_coordinator = set(), set()
    for name, t in tables.items():
        for fk in t.foreign_keys:
            target = fk.column.table.name
            if _kind(name) != "distributed" and _kind(target) == "distributed":
                reference_to_distributed.add(f"{name}.{fk.parent.name} -> {target}")
            if _kind(name) == "distributed" and _kind(target) == "coordinator":
                to_coordinator.add(f"{name}.{fk.parent.name} -> {target}")
    assert reference_to_distributed == sharding.KNOWN_GAPS["reference_to_distributed_foreign_key"]
    assert to_coordinator == set()


def test_bigint_ids_are_the_ones_listed(tables):
    def is_bigint(column):
        return isinstance(column.type, BigInteger)

    assert {name for name, t in tables.items()
            if len(t.primary_key.columns) == 1 and is_bigint(list(t.primary_key.columns)[0])} == sharding.BIGINT_IDS
