"""Claims (积分申报), their photos and their history."""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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


class ClaimStatus(StrEnum):
    WITNESS = "witness"  # waiting for the named witness to confirm
    PENDING = "pending"  # in the reviewer's queue
    MORE_INFO = "more_info"  # the reviewer asked for more; back with the claimant
    APPROVED = "approved"  # points posted (key claim:<id>)
    REJECTED = "rejected"  # with a reason
    WITHDRAWN = "withdrawn"  # the claimant took it back


OPEN_STATUSES = (ClaimStatus.WITNESS, ClaimStatus.PENDING, ClaimStatus.MORE_INFO)


class Claim(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))  # who earns
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"))  # the version claimed under
    lineage_id: Mapped[int]  # the item across versions: limits count claims of every version
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))  # the resident, or who filed for her
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the good deed was done
    minutes: Mapped[int | None]  # per-hour items: how long
    place: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int]  # what approval will post, as the item's version says
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    witnessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=ClaimStatus.PENDING)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # entered the queue (again): the queue's order
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # who decided last
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")  # the reviewer's reason (reject, ask for more)
    entry_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                                 ForeignKey("ledger_entry.id"))
    has_duplicate_photo: Mapped[bool] = mapped_column(default=False)  # a photo matches an earlier claim's
    # the form's request id: a retried or twice-tapped form files one claim (None: filed by a service call)
    request_key: Mapped[str | None] = mapped_column(String(64))

    resident: Mapped[Resident] = relationship(foreign_keys=[resident_id])
    witness: Mapped[Resident | None] = relationship(foreign_keys=[witness_id])
    item = relationship("CatalogueItem")
    filed_by = relationship("User", foreign_keys=[filed_by_id])
    reviewer = relationship("User", foreign_keys=[reviewer_id])
    photos: Mapped[list["ClaimPhoto"]] = relationship(order_by="ClaimPhoto.id", back_populates="claim")
    events: Mapped[list["ClaimEvent"]] = relationship(order_by="ClaimEvent.id", back_populates="claim")

    __table_args__ = (
        CheckConstraint("status IN ('witness', 'pending', 'more_info', 'approved', 'rejected', 'withdrawn')",
                        name="status_known"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("witness_id IS NULL OR witness_id <> resident_id", name="witness_not_claimant"),
        CheckConstraint("minutes IS NULL OR minutes > 0", name="minutes_positive"),
        UniqueConstraint("community_id", "filed_by_id", "request_key"),
        Index("ix_claim_queue", "community_id", "status", "submitted_at"),  # reviewers' queues, oldest first
        Index("ix_claim_resident", "resident_id", "lineage_id", "occurred_at"),  # her claims; limits
        Index("ix_claim_witness", "witness_id", "status"),
    )


class ClaimPhoto(db.Model):
    """A photo of a claim: resized JPEG with EXIF (and GPS) stripped; phash finds the same photo sent twice."""
    __tablename__ = "claim_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    width: Mapped[int]
    height: Mapped[int]
    phash: Mapped[str] = mapped_column(String(16))  # imagehash.phash, hex
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("claim_photo.id"))  # an earlier, alike photo
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    claim: Mapped[Claim] = relationship(back_populates="photos")

    __table_args__ = (Index("ix_claim_photo_hash", "community_id", "phash"),)


class ClaimEvent(db.Model):
    """One step in a claim's history: filed, witnessed, asked for more, answered, approved, rejected …"""
    __tablename__ = "claim_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    claim: Mapped[Claim] = relationship(back_populates="events")
    actor = relationship("User")
