"""Organisation groups beyond the tree (a party branch 党支部, a volunteer association, a school) and their
rankings ("以党支部为单位排名、晾晒").

The office of a community defines groups and picks their members among its own residents. Rankings read
the residents' earning totals (rankings.models.EarningTotal), so spending never lowers a place (DESIGN.md
invariant 9) and a period means what it means on every other board (China-time months and years). A group's
total is the sum of its members' totals; since groups differ in size the average per member is shown too,
and may rank them instead. Equal values share a place (1, 2, 2, 4). Each board is one statement whatever the
number of groups or members; the public member board adds one more, the public-name rule's
(rankings.services.public_names), which masks names and leaves out those who keep theirs off public boards.
"""
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.lookup import get_row, valid_id
from pointsapp.core.permissions import Action, require
from pointsapp.core.text import one_line
from pointsapp.groups.models import OrgGroup, OrgGroupMember
from pointsapp.rankings import services as rankings
from pointsapp.rankings.models import EarningTotal
from pointsapp.tree.models import Community, Resident
from pointsapp.tree.services import search

KINDS = ("party_branch", "association", "school", "other")
NAME_MAX = 80
PASTE_MAX_LINES = 100  # one paste adds at most this many people (each line is one search)
RANK_BY = ("total", "average")


# ---- groups ------------------------------------------------------------------------------------------

def _name(value: str | None) -> str:
    text = one_line(value or "")
    if not text:
        raise InvalidInput(_l("Please enter a name."), code="name_missing")
    if len(text) > NAME_MAX:
        raise InvalidInput(_l("The name is too long (at most %(n)d characters)."), code="name_too_long",
                           n=NAME_MAX)
    return text


def _kind(value: str | None) -> str:
    if value not in KINDS:
        raise InvalidInput(_l("Choose one of the options offered."), code="invalid_kind")
    return value


def _name_taken(community_id: int, name: str, but: int | None = None) -> None:
    stmt = select(OrgGroup.id).where(OrgGroup.community_id == community_id, OrgGroup.name == name)
    if but is not None:
        stmt = stmt.where(OrgGroup.id != but)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise Conflict(_l("A group of this name exists already."), code="group_exists")


def _flush_unique() -> None:
    """Flush inside a savepoint: a name taken at the same moment by another request is a Conflict."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict(_l("A group of this name exists already."), code="group_exists") from exc


def create_group(actor, community: Community, name: str, kind: str, now: datetime) -> OrgGroup:
    """A new group, not published. Raises forbidden, name_missing, name_too_long, invalid_kind, group_exists."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    name, kind = _name(name), _kind(kind)
    _name_taken(community.id, name)
    group = OrgGroup(community_id=community.id, name=name, kind=kind, is_published=False,
                     created_by_id=actor.id, created_at=now)
    db.session.add(group)
    _flush_unique()
    audit.record(actor, AuditAction.GROUP_CREATED, group, now, kind=kind)
    return group


def get_group(actor, community_id: int, group_id: int | None) -> OrgGroup:
    """A group of the community, for its office. Raises forbidden, not_found."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    group = get_row(OrgGroup, group_id)
    if group is None or group.community_id != community_id:
        raise NotFound(_l("No such group."), code="not_found")
    return group


def groups_of(community_id: int) -> list[OrgGroup]:
    return list(db.session.scalars(select(OrgGroup).where(OrgGroup.community_id == community_id)
                                   .order_by(OrgGroup.name, OrgGroup.id)))


def rename(actor, group: OrgGroup, name: str, now: datetime, kind: str | None = None) -> OrgGroup:
    """Rename a group (and change its kind). Raises forbidden, name_missing, name_too_long, invalid_kind,
    group_exists."""
    require(actor, Action.MANAGE_COMMUNITY, group)
    name = _name(name)
    kind = group.kind if kind is None else _kind(kind)
    if (name, kind) == (group.name, group.kind):
        return group
    _name_taken(group.community_id, name, but=group.id)
    old = group.name
    group.name, group.kind = name, kind
    _flush_unique()
    audit.record(actor, AuditAction.GROUP_RENAMED, group, now, old=old, kind=kind)
    return group


def delete(actor, group: OrgGroup, now: datetime) -> None:
    """Delete an empty group (remove its members first). Raises forbidden, group_not_empty."""
    require(actor, Action.MANAGE_COMMUNITY, group)
    members = db.session.scalar(select(func.count()).select_from(OrgGroupMember)
                                .where(OrgGroupMember.group_id == group.id))
    if members:
        raise Conflict(_l("Remove the group's %(n)d members first."), code="group_not_empty", n=members)
    audit.record(actor, AuditAction.GROUP_DELETED, group, now, name=group.name)
    db.session.delete(group)
    db.session.flush()


def set_published(actor, group: OrgGroup, published: bool, now: datetime) -> OrgGroup:
    """Show the group's rankings on the community's public page, or take them off. Raises forbidden."""
    require(actor, Action.MANAGE_COMMUNITY, group)
    if group.is_published != bool(published):
        group.is_published = bool(published)
        db.session.flush()
        audit.record(actor, AuditAction.GROUP_PUBLISHED if published else AuditAction.GROUP_UNPUBLISHED,
                     group, now)
    return group


# ---- members -----------------------------------------------------------------------------------------

def add_members(actor, group: OrgGroup, residents: list[Resident], now: datetime) -> list[OrgGroupMember]:
    """Add residents of the group's community; adding someone twice is harmless. Returns the memberships made
    now. Raises forbidden, other_community (a resident of another community: nobody is added),
    resident_moved_out."""
    require(actor, Action.MANAGE_COMMUNITY, group)
    wanted = {r.id: r for r in residents}
    for r in wanted.values():
        if r.community_id != group.community_id:
            raise InvalidInput(_l("%(name)s is not a resident of this community."), code="other_community",
                               name=r.name)
        if r.moved_out_on is not None:
            raise InvalidInput(_l("%(name)s has moved out."), code="resident_moved_out", name=r.name)
    if not wanted:
        return []
    ids = sorted(wanted)
    present = set(db.session.scalars(select(OrgGroupMember.resident_id).where(
        OrgGroupMember.group_id == group.id, OrgGroupMember.resident_id.in_(ids))))
    missing = [rid for rid in ids if rid not in present]
    if not missing:
        return []
    # one insert; a twin request adding the same people at once inserts nothing twice
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(OrgGroupMember.__table__).values([
        dict(community_id=group.community_id, group_id=group.id, resident_id=rid, added_by_id=actor.id,
             added_at=now) for rid in missing]).on_conflict_do_nothing())
    made = list(db.session.scalars(select(OrgGroupMember).where(
        OrgGroupMember.group_id == group.id, OrgGroupMember.resident_id.in_(missing),
        OrgGroupMember.added_at == now, OrgGroupMember.added_by_id == actor.id)))
    for member in made:
        audit.record(actor, AuditAction.GROUP_MEMBER_ADDED, member, now, group_id=group.id)
    return made


def remove_member(actor, group: OrgGroup, resident_id: int | None, now: datetime) -> None:
    """Take a resident out of the group (nothing when she is not in it). Raises forbidden."""
    require(actor, Action.MANAGE_COMMUNITY, group)
    member = db.session.scalar(select(OrgGroupMember).where(
        OrgGroupMember.group_id == group.id, OrgGroupMember.resident_id == resident_id)) \
        if valid_id(resident_id) else None
    if member is None:
        return
    audit.record(actor, AuditAction.GROUP_MEMBER_REMOVED, member, now, group_id=group.id)
    db.session.delete(member)
    db.session.flush()


def members_of(group: OrgGroup) -> list[OrgGroupMember]:
    return list(db.session.scalars(select(OrgGroupMember).where(OrgGroupMember.group_id == group.id)
                                   .order_by(OrgGroupMember.id)))


@dataclass
class Pasted:
    """What a pasted list of phones and names came to, line by line."""
    found: list[Resident] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # lines that name nobody in the community
    ambiguous: list[str] = field(default_factory=list)  # lines that name several people: search for them
    cut: int = 0  # lines beyond PASTE_MAX_LINES, not read


def resolve_lines(community_id: int, text: str | None) -> Pasted:
    """Read a pasted list, one phone number or name per line (a room written as the app writes it works
    too), through the one resident search (tree.services.search). A name must be written in full, and a
    line that fits several people is reported, never guessed."""
    out = Pasted()
    seen: set[int] = set()
    lines = [one_line(line) for line in (text or "").splitlines()]
    lines = list(dict.fromkeys(line for line in lines if line))
    out.cut = max(0, len(lines) - PASTE_MAX_LINES)
    for line in lines[:PASTE_MAX_LINES]:
        found = search.find_residents(community_id, line, limit=5)
        kind = found.query.kind
        if kind == "name":
            matches = [r for r in found.residents if r.name == line]
        elif kind == "phone":
            matches = [r for r in found.residents if r.phone == found.query.text] or found.residents
        else:
            matches = found.residents
        if len(matches) == 1:
            if matches[0].id not in seen:
                seen.add(matches[0].id)
                out.found.append(matches[0])
        elif matches:
            out.ambiguous.append(line)
        else:
            out.missing.append(line)
    return out


def add_pasted(actor, group: OrgGroup, text: str | None, now: datetime) -> tuple[Pasted, list[OrgGroupMember]]:
    """add_members() for a pasted list (resolve_lines()): those found are added, the rest reported.
    Raises forbidden, lines_missing."""
    require(actor, Action.MANAGE_COMMUNITY, group)
    pasted = resolve_lines(group.community_id, text)
    if not (pasted.found or pasted.missing or pasted.ambiguous):
        raise InvalidInput(_l("Paste phone numbers or names, one per line."), code="lines_missing")
    return pasted, add_members(actor, group, pasted.found, now)


# ---- rankings ----------------------------------------------------------------------------------------

@dataclass
class GroupPlace:
    rank: int
    group_id: int
    group_name: str
    kind: str
    is_published: bool
    members: int
    total: int
    average: Fraction

    @property
    def average_shown(self) -> str:
        return f"{float(self.average):.1f}"


def _earned(community_id, period: str, resident_id):
    """The join of a member to her earning total in the period (none: she earned nothing)."""
    return and_(EarningTotal.community_id == community_id, EarningTotal.period == period,
                EarningTotal.subject_type == "resident", EarningTotal.subject_id == resident_id)


def group_board(community_id: int, period: str, *, by: str = "total", published_only: bool = False) -> list[GroupPlace]:
    """The community's groups by their members' points in the period (or by the average per member), best
    first; equal values share a place (1, 2, 2, 4); empty groups come last with 0. One statement.
    Raises invalid_period, invalid_ranking."""
    rankings.check_period(period)
    if by not in RANK_BY:
        raise InvalidInput(_l("Unknown ranking."), code="invalid_ranking")
    # a month can be negative for someone (an award reversed a month later): she adds nothing, as on the board
    points = case((EarningTotal.points > 0, EarningTotal.points), else_=0)
    stmt = (select(OrgGroup.id, OrgGroup.name, OrgGroup.kind, OrgGroup.is_published,
                   func.count(OrgGroupMember.id), func.coalesce(func.sum(points), 0))
            .outerjoin(OrgGroupMember, OrgGroupMember.group_id == OrgGroup.id)
            .outerjoin(EarningTotal, _earned(OrgGroup.community_id, period, OrgGroupMember.resident_id))
            .where(OrgGroup.community_id == community_id)
            .group_by(OrgGroup.id, OrgGroup.name, OrgGroup.kind, OrgGroup.is_published))
    if published_only:
        stmt = stmt.where(OrgGroup.is_published.is_(True))
    rows = [GroupPlace(0, gid, name, kind, bool(published), int(n), int(total),
                       Fraction(int(total), int(n)) if n else Fraction(0))
            for gid, name, kind, published, n, total in db.session.execute(stmt)]

    def value(p: GroupPlace):
        return p.total if by == "total" else p.average

    rows.sort(key=lambda p: (-value(p), -p.total if by == "average" else 0, p.group_name, p.group_id))
    for i, p in enumerate(rows):
        p.rank = rows[i - 1].rank if i and value(p) == value(rows[i - 1]) else i + 1
    return rows


@dataclass
class MemberPlace:
    rank: int
    resident_id: int
    label: str  # the name: the real one for the office, the public-name rule's on the public page
    points: int


def member_board(group: OrgGroup, period: str) -> list[MemberPlace]:
    """A group's members by their points in the period, best first, those with none last; equal points
    share a place. Names as they are (the office's). One statement. Raises invalid_period."""
    rankings.check_period(period)
    points = func.coalesce(EarningTotal.points, 0)
    rows = db.session.execute(
        select(OrgGroupMember.resident_id, Resident.name, points)
        .join(Resident, Resident.id == OrgGroupMember.resident_id)
        .outerjoin(EarningTotal, _earned(OrgGroupMember.community_id, period, OrgGroupMember.resident_id))
        .where(OrgGroupMember.group_id == group.id)
        .order_by(points.desc(), OrgGroupMember.resident_id)).all()
    places: list[MemberPlace] = []
    for i, (rid, name, value) in enumerate(rows):
        value = max(int(value or 0), 0)
        rank = places[-1].rank if places and value == places[-1].points else i + 1
        places.append(MemberPlace(rank, rid, name, value))
    return places


# ---- the public page ---------------------------------------------------------------------------------

def published_group(community_id: int, group_id: int | None) -> OrgGroup:
    """A published group of the community (what the public page may show). Raises not_found."""
    group = get_row(OrgGroup, group_id)
    if group is None or group.community_id != community_id or not group.is_published:
        raise NotFound(_l("No such group."), code="not_found")
    return group


def public_member_board(community: Community, group: OrgGroup, period: str) -> tuple[list[MemberPlace], int]:
    """The members who earned in the period, as the public may read them (rankings' public-name rule: names
    masked as the community chose, those who keep their names off public boards left out, the places of the
    others unchanged: 1, 3); and how many earned but are not named. Two statements."""
    earned = [p for p in member_board(group, period) if p.points > 0]
    names = rankings.public_names(community, [p.resident_id for p in earned])
    shown = [MemberPlace(p.rank, p.resident_id, names[p.resident_id], p.points) for p in earned
             if p.resident_id in names]
    return shown, len(earned) - len(shown)
