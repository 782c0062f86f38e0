"""Volunteer teams, activities, sign-ups and attendances (签到 / 签退)."""
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.accounts.models import User
from pointsapp.core import identity
from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Resident

DEFAULT_TEAM_CATEGORIES = ("便民", "安民", "助民", "乐民")
DEFAULT_ACTIVITY_KINDS = ("楼道广告清理", "安全值守", "环境整治", "扶老助弱", "文明倡导", "垃圾分类督导", "文艺活动")


class Team(db.Model):  # 志愿服务队
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(20))  # 便民 / 安民 / 助民 / 乐民 (editable)

    __table_args__ = (UniqueConstraint("community_id", "name"),)


class Label(db.Model):
    """Editable word lists per community: team categories and activity kinds."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    group: Mapped[str] = mapped_column(String(20))  # team_category | activity_kind
    name: Mapped[str] = mapped_column(String(40))

    __table_args__ = (UniqueConstraint("community_id", "group", "name"),)


class TeamMember(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)

    resident: Mapped[Resident] = relationship()
    team: Mapped[Team] = relationship()

    __table_args__ = (UniqueConstraint("community_id", "team_id", "resident_id"),)


class Activity(db.Model):  # 志愿活动
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    place: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # check-in is accepted from checkin_opens_at to checkin_closes_at (defaults around start/end)
    checkin_opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checkin_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None]  # None: no limit
    # Residents may sign up and cancel until this many minutes before the start (报名截止), 0: until the start.
    signup_closes_minutes: Mapped[int] = mapped_column(default=120, server_default="120")
    rule: Mapped[str] = mapped_column(String(10))  # fixed | hourly
    points: Mapped[int]  # fixed: per attendance; hourly: per full hour
    hourly_cap: Mapped[int | None]  # hourly: at most this many points per attendance
    award_on: Mapped[str] = mapped_column(String(12))  # check_in | check_out | approval
    allow_poster: Mapped[bool] = mapped_column(default=False)  # a static printed code may be used
    code_seconds: Mapped[int] = mapped_column(default=30)  # the check-in code rotates this often
    # Part of every code's signature: changing it voids all codes (and posters) of the activity.
    code_salt: Mapped[str] = mapped_column(String(32))
    is_cancelled: Mapped[bool] = mapped_column(default=False)
    # The catalogue item (积分细则 version) whose points rule the activity took when it was made; None: its
    # own rule. The rule is copied, so a later version of the item changes nothing here.
    catalogue_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_item.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    team: Mapped[Team] = relationship()

    def service_minutes(self, checked_in_at: datetime, checked_out_at: datetime | None) -> int:
        """Volunteer service time of an attendance, in whole minutes within the activity's hours: check-in to
        check-out; for a fixed-points activity, which has no check-out, check-in to the scheduled end; an
        hourly activity not checked out yet has none. Rankings and service records both count this."""
        if checked_out_at is None:
            if self.rule != "fixed":
                return 0
            checked_out_at = self.ends_at
        start = max(checked_in_at, self.starts_at)
        end = min(checked_out_at, self.ends_at)
        return max(0, int((end - start).total_seconds() // 60))

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("checkin_closes_at > checkin_opens_at", name="window_ordered"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        CheckConstraint("signup_closes_minutes >= 0", name="signup_closes_not_negative"),
        CheckConstraint("rule IN ('fixed', 'hourly')", name="rule_known"),
        CheckConstraint("award_on IN ('check_in', 'check_out', 'approval')", name="award_on_known"),
        Index("ix_activity_community_starts", "community_id", "starts_at"),
    )

    @property
    def duration_seconds(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds())

    @property
    def signup_closes_at(self) -> datetime:
        """Sign-ups and cancellations are accepted up to and including this instant."""
        return self.starts_at - timedelta(minutes=self.signup_closes_minutes)


class Signup(db.Model):  # 报名
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the latest sign-up (again after a cancel)
    # Set when the resident cancelled (取消报名); signing up again clears it. The row stays one per
    # activity and resident, so a double tap or a retry finds it instead of adding a second.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    resident: Mapped[Resident] = relationship()

    __table_args__ = (UniqueConstraint("community_id", "activity_id", "resident_id"),)


class Attendance(db.Model):  # 签到 / 签退
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How it was recorded: self_scan (the resident scanned the code), lead_scan (the lead scanned
    # the resident's card), manual (人工补录 by the lead, with a reason).
    method: Mapped[str] = mapped_column(String(10))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    manual_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10))  # pending | approved | rejected
    # Why a pending attendance waits for someone other than the lead's own approval (separation of duties,
    # DESIGN.md invariant 10): "" none; "self" the attendee runs the activity or recorded it for herself or her
    # household (another lead of the team or the office confirms); "manual" recorded by hand, "ceiling" worth
    # more than the community's award_ceiling (the office confirms both).
    hold: Mapped[str] = mapped_column(String(10), default="", server_default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    points_awarded: Mapped[int] = mapped_column(default=0)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))

    activity: Mapped[Activity] = relationship()
    resident: Mapped[Resident] = relationship()
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])

    __table_args__ = (
        UniqueConstraint("community_id", "activity_id", "resident_id"),  # invariant 6
        CheckConstraint("checked_out_at IS NULL OR checked_out_at >= checked_in_at", name="out_after_in"),
        CheckConstraint("method IN ('self_scan', 'lead_scan', 'manual')", name="method_known"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status_known"),
        CheckConstraint("hold IN ('', 'self', 'manual', 'ceiling')", name="hold_known"),
        Index("ix_attendance_review", "community_id", "status", "hold"),
        Index("ix_attendance_activity", "activity_id", "checked_in_at"),
        Index("ix_attendance_ledger_entry", "ledger_entry_id"),  # the attendance behind an award (reports)
    )


# consulted by many services in one request: kept loaded for the unit of work (core.identity)
identity.keep(Team, Activity)
