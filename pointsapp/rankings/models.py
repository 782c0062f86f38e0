"""Earning totals kept up to date in the posting transaction, so leaderboards read one indexed range.

One row per (community, period, subject): period is "A" (all time), "Y2026", "Q2026-4" or "M2026-11"
in China time; subject is a resident, household, building, grid or team. Only earning moves these
totals (DESIGN.md invariant 9): spending never lowers a rank; reversing an earning does."""
from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pointsapp.core.extensions import db


class EarningTotal(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    period: Mapped[str] = mapped_column(String(10))
    subject_type: Mapped[str] = mapped_column(String(10))  # resident | household | building | grid | team
    subject_id: Mapped[int]
    points: Mapped[int] = mapped_column(default=0)
    minutes: Mapped[int] = mapped_column(default=0)  # volunteer time, from attendances
    attendances: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("community_id", "period", "subject_type", "subject_id"),
        Index("ix_earning_total_board", "community_id", "period", "subject_type", "points"),
        # the leaderboards by volunteer minutes and by attendances walk these as the board walks points
        Index("ix_earning_total_minutes", "community_id", "period", "subject_type", "minutes"),
        Index("ix_earning_total_attendances", "community_id", "period", "subject_type", "attendances"),
    )
