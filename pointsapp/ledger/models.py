"""The love-points ledger: append-only entries, one hash chain per resident, balances, checkpoints."""
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Resident


class EntryKind(StrEnum):
    AWARD = "award"  # earned by volunteer work (check-in, approved attendance)
    MANUAL_AWARD = "manual_award"  # an admin's award, with a reason
    REDEMPTION = "redemption"  # spent at the love-points supermarket
    MANUAL_DEDUCTION = "manual_deduction"  # an admin's deduction, with a reason
    REVERSAL = "reversal"  # undoes exactly one earlier entry (reverses_id)
    EXPIRY = "expiry"  # points that lapsed under the community's expiry policy
    DEDUCTION = "deduction"  # taken under a catalogue deduction item (负向扣分), or owed and taken later


# Kinds that count as earning for rankings and stars (DESIGN.md invariant 9).
EARNING_KINDS = (EntryKind.AWARD, EntryKind.MANUAL_AWARD)

GENESIS_HASH = "0" * 64


class LedgerEntry(db.Model):
    """One signed change of a resident's points. Never updated or deleted."""

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    seq: Mapped[int]  # 1, 2, 3 … within the resident's chain; a gap means a deleted entry
    amount: Mapped[int]  # signed whole points
    balance_after: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    source_type: Mapped[str] = mapped_column(String(20))  # attendance | redemption | manual | expiry | demo
    source_id: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: the system (expiry)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    resident: Mapped[Resident] = relationship()
    actor = relationship("User")

    __table_args__ = (
        UniqueConstraint("community_id", "idempotency_key"),
        UniqueConstraint("community_id", "resident_id", "seq"),
        UniqueConstraint("community_id", "reverses_id"),  # an entry is reversed at most once
        CheckConstraint("balance_after >= 0", name="balance_after_not_negative"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_entry_community_created", "community_id", "created_at"),
        # a resident's history (newest first by seq) and month list filter on resident_id alone
        Index("ix_ledger_entry_resident_seq", "resident_id", "seq"),
    )


class PointsAccount(db.Model):
    """A resident's balance and chain head, changed in the same transaction as each entry."""

    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    balance: Mapped[int] = mapped_column(default=0)
    earned_total: Mapped[int] = mapped_column(default=0)  # earning only; spending never lowers it
    entry_count: Mapped[int] = mapped_column(default=0)  # = seq of the head entry
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    # points of deductions that the balance could not cover (it never goes below zero): taken from the next
    # earning (deductions.services); read on the locked row, so earning costs no extra statement when 0
    owed: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),
                      CheckConstraint("owed >= 0", name="owed_not_negative"))


class LedgerCheckpoint(db.Model):
    """A root over every chain head of a community at one time; verify checks chains against it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    root: Mapped[str] = mapped_column(String(64))
    resident_count: Mapped[int]
    entry_count: Mapped[int]
    heads: Mapped[str] = mapped_column(Text)  # JSON {resident_id: [seq, hash]}

    __table_args__ = (Index("ix_ledger_checkpoint_community", "community_id", "created_at"),)


class LedgerExport(db.Model):
    """A big ledger export, made by the job worker (ledger/services/export_jobs.py): queued, running, then
    done (the file in `content`) or failed (`message`). The file names residents: it is deleted
    EXPORT_KEEP_DAYS after it was made (the nightly purge); the row stays as a record of the export."""
    __tablename__ = "ledger_export"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(4))  # xlsx | csv
    locale: Mapped[str] = mapped_column(String(10), default="zh")  # the headers' language: the requester's
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done | failed
    progress: Mapped[int] = mapped_column(default=0)  # entries written so far
    total: Mapped[int] = mapped_column(default=0)  # entries in the range when it was queued
    # the file itself (megabytes): read only by the download, not by the pages that list or poll exports
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_ledger_export_community", "community_id", "created_at"),)


class AwardRequest(db.Model):
    """An office member's award by hand above the community's award ceiling: it posts only when another office
    member confirms it (invariant 10: a second person behind every path that creates points)."""
    __tablename__ = "award_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    amount: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    request_key: Mapped[str] = mapped_column(String(64))  # the form's request id: a retried form asks once
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting | confirmed | refused
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refuse_reason: Mapped[str] = mapped_column(Text, default="")
    entry_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                                 ForeignKey("ledger_entry.id"))

    resident: Mapped[Resident] = relationship()
    requested_by = relationship("User", foreign_keys=[requested_by_id])

    __table_args__ = (
        UniqueConstraint("community_id", "request_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('waiting', 'confirmed', 'refused')", name="status_known"),
        Index("ix_award_request_waiting", "community_id", "status", "requested_at"),
    )
