"""Rows by id, safely: an id no integer column can hold is simply not there (never an OverflowError on
SQLite or "integer out of range" on PostgreSQL)."""
from pointsapp.core.extensions import db

# Primary keys are INTEGER: 32-bit on PostgreSQL, and anything wider overflows SQLite's driver.
MAX_ID = 2**31 - 1


def valid_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def get_row(model, row_id):
    """db.session.get(model, row_id), or None when the id cannot exist."""
    return db.session.get(model, row_id) if valid_id(row_id) else None
