"""Teams, their members and activities (residents' sign-ups: services/signups.py)."""
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pointsapp.accounts.models import User
from pointsapp.catalogue.models import ItemKind
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.localtime import local_date
from pointsapp.core.permissions import Action, require
from pointsapp.core.unique import insert_unique
from pointsapp.tree.models import Community, Resident
from pointsapp.volunteering.models import (
    DEFAULT_ACTIVITY_KINDS,
    DEFAULT_TEAM_CATEGORIES,
    Activity,
    Label,
    Team,
    TeamMember,
)

MAX_POINTS = 1000
MAX_SIGNUP_CLOSES_MINUTES = 7 * 24 * 60


def labels(community_id: int, group: str) -> list[str]:
    """The community's word list, or the defaults when it has none."""
    names = list(db.session.scalars(select(Label.name).where(Label.community_id == community_id,
                                                             Label.group == group).order_by(Label.id)))
    if names:
        return names
    return list(DEFAULT_TEAM_CATEGORIES if group == "team_category" else DEFAULT_ACTIVITY_KINDS)


def set_labels(actor: User, community: Community, group: str, names: list[str], now: datetime) -> list[str]:
    """Replace a word list. Raises forbidden, invalid_labels, busy."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    if group not in ("team_category", "activity_kind"):
        raise InvalidInput(code="invalid_labels")
    clean = []
    for name in names:
        name = name.strip()[:40]
        if name and name not in clean:
            clean.append(name)
    if not clean:
        raise InvalidInput(_l("Keep at least one entry."), code="invalid_labels")
    # One replacement of a community's lists at a time: two at once would each delete the rows they saw
    # and insert the same names, and the second would run into the first's (a unique violation).
    locks.lock_row(Community, community.id)
    for old in db.session.scalars(select(Label).where(Label.community_id == community.id, Label.group == group)):
        db.session.delete(old)
    db.session.flush()
    db.session.add_all(Label(community_id=community.id, group=group, name=n) for n in clean)
    db.session.flush()
    return clean


def create_team(actor: User, community: Community, name: str, category: str, now: datetime) -> Team:
    """Raises forbidden, name_missing, invalid_category, already_exists."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_l("Please enter a name."), code="name_missing")
    if category not in labels(community.id, "team_category"):
        raise InvalidInput(_l("Choose one of the team categories."), code="invalid_category")
    team = Team(community_id=community.id, name=name[:80], category=category)
    try:
        with db.session.begin_nested():
            db.session.add(team)
    except IntegrityError as exc:
        raise Conflict(_l("This community already has a team with this name."), code="already_exists") from exc
    return team


def add_member(actor: User, team: Team, resident: Resident, now: datetime) -> TeamMember:
    """Raises forbidden, not_resident_of_community, already_member."""
    require(actor, Action.RUN_TEAM, team)
    if resident.community_id != team.community_id:
        raise InvalidInput(_l("%(name)s is not a resident of this community."), code="not_resident_of_community",
                           name=resident.name)
    already = Conflict(_l("%(name)s is already a member."), code="already_member", name=resident.name)
    existing = db.session.scalar(select(TeamMember).where(TeamMember.team_id == team.id,
                                                          TeamMember.resident_id == resident.id))
    if existing:
        raise already
    member = TeamMember(community_id=team.community_id, team_id=team.id, resident_id=resident.id, joined_at=now)
    insert_unique(member, already)  # a twin click got past the check above
    return member


def remove_member(actor: User, team: Team, member_id: int, now: datetime) -> None:
    require(actor, Action.RUN_TEAM, team)
    member = db.session.get(TeamMember, member_id)
    if member is None or member.team_id != team.id:
        raise NotFound(_l("No such member."))
    db.session.delete(member)
    db.session.flush()


@dataclass
class ActivityFields:
    title: str
    kind: str
    place: str
    starts_at: datetime
    ends_at: datetime
    rule: str = "fixed"
    points: int = 10
    hourly_cap: int | None = None
    award_on: str = "check_in"
    capacity: int | None = None
    signup_closes_minutes: int = 120
    allow_poster: bool = False
    description: str = ""
    checkin_opens_at: datetime | None = None
    checkin_closes_at: datetime | None = None
    # 积分细则: the catalogue item version whose rule the activity takes (rule, points and cap are copied)
    catalogue_item_id: int | None = None


def _with_item_rule(f: ActivityFields, community_id: int, kept_item_id: int | None) -> ActivityFields:
    """The fields with the picked catalogue item's rule copied in (per_hour -> hourly). The item must be the
    community's, an earning one and current, unless it is the version the activity already names (a later
    version of the item changes nothing here). Raises invalid_catalogue_item."""
    if f.catalogue_item_id is None:
        return f
    item = catalogue_rules.item_in(community_id, f.catalogue_item_id)
    if item is None or item.kind != ItemKind.EARN or (item.id != kept_item_id and not (
            catalogue_rules.is_open_on(item, local_date(f.starts_at)) and catalogue_rules.is_open_on(item, local_date(f.ends_at)))):
        raise InvalidInput(_l("Choose one of the community's current catalogue items that earn points on the "
                              "activity's days."), code="invalid_catalogue_item")
    return ActivityFields(**{**f.__dict__, "rule": "hourly" if item.per_hour else "fixed", "points": item.points,
                             "hourly_cap": item.hourly_cap if item.per_hour else None})


def _check(fields: ActivityFields, community_id: int, kept_item_id: int | None = None) -> ActivityFields:
    if fields.starts_at is None or fields.ends_at is None or fields.ends_at <= fields.starts_at:
        raise InvalidInput(_l("The activity must end after it starts."), code="invalid_times")
    f = _with_item_rule(fields, community_id, kept_item_id)
    if not (f.title or "").strip():
        raise InvalidInput(_l("Please enter a title."), code="title_missing")
    if f.kind not in labels(community_id, "activity_kind"):
        raise InvalidInput(_l("Choose one of the activity kinds."), code="invalid_kind")
    if f.ends_at - f.starts_at > timedelta(days=31):
        raise InvalidInput(_l("An activity lasts at most 31 days."), code="invalid_times")
    if f.rule not in ("fixed", "hourly"):
        raise InvalidInput(code="invalid_rule")
    if not isinstance(f.points, int) or not 1 <= f.points <= MAX_POINTS:
        raise InvalidInput(_l("Points must be between 1 and %(max)d."), code="invalid_points", max=MAX_POINTS)
    if f.hourly_cap is not None and not 1 <= f.hourly_cap <= MAX_POINTS * 24:
        raise InvalidInput(_l("The cap must be a positive number of points."), code="invalid_points")
    if f.award_on not in ("check_in", "check_out", "approval"):
        raise InvalidInput(code="invalid_award_on")
    if f.rule == "hourly" and f.award_on == "check_in":
        raise InvalidInput(_l("Hourly points are known only at check-out: award on check-out or after approval."),
                           code="invalid_award_on")
    if f.capacity is not None and f.capacity < 1:
        raise InvalidInput(_l("The capacity must be at least 1."), code="invalid_capacity")
    if not isinstance(f.signup_closes_minutes, int) or not 0 <= f.signup_closes_minutes <= MAX_SIGNUP_CLOSES_MINUTES:
        raise InvalidInput(_l("Sign-up must close between the start and 7 days before it."), code="invalid_signup_close")
    opens = f.checkin_opens_at or f.starts_at - timedelta(minutes=30)
    closes = f.checkin_closes_at or f.ends_at + timedelta(minutes=30)
    if closes <= opens:
        raise InvalidInput(_l("The check-in window must close after it opens."), code="invalid_times")
    return ActivityFields(**{**f.__dict__, "title": f.title.strip()[:100], "place": (f.place or "").strip()[:100],
                             "checkin_opens_at": opens, "checkin_closes_at": closes,
                             "hourly_cap": f.hourly_cap if f.rule == "hourly" else None})


def create_activity(actor: User, team: Team, fields: ActivityFields, now: datetime) -> Activity:
    """Raises forbidden and the field codes of _check (title_missing, invalid_times, invalid_catalogue_item …)."""
    require(actor, Action.RUN_TEAM, team)
    f = _check(fields, team.community_id)
    activity = Activity(community_id=team.community_id, team_id=team.id, code_salt=secrets.token_hex(8),
                        created_by_id=actor.id, created_at=now, is_cancelled=False, code_seconds=30, **f.__dict__)
    db.session.add(activity)
    db.session.flush()
    return activity


def update_activity(actor: User, activity: Activity, fields: ActivityFields, now: datetime) -> Activity:
    """Raises forbidden and _check's codes."""
    require(actor, Action.RUN_TEAM, activity)
    f = _check(fields, activity.community_id, kept_item_id=activity.catalogue_item_id)
    for key, value in f.__dict__.items():
        setattr(activity, key, value)
    db.session.flush()
    return activity


def renew_codes(actor: User, activity: Activity, now: datetime) -> None:
    """Void every code of the activity, printed posters included."""
    require(actor, Action.RUN_TEAM, activity)
    activity.code_salt = secrets.token_hex(8)


def get_activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(_l("This activity does not exist."))
    return activity
