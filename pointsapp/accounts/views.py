"""Log in, log out, activate an account, change one's password."""
import secrets

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from pointsapp.accounts import services as accounts
from pointsapp.accounts.forms import ActivateForm, ChangePasswordForm, LoginForm
from pointsapp.accounts.models import User
from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db, limiter
from pointsapp.core.permissions import AUTHENTICATED, PUBLIC, policy
from pointsapp.core.uow import attempt, settle
from pointsapp.core.validation import clean_phone
from pointsapp.core.web import actor, safe_path, utcnow
from pointsapp.privacy import services as privacy

bp = Blueprint("auth", __name__)


def load_user(session_id: str):
    """Flask-Login loader: "<id>:<session_version>", so a password change ends older sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version:
        return None
    return user


def _safe_next(target: str | None) -> str:
    return safe_path(target, url_for("home.index"))


def _account_key() -> str:
    return "login-account:" + clean_phone(request.form.get("phone", ""))


def _only_failures(response) -> bool:
    return response.status_code != 302  # a successful login redirects and does not count


# What survives the fresh session at login: the language, and a check-in scan waiting for the login.
CARRIED_OVER = ("lang", "scan")


def start_session(user: User) -> None:
    """A fresh session at login: drop everything else the browser brought (no fixation)."""
    kept = {key: session[key] for key in CARRIED_OVER if key in session}
    session.clear()
    session.update(kept)
    session["nonce"] = secrets.token_urlsafe(16)
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@policy(PUBLIC)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_only_failures)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_account_key,
               deduct_when=_only_failures)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.phone.data, form.password.data, utcnow())
        except DomainError as exc:
            settle(exc)
            flash(str(exc), "error")
        else:
            start_session(user)
            return redirect(_safe_next(form.next.data))
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/logout", methods=["POST"])
@policy(PUBLIC)
def logout():
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@policy(PUBLIC)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_only_failures)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], methods=["POST"], key_func=_account_key,
               deduct_when=_only_failures)
def activate():
    form = ActivateForm()
    if form.validate_on_submit():
        def work():
            user = accounts.activate(form.phone.data, form.code.data, form.password.data, utcnow())
            privacy.record_consent(user, utcnow())
            return user

        ok, user = attempt(work)
        if ok:
            start_session(user)
            flash(_("Your password is set. Welcome!"), "success")
            return redirect(url_for("home.index"))
    return render_template("auth/activate.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/password", methods=["GET", "POST"])
@policy(AUTHENTICATED)
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = actor()
        ok, _r = attempt(lambda: accounts.change_own_password(user, form.old.data, form.new.data, utcnow()),
                        _("Your password has been changed."))
        if ok:
            start_session(user)  # the version changed: carry this device over to the new session
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form)
