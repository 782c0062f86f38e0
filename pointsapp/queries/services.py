"""Residents' queries about their points (疑问/申诉): raising one, the queues that answer them, and the
corrections, which always go through the ledger or the attendance path, never by editing.

Who sees a query: the resident who raised it; her community's office; for a missed activity, the leads of
the activity's team. Who answers: the same staff, never the resident herself or her household
(ledger.services.rules.acts_for_self). Corrections keep the ledger's rules: a manual award cannot be for
oneself, and one above the community's award ceiling waits for a second office member.
"""
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.lookup import get_row, valid_id
from pointsapp.core.permissions import Action, can, led_team_ids, require
from pointsapp.core.text import lines
from pointsapp.deductions import services as deductions
from pointsapp.deductions.models import Deduction
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services import rules
from pointsapp.queries.models import PointsQuery, QueryKind, QueryStatus
from pointsapp.tree.models import Community, Resident
from pointsapp.volunteering.models import Activity, Signup
from pointsapp.volunteering.services import checkin

MAX_OPEN = 5  # open queries one resident may have at once (no flooding the office's queue)
TEXT_MAX = 500
REPLY_MAX = 1000
RECENT_DAYS = 60  # a missed activity can be raised for activities that started this recently
WAITING = (QueryStatus.OPEN, QueryStatus.AWAITING_SECOND)


def _text(value: str | None, limit: int, missing) -> str:
    text = lines(value or "")
    if not text:
        raise InvalidInput(missing, code="text_missing")
    if len(text) > limit:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="text_too_long", n=limit)
    return text


def _own_resident(user: User) -> Resident:
    resident = user.resident
    if resident is None or resident.moved_out_on is not None:
        raise PermissionDenied(_l("Only residents can raise a query about their points."), code="not_resident")
    return resident


def _queryable(resident: Resident, now: datetime):
    """The one rule: activities of her community, started within RECENT_DAYS, not cancelled."""
    return (Activity.community_id == resident.community_id, Activity.is_cancelled.is_(False),
            Activity.starts_at <= now, Activity.starts_at >= now - timedelta(days=RECENT_DAYS))


def queryable_activities(resident: Resident, now: datetime, limit: int = 40) -> list[Activity]:
    """Activities she can say she missed points for (_queryable): those she signed up for first, then the
    newest."""
    signed = select(Signup.activity_id).where(Signup.resident_id == resident.id).scalar_subquery()
    return list(db.session.scalars(
        select(Activity).where(*_queryable(resident, now))
        .order_by(Activity.id.in_(signed).desc(), Activity.starts_at.desc(), Activity.id.desc()).limit(limit)))


def own_entry(user: User, entry_id: int | None) -> LedgerEntry:
    """One entry of the user's own points history. Raises not_found (also for another resident's)."""
    entry = get_row(LedgerEntry, entry_id)
    if entry is None or user.resident_id is None or entry.resident_id != user.resident_id:
        raise NotFound(_l("No such entry in your points history."))
    return entry


def correction_of(entry: LedgerEntry) -> LedgerEntry | None:
    """The entry that reversed `entry`, if any."""
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.community_id == entry.community_id,
                                                       LedgerEntry.reverses_id == entry.id))


def own_deduction(user: User, deduction_id: int | None) -> Deduction:
    """A deduction against the user or her whole household (负向扣分), not withdrawn. Raises not_found (also for
    another's), already_withdrawn."""
    deduction = get_row(Deduction, deduction_id)
    if deduction is None or user.resident is None or not deductions.concerns(user.resident, deduction):
        raise NotFound(_l("No such deduction against you or your household."))
    if deduction.withdrawn_at is not None:
        raise Conflict(_l("This deduction has already been withdrawn."), code="already_withdrawn")
    return deduction


def raise_query(user: User, text: str, now: datetime, *, entry_id: int | None = None,
                activity_id: int | None = None, deduction_id: int | None = None) -> PointsQuery:
    """A resident raises a query on one of her entries, on a missed activity, or an objection to a deduction
    against her or her household. Raises not_resident, not_found, text_missing, text_too_long, query_exists,
    too_many_queries, invalid_subject, already_withdrawn."""
    resident = _own_resident(user)
    text = _text(text, TEXT_MAX, _l("Please say what is wrong."))
    if sum(x is not None for x in (entry_id, activity_id, deduction_id)) != 1:
        raise InvalidInput(_l("Choose one entry or one activity."), code="invalid_subject")
    entry = activity = deduction = None
    if entry_id is not None:
        entry = own_entry(user, entry_id)  # another's entry looks like a missing one
    elif deduction_id is not None:
        deduction = own_deduction(user, deduction_id)
    else:
        activity = db.session.scalar(select(Activity).where(Activity.id == activity_id, *_queryable(resident, now))
                                     ) if valid_id(activity_id) else None
        if activity is None:
            raise NotFound(_l("Choose one of the recent activities of your community."))
    # her row, locked: two queries sent at once are counted one after the other
    locks.lock_row(Resident, resident.id)
    waiting = select(PointsQuery).where(PointsQuery.resident_id == resident.id, PointsQuery.status.in_(WAITING))
    same = waiting.where(PointsQuery.entry_id == entry.id if entry else PointsQuery.deduction_id == deduction.id
                         if deduction else PointsQuery.activity_id == activity.id)
    if db.session.scalar(same.limit(1)) is not None:
        raise Conflict(_l("You already have a query about this waiting for an answer."), code="query_exists")
    count = db.session.scalar(select(func.count()).select_from(waiting.subquery()))
    if count >= MAX_OPEN:
        raise Conflict(_l("You have %(n)d queries waiting for an answer. Please wait for the office to answer "
                          "them before raising another."), code="too_many_queries", n=count)
    query = PointsQuery(community_id=resident.community_id, resident_id=resident.id, raised_by_id=user.id,
                        kind=QueryKind.ENTRY if entry else QueryKind.DEDUCTION if deduction else QueryKind.MISSED,
                        entry_id=entry.id if entry else None, activity_id=activity.id if activity else None,
                        deduction_id=deduction.id if deduction else None, text=text, status=QueryStatus.OPEN,
                        reply="", created_at=now)
    db.session.add(query)
    db.session.flush()
    return query


def withdraw(user: User, query_id: int, now: datetime) -> PointsQuery:
    """She takes back a query still waiting. Raises not_found, not_open."""
    query = _lock_waiting(own_query(user, query_id))  # an answer being written at this moment comes first
    query.status = QueryStatus.WITHDRAWN
    query.answered_at = now
    db.session.flush()
    return query


def own_query(user: User, query_id: int) -> PointsQuery:
    """One of the user's own queries. Raises not_found (also for another resident's)."""
    query = get_row(PointsQuery, query_id)
    if query is None or user.resident_id is None or query.resident_id != user.resident_id:
        raise NotFound(_l("No such query."))
    return query


def my_queries(user: User, limit: int = 100) -> list[PointsQuery]:
    """The user's own queries, newest first."""
    if user.resident_id is None:
        return []
    return list(db.session.scalars(
        select(PointsQuery).where(PointsQuery.resident_id == user.resident_id)
        .options(joinedload(PointsQuery.entry), joinedload(PointsQuery.activity), joinedload(PointsQuery.deduction))
        .order_by(PointsQuery.id.desc()).limit(limit)))


# ---- staff: who may see and answer ------------------------------------------------------------------

def is_office(actor: User, query: PointsQuery) -> bool:
    return can(actor, Action.MANAGE_COMMUNITY, query.community_id)


def is_lead(actor: User, query: PointsQuery) -> bool:
    return query.kind == QueryKind.MISSED and query.activity is not None and can(actor, Action.RUN_TEAM,
                                                                                 query.activity)


def staff_query(actor: User, query_id: int, community_id: int | None = None) -> PointsQuery:
    """A query the actor may see as staff (her office; the activity's lead). Raises not_found, forbidden."""
    query = get_row(PointsQuery, query_id)
    if query is None or (community_id is not None and query.community_id != community_id):
        raise NotFound(_l("No such query."))
    if not (is_office(actor, query) or is_lead(actor, query)):
        raise PermissionDenied(_l("You do not have permission to do this."))
    return query


def office_queue(actor: User, community: Community, *, answered: bool = False, limit: int = 200) -> list[PointsQuery]:
    """The community's queries waiting for an answer, oldest first (answered=True: the latest answered)."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    stmt = (select(PointsQuery).where(PointsQuery.community_id == community.id)
            .options(joinedload(PointsQuery.resident), joinedload(PointsQuery.activity),
                     joinedload(PointsQuery.entry), joinedload(PointsQuery.deduction).joinedload(Deduction.item)))
    if answered:
        stmt = stmt.where(PointsQuery.status == QueryStatus.ANSWERED).order_by(PointsQuery.id.desc())
    else:
        stmt = stmt.where(PointsQuery.status.in_(WAITING)).order_by(PointsQuery.id)
    return list(db.session.scalars(stmt.limit(limit)))


def lead_queue(actor: User, limit: int = 200) -> list[PointsQuery]:
    """Missed-activity queries waiting for an answer on the activities of the teams the actor leads, oldest
    first."""
    teams = led_team_ids(actor)
    if not teams:
        return []
    return list(db.session.scalars(
        select(PointsQuery).join(Activity, Activity.id == PointsQuery.activity_id)
        .where(Activity.team_id.in_(teams), PointsQuery.status == QueryStatus.OPEN,
               PointsQuery.kind == QueryKind.MISSED)
        .options(joinedload(PointsQuery.resident), joinedload(PointsQuery.activity))
        .order_by(PointsQuery.id).limit(limit)))


def _may_answer(actor: User, query: PointsQuery) -> None:
    if not (is_office(actor, query) or is_lead(actor, query)):
        raise NotFound(_l("No such query."))
    if rules.acts_for_self(actor, query.resident):
        raise PermissionDenied(_l("A query about your own points or your household's must be answered by "
                                  "someone else."), code="self_answer")


def _lock_waiting(query: PointsQuery, *statuses: str) -> PointsQuery:
    """The query locked and read fresh; refuses when another answer came first. Raises not_open."""
    fresh = locks.lock_row(PointsQuery, query.id)
    if fresh is None or fresh.status not in (statuses or (QueryStatus.OPEN,)):
        raise Conflict(_l("This query has already been answered."), code="not_open")
    return fresh


def _close(actor: User, query: PointsQuery, reply: str, now: datetime, action: str) -> PointsQuery:
    query.status = QueryStatus.ANSWERED
    query.reply, query.answered_by_id, query.answered_at = reply, actor.id, now
    db.session.flush()
    audit.record(actor, AuditAction.QUERY_ANSWERED, query, now, how=action,
                 entry_id=query.correction_entry_id, attendance_id=query.attendance_id)
    return query


def reason_for(query: PointsQuery) -> str:
    """The reason a correction's ledger entry carries: it names the query, in the system's own stored wording
    (ledger.services.describe reads it back in the reader's language). Never her words: the ledger is
    permanent, and what she wrote may name her neighbours and goes at retention (privacy.services)."""
    return f"疑问 #{query.id}"


def answer(actor: User, query: PointsQuery, reply: str, now: datetime) -> PointsQuery:
    """Answer with a reply only (nothing was wrong, or it was explained). Raises not_found, self_answer,
    text_missing, text_too_long, not_open."""
    _may_answer(actor, query)
    reply = _text(reply, REPLY_MAX, _l("Please write a reply."))
    query = _lock_waiting(query)
    return _close(actor, query, reply, now, "reply")


def answer_with_reversal(actor: User, query: PointsQuery, reply: str, now: datetime) -> PointsQuery:
    """The office reverses the queried entry (a new entry naming it and the query) and answers. Raises
    not_found, self_answer, not_office, wrong_kind, void_instead, withdraw_deduction_instead (a deduction's entry:
    answer_with_withdrawal), not_open, and reverse_by_admin's codes."""
    _may_answer(actor, query)
    if not is_office(actor, query):
        raise PermissionDenied(_l("Only the community office can correct points."), code="not_office")
    if query.kind != QueryKind.ENTRY:
        raise InvalidInput(_l("Only a query about an entry can reverse it."), code="wrong_kind")
    reply = _text(reply, REPLY_MAX, _l("Please write a reply."))
    query = _lock_waiting(query)
    entry = db.session.get(LedgerEntry, query.entry_id)
    if entry is not None and entry.source_type == "redemption":
        # a purchase is undone by voiding its receipt, which also puts the goods back on the shelf
        raise InvalidInput(_l("A purchase is undone by voiding its receipt at the supermarket (receipt and stock "
                              "together), not by reversing the entry."), code="void_instead")
    if deductions.of_entry(entry) is not None:
        raise Conflict(_l("These points were taken under a deduction: withdraw the deduction instead (on the "
                          "Deductions page), which gives back everything it took."), code="withdraw_deduction_instead")
    if entry is not None and correction_of(entry) is not None:
        raise Conflict(_l("This entry has already been reversed."), code="already_reversed")
    correction = ledger.reverse_by_admin(actor, query.entry_id, query.community_id, reason_for(query), now)
    query.correction_entry_id = correction.id
    return _close(actor, query, reply, now, "reversal")


def queried_deduction(query: PointsQuery):
    """The deduction a query is about: the one objected to, or the one that took the queried entry's points
    (such an entry is undone by withdrawing the deduction, never by reversing it). None otherwise."""
    if query.kind == QueryKind.DEDUCTION:
        return query.deduction
    if query.kind == QueryKind.ENTRY:
        return deductions.of_entry(query.entry)
    return None


def answer_with_withdrawal(actor: User, query: PointsQuery, reply: str, now: datetime) -> PointsQuery:
    """The office upholds an objection to a deduction (or a query about one of its entries): withdraws it (its
    entries reversed, what is owed cleared, the earning given back) and answers. Raises not_found, self_answer, not_office, wrong_kind, not_open, and
    withdraw_deduction's codes (already_withdrawn …)."""
    _may_answer(actor, query)
    if not is_office(actor, query):
        raise PermissionDenied(_l("Only the community office can correct points."), code="not_office")
    deduction = queried_deduction(query)
    if deduction is None:
        raise InvalidInput(_l("Only an objection to a deduction can withdraw it."), code="wrong_kind")
    reply = _text(reply, REPLY_MAX, _l("Please write a reply."))
    query = _lock_waiting(query)
    deductions.withdraw_deduction(actor, deduction, reason_for(query), now)
    return _close(actor, query, reply, now, "withdrawal")


def _query_awards_this_month(resident_id: int, now: datetime) -> int:
    """Points awarded to the resident from queries this China-time month: the ceiling counts them together, so
    one office member cannot pass it alone by answering query after query about the same thing."""
    return int(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.resident_id == resident_id, LedgerEntry.source_type == "query", LedgerEntry.amount > 0,
        LedgerEntry.created_at >= rules.month_start(now))) or 0)


def _award(actor: User, query: PointsQuery, points: int, now: datetime) -> LedgerEntry:
    return ledger.manual(actor, query.resident, points, reason_for(query), f"query:{query.id}", now,
                         source=("query", str(query.id)))


def answer_with_award(actor: User, query: PointsQuery, points: int, reply: str, now: datetime) -> PointsQuery:
    """The office awards points with the query as the reason and answers. Above the community's award
    ceiling the award waits for a second office member (status second). Raises not_found, self_answer,
    not_office, invalid_amount, not_open, and manual()'s codes (self_award, cap_reached …)."""
    _may_answer(actor, query)
    if not is_office(actor, query):
        raise PermissionDenied(_l("Only the community office can correct points."), code="not_office")
    if not isinstance(points, int) or not 1 <= points <= rules.MAX_SETTING:
        raise InvalidInput(_l("Between 1 and %(max)d points."), code="invalid_amount", max=rules.MAX_SETTING)
    rules.refuse_self_award(actor, query.resident)
    reply = _text(reply, REPLY_MAX, _l("Please write a reply."))
    query = _lock_waiting(query)
    ceiling = db.session.get(Community, query.community_id).award_ceiling
    if points + _query_awards_this_month(query.resident_id, now) > ceiling:
        query.status, query.proposed_points = QueryStatus.AWAITING_SECOND, points
        query.reply, query.answered_by_id, query.answered_at = reply, actor.id, now
        db.session.flush()
        return query
    query.correction_entry_id = _award(actor, query, points, now).id
    return _close(actor, query, reply, now, "award")


def confirm_award(actor: User, query: PointsQuery, now: datetime) -> PointsQuery:
    """A second office member confirms an award above the ceiling. Raises not_found, self_answer,
    not_office, second_person, not_open, and manual()'s codes."""
    _may_answer(actor, query)
    if not is_office(actor, query):
        raise PermissionDenied(_l("Only the community office can correct points."), code="not_office")
    query = _lock_waiting(query, QueryStatus.AWAITING_SECOND)
    if query.answered_by_id == actor.id:
        raise PermissionDenied(_l("Another member of the office must confirm an award above the ceiling."),
                               code="second_person")
    query.correction_entry_id = _award(actor, query, query.proposed_points, now).id
    audit.record(actor, AuditAction.QUERY_ANSWERED, query, now, how="award_confirmed",
                 entry_id=query.correction_entry_id, proposed_by=query.answered_by_id)
    query.status = QueryStatus.ANSWERED
    db.session.flush()
    return query


def decline_award(actor: User, query: PointsQuery, now: datetime) -> PointsQuery:
    """The second office member does not confirm: the query goes back to the queue, the proposal dropped.
    Raises not_found, self_answer, not_office, not_open."""
    _may_answer(actor, query)
    if not is_office(actor, query):
        raise PermissionDenied(_l("Only the community office can correct points."), code="not_office")
    query = _lock_waiting(query, QueryStatus.AWAITING_SECOND)
    query.status, query.proposed_points = QueryStatus.OPEN, None
    query.reply, query.answered_by_id, query.answered_at = "", None, None
    db.session.flush()
    return query


def answer_with_attendance(actor: User, query: PointsQuery, reply: str, now: datetime) -> PointsQuery:
    """The lead (or the office) records the missed attendance through the usual path (人工补录: it waits for
    the office's approval before it brings points) and answers. Raises not_found, self_answer, wrong_kind,
    not_open, and record_manual's codes (already_checked_in …)."""
    _may_answer(actor, query)
    if query.kind != QueryKind.MISSED:
        raise InvalidInput(_l("Only a query about a missed activity can record an attendance."), code="wrong_kind")
    reply = _text(reply, REPLY_MAX, _l("Please write a reply."))
    query = _lock_waiting(query)
    activity = query.activity
    result = checkin.record_manual(actor, query.resident, activity, activity.starts_at, activity.ends_at,
                                   reason_for(query), now)
    query.attendance_id = result.attendance.id
    return _close(actor, query, reply, now, "attendance")


def waiting_count(actor: User, community_id: int) -> int:
    """How many queries wait in the office's queue (for a link's badge)."""
    return int(db.session.scalar(select(func.count()).select_from(PointsQuery).where(
        PointsQuery.community_id == community_id, PointsQuery.status.in_(WAITING))) or 0)

