"""The resident's side of check-in: scan → /c/<code> → (log in) → 确认签到 → 签到成功.

GET never changes anything (chat apps prefetch links): the scan is remembered in the session for
a few minutes, so it survives the login even if the code on the screen has rotated meanwhile.
"""
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.permissions import AUTHENTICATED, PUBLIC, policy
from pointsapp.core.uow import settle
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.services import posting as ledger
from pointsapp.volunteering.models import Activity, Attendance
from pointsapp.volunteering.services import checkin

bp = Blueprint("checkin", __name__)

SCAN_GRACE = timedelta(minutes=5)  # how long a scan waits for the login and the confirm tap


def _problem(message: str, status: int = 400):
    return render_template("checkin/problem.html", message=message), status


@bp.route("/c/<code>")
@policy(PUBLIC)
def scan(code: str):
    now = utcnow()
    try:
        activity = checkin.scanned_activity(current_app.secret_key, code, now)
    except DomainError as exc:
        return _problem(str(exc), 410 if exc.code == "code_expired" else 400)
    session["scan"] = {"activity_id": activity.id, "at": now.timestamp()}
    if not current_user.is_authenticated:
        session["login_hint"] = _("Log in to finish checking in to “%(title)s”.", title=activity.title)
        return redirect(url_for("auth.login", next=url_for(".confirm")))
    return redirect(url_for(".confirm"))


def _pending_scan(now: datetime):
    scan_ = session.get("scan")
    if not scan_:
        return None, None
    scanned_at = datetime.fromtimestamp(scan_["at"], UTC)
    if now - scanned_at > SCAN_GRACE:
        return None, scanned_at
    return db.session.get(Activity, scan_["activity_id"]), scanned_at


@bp.route("/c/confirm", methods=["GET", "POST"])
@policy(AUTHENTICATED)
def confirm():
    now = utcnow()
    activity, scanned_at = _pending_scan(now)
    if activity is None:
        session.pop("scan", None)
        return _problem(_("The scan is more than 5 minutes old. Please scan the code at the activity again.")
                        if scanned_at else _("Please scan the code at the activity first."), 410 if scanned_at else 400)
    resident = current_user.resident
    if resident is None:
        return _problem(_("This account is not linked to a resident, so it cannot check in."))
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            result = checkin.check_in(actor(), resident, activity, now, method="self_scan", scanned_at=scanned_at)
        except DomainError as exc:
            settle(exc)
            session.pop("scan", None)
            return _problem(str(exc), 409)
        session.pop("scan", None)
        session["checkin_result"] = {"action": result.action, "points": result.points}
        return redirect(url_for(".done", attendance_id=result.attendance.id))
    return render_template("checkin/confirm.html", activity=activity, form=form)


@bp.route("/c/done/<int:attendance_id>")
@policy(AUTHENTICATED)
def done(attendance_id: int):
    attendance = db.session.get(Attendance, attendance_id, options=[joinedload(Attendance.activity)])
    if attendance is None or attendance.resident_id != current_user.resident_id:
        return _problem(_("No such check-in."), 404)
    result = session.pop("checkin_result", None) or {"action": "already", "points": 0}
    minutes = 0
    if attendance.checked_out_at:
        minutes = int((attendance.checked_out_at - attendance.checked_in_at).total_seconds() // 60)
    return render_template("checkin/done.html", attendance=attendance, activity=attendance.activity, minutes=minutes,
                           action=result["action"], points=result["points"],
                           balance=ledger.balance_of(attendance.resident_id))


def rule_text(activity: Activity) -> str:
    if activity.rule == "fixed":
        text = _("%(n)d points for taking part", n=activity.points)
    else:
        text = _("%(n)d points per hour of service (rounded down)", n=activity.points)
        if activity.hourly_cap:
            text += _(", at most %(n)d", n=activity.hourly_cap)
    when = {"check_in": _("given at check-in"), "check_out": _("given at check-out"),
            "approval": _("given after the team lead approves")}[activity.award_on]
    return _("%(rule)s (%(when)s)", rule=text, when=when)


@bp.app_context_processor
def _helpers():
    return {"rule_text": rule_text}
