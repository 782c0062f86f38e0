"""The board early in a month: on the 2nd it named three people. Until this month has enough ranked
residents (Community.board_min_ranked, default 10; 0 turns this off), the big-screen board and the
rankings page show a second panel beside this month's: last month's final standings, or the last 30 days
(Community.board_fallback), each labelled with its period.

Period edges are in China time (core.periods.CHINA), from the `now` the caller read from the app's clock:
on 1 January last month is December of the year before; the last 30 days are today and the 29 local days
before it (so 29 February counts like any other day)."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from pointsapp.core.extensions import db
from pointsapp.core.periods import CHINA
from pointsapp.ledger.models import EARNING_KINDS, EntryKind, LedgerEntry
from pointsapp.rankings import services as rankings
from pointsapp.rankings.models import EarningTotal
from pointsapp.tree.models import Household, Resident

FALLBACKS = ("last_month", "rolling30")
ROLLING_DAYS = 30
ROLLING_SUBJECTS = ("resident", "household", "building")  # what the ledger alone can group by


@dataclass(frozen=True)
class Span:
    """A period a panel shows: an earning-total period (a month), or a rolling window of local days."""

    kind: str  # "month" (this month so far), "last_month" (final), "rolling30"
    first_day: date  # local dates, both counted
    last_day: date
    period: str | None = None  # the earning-total key (M2026-11) of a month; None for a rolling window


def this_month(now: datetime) -> Span:
    today = now.astimezone(CHINA).date()
    return Span("month", today.replace(day=1), today, f"M{today.year}-{today.month:02d}")


def last_month(now: datetime) -> Span:
    today = now.astimezone(CHINA).date()
    last_day = today.replace(day=1) - timedelta(days=1)
    return Span("last_month", last_day.replace(day=1), last_day, f"M{last_day.year}-{last_day.month:02d}")


def rolling(now: datetime) -> Span:
    today = now.astimezone(CHINA).date()
    return Span("rolling30", today - timedelta(days=ROLLING_DAYS - 1), today)


def ranked_count(community_id: int, period: str) -> int:
    """How many residents have earned in the period (opted-out ones too: they hold places)."""
    return db.session.scalar(select(func.count()).select_from(EarningTotal).where(
        EarningTotal.community_id == community_id, EarningTotal.period == rankings.check_period(period),
        EarningTotal.subject_type == "resident", EarningTotal.points > 0)) or 0


def fallback_span(community, now: datetime, subject_type: str = "resident", metric: str = "points") -> Span | None:
    """What to show beside this month, or None when this month has enough ranked residents (one count).
    A rolling window is summed from the ledger, by points, for residents, households and buildings; for
    other rankings the fallback is last month."""
    wanted = community.board_min_ranked or 0
    if wanted <= 0 or ranked_count(community.id, this_month(now).period) >= wanted:
        return None
    if community.board_fallback == "rolling30" and metric == "points" and subject_type in ROLLING_SUBJECTS:
        return rolling(now)
    return last_month(now)


def public_places(community, span: Span, subject_type: str, metric: str = "points", limit: int = 10):
    """The public board of a span (the public-name rule applied, as rankings.public_board)."""
    if span.period is not None:
        return rankings.public_board(community, span.period, subject_type, metric, limit)
    return rolling_board(community, span, subject_type, limit)


def rolling_board(community, span: Span, subject_type: str, limit: int = 10) -> list[rankings.Place]:
    """Points earned in a window of local days, summed from the ledger (earning entries, less their
    reversals), best first; residents not to be named left out, their places kept (1, 3)."""
    if subject_type not in ROLLING_SUBJECTS:
        raise ValueError(subject_type)
    start = datetime.combine(span.first_day, time(), CHINA).astimezone(UTC)
    end = datetime.combine(span.last_day + timedelta(days=1), time(), CHINA).astimezone(UTC)
    undone = aliased(LedgerEntry)
    earning = or_(LedgerEntry.kind.in_(EARNING_KINDS), and_(
        LedgerEntry.kind == EntryKind.REVERSAL,
        select(undone.id).where(undone.id == LedgerEntry.reverses_id, undone.kind.in_(EARNING_KINDS)).exists()))
    subject = {"resident": LedgerEntry.resident_id, "household": Resident.household_id,
               "building": Household.building_id}[subject_type]
    total = func.sum(LedgerEntry.amount)
    stmt = select(subject, total).where(LedgerEntry.community_id == community.id, LedgerEntry.created_at >= start,
                                        LedgerEntry.created_at < end, earning)
    if subject_type != "resident":
        stmt = stmt.join(Resident, Resident.id == LedgerEntry.resident_id)
    if subject_type == "building":
        stmt = stmt.join(Household, Household.id == Resident.household_id)
    rows = db.session.execute(stmt.group_by(subject).having(total > 0)).all()
    hidden = rankings.opted_out(community.id) if subject_type == "resident" else set()
    values = sorted((int(v) for _sid, v in rows), reverse=True)
    best = sorted(((sid, int(v)) for sid, v in rows if sid not in hidden), key=lambda kv: (-kv[1], kv[0]))[:limit]
    places = [rankings.Place(sum(1 for v in values if v > value) + 1, sid, value) for sid, value in best]
    rankings.label_public(community, places, subject_type)
    return places
