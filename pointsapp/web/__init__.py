"""HTML blueprints. Views parse input, call services with the actor and `now`, commit once."""
from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

from .. import sqlite
from ..extensions import babel, login_manager
from ..permissions import endpoint_allows


def init_web(app: Flask) -> None:
    from . import (
        admin,
        auth,
        checkin,
        city,
        errors,
        home,
        i18n,
        imports,
        lead,
        people,
        points,
        rankings,
        stars,
        store,
        volunteer,
    )

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(auth.load_user)
    login_manager.login_message = None
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: None,
                   default_translation_directories=str(app.root_path + "/translations"))
    i18n.init_app(app)
    for module in (auth, home, admin, people, imports, city, i18n, points, checkin, lead, volunteer, store, rankings, stars):
        app.register_blueprint(module.bp)
    errors.init_app(app)

    # static files are public; every other endpoint must declare a policy
    app.view_functions["static"].access_policy = "public"

    @app.before_request
    def _guard():
        sqlite.set_read_only(request.method in ("GET", "HEAD", "OPTIONS"))
        if request.endpoint is None:  # 404s and 405s are answered by Flask
            return None
        view = app.view_functions.get(request.endpoint)
        verdict = endpoint_allows(getattr(view, "access_policy", None), current_user, request.view_args or {})
        if verdict is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not verdict:
            abort(403)
        return None
