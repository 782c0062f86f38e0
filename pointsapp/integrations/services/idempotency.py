"""The record behind the Idempotency-Key header (core.api; draft-ietf-httpapi-idempotency-key-header).

The record is written in the operation's own transaction, with the response it produced: both are
committed together or not at all, so a stored response always describes a change that happened, and a
change that happened always has its response stored. A second request with the same key:
- finds the record committed: the stored response is replayed (or 422 when its request differed);
- arrives while the first still runs: its insert waits on the unique key (PostgreSQL) or on the write
  lock (SQLite) until the first commits, and then replays it; when the first rolls back it runs itself;
  a wait longer than the lock timeout is 409 `idempotency_in_flight`.
A refusal (a domain error) rolls the operation back; its response is then stored in a fresh transaction,
so the same key gets the same refusal. Busy, rate-limited and 5xx answers are not stored: the key, sent
again, runs again. Records are kept for KEEP (the nightly purge).
"""
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from pointsapp.core.errors import Conflict, InvalidInput
from pointsapp.core.extensions import db
from pointsapp.core.locks import is_busy
from pointsapp.integrations.models import IdempotencyRecord

KEEP = timedelta(hours=24)


class KeyReused(InvalidInput):
    code = "idempotency_key_reused"
    http_status = 422

    def __init__(self):
        super().__init__(_l("This Idempotency-Key was already used for a different request."))


class KeyInFlight(Conflict):
    code = "idempotency_in_flight"
    http_status = 409

    def __init__(self):
        super().__init__(_l("A request with this Idempotency-Key is still being processed. Please try again "
                            "in a moment."))


def _find(owner: str, key: str) -> IdempotencyRecord | None:
    return db.session.scalars(select(IdempotencyRecord)
                              .where(IdempotencyRecord.owner == owner, IdempotencyRecord.key == key)).first()


def _stored(record: IdempotencyRecord, fingerprint: str):
    if record.fingerprint != fingerprint:
        raise KeyReused()
    if record.state != "done":  # committed without its answer, and taken over meanwhile: never replay nothing
        raise KeyInFlight()
    return record.status, record.body, record.content_type, record.location


def claim(owner: str, key: str, fingerprint: str, now: datetime):
    """None: this request runs, its record written (uncommitted) in the unit of work. Else the stored
    (status, body, content type, location) to replay."""
    found = _find(owner, key)
    if found is not None:
        if found.state == "running":
            return _take_over(found, owner, key, fingerprint, now)
        return _stored(found, fingerprint)
    record = IdempotencyRecord(owner=owner, key=key, fingerprint=fingerprint, state="running", created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(record)
            db.session.flush()  # waits here while another request holds the same key uncommitted
    except IntegrityError:
        found = _find(owner, key)  # it committed first
        if found is None:
            raise KeyInFlight() from None
        return _stored(found, fingerprint)
    except DBAPIError as exc:
        if is_busy(exc):
            raise KeyInFlight() from exc
        raise
    return None


def _take_over(record: IdempotencyRecord, owner: str, key: str, fingerprint: str, now: datetime):
    """A "running" record another request can see was committed without its answer: a refusal that kept its
    changes (a wrong PIN's count) and answered with a status that is not stored (429, 503). Nobody runs it: this
    request takes the key over and runs. A twin doing the same at once waits on the row, then finds it done."""
    taken = db.session.execute(update(IdempotencyRecord).where(
        IdempotencyRecord.id == record.id, IdempotencyRecord.state == "running")
        .values(fingerprint=fingerprint, created_at=now).execution_options(synchronize_session=False)).rowcount
    if taken:
        return None
    db.session.expire(record)
    found = _find(owner, key)
    if found is None:
        raise KeyInFlight()
    return _stored(found, fingerprint)


def complete(owner: str, key: str, fingerprint: str, status: int, body: str, content_type: str | None,
             location: str | None, now: datetime) -> None:
    """Store the response with the change (before the unit of work commits). After a refusal rolled the
    first record back, a fresh one carries the refusal."""
    record = _find(owner, key)
    if record is None:  # the refusal rolled the first record back: a fresh one, unless a retry took the key
        record = IdempotencyRecord(owner=owner, key=key, fingerprint=fingerprint, state="done", created_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(record)
                db.session.flush()
        except (IntegrityError, DBAPIError):
            return  # another request with the key runs or ran: its answer is the one kept
    record.state, record.status, record.body = "done", status, body
    record.content_type, record.location, record.finished_at = (content_type or "")[:100], \
        (location or None) and location[:500], now


def purge(now: datetime) -> int:
    """Records older than KEEP go (the nightly job)."""
    return db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEEP)).rowcount


__all__ = ["KEEP", "KeyInFlight", "KeyReused", "claim", "complete", "purge"]
