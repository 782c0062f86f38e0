"""Organisation groups and their members; rankings are read from earning totals (rankings.models)."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Resident


class OrgGroup(db.Model):
    __tablename__ = "org_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))  # party_branch | association | school | other
    is_published: Mapped[bool] = mapped_column(default=False, server_default=sa_false())  # on the public page
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    members: Mapped[list["OrgGroupMember"]] = relationship(back_populates="group", order_by="OrgGroupMember.id")

    __table_args__ = (
        UniqueConstraint("community_id", "name"),
        CheckConstraint("kind IN ('party_branch', 'association', 'school', 'other')", name="kind_known"),
    )


class OrgGroupMember(db.Model):
    __tablename__ = "org_group_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("org_group.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    group: Mapped[OrgGroup] = relationship(back_populates="members")
    resident: Mapped[Resident] = relationship()

    __table_args__ = (UniqueConstraint("community_id", "group_id", "resident_id"),)
