"""A resident's points history one month at a time (我的积分): the month's entries and its totals.

Months begin and end in China time (core.periods.month_bounds): an entry at 23:30 on 30 November China
time (15:30 UTC) is November's. Two statements per page, whatever the number of entries: one for the
month's entries, one for the totals (earned, spent, other changes, the balance at the month's end and
the first and last entries' times, which bound the month picker); a third, for the latest entry's month,
when no month is asked for.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select

from pointsapp.core.extensions import db
from pointsapp.core.periods import CHINA, month_bounds, months_between
from pointsapp.ledger.models import EARNING_KINDS, EntryKind, LedgerEntry

MONTH_LIMIT = 1000  # entries shown for one month; far above what a person earns and spends in a month


@dataclass(frozen=True)
class MonthHistory:
    month: str  # "2026-11"
    entries: list[LedgerEntry]  # newest first
    earned: int  # volunteer and office awards
    spent: int  # redemptions at the supermarket (a positive number)
    other: int  # corrections, deductions, expiry (signed)
    balance_end: int  # the balance after the month's last entry (or carried over from before)
    months: list[str]  # every month from the first entry's to the last's, newest first (the picker)

    @property
    def newer(self) -> str | None:
        i = self.months.index(self.month) if self.month in self.months else -1
        return self.months[i - 1] if i > 0 else None

    @property
    def older(self) -> str | None:
        i = self.months.index(self.month) if self.month in self.months else len(self.months)
        return self.months[i + 1] if i + 1 < len(self.months) else None


def current_month(now: datetime) -> str:
    return f"{now.astimezone(CHINA):%Y-%m}"


def month_history(resident_id: int, month: str | None, now: datetime) -> MonthHistory:
    """One month of a resident's entries; when None, the month of the latest entry (this month when there is
    none), so the page never opens on an empty month. Raises invalid_month."""
    if not month:
        last = db.session.scalar(select(LedgerEntry.created_at).where(LedgerEntry.resident_id == resident_id)
                                 .order_by(LedgerEntry.seq.desc()).limit(1))
        month = current_month(last or now)
    start, end = month_bounds(month)
    in_month = and_(LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.resident_id == resident_id, in_month)
        .order_by(LedgerEntry.seq.desc()).limit(MONTH_LIMIT)).all()
    balance_end = (select(LedgerEntry.balance_after)
                   .where(LedgerEntry.resident_id == resident_id, LedgerEntry.created_at < end)
                   .order_by(LedgerEntry.seq.desc()).limit(1).scalar_subquery())

    def total(condition):
        return func.coalesce(func.sum(case((and_(in_month, condition), LedgerEntry.amount), else_=0)), 0)

    earned, spent, other, first, last, balance = db.session.execute(
        select(total(LedgerEntry.kind.in_([str(k) for k in EARNING_KINDS])),
               total(LedgerEntry.kind == str(EntryKind.REDEMPTION)),
               total(LedgerEntry.kind.not_in([str(k) for k in (*EARNING_KINDS, EntryKind.REDEMPTION)])),
               func.min(LedgerEntry.created_at), func.max(LedgerEntry.created_at), balance_end)
        .where(LedgerEntry.resident_id == resident_id)).one()
    months = months_between(first, last) if first else [month]
    return MonthHistory(month=month, entries=list(entries), earned=int(earned), spent=-int(spent),
                        other=int(other), balance_end=int(balance or 0), months=months)
