"""The one clock the web and CLI layers read; services take `now` as an argument.

The app carries its clock in `app.extensions["pointsapp.clock"]` (a SystemClock unless a test or a
script installs another), so tests fix the time and move it instead of patching datetime:

    clock = FixedClock(datetime(2026, 11, 25, 2, 30, tzinfo=UTC)); install(app, clock); clock.advance(minutes=10)
"""
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, has_app_context

KEY = "pointsapp.clock"


class SystemClock:
    """The machine's clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move; for tests and reproducible scripts."""

    def __init__(self, at: datetime):
        self.set(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **parts) -> datetime:
        self._at += delta if delta is not None else timedelta(**parts)
        return self._at


SYSTEM = SystemClock()


def init_app(app: Flask, clock=None) -> None:
    app.extensions[KEY] = clock or SYSTEM


def install(app: Flask, clock) -> object:
    """Put `clock` on the app and return the one it replaces."""
    previous = app.extensions.get(KEY, SYSTEM)
    app.extensions[KEY] = clock
    return previous


def utcnow() -> datetime:
    """Now, in UTC, from the current app's clock (the system clock outside an app)."""
    if has_app_context():
        return current_app.extensions.get(KEY, SYSTEM).now()
    return SYSTEM.now()
