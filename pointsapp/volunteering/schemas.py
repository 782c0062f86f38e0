"""What the team leads' and the word-list pages read from forms and query strings (besides WTForms)."""
import re
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from marshmallow import fields, post_load, pre_load

from pointsapp.core.localtime import FIRST_YEAR, LAST_YEAR, LOCAL_TZ
from pointsapp.core.schemas import (
    Choice,
    Id,
    IdList,
    InputSchema,
    OutputSchema,
    Search,
    Text,
    Whole,
    ascii_form,
)

NO_RESIDENT = _l("No such resident.")
LABEL_SEPARATORS = re.compile(r"[,，、\n]")  # typed with either keyboard, or one per line


class FindResidentsSchema(InputSchema):
    """?q= a name, phone or room, to add a member or check someone in by hand."""

    q = Search()


class AddMemberSchema(InputSchema):
    resident_id = Id(required=True, error=NO_RESIDENT, error_messages={"required": NO_RESIDENT})


class RemoveMemberSchema(InputSchema):
    """The "remove" button carries the team membership's id."""

    member_id = Id(data_key="remove", required=True, error=_l("No such member."))


class PickResidentSchema(InputSchema):
    """A resident chosen after a search (the hand-recorded attendance's hidden field)."""

    resident_id = Id(required=True, error=NO_RESIDENT, error_messages={"required": _l("Choose a resident first.")})


class CheckInResidentSchema(InputSchema):
    """The lead checks someone in: a scanned member code, or a resident picked after a search."""

    code = Text(truncate=200)
    resident_id = Id(load_default=None, error=NO_RESIDENT)


class ReviewAttendancesSchema(InputSchema):
    """The lead's batch approval or rejection of ticked attendances (ids), with a reason to reject."""

    ids = IdList(max=1000)
    action = Choice(("approve", "reject"), load_default="approve")
    reason = Text(truncate=300)


class SetLabelsSchema(InputSchema):
    """A community's word list (team categories, activity kinds), typed as one line of names."""

    group = Choice(("team_category", "activity_kind"), data_key="labels_group", required=True)
    names = Text(data_key="labels", multiline=True, truncate=4000)

    @post_load
    def _split(self, data: dict, **_kwargs) -> dict:
        return {**data, "names": [name for name in LABEL_SEPARATORS.split(data["names"]) if name.strip()]}


__all__ = ["AddMemberSchema", "CheckInResidentSchema", "FindResidentsSchema", "PickResidentSchema",
           "RemoveMemberSchema", "ReviewAttendancesSchema", "SetLabelsSchema"]


class BrowseActivitiesSchema(InputSchema):
    """The resident's activities list: ?team= a team's id (0 or empty: every team), ?kind= an activity kind."""

    team = Id(zero_is_none=True, load_default=None)
    kind = Text(truncate=40)
    week = Whole(min=0, max=3, load_default=0)  # signups.WEEKS pages of a week


# ---- the JSON API (pointsapp/volunteering/api.py): what it reads --------------------------------------------


class ListActivitiesSchema(BrowseActivitiesSchema):
    """?team_id= a team's id (0 or empty: every team), ?kind= an activity kind, ?week= 0-3: the resident's list,
    as /activities reads it (the API names the team's parameter team_id)."""

    team = Id(data_key="team_id", zero_is_none=True, load_default=None,
              metadata={"description": "Only this team's activities (0 or absent: every team)"})


class ScannedCodeSchema(InputSchema):
    """The check-in code a resident's phone read from the lead's screen or a poster (the text of its QR, or
    the /c/<code> link's last part)."""

    code = Text(required=True, max_length=200, ascii=True,
                metadata={"description": "The scanned check-in code, e.g. a12.58800000.Zx9…"})

    @pre_load
    def _from_link(self, data, **_kwargs):
        """A scanner app hands over the whole link: https://…/c/<code>."""
        if isinstance(data, dict) and isinstance(data.get("code"), str) and "/c/" in data["code"]:
            return {**data, "code": data["code"].rsplit("/c/", 1)[1]}
        return data


class LocalMoment(fields.AwareDateTime):
    """An ISO 8601 date and time, e.g. 2026-11-25T10:30 (China time when it names no zone) or
    2026-11-25T02:30:00Z, in years 1900-2100; read as UTC."""

    default_error_messages = {"invalid": _l("Please enter a date and time."),
                              "out_of_range": _l("Please enter a date between 1900 and 2100.")}

    def __init__(self, **kwargs):
        super().__init__(default_timezone=LOCAL_TZ, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        moment = super()._deserialize(ascii_form(value).strip(), attr, data, **kwargs)
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:
            raise self.make_error("out_of_range")
        return moment.astimezone(UTC)


class RecordByHandSchema(InputSchema):
    """人工补录 by the lead: the resident (from a search), the times (clamped to the activity) and the reason;
    as the lead's "Record by hand" form."""

    resident_id = Id(required=True, error=NO_RESIDENT, error_messages={"required": _l("Choose a resident first.")})
    checked_in_at = LocalMoment(required=True, metadata={"description": "Checked in at (China time without a zone)"})
    checked_out_at = LocalMoment(load_default=None, allow_none=True,
                                 metadata={"description": "Checked out at (needed for hourly activities)"})
    reason = Text(required=True, max_length=300, metadata={"label": _l("Reason for recording by hand")})


class RejectAttendanceSchema(InputSchema):
    """Why the attendance is not recognised (kept with it; the resident sees it)."""

    reason = Text(truncate=300, metadata={"description": "Why (required by the rule; at most 300 characters)"})


class ApproveAttendancesSchema(InputSchema):
    """The lead's batch approval: the ticked attendances' ids."""

    ids = IdList(max=1000, metadata={"description": "Attendance ids of this activity, at most 1000"})


class RejectAttendancesSchema(ApproveAttendancesSchema):
    """The lead's batch rejection: the ticked attendances' ids and the reason."""

    reason = Text(truncate=300, metadata={"description": "Why (required; at most 300 characters)"})


# ---- the JSON API: what it answers (one class per audience: the OpenAPI document names each once) -------------


class ActivitySchema(OutputSchema):
    """An activity as the residents' list shows it, with what this resident can do about it."""

    id = fields.Integer(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "The community's word for the kind of activity"})
    team_id = fields.Integer(required=True)
    team_name = fields.String(required=True)
    place = fields.String(required=True)
    description = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    checkin_opens_at = fields.DateTime(required=True)
    checkin_closes_at = fields.DateTime(required=True)
    signup_closes_at = fields.DateTime(required=True, metadata={"description": "Sign-up and cancelling close here"})
    capacity = fields.Integer(allow_none=True, metadata={"description": "Places (null: no limit)"})
    rule = fields.String(required=True, metadata={"description": "fixed (per attendance) or hourly (per full hour)"})
    points = fields.Integer(required=True)
    hourly_cap = fields.Integer(allow_none=True, metadata={"description": "Hourly rule: at most this many points"})
    award_on = fields.String(required=True, metadata={"description": "check_in, check_out or approval"})
    rule_text = fields.String(required=True, metadata={"description": "The points rule in words (request's language)"})
    signed_up = fields.Boolean(required=True, metadata={"description": "This resident has signed up"})
    attended = fields.Boolean(required=True, metadata={"description": "This resident has checked in"})
    taken = fields.Integer(required=True, metadata={"description": "Active sign-ups"})
    full = fields.Boolean(required=True)
    open = fields.Boolean(required=True, metadata={"description": "Before or at the sign-up cut-off"})
    can_sign_up = fields.Boolean(required=True)
    can_cancel = fields.Boolean(required=True)

    views = {"resident": ("id", "title", "kind", "team_id", "team_name", "place", "description", "starts_at",
                          "ends_at", "checkin_opens_at", "checkin_closes_at", "signup_closes_at", "capacity", "rule",
                          "points", "hourly_cap", "award_on", "rule_text", "signed_up", "attended", "taken", "full",
                          "open", "can_sign_up", "can_cancel")}


class ActivityListSchema(OutputSchema):
    """One week's page of the community's activities (as /activities lists them), and her own sign-ups."""

    week = fields.Integer(required=True, metadata={"description": "0: today and the six days after it; up to 3"})
    activities = fields.List(fields.Nested(ActivitySchema("resident")), required=True)
    my_signups = fields.List(fields.Nested(ActivitySchema("resident")), required=True,
                             metadata={"description": "Activities she signed up for that are not over yet"})

    views = {"resident": ("week", "activities", "my_signups")}


class AttendanceSchema(OutputSchema):
    """An attendance (签到 / 签退) as the activity's lead and the office see it."""

    id = fields.Integer(required=True)
    activity_id = fields.Integer(required=True)
    resident_id = fields.Integer(required=True)
    resident_name = fields.String(required=True)
    address = fields.String(required=True, metadata={"description": "The resident's building, unit and room"})
    checked_in_at = fields.DateTime(required=True)
    checked_out_at = fields.DateTime(allow_none=True)
    method = fields.String(required=True, metadata={"description": "self_scan, lead_scan or manual"})
    manual_reason = fields.String(required=True, metadata={"description": "Why it was recorded by hand"})
    status = fields.String(required=True, metadata={"description": "pending, approved or rejected"})
    hold = fields.String(required=True, metadata={
        "description": "Who must approve a pending one: '' the lead, self another lead or the office, manual or "
                       "ceiling the office"})
    reject_reason = fields.String(required=True)
    points_awarded = fields.Integer(required=True)
    service_minutes = fields.Integer(required=True, metadata={"description": "Volunteer service time counted"})

    views = {"lead": ("id", "activity_id", "resident_id", "resident_name", "address", "checked_in_at",
                      "checked_out_at", "method", "manual_reason", "status", "hold", "reject_reason",
                      "points_awarded", "service_minutes")}


class OwnAttendanceSchema(AttendanceSchema):
    """The resident's own attendance."""

    views = {"resident": ("id", "activity_id", "checked_in_at", "checked_out_at", "method", "status",
                          "reject_reason", "points_awarded", "service_minutes")}


class CheckInResultSchema(OutputSchema):
    """What a check-in (or check-out) did."""

    action = fields.String(required=True, metadata={"description": "checked_in, checked_out or already"})
    points = fields.Integer(required=True, metadata={"description": "Points awarded by this request"})
    pending_approval = fields.Boolean(required=True, metadata={"description": "The points wait for an approval"})
    capped = fields.Boolean(required=True, metadata={"description": "The community's earning cap cut the award"})
    message = fields.String(required=True, metadata={"description": "What happened, in the request's language"})
    attendance = fields.Nested(OwnAttendanceSchema("resident"), required=True)

    views = {"resident": ("action", "points", "pending_approval", "capped", "message", "attendance")}


class LeadCheckInResultSchema(CheckInResultSchema):
    """What the lead's check-in of a resident (or her hand record) did."""

    attendance = fields.Nested(AttendanceSchema("lead"), required=True)

    views = {"lead": ("action", "points", "pending_approval", "capped", "message", "attendance")}


class AttendanceListSchema(OutputSchema):
    """The activity's attendance, latest first (the lead's live list)."""

    activity_id = fields.Integer(required=True)
    capacity = fields.Integer(allow_none=True)
    count = fields.Integer(required=True)
    pending = fields.Integer(required=True, metadata={"description": "How many wait for an approval"})
    attendances = fields.List(fields.Nested(AttendanceSchema("lead")), required=True)

    views = {"lead": ("activity_id", "capacity", "count", "pending", "attendances")}


class FoundResidentSchema(OutputSchema):
    """A resident found by the lead's search: enough to tell people apart, nothing more."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)

    views = {"lead": ("id", "name", "address")}


class FoundResidentsSchema(OutputSchema):
    """The lead's search: the best matches first, at most 20, the total, and a note when the list is cut."""

    residents = fields.List(fields.Nested(FoundResidentSchema("lead")), required=True)
    total = fields.Integer(required=True)
    note = fields.String(required=True)

    views = {"lead": ("residents", "total", "note")}


class ApprovalSchema(OutputSchema):
    """What an approval did."""

    approved = fields.Integer(required=True)
    points = fields.Integer(required=True, metadata={"description": "Points awarded"})
    left = fields.Integer(required=True, metadata={
        "description": "Chosen but not this reviewer's to decide (her household's, or the office's)"})
    message = fields.String(required=True)
    attendances = fields.List(fields.Nested(AttendanceSchema("lead")), required=True)

    views = {"lead": ("approved", "points", "left", "message", "attendances")}


class RejectionSchema(OutputSchema):
    """What a rejection did."""

    rejected = fields.Integer(required=True)
    message = fields.String(required=True)
    attendances = fields.List(fields.Nested(AttendanceSchema("lead")), required=True)

    views = {"lead": ("rejected", "message", "attendances")}
