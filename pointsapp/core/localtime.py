"""Local time: the one zone (config TIMEZONE, default Asia/Shanghai) in which days, weeks, months
and years begin, and the one path by which a stored UTC instant becomes a date a person reads."""
import os
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

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
