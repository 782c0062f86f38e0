"""Log in, log out, activate an account, change one's password, see and end one's logged-in devices."""
import contextlib
import logging
import math
import secrets

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required, login_user, logout_user

from pointsapp.accounts import services as accounts
from pointsapp.accounts.forms import ActivateForm, ChangePasswordForm, EmptyForm, LoginForm
from pointsapp.accounts.models import User
from pointsapp.accounts.services import sessions, throttle
from pointsapp.core.errors import DomainError
from pointsapp.core.permissions import AUTHENTICATED, PUBLIC, policy
from pointsapp.core.uow import after_commit, attempt, settle, unit_of_work
from pointsapp.core.validation import clean_phone
from pointsapp.core.web import actor, safe_path, utcnow
from pointsapp.privacy import services as privacy
from pointsapp.tree import services as tree

bp = Blueprint("auth", __name__)
bp.record_once(lambda state: throttle.init_app(state.app))
log = logging.getLogger(__name__)


def load_user(token: str):
    """Flask-Login loader: the cookie's id is a login session's token; one query finds the live session."""
    now = utcnow()
    user = sessions.find_session(token, now)
    if user is not None and sessions.needs_touch(user.login_session, now):
        session.modified = True  # the cookie goes out again, its expiry moved on with the row's (config.py)
        row = user.login_session
        # read now: the commit expires the row
        values = (row.id, user.id, row.created_at, row.absolute_expires_at,
                  sessions.SessionRules.from_config(current_app.config), now, row.is_kept)
        after_commit(lambda: _touch(*values))
    return user


def _touch(*values) -> None:
    """Its own small unit of work once the request's has committed (a read-only request holds no write lock
    then, and a busy database costs this touch, never the page); a failure only waits for the next one."""
    try:
        with unit_of_work():
            sessions.touch(*values)
    except Exception:  # noqa: BLE001 - best effort: the session stays valid until its old expires_at
        log.warning("could not record the use of login session %s", values[0], exc_info=True)


def _safe_next(target: str | None) -> str:
    return safe_path(target, url_for("home.index"))


def _wait_text(seconds: float) -> str:
    if seconds < 60:
        n = max(1, math.ceil(seconds))
        return ngettext("%(num)d second", "%(num)d seconds", n)
    n = math.ceil(seconds / 60)
    return ngettext("%(num)d minute", "%(num)d minutes", n)


def _throttled(kind: str, phone: str):
    """None when this try may go ahead (it is counted), else the page that says how long to wait."""
    wait = throttle.login_throttle().try_once(kind, clean_phone(phone), request.remote_addr or "",
                                              utcnow().timestamp())
    if not wait:
        return None
    flash(_("Too many wrong attempts. Please wait %(wait)s and try again.", wait=_wait_text(wait)), "error")
    return wait


# What survives the fresh session at login: the language, and a check-in scan waiting for the login.
CARRIED_OVER = ("lang", "scan")


def start_session(user: User, keep: bool = True) -> None:
    """A fresh session at login: drop everything else the browser brought (no fixation), and record this
    device as a login session on the server. `keep`: the box "keep me logged in on this phone"."""
    kept = {key: session[key] for key in CARRIED_OVER if key in session}
    session.clear()
    session.update(kept)
    session["nonce"] = secrets.token_urlsafe(16)
    sessions.start_session(user, utcnow(), user_agent=request.user_agent.string, ip=request.remote_addr,
                           rules=sessions.SessionRules.from_config(current_app.config), kept=keep)
    # A resident's phone is hers: the cookie survives closing the browser or WeChat, so she need not log in
    # at every scan (the server still ends the session by its rule, and she can end it from any device).
    # A counter PC is shared: a staff cookie ends with the browser, as does one on a borrowed phone (box unticked).
    session.permanent = sessions.is_long(user, keep)
    login_user(user)


def _too_many(template: str, form, wait: float):
    response = current_app.make_response((render_template(template, form=form, **_login_rules()), 429))
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


@bp.route("/login", methods=["GET", "POST"])
@policy(PUBLIC)
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        wait = _throttled("login", form.phone.data)
        if wait:
            return _too_many("auth/login.html", form, wait)
        try:
            user = accounts.authenticate(form.phone.data, form.password.data, utcnow())
        except DomainError as exc:
            settle(exc)
            flash(str(exc), "error")
        else:
            throttle.login_throttle().succeeded("login", clean_phone(form.phone.data), request.remote_addr or "")
            start_session(user, keep=bool(form.remember.data))
            return redirect(_safe_next(form.next.data))
    return render_template("auth/login.html", form=form, **_login_rules()), 200 if request.method == "GET" else 422


def _login_rules() -> dict:
    """The numbers the login page promises (the server's session rules)."""
    config = current_app.config
    return {"keep_days": int(config["RESIDENT_SESSION_IDLE_DAYS"]), "staff_hours": int(config["STAFF_SESSION_IDLE_HOURS"])}


@bp.route("/forgot-password")
@policy(PUBLIC)
def forgot_password():
    """忘记密码: what to do, in plain words (the office prints a new activation slip), and where the office is."""
    return render_template("auth/forgot.html", offices=tree.office_contacts())


@bp.route("/logout", methods=["POST"])
@policy(PUBLIC)
def logout():
    user = actor()
    if user.is_authenticated and user.login_session is not None:
        with contextlib.suppress(DomainError):  # already ended elsewhere: logging out is done either way
            sessions.end_session(user, user.login_session.id, utcnow(), "logout")
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/activate", methods=["GET", "POST"])
@policy(PUBLIC)
def activate():
    form = ActivateForm()
    if form.validate_on_submit():
        wait = _throttled("activate", form.phone.data)
        if wait:
            return _too_many("auth/activate.html", form, wait)

        def work():
            user = accounts.activate(form.phone.data, form.code.data, form.password.data, utcnow())
            privacy.record_consent(user, utcnow())
            return user

        ok, user = attempt(work)
        if ok:
            throttle.login_throttle().succeeded("activate", clean_phone(form.phone.data), request.remote_addr or "")
            start_session(user, keep=bool(form.remember.data))
            flash(_("Your password is set. Welcome!"), "success")
            return redirect(url_for("home.index"))
    return render_template("auth/activate.html", form=form, **_login_rules()), 200 if request.method == "GET" else 422


@bp.route("/password", methods=["GET", "POST"])
@policy(AUTHENTICATED)
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = actor()
        ok, _r = attempt(lambda: accounts.change_own_password(user, form.old.data, form.new.data, utcnow()),
                        _("Your password has been changed. Your other devices are logged out."))
        if ok:
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form)


@bp.route("/account/sessions")
@policy(AUTHENTICATED)
@login_required
def devices():
    user = actor()
    return render_template("auth/sessions.html", rows=sessions.live_sessions(user, utcnow()),
                           current=user.login_session, form=EmptyForm(), device_name=device_name)


def device_name(stored: str) -> str:
    """A stored "Chrome on Android" in the reader's language (brand names stay, the apps people know by a
    Chinese name get it: 微信, QQ浏览器 …)."""
    browser, on, system = (stored or "").partition(" on ")
    names = {"WeChat": _("WeChat"), "QQ Browser": _("QQ Browser"), "UC Browser": _("UC Browser"),
             "Huawei Browser": _("Huawei Browser"), "Xiaomi Browser": _("Xiaomi Browser"), "Quark": _("Quark"),
             "Baidu": _("Baidu"), "HarmonyOS": _("HarmonyOS")}
    browser, system = names.get(browser, browser), names.get(system, system)
    return _("%(browser)s on %(system)s", browser=browser, system=system) if on else names.get(stored, stored)


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@policy(AUTHENTICATED)
@login_required
def end_device(session_id: int):
    user = actor()
    if form_ok():
        attempt(lambda: sessions.end_session(user, session_id, utcnow(), "device"), _("That device is logged out."))
    return redirect(url_for(".devices"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@policy(AUTHENTICATED)
@login_required
def end_other_devices():
    user = actor()
    if form_ok():
        attempt(lambda: sessions.end_other_sessions(user, utcnow(), "device"), _("Your other devices are logged out."))
    return redirect(url_for(".devices"))


def form_ok() -> bool:
    return EmptyForm().validate_on_submit()
