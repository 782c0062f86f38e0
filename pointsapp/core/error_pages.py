"""Every failure a person can cause gets a page in their language, never a bare 500."""
from flask import Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from pointsapp.core.errors import DomainError
from pointsapp.core.uow import abandon, settle


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        settle(exc)  # rolled back, or committed when the refusal's record must stay
        return _page(exc.http_status, _("Sorry"), str(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        flash(_("The page had been open too long or was sent twice. Please try again."), "error")
        target = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else None
        return redirect(target or url_for("home.index"))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
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
        return _page(500, _("Sorry"), _("Something went wrong on our side. Please try again; "
                                        "if it keeps happening, tell the community office."))
