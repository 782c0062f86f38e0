"""The office's reports on the catalogue, for a range of China-time months:

(a) claims per catalogue item (its lineage, shown with its current title and category): filed, approved,
    rejected, withdrawn, still open, approval rate (approved / decided), median and 90th-percentile hours from
    submitted_at to decided_at. Claims filed (created) in the range, in their state now.
(b) claims per reviewer: decisions (approved, rejected) made in the range, median hours to decision.
(c) points by catalogue category per month: earning from approved claims and from attendances of activities
    that follow a catalogue item (activities with their own rules in a row of their own), less deductions,
    manual awards in their own row; reversals count in the row of the entry they undo.

Each table is one statement grouped in the database (GROUP BY, and window functions for the percentiles), so
the page costs the same few statements for ten claims or a hundred thousand.
"""
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import aliased

from pointsapp.accounts.models import User
from pointsapp.catalogue.models import CatalogueItem
from pointsapp.claims.models import Claim, ClaimStatus
from pointsapp.core.errors import InvalidInput
from pointsapp.core.extensions import db
from pointsapp.core.periods import month_bounds
from pointsapp.core.permissions import Action, require
from pointsapp.deductions.models import Deduction
from pointsapp.ledger.models import EARNING_KINDS, EntryKind, LedgerEntry
from pointsapp.rankings import services as rankings
from pointsapp.volunteering.models import Activity, Attendance

DEFAULT_MONTHS = 6
MAX_MONTHS = 36
DECIDED = (ClaimStatus.APPROVED, ClaimStatus.REJECTED)
OPEN = (ClaimStatus.WITNESS, ClaimStatus.PENDING, ClaimStatus.MORE_INFO)

# the rows of table (c) that are not a catalogue category
CATEGORY, OWN_RULES, MANUAL, OTHER = 0, 1, 2, 3


def month_range(first: str | None, last: str | None, now: datetime) -> list[str]:
    """The months asked for ("2026-06", "2026-11"), or the last DEFAULT_MONTHS up to this one (China time),
    as ["2026-06", …, "2026-11"]. Raises invalid_period."""
    if not first and not last:
        return [m[1:] for m in rankings.last_months(now, DEFAULT_MONTHS)]
    this = rankings.last_months(now, 1)[0][1:]
    keys = rankings.month_keys(first or last or this, last or this)
    return [k[1:] for k in keys]


# ---- (a) claims per item ------------------------------------------------------------------------------

@dataclass
class ItemRow:
    lineage_id: int
    title: str
    category: str
    filed: int
    approved: int
    rejected: int
    withdrawn: int
    open: int
    median_hours: float | None
    p90_hours: float | None

    @property
    def decided(self) -> int:
        return self.approved + self.rejected

    @property
    def approval_rate(self) -> float | None:
        """approved / decided, 0..1; None before any decision."""
        return self.approved / self.decided if self.decided else None


def _seconds(start, end):
    """Whole seconds from start to end, in the database's own arithmetic."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), Integer)


def _percentile_parts(n, rn, value, decided):
    """MAX(CASE …) picks of the rows a median and a 90th percentile interpolate between (rows 0..n-1 of a
    group ordered by value, as PostgreSQL's percentile_cont places them), in integer arithmetic both
    databases do alike: the median lies between rows (n-1) div 2 and n div 2, the 90th percentile between
    9(n-1) div 10 and (9(n-1)+9) div 10."""
    n = type_coerce(n, Integer)  # (// on integers is the databases' integer division, no FLOOR())

    def at(position):
        return func.max(case((and_(decided == 1, rn == position), value)))
    return at((n - 1) // 2), at(n // 2), at((9 * (n - 1)) // 10), at((9 * (n - 1) + 9) // 10)


def _median(lo, hi) -> float | None:
    return None if lo is None else (float(lo) + float(hi)) / 2 / 3600


def _p90(n, lo, hi) -> float | None:
    if lo is None or not n:
        return None
    fraction = (9 * (int(n) - 1)) % 10 / 10
    return (float(lo) + (float(hi) - float(lo)) * fraction) / 3600


def claims_by_item(community_id: int, start: datetime, end: datetime) -> list[ItemRow]:
    """Table (a), busiest item first. One statement."""
    decided = case((and_(Claim.status.in_(DECIDED), Claim.decided_at.is_not(None)), 1), else_=0)
    seconds = _seconds(Claim.submitted_at, Claim.decided_at)
    rows = (select(Claim.lineage_id, Claim.status, decided.label("decided"),
                   case((decided == 1, seconds)).label("seconds"),
                   (func.row_number().over(partition_by=(Claim.lineage_id, decided), order_by=(seconds, Claim.id))
                    - 1).label("rn"),
                   func.sum(decided).over(partition_by=Claim.lineage_id).label("n"))
            .where(Claim.community_id == community_id, Claim.created_at >= start, Claim.created_at < end)
            .subquery())
    # the item as it reads now: the newest version of its lineage (one row: unique community, lineage, version)
    newest = (select(CatalogueItem.lineage_id, func.max(CatalogueItem.version).label("version"))
              .where(CatalogueItem.community_id == community_id).group_by(CatalogueItem.lineage_id).subquery())
    current = aliased(CatalogueItem)

    def count(statuses):
        return func.sum(case((rows.c.status.in_(statuses), 1), else_=0))

    stmt = (select(rows.c.lineage_id, current.title, current.category, func.count(),
                   count([ClaimStatus.APPROVED]), count([ClaimStatus.REJECTED]), count([ClaimStatus.WITHDRAWN]),
                   count(OPEN), func.max(rows.c.n), *_percentile_parts(rows.c.n, rows.c.rn, rows.c.seconds,
                                                                       rows.c.decided))
            .outerjoin(newest, newest.c.lineage_id == rows.c.lineage_id)
            .outerjoin(current, and_(current.community_id == community_id, current.lineage_id == rows.c.lineage_id,
                                     current.version == newest.c.version))
            .group_by(rows.c.lineage_id, current.title, current.category)
            .order_by(func.count().desc(), current.category, current.title, rows.c.lineage_id))
    out = []
    for lineage, title, category, filed, approved, rejected, withdrawn, still_open, n, m_lo, m_hi, p_lo, p_hi \
            in db.session.execute(stmt):
        out.append(ItemRow(lineage, title or "—", category or "—", int(filed), int(approved or 0),
                           int(rejected or 0), int(withdrawn or 0), int(still_open or 0), _median(m_lo, m_hi),
                           _p90(n, p_lo, p_hi)))
    return out


# ---- (b) claims per reviewer --------------------------------------------------------------------------

@dataclass
class ReviewerRow:
    reviewer_id: int
    name: str
    approved: int
    rejected: int
    median_hours: float | None

    @property
    def decided(self) -> int:
        return self.approved + self.rejected


def claims_by_reviewer(community_id: int, start: datetime, end: datetime) -> list[ReviewerRow]:
    """Table (b): decisions made in the range, by who made them, most first. One statement."""
    seconds = _seconds(Claim.submitted_at, Claim.decided_at)
    rows = (select(Claim.reviewer_id, Claim.status, seconds.label("seconds"),
                   (func.row_number().over(partition_by=Claim.reviewer_id, order_by=(seconds, Claim.id)) - 1)
                   .label("rn"),
                   func.count().over(partition_by=Claim.reviewer_id).label("n"))
            .where(Claim.community_id == community_id, Claim.status.in_(DECIDED), Claim.reviewer_id.is_not(None),
                   Claim.decided_at >= start, Claim.decided_at < end)
            .subquery())
    m_lo, m_hi, _p_lo, _p_hi = _percentile_parts(rows.c.n, rows.c.rn, rows.c.seconds, literal(1))
    stmt = (select(rows.c.reviewer_id, User.name,
                   func.sum(case((rows.c.status == ClaimStatus.APPROVED, 1), else_=0)),
                   func.sum(case((rows.c.status == ClaimStatus.REJECTED, 1), else_=0)), m_lo, m_hi)
            .join(User, User.id == rows.c.reviewer_id)
            .group_by(rows.c.reviewer_id, User.name)
            .order_by(func.count().desc(), User.name, rows.c.reviewer_id))
    return [ReviewerRow(rid, name, int(approved or 0), int(rejected or 0), _median(lo, hi))
            for rid, name, approved, rejected, lo, hi in db.session.execute(stmt)]


# ---- (c) points by category per month -----------------------------------------------------------------

@dataclass
class CategoryRow:
    kind: int  # CATEGORY, OWN_RULES, MANUAL, OTHER
    category: str  # the catalogue category (kind CATEGORY), else ""
    by_month: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_month)


def points_by_category(community_id: int, months: list[str]) -> list[CategoryRow]:
    """Table (c): one row per category (and the rows that are not one), one number per month. One statement."""
    bounds = [month_bounds(m) for m in months]
    start, end = bounds[0][0], bounds[-1][1]
    undone = aliased(LedgerEntry)  # what a reversal undoes: it counts where that entry counted
    reversal = LedgerEntry.kind == EntryKind.REVERSAL
    kind = case((reversal, undone.kind), else_=LedgerEntry.kind)
    source_type = case((reversal, undone.source_type), else_=LedgerEntry.source_type)
    source_id = case((reversal, undone.source_id), else_=LedgerEntry.source_id)
    item = aliased(CatalogueItem)
    month = case(*[(LedgerEntry.created_at < b_end, i) for i, (_b_start, b_end) in enumerate(bounds)], else_=-1)
    row_kind = case((kind == EntryKind.MANUAL_AWARD, MANUAL), (item.id.is_not(None), CATEGORY),
                    (source_type == "attendance", OWN_RULES), else_=OTHER)
    category = case((row_kind == CATEGORY, item.category), else_="")
    total = func.sum(LedgerEntry.amount)
    stmt = (select(row_kind, category, month, total)
            .outerjoin(undone, and_(reversal, undone.id == LedgerEntry.reverses_id))
            # each join looks its row up by key (an index): the id read out of the entry's source id for claims and
            # deductions (whose services write only numbers there), the attendance by the award it posted. (Casting
            # the table's id to text instead read every claim and attendance for every entry: quadratic.)
            .outerjoin(Claim, Claim.id == cast(case((source_type == "claim", source_id)), Integer))
            .outerjoin(Deduction, Deduction.id == cast(case((source_type == "deduction", source_id)), Integer))
            .outerjoin(Attendance, and_(source_type == "attendance",
                                        Attendance.ledger_entry_id == func.coalesce(undone.id, LedgerEntry.id)))
            .outerjoin(Activity, Activity.id == Attendance.activity_id)
            .outerjoin(item, item.id == func.coalesce(Claim.item_id, Deduction.item_id, Activity.catalogue_item_id))
            .where(LedgerEntry.community_id == community_id, LedgerEntry.created_at >= start,
                   LedgerEntry.created_at < end,
                   or_(kind.in_(EARNING_KINDS), and_(kind == EntryKind.DEDUCTION, source_type == "deduction")))
            # by position: the CASEs carry parameters, and PostgreSQL does not match them up by value
            .group_by(literal_column("1"), literal_column("2"), literal_column("3")))
    rows: dict[tuple[int, str], CategoryRow] = {}
    for k, cat, m, points in db.session.execute(stmt):
        row = rows.setdefault((int(k), cat or ""), CategoryRow(int(k), cat or "", [0] * len(months)))
        if 0 <= m < len(months):
            row.by_month[m] += int(points or 0)
    return sorted(rows.values(), key=lambda r: (r.kind, -r.total, r.category))


# ---- the report -------------------------------------------------------------------------------------

@dataclass
class Report:
    months: list[str]  # "2026-06", …
    items: list[ItemRow]
    reviewers: list[ReviewerRow]
    categories: list[CategoryRow]


def build(actor, community_id: int, months: list[str]) -> Report:
    """The three tables for consecutive months (month_range()). Raises forbidden, invalid_period."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    if not months or len(months) > MAX_MONTHS:
        raise InvalidInput(_l("Choose a range of 1 to 36 months."), code="invalid_period")
    start, end = month_bounds(months[0])[0], month_bounds(months[-1])[1]
    return Report(months, claims_by_item(community_id, start, end), claims_by_reviewer(community_id, start, end),
                  points_by_category(community_id, months))
