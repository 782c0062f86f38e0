"""Inserts that a unique constraint guards: a twin request (a double click, ten identical submits) or an
existing row with the same name becomes a domain error or a re-read, never an IntegrityError (a 500).

The insert runs in a savepoint, so after a conflict the unit of work carries on: the caller re-reads
the row the twin wrote (PostgreSQL's unique index made this insert wait for the twin's commit, so the
row is there to read) or raises its Conflict with a message. Only unique violations are caught: a
foreign key or check constraint that fails is still a bug to see.
"""
from sqlalchemy.exc import IntegrityError

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db
from pointsapp.core.locks import is_duplicate


def insert_if_absent(obj) -> bool:
    """Add and flush `obj` in a savepoint. False when a row with the same unique key exists (the caller
    reads that one instead); the session is usable either way."""
    try:
        with db.session.begin_nested():
            db.session.add(obj)
    except IntegrityError as exc:
        if not is_duplicate(exc):
            raise
        if obj in db.session:
            db.session.expunge(obj)
        return False
    return True


def insert_unique(obj, conflict: DomainError) -> None:
    """Add and flush `obj` in a savepoint; raise `conflict` when a row with the same unique key exists."""
    if not insert_if_absent(obj):
        raise conflict
