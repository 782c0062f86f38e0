"""The headers every response carries (issue 11, finding 6), set in one after_request.

- Content-Security-Policy: scripts and styles only from our own static files (no inline script, no
  style="" attribute: templates and static/js hold none; an inline script would need the request's
  nonce, `csp_nonce()` in templates), images also from data: and blob: (QR codes, the camera
  scanner's snapshots), media from blob:/mediastream: (the scanner's video), no framing, no <base>,
  forms post only here, no plugins. tests/browser/test_csp.py opens every main page and fails on any
  violation.
- X-Frame-Options DENY (for browsers older than frame-ancestors), X-Content-Type-Options nosniff,
  Referrer-Policy (no-referrer where the URL carries a check-in or member code), Permissions-Policy
  (the camera for this site only; the counter's and the lead's scanners need it).
- Strict-Transport-Security only on a request that came over HTTPS (request.is_secure, which behind
  nginx needs PROXY_COUNT so that ProxyFix believes X-Forwarded-Proto).
- Cache-Control: no-store on every response to a logged-in user and every page that can show a
  person's data, so a shared family phone's back button or a proxy keeps none of it; static files and
  the public board may be cached.
- The development server names no versions (werkzeug says "Werkzeug/3.x Python/3.y" otherwise);
  gunicorn's header is "gunicorn" without a version, and nginx drops an upstream's Server header.
"""
import secrets

from flask import Flask, g, request, session
from flask_login import current_user
from werkzeug.serving import WSGIRequestHandler

CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob: mediastream:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'; object-src 'none'")
PERMISSIONS = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000"  # a year; not includeSubDomains: the operator's other sites are not ours to decide
CACHEABLE_ENDPOINTS = {"static", "rankings.board", "home.icon"}  # public and free of personal data
CODE_ARGS = ("code",)  # /c/<code> and any ?code=: a check-in or member code must not leak in a Referer


def csp_nonce() -> str:
    """This request's script nonce (one per request, unguessable)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _carries_a_code() -> bool:
    return any(name in (request.view_args or {}) or name in request.args for name in CODE_ARGS)


def _personal() -> bool:
    """Could this response show somebody's data? Everything but static files and the public board that
    is answered to a logged-in user, or to a visitor whose session holds something (a pending scan)."""
    if request.endpoint in CACHEABLE_ENDPOINTS:
        return False
    return bool(current_user and current_user.is_authenticated) or bool(session)


def add_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP.format(nonce=csp_nonce()))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers["Referrer-Policy"] = "no-referrer" if _carries_a_code() else "strict-origin-when-cross-origin"
    headers.setdefault("Permissions-Policy", PERMISSIONS)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint not in ("static", "home.icon") and _personal():
        headers["Cache-Control"] = "no-store"
    return response


def _quiet_version(_handler) -> str:
    return "pointsapp"


def init_app(app: Flask) -> None:
    app.add_template_global(csp_nonce)
    app.after_request(add_headers)
    # `flask run` (make run) serves with werkzeug's handler, which would name werkzeug's and Python's versions
    WSGIRequestHandler.version_string = _quiet_version


__all__ = ["CSP", "add_headers", "csp_nonce", "init_app"]
