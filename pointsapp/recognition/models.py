"""Star civilised households (星级文明户): rule sets, evaluations, vetoes, objections, results."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Household, Resident


class StarRuleSet(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    name: Mapped[str] = mapped_column(String(80))
    # points a household needs for 1, 2, 3, 4 and 5 stars, ascending
    star1: Mapped[int]
    star2: Mapped[int]
    star3: Mapped[int]
    star4: Mapped[int]
    star5: Mapped[int]
    min_attendances: Mapped[int] = mapped_column(default=0)  # below this a household gets no star
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("community_id", "name"),
        CheckConstraint("0 < star1 AND star1 < star2 AND star2 < star3 AND star3 < star4 AND star4 < star5",
                        name="thresholds_ascending"),
    )

    @property
    def thresholds(self) -> list[int]:
        return [self.star1, self.star2, self.star3, self.star4, self.star5]


class Evaluation(db.Model):
    """draft → notice (公示, objections may be lodged) → published (immutable)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("star_rule_set.id"))
    title: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(10))  # an earning-total period key: Y2026, Q2026-4, M2026-11
    status: Mapped[str] = mapped_column(String(10), default="draft")
    notice_days: Mapped[int] = mapped_column(default=7)
    notice_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The rule set's values copied at notice time, so a later edit of the rule set changes nothing here.
    rules_snapshot: Mapped[str] = mapped_column(Text, default="")

    rule_set: Mapped[StarRuleSet] = relationship()

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'notice', 'published')", name="status_known"),
        Index("ix_evaluation_community", "community_id", "created_at"),
    )


class StarVeto(db.Model):  # 一票否决
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    household: Mapped[Household] = relationship()

    __table_args__ = (UniqueConstraint("community_id", "evaluation_id", "household_id"),)


class StarResult(db.Model):
    """One household's rating in an evaluation; frozen once the evaluation is published."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    points: Mapped[int]
    attendances: Mapped[int]
    stars: Mapped[int]  # 0-5
    vetoed: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")  # why no star: veto reason or too few attendances

    household: Mapped[Household] = relationship()

    __table_args__ = (
        UniqueConstraint("community_id", "evaluation_id", "household_id"),
        CheckConstraint("stars BETWEEN 0 AND 5", name="stars_range"),
        # the best first (the board's star panel reads a dozen of 30,000)
        Index("ix_star_result_best", "evaluation_id", "stars", "points"),
    )


class Objection(db.Model):
    """异议 lodged during a public notice: of a star evaluation or of an honour list (exactly one)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation.id"), index=True)
    honour_list_id: Mapped[int | None] = mapped_column(ForeignKey("honour_list.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))  # the household it is about
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    resident: Mapped[Resident] = relationship()

    __table_args__ = (
        CheckConstraint("(evaluation_id IS NULL) <> (honour_list_id IS NULL)", name="one_subject"),
    )


class HonourList(db.Model):
    """优秀志愿者 / 优秀楼栋长 for a period: draft → notice → published, like star evaluations."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    kind: Mapped[str] = mapped_column(String(20))  # volunteer | building_leader
    title: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str] = mapped_column(String(10))  # top (the best N) | threshold (at least value)
    value: Mapped[int]  # N, or points (volunteers) / percent of households taking part (leaders)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    notice_days: Mapped[int] = mapped_column(default=7)
    notice_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    entries: Mapped[list["HonourEntry"]] = relationship(order_by="HonourEntry.rank")

    __table_args__ = (
        CheckConstraint("kind IN ('volunteer', 'building_leader')", name="kind_known"),
        CheckConstraint("rule IN ('top', 'threshold')", name="rule_known"),
        CheckConstraint("status IN ('draft', 'notice', 'published')", name="status_known"),
        Index("ix_honour_list_community", "community_id", "created_at"),
    )


class HonourEntry(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    list_id: Mapped[int] = mapped_column(ForeignKey("honour_list.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"))
    rank: Mapped[int]
    value: Mapped[int]  # points, or percent of the building's households that took part
    detail: Mapped[str] = mapped_column(String(100), default="")  # e.g. the building led
    # set when the office takes the entry off the list during the notice (after an objection, say)
    removed_reason: Mapped[str | None] = mapped_column(Text)

    resident: Mapped[Resident] = relationship()

    __table_args__ = (UniqueConstraint("community_id", "list_id", "resident_id"),)
