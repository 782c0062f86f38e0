"""Local time: the one zone (config TIMEZONE, default Asia/Shanghai) in which days, weeks, months
and years begin, and the one path by which a stored UTC instant becomes a date a person reads."""
import os
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import InvalidInput

# Read once from the environment, as the config does (BABEL_DEFAULT_TIMEZONE): period boundaries are
# stored in earning totals, so the zone is a deployment setting, not something a request changes.
LOCAL_TZ = ZoneInfo(os.environ.get("TIMEZONE", "Asia/Shanghai"))


def to_local(moment: datetime) -> datetime:
    """A UTC (or any aware) instant as local wall-clock time, still aware."""
    return moment.astimezone(LOCAL_TZ)


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def local_naive(moment: datetime | None) -> datetime | None:
    """For form fields that show and take local wall-clock time without a zone."""
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None) if moment else None


FIRST_YEAR, LAST_YEAR = 1900, 2100  # dates people type lie here (0001-01-01 would overflow in UTC)


def from_local_naive(local: datetime | None) -> datetime | None:
    """A naive date-time typed by a person, read as local time, as UTC. Raises invalid_date for a
    year outside 1900-2100."""
    if not local:
        return None
    if not FIRST_YEAR <= local.year <= LAST_YEAR:
        raise InvalidInput(_l("Please enter a date between 1900 and 2100."), code="invalid_date")
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def format_local(moment: datetime | date | None, fmt: str = "%m-%d %H:%M", empty: str = "—") -> str:
    """The text shown to people for an instant: always converted to local time first."""
    if moment is None:
        return empty
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("format_local needs an aware datetime (stored instants are UTC)")
        moment = moment.astimezone(LOCAL_TZ)
    return moment.strftime(fmt)


# Dates in the reader's language (CLDR skeletons through Babel): 2026年11月25日 / Nov 25, 2026.
# Templates use these (filters `dt`, `month_label`, `period_label`) instead of strftime patterns, which
# would print the same digits or the same 年/月 to every reader.
SKELETONS = {"day": "yMMMd", "long_day": "yMMMMd", "short_day": "MMMd", "month": "yMMMM"}


def reader_locale() -> str:
    """The language of the page being rendered ("zh" outside a request: CLI, services)."""
    try:
        code = str(get_locale() or "zh")
    except RuntimeError:  # outside an app context
        code = "zh"
    return "zh" if code.startswith("zh") else code


def format_moment(moment: datetime | date | None, style: str = "when", empty: str = "—") -> str:
    """An instant or a date as the reader writes it, in local time. Styles: day (2026年11月25日 / Nov 25,
    2026), long_day (certificates), short_day (11月25日 / Nov 25), month, time (10:30), when (day and
    time), short_when (short day and time)."""
    if moment is None:
        return empty
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("format_moment needs an aware datetime (stored instants are UTC)")
        moment = moment.astimezone(LOCAL_TZ).replace(tzinfo=None)  # Babel would convert to UTC otherwise
    locale = reader_locale()
    time = f"{moment:%H:%M}" if isinstance(moment, datetime) else ""
    if style == "time":
        return time
    if style in ("when", "short_when"):
        day = format_skeleton(SKELETONS["day" if style == "when" else "short_day"], moment, locale=locale)
        return f"{day} {time}".strip()
    return format_skeleton(SKELETONS[style], moment, locale=locale)


def format_span(start: datetime, end: datetime, style: str = "short_when") -> str:
    """From start to end: the end's day only when it is another local day (a night watch 16:00 – 01:00 the
    next day reads 12月2日 16:00 – 12月3日 01:00, never as if it ended before it began)."""
    same_day = start.astimezone(LOCAL_TZ).date() == end.astimezone(LOCAL_TZ).date()
    return f"{format_moment(start, style)} – {format_moment(end, 'time' if same_day else 'short_when')}"


def format_month(month: str | None, empty: str = "—") -> str:
    """"2026-11" → 2026年11月 / November 2026; anything else is shown as it is."""
    try:
        year, mon = (int(x) for x in (month or "").split("-"))
        return format_skeleton(SKELETONS["month"], date(year, mon, 1), locale=reader_locale())
    except (ValueError, TypeError):
        return month or empty


def format_period(period: str) -> str:
    """A ranking period key in the reader's language: Y2026 → 2026年 / 2026, Q2026-4 → 2026年第4季度 /
    Q4 2026, M2026-11 → 2026年11月 / November 2026 ("A", all time, is the caller's to word)."""
    locale = reader_locale()
    try:
        year = int(period[1:5])
        if period[:1] == "Y":
            return format_skeleton("y", date(year, 1, 1), locale=locale)
        if period[:1] == "Q":
            return format_skeleton("yQQQ", date(year, 3 * int(period[6:]) - 2, 1), locale=locale)
        if period[:1] == "M":
            return format_skeleton(SKELETONS["month"], date(year, int(period[6:]), 1), locale=locale)
    except (ValueError, IndexError):
        pass
    return period
