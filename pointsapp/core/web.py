"""Helpers the views share: the unit of work and the actor."""
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from flask import flash
from flask_login import current_user

from pointsapp.core.clock import utcnow
from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db

T = TypeVar("T")


def safe_path(target: str | None, fallback: str) -> str:
    """target when it is a path on this site, else fallback (no open redirects).

    Browsers read "\\" as "/" and drop tabs and newlines, so "/\\evil.example" would leave the site."""
    if target and target.isprintable() and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return fallback


def actor():
    """The logged-in user as services expect it (the real object, not the proxy)."""
    return current_user._get_current_object()


def commit(action: Callable[[], T], success: str | None = None) -> tuple[bool, T | None]:
    """Run one unit of work: commit on success, roll back and flash the domain error otherwise."""
    try:
        result = action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return False, None
    except Exception:
        db.session.rollback()
        raise
    if success:
        flash(success, "success")
    return True, result


__all__ = ["actor", "commit", "safe_path", "utcnow"]
