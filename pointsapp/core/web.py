"""Helpers the views share: the unit of work and the actor."""
from typing import TypeVar
from urllib.parse import urlsplit

from flask_login import current_user

from pointsapp.core.clock import utcnow

T = TypeVar("T")


def safe_path(target: str | None, fallback: str) -> str:
    """target when it is a path on this site, else fallback (no open redirects).

    Browsers read "\\" as "/" and drop tabs and newlines, so "/\\evil.example" would leave the site; a form
    may have turned a tab into a space on the way (core.text), so no whitespace is taken either."""
    if target and target.isprintable() and "\\" not in target and not any(c.isspace() for c in target):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return fallback


def actor():
    """The logged-in user as services expect it (the real object, not the proxy)."""
    return current_user._get_current_object()


__all__ = ["actor", "safe_path", "utcnow"]
