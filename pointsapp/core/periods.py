"""Calendar periods in China time (UTC+8, no daylight saving), returned as UTC instants."""
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import InvalidInput
from pointsapp.core.localtime import LOCAL_TZ, local_date  # noqa: F401  (local_date: re-exported)

CHINA = LOCAL_TZ  # the configured TIMEZONE (Asia/Shanghai unless set)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """"2026-11" -> [2026-11-01 00:00 CST, 2026-12-01 00:00 CST) in UTC. Raises invalid_month."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=CHINA)
        end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=CHINA)  # 9999-12 has no end: refused too
    except (ValueError, TypeError) as exc:
        raise InvalidInput(_l("Choose a month like 2026-11."), code="invalid_month") from exc
    return start.astimezone(UTC), end.astimezone(UTC)


def months_between(first: datetime, last: datetime) -> list[str]:
    """Month labels from last back to first, newest first."""
    a, b = first.astimezone(CHINA), last.astimezone(CHINA)
    out, y, m = [], b.year, b.month
    while (y, m) >= (a.year, a.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out



def period_bounds(period: str) -> tuple[datetime, datetime] | None:
    """A period key as rankings and star evaluations write it ("Y2026", "Q2026-4", "M2026-11", in China time)
    -> its [start, end) in UTC; None for "A" (all time). Raises invalid_period."""
    try:
        if period == "A":
            return None
        if period[:1] == "M":
            return month_bounds(period[1:])
        if period[:1] == "Y" and len(period) == 5:
            year = int(period[1:])
            first, months = 1, 12
        elif period[:1] == "Q" and len(period) == 7 and period[5] == "-" and period[6] in "1234":
            year, quarter = int(period[1:5]), int(period[6])
            first, months = 3 * quarter - 2, 3
        else:
            raise ValueError(period)
        start = datetime(year, first, 1, tzinfo=CHINA)
        last = first + months  # 13 at most: the next year's January
        end = datetime(year + (last > 12), (last - 1) % 12 + 1, 1, tzinfo=CHINA)
    except (ValueError, TypeError, InvalidInput) as exc:
        raise InvalidInput(_l("Unknown period."), code="invalid_period") from exc
    return start.astimezone(UTC), end.astimezone(UTC)
