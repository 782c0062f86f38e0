"""Static files under versioned URLs, cached by browsers for a year.

Every `url_for('static', filename=…)` (templates and code alike) gets `?v=` and the first 12 hex digits
of the SHA-256 of the file's content: /static/css/app.css?v=3f2a9c01d4e7. A URL then names one content,
so its response may be kept for a year without asking again (`Cache-Control: public, max-age=31536000,
immutable`); a changed file gets a new hash, hence a new URL, and the next page loads it. A request without
`v`, or with a `v` that is not the file's current hash (a page cached from before a deploy), gets the file
with a short max-age (10 minutes) instead: it may be stale tomorrow.

Each file is hashed once per process, when a URL for it is first built (a deploy restarts the workers;
under `flask run --debug` the hash follows the file's modification time, so an edited stylesheet shows at
the next reload). The query-string form keeps the files' names on disk, so nginx can serve /static/ itself
(docs/deploy.md) and hand the same headers to `?v=` requests. The CSP (core/security_headers.py) names
'self', which a query string does not change.
"""
import hashlib
import os
import threading

from flask import Flask, current_app, request
from werkzeug.security import safe_join

VERSION_ARG = "v"
HASH_CHARS = 12
IMMUTABLE_MAX_AGE = 365 * 24 * 3600  # a year, the longest RFC 9111 suggests
SHORT_MAX_AGE = 10 * 60
KEY = "pointsapp.static_versions"


class StaticVersions:
    """filename (as in url_for) -> the content hash; computed once, or again when the file changed (debug)."""

    def __init__(self, folder: str, follow_changes: bool = False):
        self.folder = folder
        self.follow_changes = follow_changes
        self._known: dict[str, tuple[tuple[int, int] | None, str | None]] = {}
        self._lock = threading.Lock()

    def of(self, filename: str | None) -> str | None:
        """The version of a file under the static folder, or None when there is no such file."""
        if not filename:
            return None
        known = self._known.get(filename)
        if known is not None and not self.follow_changes:
            return known[1]
        path = safe_join(self.folder, filename)  # None for ../ and absolute names
        try:
            stat = os.stat(path) if path else None
        except OSError:
            stat = None
        if stat is None or not os.path.isfile(path):
            return None  # not remembered: the file may appear later
        stamp = (stat.st_mtime_ns, stat.st_size)
        if known is not None and known[0] == stamp:
            return known[1]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                digest.update(block)
        version = digest.hexdigest()[:HASH_CHARS]
        with self._lock:
            self._known[filename] = (stamp, version)
        return version

    def forget(self) -> None:
        with self._lock:
            self._known.clear()


def versions() -> StaticVersions:
    return current_app.extensions[KEY]


def _add_version(endpoint: str, values: dict) -> None:
    """url_defaults: a static URL carries its file's hash (unless the caller gave a `v`)."""
    if endpoint == "static" and VERSION_ARG not in values:
        version = versions().of(values.get("filename"))
        if version:
            values[VERSION_ARG] = version


def _cache_headers(response):
    """A year and `immutable` for a static file asked for by its current hash; a short max-age otherwise."""
    if request.endpoint != "static" or response.status_code not in (200, 206, 304):
        return response
    filename = (request.view_args or {}).get("filename")
    asked = request.args.get(VERSION_ARG)
    cache = response.cache_control
    cache.public = True
    if asked and asked == versions().of(filename):
        cache.max_age = IMMUTABLE_MAX_AGE
        cache.immutable = True
    else:
        cache.max_age = SHORT_MAX_AGE
        cache.immutable = False
    cache.no_cache = None
    return response


def init_app(app: Flask) -> None:
    app.extensions[KEY] = StaticVersions(app.static_folder, follow_changes=app.debug)
    app.url_defaults(_add_version)
    app.after_request(_cache_headers)


__all__ = ["IMMUTABLE_MAX_AGE", "SHORT_MAX_AGE", "VERSION_ARG", "StaticVersions", "init_app", "versions"]
