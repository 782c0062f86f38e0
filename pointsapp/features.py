"""The one place that knows every feature: their models (so the tables are registered), blueprints
and commands. Features never import this module; the app factory does."""
import importlib

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

from pointsapp.core import api, sqlite
from pointsapp.core.extensions import babel, login_manager
from pointsapp.core.permissions import endpoint_allows

FEATURES = ("tree", "accounts", "audit", "imports", "catalogue", "volunteering", "ledger", "store", "rankings",
            "recognition", "queries", "claims", "deductions", "groups", "integrations")


# modules that connect to another feature's signals when imported
SUBSCRIBERS = ("pointsapp.rankings.services",  # ledger.posted -> earning totals
               "pointsapp.deductions.services",  # ledger.posted -> owed points taken from the next earning
               "pointsapp.recognition.services.stars",  # deductions.changed -> star results on notice
               "pointsapp.integrations.services.webhooks")  # the source services' signals -> the outbox


def load_features() -> None:
    """Import every feature's models (their tables join the shared metadata: Alembic, tests) and the
    modules that subscribe to other features' signals."""
    for feature in FEATURES:
        importlib.import_module(f"pointsapp.{feature}.models")
    for module in SUBSCRIBERS:
        importlib.import_module(module)


def init_web(app: Flask) -> None:
    from pointsapp.accounts import views as auth
    from pointsapp.audit import views as audit
    from pointsapp.catalogue import views as catalogue
    from pointsapp.claims import views as claims
    from pointsapp.core import error_pages as errors
    from pointsapp.deductions import views as deductions
    from pointsapp.groups import views as groups
    from pointsapp.home import i18n
    from pointsapp.home import views as home
    from pointsapp.imports import views as imports
    from pointsapp.integrations.views import docs as api_reference
    from pointsapp.integrations.views import tokens as api_tokens
    from pointsapp.integrations.views import webhooks
    from pointsapp.ledger import views as points
    from pointsapp.queries import views as queries
    from pointsapp.rankings import views as rankings
    from pointsapp.recognition import views as stars
    from pointsapp.reports import views as reports
    from pointsapp.store import views as store
    from pointsapp.tree.views import admin, city, people, privacy
    from pointsapp.volunteering.views import checkin, lead, office, volunteer

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(auth.load_user)
    login_manager.login_message = None
    _init_api(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: None,
                   default_translation_directories=str(app.root_path + "/translations"))
    i18n.init_app(app)
    for module in (auth, home, admin, people, imports, city, i18n, points, checkin, lead, office, volunteer, store,
                   rankings, stars, audit, privacy, queries, catalogue, claims, deductions, groups, reports, api_tokens, webhooks,
                   api_reference):
        app.register_blueprint(module.bp)
    errors.init_app(app)

    # static files are public; every other endpoint must declare a policy
    app.view_functions["static"].access_policy = "public"

    @app.before_request
    def _guard():
        sqlite.set_read_only(request.method in ("GET", "HEAD", "OPTIONS"))
        # 404s and 405s are answered by Flask; a static file asks nothing of the user (not even who she is: the
        # login-session query cost a static file 3.0 of its 3.7 ms). Every other endpoint loads her here, before
        # the view puts anything in the session (Flask-Login's session protection reads a session with content
        # but no login as a stolen one, and clears it).
        if request.endpoint in (None, "static"):
            return None
        view = app.view_functions.get(request.endpoint)
        verdict = endpoint_allows(getattr(view, "access_policy", None), current_user, request.view_args or {})
        if verdict is None:
            if api.is_api_request():
                raise api.Unauthenticated()
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not verdict:
            abort(403)
        return None

    api.finish_init(app)  # after the guard: only a request that may run claims its Idempotency-Key


def api_blueprints() -> list:
    """Every feature's API operations: the `blueprints` of its api module, if it has one."""
    found = []
    for feature in FEATURES:
        try:
            module = importlib.import_module(f"pointsapp.{feature}.api")
        except ModuleNotFoundError as exc:
            if exc.name != f"pointsapp.{feature}.api":
                raise
            continue
        found.extend(module.blueprints)
    return found


def _init_api(app: Flask) -> None:
    from pointsapp.integrations.services import idempotency, tokens
    api.init_app(app, api.Hooks(authenticate=tokens.authenticate, claim=idempotency.claim,
                                complete=idempotency.complete), api_blueprints())


def register_cli(app: Flask) -> None:
    """Each feature's commands (its cli module's `commands`) under `flask --app pointsapp …`."""
    for feature in ("backups", "demo", "imports", "integrations", "jobs", "ledger", "tree"):
        for command in importlib.import_module(f"pointsapp.{feature}.cli").commands:
            app.cli.add_command(command)
