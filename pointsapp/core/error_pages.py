"""Every failure a person can cause gets a page in their language, never a bare 500."""
from flask import Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, SecurityError

from pointsapp.core import sqlite
from pointsapp.core.api import domain_error_response, error_response, http_error_response, is_api_request
from pointsapp.core.errors import Busy, DomainError
from pointsapp.core.hosts import refused_host_page
from pointsapp.core.locks import is_busy, is_duplicate
from pointsapp.core.uow import abandon, settle


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def busy_page(exc: BaseException | None = None):
    """The answer to a request that found its rows (or SQLite's write lock) taken: nothing was saved, try
    again. Rendered with reads only (on SQLite, DEFERRED: they must not queue for the write lock again)."""
    abandon()
    sqlite.set_read_only(True)
    busy = exc if isinstance(exc, Busy) else Busy()
    try:
        response = _page(busy.http_status, _("Sorry"), str(busy))
    except DBAPIError as again:
        if not is_busy(again):
            raise
        abandon()  # even the page's reads had to wait: answer without the page around it
        response = f"<!doctype html><meta charset=utf-8><p>{escape(str(busy))}</p>", busy.http_status
    body, status = response
    return body, status, {"Retry-After": "2"}


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        if is_api_request():
            settle(exc)
            return domain_error_response(exc)
        if isinstance(exc, Busy):
            return busy_page(exc)
        settle(exc)  # rolled back, or committed when the refusal's record must stay
        return _page(exc.http_status, _("Sorry"), str(exc))

    @app.errorhandler(DBAPIError)
    def _database(exc: DBAPIError):
        if is_busy(exc):  # a deadlock or a lock wait that ran out, wherever it surfaced
            app.logger.warning("busy: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
            if is_api_request():
                abandon()
                return domain_error_response(Busy())
            return busy_page()
        if is_duplicate(exc):  # a twin request (a double click) wrote the same row a moment earlier
            app.logger.warning("duplicate: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
            abandon()
            if is_api_request():
                return error_response(409, "conflict", _("Someone made the same change a moment ago. "
                                                          "Please reload and check."))
            return _page(409, _("Sorry"), _("Someone made the same change a moment ago. "
                                            "Please reload the page and check."))
        return _unexpected(exc)

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        if is_api_request():
            return error_response(400, "csrf_failed", _("The page had been open too long. Please reload it and "
                                                        "try again."))
        flash(_("The page had been open too long or was sent twice. Please try again."), "error")
        target = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else None
        return redirect(target or url_for("home.index"))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if is_busy(getattr(exc, "original_exception", None)):  # (an error Flask wrapped as a 500)
            if is_api_request():
                abandon()
                return domain_error_response(Busy())
            return busy_page()
        if is_api_request():
            return http_error_response(exc)
        if isinstance(exc, SecurityError):  # a Host header not in TRUSTED_HOSTS: no URL can be built
            return refused_host_page()
        messages = {
            400: _("The request could not be understood. Please go back and try again."),
            403: _("You do not have permission to open this page."),
            404: _("This page does not exist. It may have been moved."),
            405: _("This page cannot be used this way."),
            413: _("The file is too large. Please upload a smaller file."),
            429: _("Too many attempts. Please wait a few minutes and try again."),
        }
        code = exc.code or 500
        return _page(code, _("Sorry"), messages.get(code, _("Something went wrong. Please try again.")))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        abandon()
        if app.config.get("TESTING") and not app.config.get("FRIENDLY_500_IN_TESTS"):
            raise exc  # let tests see the real error
        app.logger.exception("unhandled error")
        if is_api_request():
            return error_response(500, "internal_error")
        return _page(500, _("Sorry"), _("Something went wrong on our side. Please try again; "
                                        "if it keeps happening, tell the community office."))
