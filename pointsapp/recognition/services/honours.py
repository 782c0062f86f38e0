"""Outstanding volunteers (优秀志愿者) and outstanding building leaders (优秀楼栋长).

Volunteers are ranked by points earned in the period; building leaders by the share of their
building's households that earned anything in it. Lists go draft → public notice → published,
as star evaluations do: during the notice residents may object, the office answers every objection
and may take someone off the list (with the reason, kept); a published list no longer changes."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from pointsapp.accounts.models import User
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.permissions import Action, require
from pointsapp.rankings import services as rankings
from pointsapp.recognition.models import HonourEntry, HonourList
from pointsapp.recognition.services import notice
from pointsapp.tree.models import Building, Community, Resident

MAX_TOP = 200


def create_list(actor: User, community: Community, kind: str, title: str, period: str, rule: str, value: int,
                notice_days: int, now: datetime) -> HonourList:
    """Raises forbidden, invalid_kind, title_missing, invalid_rule, invalid_period, invalid_notice_days."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    if kind not in ("volunteer", "building_leader"):
        raise InvalidInput(_l("Choose volunteers or building leaders."), code="invalid_kind")
    if not (title or "").strip():
        raise InvalidInput(_l("Please enter a title."), code="title_missing")
    if rule not in ("top", "threshold") or not isinstance(value, int) or value < 1 or \
            (rule == "top" and value > MAX_TOP) or (kind == "building_leader" and rule == "threshold" and value > 100):
        raise InvalidInput(_l("Choose the best N (up to 200), or a threshold (points, or a percentage for leaders)."),
                           code="invalid_rule")
    rankings.check_period(period)
    if not isinstance(notice_days, int) or not 1 <= notice_days <= 60:
        raise InvalidInput(_l("The public notice lasts 1 to 60 days."), code="invalid_notice_days")
    honour = HonourList(community_id=community.id, kind=kind, title=title.strip()[:100], period=period, rule=rule,
                        value=value, status="draft", notice_days=notice_days, created_by_id=actor.id, created_at=now)
    db.session.add(honour)
    db.session.flush()
    return honour


def candidates(honour: HonourList) -> list[tuple[int, int, int, str]]:
    """(rank, resident_id, value, detail) under the list's rule."""
    if honour.kind == "volunteer":
        places = rankings.leaderboard(honour.community_id, honour.period, "resident", "points",
                                      limit=honour.value if honour.rule == "top" else 100000)
        active = set(db.session.scalars(select(Resident.id).where(Resident.community_id == honour.community_id,
                                                                  Resident.moved_out_on.is_(None))))
        rows = [(p.rank, p.subject_id, p.value, "") for p in places if p.subject_id in active]
        if honour.rule == "threshold":
            rows = [r for r in rows if r[2] >= honour.value]
        return rows
    shares = {name: (took, size) for name, took, size in
              rankings.participation_by_building(honour.community_id, honour.period)}
    leaders = db.session.execute(select(Building.name, Building.leader_id).where(
        Building.community_id == honour.community_id, Building.leader_id.is_not(None))).all()
    scored = sorted(((round(100 * shares.get(name, (0, 1))[0] / max(shares.get(name, (0, 1))[1], 1)), leader, name)
                     for name, leader in leaders), key=lambda x: (-x[0], x[2]))
    if honour.rule == "threshold":
        scored = [s for s in scored if s[0] >= honour.value]
    else:
        scored = [s for s in scored if s[0] > 0][:honour.value]
    rows, rank = [], 0
    for i, (share, leader, name) in enumerate(scored):
        if i == 0 or share != scored[i - 1][0]:
            rank = i + 1
        rows.append((rank, leader, share, name))
    return rows


def _store(honour: HonourList) -> int:
    db.session.execute(delete(HonourEntry).where(HonourEntry.list_id == honour.id))
    rows = candidates(honour)
    for rank, resident_id, value, detail in rows:
        db.session.add(HonourEntry(community_id=honour.community_id, list_id=honour.id, resident_id=resident_id,
                                   rank=rank, value=value, detail=detail))
    db.session.flush()
    return len(rows)


def start_notice(actor: User, honour: HonourList, now: datetime) -> int:
    """Raises forbidden, wrong_status."""
    require(actor, Action.MANAGE_COMMUNITY, honour)
    notice.lock(honour)
    notice.begin(honour, now)
    return _store(honour)


def remove_entry(actor: User, honour: HonourList, resident_id: int, reason: str, now: datetime) -> HonourEntry:
    """Take someone off a list on notice (an objection upheld, say); the entry stays, marked, with the
    reason. Raises forbidden, wrong_status, not_found, reason_missing, already_removed."""
    require(actor, Action.MANAGE_COMMUNITY, honour)
    notice.lock(honour)
    notice.require_on_notice(honour, _l("Names can be taken off a list only while it is on public notice."))
    entry = db.session.scalar(select(HonourEntry).where(HonourEntry.list_id == honour.id,
                                                        HonourEntry.resident_id == resident_id))
    if entry is None:
        raise NotFound(_l("This person is not on the list."))
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    if entry.removed_reason is not None:
        raise Conflict(_l("This person has already been taken off the list."), code="already_removed")
    entry.removed_reason = reason.strip()[:300]
    return entry


def publish(actor: User, honour: HonourList, now: datetime) -> None:
    """Raises forbidden, wrong_status, notice_running, objections_open. The list as noticed (less the names
    taken off) is the list published."""
    require(actor, Action.MANAGE_COMMUNITY, honour)
    notice.lock(honour)
    notice.check_publishable(honour, now)
    notice.mark_published(honour, actor, now)


def entries(honour: HonourList) -> list[tuple[int, int, int, str]]:
    """(rank, resident_id, value, detail) as the list stands: live for a draft, stored after, without
    the names taken off."""
    if honour.status == "draft":
        return candidates(honour)
    return [(e.rank, e.resident_id, e.value, e.detail) for e in honour.entries if e.removed_reason is None]


def removed(honour: HonourList) -> list[HonourEntry]:
    return [e for e in honour.entries if e.removed_reason is not None]


def public_lists(community: Community, lists: list[HonourList], names: int | None = None,
                 hidden: set[int] | None = None) -> list[tuple[HonourList, list[tuple[int, str, str]], int]]:
    """Lists as the public reads them (the board's panels, the public API): each list, its first `names`
    rows that may be named as (rank, public name, detail), and how many are not named at their wish."""
    hidden = rankings.opted_out(community.id) if hidden is None else hidden
    shown = []
    for h in lists:
        rows, unnamed = rankings.public_rows(community, entries(h), limit=names, hidden=hidden)
        shown.append((h, [(rank, name, detail) for rank, name, _value, detail in rows], unnamed))
    return shown


def published(community_id: int, limit: int = 10) -> list[HonourList]:
    """The community's published lists, newest first (the public API's honours)."""
    return list(db.session.scalars(select(HonourList).where(HonourList.community_id == community_id,
                                                            HonourList.status == "published")
                                   .order_by(HonourList.published_at.desc(), HonourList.id.desc()).limit(limit)))


def on_notice_or_published(community_id: int, limit: int = 3) -> list[HonourList]:
    """What residents are shown: lists on notice (they may object) and the latest published."""
    return db.session.scalars(select(HonourList).where(HonourList.community_id == community_id,
                                                       HonourList.status.in_(("notice", "published")))
                              .order_by(HonourList.created_at.desc()).limit(limit)).all()
