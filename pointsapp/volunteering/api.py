"""/api/v1/activities, /api/v1/checkin (residents) and /api/v1/lead (team leads and the office): the
volunteering pages' operations as JSON, through the same services.

- Residents (a token needs the resident role): the coming weeks' activities as /activities lists them, one
  activity, sign up and cancel (signups), check in with the scanned code and check out with it again
  (checkin: the same rules; one attendance per activity and resident underneath, whatever is retried).
- Leads (STAFF, then `can(RUN_TEAM)` on the activity, as the lead's pages): the live attendance list, check
  a resident in by a member card (scanned or its number typed) or after a search, record by hand (the office
  approves), approve and reject one or several. Points only ever move through checkin's rules (nobody
  decides her own household's; above the ceiling the office does).
"""
import functools

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pointsapp.core.api import ApiBlueprint
from pointsapp.core.errors import InvalidInput
from pointsapp.core.permissions import RESIDENT, STAFF, Action, policy, require
from pointsapp.core.web import actor, utcnow
from pointsapp.tree import services as tree
from pointsapp.tree.models import Resident
from pointsapp.tree.services import search
from pointsapp.volunteering.models import Activity, Attendance
from pointsapp.volunteering.schemas import (
    ActivityListSchema,
    ActivitySchema,
    ApprovalSchema,
    ApproveAttendancesSchema,
    AttendanceListSchema,
    CheckInResidentSchema,
    CheckInResultSchema,
    FindResidentsSchema,
    FoundResidentsSchema,
    LeadCheckInResultSchema,
    ListActivitiesSchema,
    RecordByHandSchema,
    RejectAttendanceSchema,
    RejectAttendancesSchema,
    RejectionSchema,
    ScannedCodeSchema,
)
from pointsapp.volunteering.services import activities, checkin, signups
from pointsapp.volunteering.views.checkin import rule_text
from pointsapp.volunteering.views.lead import checkin_message, resident_to_check_in
from pointsapp.volunteering.views.reviewing import approval_message

bp = ApiBlueprint("api_activities", __name__, url_prefix="/api/v1",
                  description="Residents: activities, sign-ups, check-in and check-out")
lead_bp = ApiBlueprint("api_lead", __name__, url_prefix="/api/v1/lead",
                       description="Team leads and the office: live attendance, check-in by card or search, "
                                   "records by hand, approval")

NOT_A_RESIDENT = _l("This account is not linked to a resident, so it cannot check in.")


# ---- what the answers are made of ------------------------------------------------------------------------


def _activity_out(activity: Activity, place: signups.Place) -> dict:
    return {"id": activity.id, "title": activity.title, "kind": activity.kind, "team_id": activity.team_id,
            "team_name": activity.team.name, "place": activity.place, "description": activity.description,
            "starts_at": activity.starts_at, "ends_at": activity.ends_at,
            "checkin_opens_at": activity.checkin_opens_at, "checkin_closes_at": activity.checkin_closes_at,
            "signup_closes_at": activity.signup_closes_at, "capacity": activity.capacity, "rule": activity.rule,
            "points": activity.points, "hourly_cap": activity.hourly_cap, "award_on": activity.award_on,
            "rule_text": rule_text(activity), "signed_up": place.signed_up, "attended": place.attended,
            "taken": place.taken, "full": place.full, "open": place.open, "can_sign_up": place.can_sign_up,
            "can_cancel": place.can_cancel}


def _attendance_out(attendance: Attendance) -> dict:
    resident = attendance.resident
    return {"id": attendance.id, "activity_id": attendance.activity_id, "resident_id": attendance.resident_id,
            "resident_name": resident.name, "address": resident.household.address,
            "checked_in_at": attendance.checked_in_at, "checked_out_at": attendance.checked_out_at,
            "method": attendance.method, "manual_reason": attendance.manual_reason or "",
            "status": attendance.status, "hold": attendance.hold or "", "reject_reason": attendance.reject_reason or "",
            "points_awarded": attendance.points_awarded or 0,
            "service_minutes": attendance.activity.service_minutes(attendance.checked_in_at,
                                                                   attendance.checked_out_at)}


def _result_out(result: checkin.CheckInResult, message: str) -> dict:
    return {"action": result.action, "points": result.points, "pending_approval": result.pending_approval,
            "capped": result.capped, "message": message, "attendance": _attendance_out(result.attendance)}


def _status_of(result: checkin.CheckInResult) -> int:
    return 201 if result.action == "checked_in" else 200


def _resident() -> Resident:
    resident = actor().resident
    if resident is None:
        raise InvalidInput(NOT_A_RESIDENT, code="not_a_resident")
    return resident


def _own_message(result: checkin.CheckInResult) -> str:
    """What the resident's own check-in did, as the check-in pages say it."""
    text = {"checked_in": _("Checked in"), "checked_out": _("Checked out"),
            "already": _("You are already checked in")}[result.action]
    if result.points:
        text += " " + _("+%(n)d points", n=result.points)
    if result.pending_approval:
        text += " " + _("Waits for approval.")
    return text


def _one_activity(activity: Activity, now) -> dict:
    resident = _resident()
    return _activity_out(activity, signups.places(resident, [activity], now)[activity.id])


# ---- residents ---------------------------------------------------------------------------------------------


@bp.route("/activities")
@bp.arguments(ListActivitiesSchema, location="query")
@bp.response(200, ActivityListSchema("resident"))
@policy(RESIDENT)
def list_activities(wanted: dict):
    """The coming activities of her community, one week to a page (as /activities lists them), and her own sign-ups."""
    resident = _resident()
    now = utcnow()
    acts = signups.upcoming(resident.community_id, now, week=wanted["week"], team_id=wanted["team"],
                            kind=wanted["kind"] or None)
    mine = signups.my_signups(resident, now)
    places = signups.places(resident, [*acts, *mine], now)
    return {"week": wanted["week"], "activities": [_activity_out(a, places[a.id]) for a in acts],
            "my_signups": [_activity_out(a, places[a.id]) for a in mine]}


@bp.route("/activities/<int:activity_id>")
@bp.response(200, ActivitySchema("resident"))
@policy(RESIDENT)
def get_activity(activity_id: int):
    """One activity of her community, with what she can do about it (sign up, cancel)."""
    return _one_activity(signups.activity_for(actor(), activity_id), utcnow())


@bp.route("/activities/<int:activity_id>/signup", methods=["POST"])
@bp.response(200, ActivitySchema("resident"))
@policy(RESIDENT)
def sign_up(activity_id: int):
    """Sign up (报名) until the activity's cut-off; signing up again changes nothing."""
    now = utcnow()
    activity = signups.activity_for(actor(), activity_id)
    signups.sign_up(actor(), activity, now)
    return _one_activity(activity, now)


@bp.route("/activities/<int:activity_id>/signup", methods=["DELETE"])
@bp.response(200, ActivitySchema("resident"))
@policy(RESIDENT)
def cancel_signup(activity_id: int):
    """Cancel her sign-up (取消报名) until the cut-off; cancelling again changes nothing."""
    now = utcnow()
    activity = signups.activity_for(actor(), activity_id)
    signups.cancel(actor(), activity, now)
    return _one_activity(activity, now)


@bp.route("/checkin", methods=["POST"])
@bp.arguments(ScannedCodeSchema, location="json")
@bp.response(201, CheckInResultSchema("resident"))
@bp.alt_response(200, schema=CheckInResultSchema("resident"), description="A second scan: checked out, or already")
@policy(RESIDENT)
def check_in(given: dict):
    """Check in with the code scanned at the activity (its time step or poster checked); scanning again after a
    while checks an hourly activity's volunteer out. One attendance per activity and resident: 201 when this
    request made it, else 200."""
    now = utcnow()
    activity = checkin.scanned_activity(current_app.secret_key, given["code"], now)
    result = checkin.check_in(actor(), _resident(), activity, now, method="self_scan", scanned_at=now)
    return _result_out(result, _own_message(result)), _status_of(result)


@bp.route("/activities/<int:activity_id>/checkout", methods=["POST"])
@bp.arguments(ScannedCodeSchema, location="json")
@bp.response(200, CheckInResultSchema("resident"))
@policy(RESIDENT)
def check_out(given: dict, activity_id: int):
    """Check out with the activity's code scanned again (she is there): the hours between count, for an hourly
    activity's points. Only after checking in; twice changes nothing."""
    now = utcnow()
    activity = checkin.scanned_activity(current_app.secret_key, given["code"], now)
    if activity.id != activity_id:
        raise InvalidInput(_l("This code is not one of ours. Please scan the code shown at the activity."),
                           code="forged_code")
    result = checkin.check_out(actor(), _resident(), activity, now, method="self_scan", scanned_at=now)
    return _result_out(result, _own_message(result))


# ---- leads and the office ----------------------------------------------------------------------------------


def _led_activity(activity_id: int) -> Activity:
    activity = activities.get_activity(activity_id)
    require(actor(), Action.RUN_TEAM, activity)
    return activity


def _its_leads(view):
    """The object check before the body is read: who may not run the activity's team learns nothing from a
    refusal of her input (403, not 422)."""
    @functools.wraps(view)
    def checked(*args, **kwargs):
        _led_activity(kwargs["activity_id"])
        return view(*args, **kwargs)
    return checked


def _list_out(activity: Activity) -> dict:
    rows = checkin.attendance_list(activity)
    return {"activity_id": activity.id, "capacity": activity.capacity, "count": len(rows),
            "pending": sum(a.status == "pending" for a in rows), "attendances": [_attendance_out(a) for a in rows]}


@lead_bp.route("/activities/<int:activity_id>/attendance")
@_its_leads
@lead_bp.response(200, AttendanceListSchema("lead"))
@policy(STAFF)
def attendance(activity_id: int):
    """The activity's attendance, latest first: the lead's live list (her page polls it)."""
    return _list_out(_led_activity(activity_id))


@lead_bp.route("/activities/<int:activity_id>/attendance", methods=["POST"])
@_its_leads
@lead_bp.arguments(CheckInResidentSchema, location="json")
@lead_bp.response(201, LeadCheckInResultSchema("lead"))
@lead_bp.alt_response(200, schema=LeadCheckInResultSchema("lead"), description="Checked out, or already")
@policy(STAFF)
def record(given: dict, activity_id: int):
    """Check a resident in (or, scanned again later, out): `code`, a scanned member card or phone member code, or
    the number printed on the card as typed; or `resident_id`, a resident found by the search. 201 when this
    request made the attendance, else 200."""
    activity = _led_activity(activity_id)
    result = checkin.check_in(actor(), resident_to_check_in(activity, given), activity, utcnow(), method="lead_scan")
    return _result_out(result, checkin_message(result)), _status_of(result)


@lead_bp.route("/activities/<int:activity_id>/residents")
@_its_leads
@lead_bp.arguments(FindResidentsSchema, location="query")
@lead_bp.response(200, FoundResidentsSchema("lead"))
@policy(STAFF)
def find_residents(wanted: dict, activity_id: int):
    """Residents of the activity's community by name, phone or room (?q=), to check one in or record by hand."""
    activity = _led_activity(activity_id)
    if not wanted["q"]:
        return {"residents": [], "total": 0, "note": ""}
    found = search.find_residents(activity.community_id, wanted["q"])
    return {"residents": [{"id": r.id, "name": r.name, "address": r.household.address} for r in found.residents],
            "total": found.total, "note": found.note}


@lead_bp.route("/activities/<int:activity_id>/attendance/manual", methods=["POST"])
@_its_leads
@lead_bp.arguments(RecordByHandSchema, location="json")
@lead_bp.response(201, LeadCheckInResultSchema("lead"))
@policy(STAFF)
def record_by_hand(given: dict, activity_id: int):
    """人工补录: record a resident's attendance by hand, with the times (kept within the activity) and the reason;
    the points come once the community office approves."""
    activity = _led_activity(activity_id)
    resident = tree.get_in_community(Resident, activity.community_id, given["resident_id"])
    result = checkin.record_manual(actor(), resident, activity, given["checked_in_at"], given["checked_out_at"],
                                   given["reason"], utcnow())
    message = _("Recorded by hand for %(name)s; the points come once the community office approves.",
                name=resident.name)
    return _result_out(result, message)


def _approval_out(result: checkin.ReviewResult, rows: list[Attendance]) -> dict:
    return {"approved": result.approved, "points": result.points, "left": result.left,
            "message": approval_message(result), "attendances": [_attendance_out(a) for a in rows]}


def _rejection_out(count: int, rows: list[Attendance]) -> dict:
    return {"rejected": count, "message": _("Rejected."), "attendances": [_attendance_out(a) for a in rows]}


def _chosen(activity: Activity, ids: list[int]) -> list[Attendance]:
    if not ids:
        raise InvalidInput(_l("Tick at least one person first."), code="nothing_chosen")
    return [checkin.attendance_of(activity, i) for i in ids]


@lead_bp.route("/activities/<int:activity_id>/attendance/<int:attendance_id>/approve", methods=["POST"])
@_its_leads
@lead_bp.response(200, ApprovalSchema("lead"))
@policy(STAFF)
def approve(activity_id: int, attendance_id: int):
    """Approve one attendance and award its points (never her own household's; the office's holds are left to
    it)."""
    activity = _led_activity(activity_id)
    row = checkin.attendance_of(activity, attendance_id)
    return _approval_out(checkin.approve(actor(), activity, [row.id], utcnow()), [row])


@lead_bp.route("/activities/<int:activity_id>/attendance/<int:attendance_id>/reject", methods=["POST"])
@_its_leads
@lead_bp.arguments(RejectAttendanceSchema, location="json")
@lead_bp.response(200, RejectionSchema("lead"))
@policy(STAFF)
def reject(given: dict, activity_id: int, attendance_id: int):
    """Reject one attendance with a reason; points already awarded are taken back."""
    activity = _led_activity(activity_id)
    row = checkin.attendance_of(activity, attendance_id)
    return _rejection_out(checkin.reject(actor(), activity, [row.id], given["reason"], utcnow()), [row])


@lead_bp.route("/activities/<int:activity_id>/attendance/approve", methods=["POST"])
@_its_leads
@lead_bp.arguments(ApproveAttendancesSchema, location="json")
@lead_bp.response(200, ApprovalSchema("lead"))
@policy(STAFF)
def approve_many(given: dict, activity_id: int):
    """Approve the chosen attendances at once (the page's "Approve selected"); those that are not hers to decide
    are left and counted."""
    activity = _led_activity(activity_id)
    rows = _chosen(activity, given["ids"])
    return _approval_out(checkin.approve(actor(), activity, given["ids"], utcnow()), rows)


@lead_bp.route("/activities/<int:activity_id>/attendance/reject", methods=["POST"])
@_its_leads
@lead_bp.arguments(RejectAttendancesSchema, location="json")
@lead_bp.response(200, RejectionSchema("lead"))
@policy(STAFF)
def reject_many(given: dict, activity_id: int):
    """Reject the chosen attendances with one reason (the page's "Reject selected")."""
    activity = _led_activity(activity_id)
    rows = _chosen(activity, given["ids"])
    return _rejection_out(checkin.reject(actor(), activity, given["ids"], given["reason"], utcnow()), rows)


blueprints = [bp, lead_bp]
