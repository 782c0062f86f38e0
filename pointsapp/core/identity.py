"""Reference rows stay loaded for the whole unit of work.

SQLAlchemy's identity map holds rows weakly: a Community read for its award ceiling, dropped by the
caller, is garbage and read again by the next `session.get()` (a check-in read the same community row four
times). The few kinds of row that many services consult in one request (a community's rules, a store, an
activity, a team, a building) are held strongly here from the moment they are loaded until the unit of work
ends, so `session.get()` answers them from memory. Entities that bulk work streams by the thousand (ledger
entries, residents, attendances) are not held: memory stays bounded by the number of such reference rows.
"""
from sqlalchemy import event
from sqlalchemy.orm import Session

_KEPT = "pointsapp.kept_rows"
_kinds: tuple[type, ...] = ()


def keep(*models: type) -> None:
    """Hold rows of these models for the rest of the unit of work once loaded."""
    global _kinds
    _kinds = tuple(dict.fromkeys((*_kinds, *models)))


@event.listens_for(Session, "loaded_as_persistent")
def _loaded(session: Session, instance) -> None:
    if isinstance(instance, _kinds):
        session.info.setdefault(_KEPT, []).append(instance)


@event.listens_for(Session, "after_transaction_end")
def _release(session: Session, transaction) -> None:
    if transaction.parent is None:  # the unit of work's transaction, not a savepoint inside it
        session.info.pop(_KEPT, None)
