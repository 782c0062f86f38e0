"""积分细则: one row per version of a catalogue item.

A change never rewrites what was awarded under an earlier version: editing an item writes a new row (the same
`lineage_id`, `version` + 1) and stamps the old one `superseded_at`. Claims and deductions point at the row they
were made under; an activity that picks an item copies its points rule and remembers the row.
"""
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime


class ItemKind(StrEnum):
    EARN = "earn"  # a good deed: earns points (claimed, or an activity's rule)
    DEDUCT = "deduct"  # 负向扣分: an uncivil act the office records (高空抛物, 乱堆乱放 …)


class Evidence(StrEnum):
    PHOTO = "photo"  # at least one photo
    WITNESS = "witness"  # another resident confirms with a tap
    NONE = "none"


class Confirmer(StrEnum):
    """Who reviews a claim of the item (the office may always step in)."""
    BUILDING_LEADER = "building_leader"  # 楼栋长 of the claimant's building
    GRID_WORKER = "grid_worker"  # 网格员 of the claimant's grid (the account whose phone is the grid's worker phone)
    OFFICE = "office"  # 社区 staff (community admins)
    TEAM_LEAD = "team_lead"  # a lead of the item's team


class LimitPeriod(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class CatalogueItem(db.Model):
    __tablename__ = "catalogue_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    lineage_id: Mapped[int]  # the first version's id: every version of one item shares it
    version: Mapped[int] = mapped_column(default=1)
    kind: Mapped[str] = mapped_column(String(10))  # ItemKind
    category: Mapped[str] = mapped_column(String(40))  # 环境卫生, 邻里互助, 平安守护, 文明行为 …
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")  # in plain words, for residents
    points: Mapped[int]  # earn: per claim (or per full hour); deduct: points taken
    per_hour: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    hourly_cap: Mapped[int | None]  # per_hour: at most this many points per claim
    evidence: Mapped[str] = mapped_column(String(10), default=Evidence.NONE)
    confirmer: Mapped[str] = mapped_column(String(20), default=Confirmer.OFFICE)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))  # confirmer team_lead: the team
    claimable: Mapped[bool] = mapped_column(default=True)  # residents may claim it (else: activities only)
    limit_count: Mapped[int | None]  # per resident per limit_period (None: no limit)
    limit_period: Mapped[str | None] = mapped_column(String(10))
    active_from: Mapped[date | None] = mapped_column(Date)
    active_until: Mapped[date | None] = mapped_column(Date)  # inclusive
    # deductions only: a veto (一票否决) in the star evaluation of the period; counts against earning for rankings
    is_veto: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    counts_against_earning: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a newer version exists
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # taken out of the catalogue
    note: Mapped[str] = mapped_column(String(200), default="")  # what this version changed

    __table_args__ = (
        UniqueConstraint("community_id", "lineage_id", "version"),
        CheckConstraint("kind IN ('earn', 'deduct')", name="kind_known"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("hourly_cap IS NULL OR hourly_cap > 0", name="hourly_cap_positive"),
        CheckConstraint("evidence IN ('photo', 'witness', 'none')", name="evidence_known"),
        CheckConstraint("confirmer IN ('building_leader', 'grid_worker', 'office', 'team_lead')",
                        name="confirmer_known"),
        CheckConstraint("confirmer <> 'team_lead' OR team_id IS NOT NULL", name="team_lead_names_team"),
        CheckConstraint("(limit_count IS NULL) = (limit_period IS NULL)", name="limit_complete"),
        CheckConstraint("limit_count IS NULL OR limit_count > 0", name="limit_positive"),
        CheckConstraint("limit_period IS NULL OR limit_period IN ('day', 'week', 'month', 'year')",
                        name="limit_period_known"),
        CheckConstraint("active_until IS NULL OR active_from IS NULL OR active_until >= active_from",
                        name="active_dates_ordered"),
        # the current catalogue: the rows not superseded, by community
        Index("ix_catalogue_item_current", "community_id", "superseded_at", "kind", "category"),
    )

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None and self.retired_at is None
