"""The community's points rules that bound earning on every path (DESIGN.md "Points rules", invariant 10).

- Caps: a resident earns at most `earn_cap_day` points per local day and `earn_cap_month` per local month
  (None: no cap). post() refuses an earning entry beyond them (cap_reached); the attendance award asks for
  the room first and awards what fits, so a check-in at the cap still records the attendance.
- Separation of duties: nobody awards points to themselves or their household (`acts_for_self`).
- The award ceiling (points one attendance may bring without the office's approval) is read by volunteering.

Earning counted against a cap: earning entries (awards, manual awards) minus reversals of earning entries,
created in the period. Caps are read under the resident's account lock (post() takes it first), so two
awards at once cannot both fit into the last room.
"""
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from pointsapp.accounts.models import User
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.localtime import LOCAL_TZ, local_date
from pointsapp.core.periods import month_bounds
from pointsapp.core.permissions import Action, require
from pointsapp.ledger.models import EARNING_KINDS, EntryKind, LedgerEntry
from pointsapp.tree.models import Community, Resident

MAX_SETTING = 100_000


class CapReached(Conflict):
    code = "cap_reached"


def acts_for_self(actor: User | None, resident: Resident) -> bool:
    """Whether `actor` is `resident` or lives in her household: such a person never decides her points."""
    if actor is None or actor.resident_id is None:
        return False
    if actor.resident_id == resident.id:
        return True
    own = actor.resident
    return own is not None and own.household_id == resident.household_id


def refuse_self_award(actor: User | None, resident: Resident) -> None:
    """Raises self_award when the actor would decide points for herself or her household."""
    if acts_for_self(actor, resident):
        raise PermissionDenied(_l("Points for yourself or your household must be decided by someone else "
                                  "(another team lead or the community office)."), code="self_award")


def day_start(now: datetime) -> datetime:
    return datetime.combine(local_date(now), time(0), LOCAL_TZ).astimezone(UTC)


def month_start(now: datetime) -> datetime:
    d = local_date(now)
    return month_bounds(f"{d.year:04d}-{d.month:02d}")[0]


def _earning_amounts():
    """Earning entries' amounts and reversals of earning entries' (negative), the rest 0: what caps count."""
    reversed_entry = aliased(LedgerEntry)
    earning = or_(LedgerEntry.kind.in_([str(k) for k in EARNING_KINDS]),
                  (LedgerEntry.kind == str(EntryKind.REVERSAL)) & reversed_entry.kind.in_([str(k) for k in EARNING_KINDS]))
    return reversed_entry, earning


def earned_since(resident_id: int, since: datetime) -> int:
    """Points the resident earned from `since` on: earning entries minus reversals of earning entries."""
    return earned_since_each(resident_id, [since])[0]


def earned_since_each(resident_id: int, starts: list[datetime]) -> list[int]:
    """earned_since() for several starts, in one statement."""
    reversed_entry, earning = _earning_amounts()
    sums = [func.coalesce(func.sum(case((LedgerEntry.created_at >= start, LedgerEntry.amount), else_=0)), 0)
            for start in starts]
    stmt = (select(*sums).select_from(LedgerEntry)
            .outerjoin(reversed_entry, reversed_entry.id == LedgerEntry.reverses_id)
            .where(LedgerEntry.resident_id == resident_id, LedgerEntry.created_at >= min(starts), earning))
    return [int(v or 0) for v in db.session.execute(stmt).one()]


# Under the account lock the room cannot change but by this unit of work's own postings: it is read once
# (the check-in reads it to cut an award to fit, then the ledger checks the cap again) and forgotten when the
# resident is posted to (posting.post).
ROOMS = "pointsapp.ledger.earning_room"


def earning_room(resident: Resident, now: datetime) -> int | None:
    """How many more points the resident may earn now under her community's caps (None: no cap)."""
    community = db.session.get(Community, resident.community_id)
    caps = [(cap, start) for cap, start in ((community.earn_cap_day, day_start(now)),
                                            (community.earn_cap_month, month_start(now))) if cap]
    if not caps:
        return None
    locked = resident.id in locks.held(locks.ACCOUNTS)
    known = locks.held(ROOMS) if locked else {}
    if (resident.id, now) in known:
        return known[(resident.id, now)]
    earned = earned_since_each(resident.id, [start for _cap, start in caps])
    room = max(0, min(cap - got for (cap, _start), got in zip(caps, earned, strict=True)))
    if locked:
        known[(resident.id, now)] = room
    return room


def check_cap(resident: Resident, amount: int, now: datetime) -> None:
    """Raises cap_reached when `amount` more earning would pass a cap (call under the account lock)."""
    room = earning_room(resident, now)
    if room is not None and amount > room:
        raise CapReached(_l("%(name)s has reached the community's limit for earning points (%(room)d more "
                            "allowed today or this month)."), name=resident.name, room=room)


@dataclass(frozen=True)
class PointsRules:
    award_ceiling: int
    earn_cap_day: int | None
    earn_cap_month: int | None


def set_points_rules(actor: User, community: Community, rules: PointsRules, now: datetime) -> None:
    """The office sets the ceiling and the caps. Raises forbidden, invalid_rules."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    values = (rules.award_ceiling, rules.earn_cap_day, rules.earn_cap_month)
    if rules.award_ceiling is None or any(v is not None and not (isinstance(v, int) and 1 <= v <= MAX_SETTING)
                                          for v in values):
        raise InvalidInput(_l("Use whole numbers from 1 to %(max)d (leave a cap empty for no cap)."),
                           code="invalid_rules", max=MAX_SETTING)
    if rules.earn_cap_day and rules.earn_cap_month and rules.earn_cap_day > rules.earn_cap_month:
        raise InvalidInput(_l("The daily cap cannot be larger than the monthly cap."), code="invalid_rules")
    community.award_ceiling = rules.award_ceiling
    community.earn_cap_day = rules.earn_cap_day
    community.earn_cap_month = rules.earn_cap_month
    db.session.flush()


# ---- the office's review of unusual awards ------------------------------------------------------

NORM_DAYS = 90  # the norm is the median attendance award of the community over this many days
ABOVE_NORM = 3  # an award at least this many times the norm is unusual (activities range from 5 to 20 points)


@dataclass
class UnusualAward:
    entry: LedgerEntry
    ratio: float | None  # amount / norm
    manual: bool  # an admin's manual award
    own_household: bool  # the person who posted it is the resident or lives in her household


def award_norm(community_id: int, now: datetime) -> float | None:
    """The median points of the community's attendance awards over the last NORM_DAYS (None: none yet)."""
    amounts = sorted(db.session.scalars(
        select(LedgerEntry.amount).where(LedgerEntry.community_id == community_id,
                                         LedgerEntry.kind == str(EntryKind.AWARD),
                                         LedgerEntry.created_at >= now - timedelta(days=NORM_DAYS))
        .order_by(LedgerEntry.created_at.desc()).limit(5000)).all())
    if not amounts:
        return None
    mid = len(amounts) // 2
    return float(amounts[mid]) if len(amounts) % 2 else (amounts[mid - 1] + amounts[mid]) / 2


def unusual_awards(community_id: int, now: datetime, *, days: int = 30, limit: int = 100) -> tuple[float | None,
                                                                                                   list[UnusualAward]]:
    """Earning entries of the last `days` the office should look at, newest first: manual awards, awards above
    the community's ceiling or of ABOVE_NORM times the norm or more, and any posted by the resident or her
    household. Returns (norm, list)."""
    norm = award_norm(community_id, now)
    ceiling = db.session.get(Community, community_id).award_ceiling
    actor_user = aliased(User)
    actor_resident = aliased(Resident)
    beneficiary = aliased(Resident)
    own = or_(actor_user.resident_id == LedgerEntry.resident_id,
              actor_resident.household_id == beneficiary.household_id)
    unusual = [LedgerEntry.kind == str(EntryKind.MANUAL_AWARD), own, LedgerEntry.amount > ceiling]
    if norm:
        unusual.append(LedgerEntry.amount >= ABOVE_NORM * norm)
    rows = db.session.execute(
        select(LedgerEntry, own.label("own"))
        .join(beneficiary, beneficiary.id == LedgerEntry.resident_id)
        .outerjoin(actor_user, actor_user.id == LedgerEntry.actor_id)
        .outerjoin(actor_resident, actor_resident.id == actor_user.resident_id)
        .where(LedgerEntry.community_id == community_id, LedgerEntry.created_at >= now - timedelta(days=days),
               LedgerEntry.kind.in_([str(k) for k in EARNING_KINDS]), or_(*unusual))
        .options(joinedload(LedgerEntry.resident), joinedload(LedgerEntry.actor))
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit)).all()
    return norm, [UnusualAward(entry, entry.amount / norm if norm else None,
                               entry.kind == str(EntryKind.MANUAL_AWARD), bool(is_own)) for entry, is_own in rows]
