"""The one place the web and CLI layers read the time; services get `now` as an argument."""
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
