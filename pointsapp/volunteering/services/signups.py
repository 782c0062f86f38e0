"""Residents' sign-ups for activities (报名 / 取消报名) and what the activities list shows each of them.

A resident may sign up and cancel up to and including the activity's cut-off (`Activity.signup_closes_at`,
set per activity by the lead), never once she has checked in. One row per activity and resident: cancelling
marks it, signing up again clears the mark, so a double tap or a retried request never makes two.
Locks (the order of core.locks): the activity only when it has a capacity (counting places).
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.localtime import LOCAL_TZ, format_moment, local_date
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import Action, Role, has_role, require
from pointsapp.core.unique import insert_if_absent
from pointsapp.tree.models import Household, Resident
from pointsapp.volunteering.models import Activity, Attendance, Signup

AHEAD_DAYS = 28  # the list covers today and the next four weeks, a week to a page
WEEKS = AHEAD_DAYS // 7


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def week_days(now: datetime, week: int) -> tuple[date, date]:
    """The first and last local day of page `week` (0: today and the six days after it; China time)."""
    first = local_date(now) + timedelta(days=7 * week)
    return first, first + timedelta(days=6)


def window(now: datetime, week: int | None = None) -> tuple[datetime, datetime]:
    """Week `week`'s page: from now (week 0) or its first day's midnight to the end of its last local day;
    None: the whole window, now to the end of the last week."""
    first, last = week_days(now, 0 if week is None else week)
    if week is None:
        last = first + timedelta(days=AHEAD_DAYS - 1)
    start = now if not week else _local_midnight(first)
    return start, _local_midnight(last + timedelta(days=1))


def upcoming(community_id: int, now: datetime, *, week: int | None = None, team_id: int | None = None,
             kind: str | None = None) -> list[Activity]:
    """Activities of the community not over yet and starting within the window (one week's page, or all
    four weeks), by start. A running activity belongs to week 0 only."""
    start, end = window(now, week)
    stmt = (select(Activity).options(joinedload(Activity.team))
            .where(Activity.community_id == community_id, Activity.is_cancelled.is_(False),
                   Activity.ends_at > start, Activity.starts_at < end).order_by(Activity.starts_at, Activity.id))
    if team_id is not None:
        stmt = stmt.where(Activity.team_id == team_id)
    if kind:
        stmt = stmt.where(Activity.kind == kind)
    return list(db.session.scalars(stmt))


def day_of(activity: Activity, now: datetime) -> date:
    """The local day under which the list shows an activity: its start's, or today's once it is running."""
    return local_date(max(activity.starts_at, now))


def by_day(acts: list[Activity], now: datetime) -> list[tuple[date, list[Activity]]]:
    days: dict[date, list[Activity]] = {}
    for a in acts:
        days.setdefault(day_of(a, now), []).append(a)
    return sorted(days.items())


@dataclass
class Place:
    """What one resident can do about one activity, for the list."""

    signed_up: bool
    attended: bool
    taken: int  # active sign-ups
    capacity: int | None
    open: bool  # before or at the cut-off

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.taken >= self.capacity

    @property
    def can_sign_up(self) -> bool:
        return self.open and not self.signed_up and not self.attended and not self.full

    @property
    def can_cancel(self) -> bool:
        return self.open and self.signed_up and not self.attended


def places(resident: Resident, acts: list[Activity], now: datetime) -> dict[int, Place]:
    """Each activity's state for the resident: signed up, attended, places taken, open for changes."""
    ids = [a.id for a in acts] or [-1]
    mine = set(db.session.scalars(select(Signup.activity_id).where(
        Signup.resident_id == resident.id, Signup.activity_id.in_(ids), Signup.cancelled_at.is_(None))))
    attended = set(db.session.scalars(select(Attendance.activity_id).where(
        Attendance.resident_id == resident.id, Attendance.activity_id.in_(ids))))
    taken = dict(db.session.execute(select(Signup.activity_id, func.count()).where(
        Signup.activity_id.in_(ids), Signup.cancelled_at.is_(None)).group_by(Signup.activity_id)).all())
    return {a.id: Place(a.id in mine, a.id in attended, taken.get(a.id, 0), a.capacity,
                        now <= a.signup_closes_at) for a in acts}


def activity_for(actor: User, activity_id: int) -> Activity:
    """An activity as a resident may open it: one of the community she lives in (others: not found, never
    told apart from a missing one). Raises not_found."""
    activity = get_row(Activity, activity_id)
    if activity is None or not has_role(actor, Role.RESIDENT, activity.community_id):
        raise NotFound(_l("This activity does not exist."))
    return activity


def my_signups(resident: Resident, now: datetime) -> list[Activity]:
    """The activities she signed up for (not cancelled) that are not over yet, soonest first."""
    return list(db.session.scalars(
        select(Activity).join(Signup, Signup.activity_id == Activity.id).options(joinedload(Activity.team))
        .where(Signup.resident_id == resident.id, Signup.cancelled_at.is_(None), Activity.is_cancelled.is_(False),
               Activity.ends_at > now).order_by(Activity.starts_at, Activity.id)))


def _resident_of(actor: User, activity: Activity) -> Resident:
    resident = actor.resident
    if resident is None or resident.community_id != activity.community_id or resident.moved_out_on is not None:
        raise InvalidInput(_l("This activity is for residents of another community."),
                           code="not_resident_of_community")
    return resident


def _check_open(activity: Activity, resident: Resident, now: datetime, *, cancelling: bool) -> None:
    if activity.is_cancelled:
        raise InvalidInput(_l("This activity was called off."), code="activity_cancelled")
    if activity.starts_at <= now:
        raise InvalidInput(_l("This activity has already started or is over."), code="already_over")
    if db.session.scalar(select(Attendance.id).where(Attendance.activity_id == activity.id,
                                                     Attendance.resident_id == resident.id)):
        raise Conflict(_l("You have already checked in at this activity."), code="already_checked_in")
    if now > activity.signup_closes_at:
        if cancelling:
            raise InvalidInput(_l("Sign-up for this activity closed at %(at)s: it can no longer be cancelled here. "
                                  "Please tell the team lead."), code="signup_closed", at=_at(activity))
        raise InvalidInput(_l("Sign-up for this activity closed at %(at)s."), code="signup_closed", at=_at(activity))


def _at(activity: Activity) -> str:
    return format_moment(activity.signup_closes_at, "short_when")


def _mine(activity: Activity, resident: Resident) -> Signup | None:
    return db.session.scalar(select(Signup).where(Signup.activity_id == activity.id,
                                                  Signup.resident_id == resident.id))


def sign_up(actor: User, activity: Activity, now: datetime) -> Signup:
    """The actor (a resident) signs up; signing up again changes nothing. Raises not_resident_of_community,
    activity_cancelled, already_over, already_checked_in, signup_closed, capacity_full, busy."""
    resident = _resident_of(actor, activity)
    _check_open(activity, resident, now, cancelling=False)
    existing = _mine(activity, resident)
    if existing is not None and existing.cancelled_at is None:
        return existing  # a double tap or a retry
    if activity.capacity is not None:
        locks.lock_row(Activity, activity.id)  # places are counted and taken one sign-up at a time
        taken = db.session.scalar(select(func.count()).select_from(Signup).where(
            Signup.activity_id == activity.id, Signup.cancelled_at.is_(None), Signup.resident_id != resident.id))
        if taken >= activity.capacity:
            raise Conflict(_l("Sorry, this activity is full."), code="capacity_full")
    if existing is not None:
        # back after cancelling: one conditional update, so two taps at once both find it signed up
        db.session.execute(update(Signup).where(Signup.id == existing.id, Signup.cancelled_at.is_not(None))
                           .values(cancelled_at=None, created_at=now).execution_options(synchronize_session=False))
        db.session.refresh(existing)
        return existing
    signup = Signup(community_id=activity.community_id, activity_id=activity.id, resident_id=resident.id,
                    created_at=now, cancelled_at=None)
    if not insert_if_absent(signup):  # a twin request inserted it first
        signup = _mine(activity, resident)
        if signup.cancelled_at is not None:
            return sign_up(actor, activity, now)
    return signup


def cancel(actor: User, activity: Activity, now: datetime) -> Signup:
    """The actor cancels her own sign-up; cancelling again changes nothing. Only ever her own: the request
    names the activity, never a sign-up. Raises not_resident_of_community, not_signed_up, activity_cancelled,
    already_over, already_checked_in, signup_closed."""
    resident = _resident_of(actor, activity)
    signup = _mine(activity, resident)
    if signup is None:
        raise NotFound(_l("You have not signed up for this activity."), code="not_signed_up")
    if signup.cancelled_at is not None:
        return signup  # a double tap or a retry
    _check_open(activity, resident, now, cancelling=True)
    db.session.execute(update(Signup).where(Signup.id == signup.id, Signup.cancelled_at.is_(None))
                       .values(cancelled_at=now).execution_options(synchronize_session=False))
    db.session.refresh(signup)
    return signup


@dataclass
class Roster:
    signups: list[Signup]
    capacity: int | None

    @property
    def count(self) -> int:
        return len(self.signups)


def roster(actor: User, activity: Activity) -> Roster:
    """Who signed up (not cancelled), first come first, for the activity's lead. Raises forbidden."""
    require(actor, Action.RUN_TEAM, activity)
    rows = db.session.scalars(select(Signup).options(joinedload(Signup.resident).joinedload(Resident.household)
                                                     .joinedload(Household.building))
                              .where(Signup.activity_id == activity.id, Signup.cancelled_at.is_(None))
                              .order_by(Signup.created_at, Signup.id)).all()
    return Roster(list(rows), activity.capacity)
