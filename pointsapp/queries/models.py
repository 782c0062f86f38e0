"""A resident's query (疑问/申诉) about her points: "this entry is wrong", or "I was there and got nothing"."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Resident


class QueryKind(StrEnum):
    ENTRY = "entry"  # about one ledger entry of hers
    MISSED = "missed"  # an activity she attended (she says) without an attendance or points
    DEDUCTION = "deduction"  # an objection to a deduction recorded against her or her household (负向扣分)


class QueryStatus(StrEnum):
    OPEN = "open"  # waiting in the office's (and, for a missed activity, the lead's) queue
    AWAITING_SECOND = "second"  # answered with an award above the ceiling: another office member confirms it
    ANSWERED = "answered"  # the reply is there; any correction went through the ledger
    WITHDRAWN = "withdrawn"  # the resident took it back


class PointsQuery(db.Model):
    """One query. The answer never edits the ledger: a correction is a new entry (a reversal, or a manual
    award whose source names this query) or an attendance recorded by the lead, which waits for approval."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(10))
    entry_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                                 ForeignKey("ledger_entry.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id"))
    deduction_id: Mapped[int | None] = mapped_column(ForeignKey("deduction.id"))
    text: Mapped[str] = mapped_column(Text)  # what she says happened (at most TEXT_MAX characters)
    status: Mapped[str] = mapped_column(String(10), default=QueryStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # an award above the community's ceiling proposed by one office member, posted when another confirms it
    proposed_points: Mapped[int | None]
    # what the answer changed: the ledger entry it posted (reversal or award), the attendance the lead recorded
    correction_entry_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                                            ForeignKey("ledger_entry.id"))
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendance.id"))

    resident: Mapped[Resident] = relationship()
    raised_by = relationship("User", foreign_keys=[raised_by_id])
    answered_by = relationship("User", foreign_keys=[answered_by_id])
    entry = relationship("LedgerEntry", foreign_keys=[entry_id])
    correction = relationship("LedgerEntry", foreign_keys=[correction_entry_id])
    activity = relationship("Activity")
    deduction = relationship("Deduction")

    __table_args__ = (
        CheckConstraint("(kind = 'entry' AND entry_id IS NOT NULL) OR (kind = 'missed' AND activity_id IS NOT NULL)"
                        " OR (kind = 'deduction' AND deduction_id IS NOT NULL)", name="query_names_its_subject"),
        CheckConstraint("proposed_points IS NULL OR proposed_points > 0", name="proposed_points_positive"),
        Index("ix_points_query_queue", "community_id", "status", "id"),  # the office's queue, oldest first
        Index("ix_points_query_resident", "resident_id", "id"),
        Index("ix_points_query_activity", "activity_id"),
    )
