"""A deduction recorded by the office against a resident or a household under a catalogue item."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Household, Resident


class Deduction(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"))  # the version it was made under
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))  # None: the whole household
    points: Mapped[int]  # what the item takes
    taken: Mapped[int] = mapped_column(default=0)  # taken from balances so far
    owed: Mapped[int] = mapped_column(default=0)  # the rest: taken from the next earning
    # whose account carries what is owed (the resident, or the household's payer when it was recorded): the one
    # account a withdrawal clears and collection takes from, whoever heads the household later
    owed_by_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # one photo, as claims store them
    is_veto: Mapped[bool] = mapped_column(default=False)  # copied from the item version
    counts_against_earning: Mapped[bool] = mapped_column(default=True)  # copied from the item version
    request_key: Mapped[str] = mapped_column(String(64))  # the form's request id: a retried form records it once
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # the office may withdraw a deduction (an objection upheld): its entries are reversed, nothing is edited
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    status_note: Mapped[str] = mapped_column(String(200), default="")

    household: Mapped[Household] = relationship()
    resident: Mapped[Resident | None] = relationship(foreign_keys=[resident_id])
    owed_by: Mapped[Resident | None] = relationship(foreign_keys=[owed_by_id])
    item = relationship("CatalogueItem")
    created_by = relationship("User", foreign_keys=[created_by_id])

    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("taken >= 0 AND owed >= 0 AND taken + owed <= points", name="taken_owed_bounded"),
        UniqueConstraint("community_id", "request_key"),
        Index("ix_deduction_community", "community_id", "created_at"),
        Index("ix_deduction_household", "household_id", "occurred_at"),
        Index("ix_deduction_resident", "resident_id", "created_at"),
        Index("ix_deduction_owed_by", "owed_by_id"),  # what an account still owes, read when it earns
    )
