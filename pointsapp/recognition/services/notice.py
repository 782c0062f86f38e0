"""The public notice (公示) every recognition goes through, star evaluations and honour lists alike:

    draft --begin()--> notice (objections taken until notice_ends_at) --publish()--> published (frozen)

The rules live here once: only a draft goes on notice; nothing changes once published; publishing waits
for the notice to end and for every objection to be answered (objections.check_all_answered)."""
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import Conflict
from pointsapp.core.localtime import format_local
from pointsapp.core.locks import lock_row
from pointsapp.recognition.services import objections

DRAFT, NOTICE, PUBLISHED = "draft", "notice", "published"


def lock(subject) -> None:
    """Every change to an evaluation or list (veto, notice, objection, publish) first locks its row, so a
    publish never freezes results while a veto or an objection is being written. First in the lock
    order: nothing else is locked before it (core.locks). Raises busy."""
    lock_row(type(subject), subject.id)


def begin(subject, now: datetime) -> None:
    """Put a draft on public notice for its notice_days. Raises wrong_status."""
    if subject.status != DRAFT:
        raise Conflict(_l("Only a draft can go on public notice."), code="wrong_status")
    subject.status = NOTICE
    if hasattr(subject, "notice_started_at"):
        subject.notice_started_at = now
    subject.notice_ends_at = now + timedelta(days=subject.notice_days)


def require_not_published(subject) -> None:
    """Raises already_published."""
    if subject.status == PUBLISHED:
        raise Conflict(_l("This is published and can no longer change."), code="already_published")


def require_on_notice(subject, message) -> None:
    """Raises wrong_status (with the caller's message) unless the subject is on notice."""
    if subject.status != NOTICE:
        raise Conflict(message, code="wrong_status")


def check_publishable(subject, now: datetime) -> None:
    """Raises wrong_status, notice_running, objections_open."""
    require_on_notice(subject, _l("Only what is on public notice can be published."))
    if now < subject.notice_ends_at:
        raise Conflict(_l("The public notice runs until %(t)s."), code="notice_running",
                       t=format_local(subject.notice_ends_at, "%Y-%m-%d"))
    objections.check_all_answered(subject)


def mark_published(subject, actor, now: datetime) -> None:
    subject.status, subject.published_at = PUBLISHED, now
    if hasattr(subject, "published_by_id"):
        subject.published_by_id = actor.id
