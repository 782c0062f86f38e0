"""The catalogue's rules, in one place: what a claim of an item is worth, which items are open on a day,
and the window a per-resident limit counts in (China time). Claims, deductions, activities and the pages
all ask here."""
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from pointsapp.catalogue.models import CatalogueItem, ItemKind, LimitPeriod
from pointsapp.core.extensions import db
from pointsapp.core.localtime import LOCAL_TZ, local_date
from pointsapp.core.lookup import get_row


def points_for(item: CatalogueItem, minutes: int | None) -> int:
    """Fixed points, or whole points per full hour of `minutes` (rounded down, capped by hourly_cap)."""
    if not item.per_hour:
        return item.points
    earned = max(0, int(minutes or 0)) * item.points // 60
    return min(earned, item.hourly_cap) if item.hourly_cap else earned


def is_open_on(item: CatalogueItem, day: date) -> bool:
    """Current (neither superseded nor retired) and within its active dates on this China-time day."""
    return (item.is_current and (item.active_from is None or item.active_from <= day)
            and (item.active_until is None or day <= item.active_until))


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)


def limit_window(item: CatalogueItem, moment: datetime) -> tuple[datetime, datetime] | None:
    """The [start, end) in UTC of the item's limit period around `moment` (China-time day, Monday-based week,
    month, year), or None when the item has no limit."""
    if not item.limit_period:
        return None
    day = local_date(moment)
    if item.limit_period == LimitPeriod.DAY:
        first, last = day, day + timedelta(days=1)
    elif item.limit_period == LimitPeriod.WEEK:
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
    elif item.limit_period == LimitPeriod.MONTH:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
    else:
        first, last = day.replace(month=1, day=1), day.replace(year=day.year + 1, month=1, day=1)
    return _local_midnight(first), _local_midnight(last)


def current_items(community_id: int, kind: str | None = None, *, claimable: bool | None = None) -> list[CatalogueItem]:
    """The community's current catalogue (latest versions, not retired), by kind, category and title."""
    stmt = select(CatalogueItem).where(CatalogueItem.community_id == community_id,
                                       CatalogueItem.superseded_at.is_(None), CatalogueItem.retired_at.is_(None))
    if kind is not None:
        stmt = stmt.where(CatalogueItem.kind == str(ItemKind(kind)))
    if claimable is not None:
        stmt = stmt.where(CatalogueItem.claimable.is_(claimable))
    return list(db.session.scalars(stmt.order_by(CatalogueItem.kind, CatalogueItem.category, CatalogueItem.title,
                                                 CatalogueItem.id)))


def item_in(community_id: int, item_id) -> CatalogueItem | None:
    """One version of one of the community's items, or None (another community's, malformed, absent)."""
    item = get_row(CatalogueItem, item_id)
    return item if item is not None and item.community_id == community_id else None
