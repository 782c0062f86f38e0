"""The community tree: Subdistrict > Community > Grid > Building > Household > Resident.

Every table below Community carries community_id and puts it first in its unique constraints,
so the data can later be sharded by community without a redesign.
"""
from datetime import date, datetime

from flask_babel import gettext
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core import identity
from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime


def household_address(building: str, unit: str, room: str) -> str:
    """The one way a household's address is written: 3号楼1单元301 (in English: 3号楼, unit 1, room 301)."""
    return gettext("%(building)s, unit %(unit)s, room %(room)s", building=building, unit=unit, room=room)


class Subdistrict(db.Model):  # 街道
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    city: Mapped[str] = mapped_column(String(80), default="")

    communities: Mapped[list["Community"]] = relationship(back_populates="subdistrict", order_by="Community.name")


class Community(db.Model):  # 社区: the tenant boundary
    id: Mapped[int] = mapped_column(primary_key=True)
    subdistrict_id: Mapped[int] = mapped_column(ForeignKey("subdistrict.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")  # the community office's number
    # when the office is open, in the office's own words ("周一至周五 8:30-17:30"); shown to residents with
    # the phone (a forgotten password, a query about points)
    office_hours: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # Optional expiry policy: points older than this many months lapse (first earned, first spent).
    points_expire_months: Mapped[int | None]
    # The public board (红榜): how names are masked (middle: 张*明, given: 张**, none), and whether the
    # board is frozen before an announcement (residents then see their points but not their place).
    board_mask: Mapped[str] = mapped_column(String(10), default="middle", server_default="middle")
    board_frozen: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Early in a month the board has only a few names: until this month has board_min_ranked ranked
    # residents (0: never), the board and the rankings page also show board_fallback -- last month's final
    # standings ("last_month") or the last 30 days ("rolling30"); rankings.services.fallback_span.
    board_min_ranked: Mapped[int] = mapped_column(default=10, server_default="10")
    board_fallback: Mapped[str] = mapped_column(String(12), default="last_month", server_default="last_month")
    # Points rules (DESIGN.md): an attendance worth more than award_ceiling points waits for the office's
    # approval; earn_cap_day / earn_cap_month (None: no cap) bound what one resident earns per local day and
    # month on every path (ledger.services.rules).
    award_ceiling: Mapped[int] = mapped_column(default=30, server_default="30")
    earn_cap_day: Mapped[int | None]
    earn_cap_month: Mapped[int | None]
    # Personal data retention: this many years after moving out, a resident's name, phone, ID tail, birth
    # year, PIN and card are erased (privacy.services.apply_retention); the ledger stays.
    retention_years: Mapped[int] = mapped_column(default=3, server_default="3")

    subdistrict: Mapped[Subdistrict] = relationship(back_populates="communities")

    __table_args__ = (
        UniqueConstraint("subdistrict_id", "name"),
        CheckConstraint("award_ceiling > 0", name="award_ceiling_positive"),
        CheckConstraint("earn_cap_day IS NULL OR earn_cap_day > 0", name="cap_day_positive"),
        CheckConstraint("earn_cap_month IS NULL OR earn_cap_month > 0", name="cap_month_positive"),
    )


class Grid(db.Model):  # 网格
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    name: Mapped[str] = mapped_column(String(80))
    worker_name: Mapped[str] = mapped_column(String(40), default="")  # 网格员
    worker_phone: Mapped[str] = mapped_column(String(20), default="")

    buildings: Mapped[list["Building"]] = relationship(back_populates="grid")

    __table_args__ = (UniqueConstraint("community_id", "name"),)


class Building(db.Model):  # 楼栋
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))  # e.g. "3号楼"
    # 楼栋长: a resident of this community who leads the building.
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", use_alter=True), index=True)

    grid: Mapped[Grid | None] = relationship(back_populates="buildings")
    leader: Mapped["Resident | None"] = relationship(foreign_keys=[leader_id])
    households: Mapped[list["Household"]] = relationship(
        back_populates="building", order_by="(Household.unit, Household.room)"
    )

    __table_args__ = (UniqueConstraint("community_id", "name"),)


class Household(db.Model):  # 户: building + unit + room; star ratings are per household
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    unit: Mapped[str] = mapped_column(String(10))  # 单元, e.g. "1"
    room: Mapped[str] = mapped_column(String(10))  # 房号, e.g. "301"
    note: Mapped[str] = mapped_column(Text, default="")

    building: Mapped[Building] = relationship(back_populates="households")
    residents: Mapped[list["Resident"]] = relationship(back_populates="household", order_by="Resident.id")

    __table_args__ = (
        UniqueConstraint("community_id", "building_id", "unit", "room"),
        Index("ix_household_community_room", "community_id", "room"),  # a search by room number alone ("301")
    )

    @property
    def address(self) -> str:
        return household_address(self.building.name, self.unit, self.room)


class Resident(db.Model):  # 居民
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    relation: Mapped[str] = mapped_column(String(20), default="")  # 与户主关系: 户主, 配偶, 子女 …
    phone: Mapped[str] = mapped_column(String(20), default="")  # may be shared within a family
    # Last four characters of the ID card, only to confirm identity at the counter or desk.
    id_tail: Mapped[str] = mapped_column(String(4), default="")
    birth_year: Mapped[int | None]
    moved_in_on: Mapped[date | None]
    moved_out_on: Mapped[date | None]  # set when the resident leaves; records are never deleted
    # Printed member cards carry this number; reissuing a lost card bumps it and voids the old one.
    card_serial: Mapped[int] = mapped_column(default=1, server_default="1")
    # 4-6 digit PIN the counter asks for with a printed card; locked after repeated failures.
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    pin_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    pin_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hide_from_board: Mapped[bool] = mapped_column(default=False, server_default=sa_false())  # opted out of 红榜
    # set when the retention rule erased the personal fields (the name is then a placeholder)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    household: Mapped[Household] = relationship(back_populates="residents")
    community: Mapped[Community] = relationship()

    __table_args__ = (
        # the same name twice in one household is almost always a double entry
        UniqueConstraint("community_id", "household_id", "name"),
        CheckConstraint("moved_out_on IS NULL OR moved_in_on IS NULL OR moved_out_on >= moved_in_on",
                        name="move_dates_ordered"),
        Index("ix_resident_community_name", "community_id", "name"),
        Index("ix_resident_community_phone", "community_id", "phone"),
        # the few who keep their names off public boards, read with every public board
        Index("ix_resident_hidden", "community_id", sqlite_where=text("hide_from_board = 1"),
              postgresql_where=text("hide_from_board")),
    )

    @property
    def is_active(self) -> bool:
        return self.moved_out_on is None


# consulted by many services in one request: kept loaded for the unit of work (core.identity)
identity.keep(Community, Building)
