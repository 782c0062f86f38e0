"""Objections (异议) lodged during a public notice (公示): of a star evaluation or of an honour list.

Either way the rules are the same: only a resident of the community, only while the notice runs,
with a text; the office answers each one, and nothing is published while one is unanswered."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from pointsapp.accounts.models import User
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.permissions import Action, require
from pointsapp.recognition.models import Evaluation, HonourList, Objection
from pointsapp.recognition.services import notice  # notice imports this module too: modules only, no names
from pointsapp.tree.models import Household

Subject = Evaluation | HonourList


def _about(subject: Subject) -> dict:
    if isinstance(subject, Evaluation):
        return {"evaluation_id": subject.id}
    return {"honour_list_id": subject.id}


def _of(subject: Subject):
    if isinstance(subject, Evaluation):
        return Objection.evaluation_id == subject.id
    return Objection.honour_list_id == subject.id


def subject_of(objection: Objection) -> Subject:
    if objection.evaluation_id is not None:
        return db.session.get(Evaluation, objection.evaluation_id)
    return db.session.get(HonourList, objection.honour_list_id)


def lodge(user: User, subject: Subject, text: str, now: datetime, household_id: int | None = None) -> Objection:
    """A resident objects during the notice. Raises not_resident_of_community, not_on_notice, notice_over,
    text_missing, not_found (a household of another community)."""
    resident = user.resident
    if resident is None or resident.community_id != subject.community_id or resident.moved_out_on is not None:
        raise InvalidInput(_l("Only residents of this community can lodge an objection."),
                           code="not_resident_of_community")
    notice.lock(subject)
    if subject.status != "notice":
        raise Conflict(_l("Objections are taken only during the public notice."), code="not_on_notice")
    if now > subject.notice_ends_at:
        raise Conflict(_l("The public notice is over."), code="notice_over")
    if not (text or "").strip():
        raise InvalidInput(_l("Please write what you object to."), code="text_missing")
    if household_id is not None:
        household = db.session.get(Household, household_id)
        if household is None or household.community_id != subject.community_id:
            raise NotFound(_l("Not found in this community."))
    objection = Objection(community_id=subject.community_id, resident_id=resident.id, household_id=household_id,
                          text=text.strip()[:1000], created_at=now, answer="", **_about(subject))
    db.session.add(objection)
    db.session.flush()
    return objection


def answer(actor: User, objection: Objection, text: str, now: datetime) -> None:
    """Raises forbidden, already_published, answer_missing."""
    subject = subject_of(objection)
    require(actor, Action.MANAGE_COMMUNITY, subject)
    notice.lock(subject)
    notice.require_not_published(subject)
    if not (text or "").strip():
        raise InvalidInput(_l("Please write an answer."), code="answer_missing")
    objection.answer = text.strip()[:1000]
    objection.answered_by_id, objection.answered_at = actor.id, now


def of(subject: Subject, resident_id: int | None = None) -> list[Objection]:
    """The objections to `subject`, oldest first (only one resident's, with `resident_id`)."""
    query = select(Objection).where(_of(subject)).order_by(Objection.created_at, Objection.id)
    if resident_id is not None:
        query = query.where(Objection.resident_id == resident_id)
    return db.session.scalars(query).all()


def check_all_answered(subject: Subject) -> None:
    """Raises objections_open while an objection to `subject` has no answer."""
    count = db.session.scalar(select(func.count()).select_from(Objection).where(
        _of(subject), Objection.answered_at.is_(None)))
    if count:
        raise Conflict(_l("Answer the %(n)d open objections first."), code="objections_open", n=count)
