"""Helpers the views share: the unit of work and the actor."""
from collections.abc import Callable
from typing import TypeVar

from flask import flash
from flask_login import current_user

from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db

T = TypeVar("T")


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


__all__ = ["actor", "commit", "utcnow"]
