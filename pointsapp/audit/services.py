"""Writing and reading the audit log.

Other features' services call `record()` inside their own unit of work, so an action and its event are
committed together or not at all. This module imports only core (accounts, tree, ledger, store and
imports all call it, so it may depend on none of them).
"""
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from pointsapp.audit.models import AuditAction, AuditEvent
from pointsapp.core import spreadsheets, sqlite
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_local
from pointsapp.core.permissions import Action, require
from pointsapp.core.uow import after_commit, unit_of_work

PAGE_SIZE = 50
EXPORT_LIMIT = 50_000  # newest events in one CSV; narrow the filters for more
_DETAIL_TEXT_MAX = 120
_DETAILS_MAX = 1000

_SCALARS = (str, int, bool, float, type(None))


def _detail(value):
    if isinstance(value, list | tuple):
        return [_detail(v) for v in value]
    if not isinstance(value, _SCALARS):
        value = str(value)  # dates, enums
    return value[:_DETAIL_TEXT_MAX] if isinstance(value, str) else value


def _subject(subject) -> tuple[str, int | None, int | None, int | None]:
    """(type, id, community id, resident id) of a model instance (or None)."""
    if subject is None:
        return "", None, None, None
    table = subject.__tablename__
    community_id = subject.id if table == "community" else getattr(subject, "community_id", None)
    resident_id = subject.id if table == "resident" else getattr(subject, "resident_id", None)
    return table, subject.id, community_id, resident_id


def _event(actor, action: str, subject, now: datetime, community_id: int | None, details: dict) -> AuditEvent:
    if action not in AuditAction.__members__.values():
        raise ValueError(f"unknown audit action {action!r}")
    subject_type, subject_id, subject_community, resident_id = _subject(subject)
    text = json.dumps({k: _detail(v) for k, v in sorted(details.items())}, ensure_ascii=False,
                      separators=(",", ":"))
    if len(text) > _DETAILS_MAX:
        raise ValueError("audit details are a few plain values, not a document")
    return AuditEvent(community_id=community_id if community_id is not None else subject_community,
                      actor_id=getattr(actor, "id", None), action=str(action), subject_type=subject_type,
                      subject_id=subject_id, resident_id=resident_id, details=text, at=now)


def record(actor, action: str, subject, now: datetime, *, community_id: int | None = None,
           **details) -> AuditEvent:
    """Append one event: `actor` (a user, or None for the system) did `action` to `subject` (a model
    instance; its community, and its resident if it has one, are the event's unless `community_id` is
    given). `details` are a few plain values (counts, dates, field names), never the personal value
    itself. Flushes, never commits: the event commits with the action, or not at all."""
    event = _event(actor, action, subject, now, community_id, details)
    db.session.add(event)
    db.session.flush()
    return event


def record_read(actor, action: str, subject, now: datetime, *, community_id: int | None = None,
                **details) -> None:
    """record() for a read that hands data out (an export, a GET). A read holds no write transaction to
    join (on SQLite a reader never takes the write lock, so a long export does not stall the counter), so
    the event is appended in a short unit of work of its own as soon as the read's has ended, before the
    response leaves: if it cannot be written, the request answers with that error instead of the file."""
    event = _event(actor, action, subject, now, community_id, details)  # ids taken now, while loaded

    def append() -> None:
        sqlite.set_read_only(False)  # SQLite: BEGIN IMMEDIATE, a writer from its first statement
        with unit_of_work():
            db.session.add(event)

    after_commit(append)


@dataclass(frozen=True)
class Filters:
    community_id: int | None = None  # None: every community (the city's view)
    action: str | None = None
    actor_id: int | None = None  # the staff member who acted
    resident_id: int | None = None  # the resident the action was about


def _require_reader(actor, community_id: int | None) -> None:
    if community_id is None:
        require(actor, Action.MANAGE_CITY)
    else:
        require(actor, Action.MANAGE_COMMUNITY, community_id)


def _query(f: Filters):
    stmt = select(AuditEvent)
    if f.community_id is not None:
        stmt = stmt.where(AuditEvent.community_id == f.community_id)
    if f.action:
        stmt = stmt.where(AuditEvent.action == f.action)
    if f.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == f.actor_id)
    if f.resident_id is not None:
        stmt = stmt.where(AuditEvent.resident_id == f.resident_id)
    return stmt.order_by(AuditEvent.id.desc())


def page(actor, f: Filters, *, before: int | None = None, size: int | None = None) -> tuple[list[AuditEvent], int | None]:
    """One page of events, newest first, and the id to ask for the next page with (None: no more).
    Raises forbidden (a community's log: its admins and the city; every community: the city)."""
    _require_reader(actor, f.community_id)
    size = size or PAGE_SIZE
    stmt = _query(f)
    if before is not None:
        stmt = stmt.where(AuditEvent.id < before)
    events = db.session.scalars(stmt.limit(size + 1)).all()
    more = len(events) > size
    events = events[:size]
    return events, (events[-1].id if more else None)


def details_of(event: AuditEvent) -> dict:
    try:
        value = json.loads(event.details or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


CSV_HEADERS = [_l("No."), _l("Time"), _l("Community"), _l("By"), _l("Action"), _l("Subject type"), _l("Subject no."),
               _l("Resident no."), _l("Event details")]


def as_csv(actor, f: Filters, names_of: Callable[[set[int]], dict[int, str]], now: datetime) -> bytes:
    """The filtered log as CSV (UTF-8 with BOM, for Excel), newest first; `names_of(user ids)` gives the
    names shown for the staff who acted. Exporting is itself recorded (record_read). Raises forbidden."""
    _require_reader(actor, f.community_id)
    events = db.session.scalars(_query(f).limit(EXPORT_LIMIT)).all()
    names = names_of({e.actor_id for e in events if e.actor_id})
    system = str(_l("System"))
    body = spreadsheets.csv_bytes([[str(h) for h in CSV_HEADERS]] + [
        [e.id, format_local(e.at, "%Y-%m-%d %H:%M:%S"), e.community_id or "",
         names.get(e.actor_id, system) if e.actor_id else system, e.action, e.subject_type,
         e.subject_id or "", e.resident_id or "", e.details] for e in events])
    record_read(actor, AuditAction.DATA_EXPORTED, None, now, community_id=f.community_id, what="audit",
           action_filter=f.action, actor_filter=f.actor_id, resident_filter=f.resident_id)
    return body
