"""What /api/v1/me answers: a resident's own profile, points, places, history, member code and service
record, as her pages show them (home, 我的积分, rankings, 会员码, 志愿服务证明)."""
from marshmallow import Schema, fields

from pointsapp.core.schemas import Choice, Day, InputSchema, Month
from pointsapp.rankings.services import METRICS


def _d(text: str) -> dict:
    return {"metadata": {"description": text}}


# ---- input -----------------------------------------------------------------------------------------


class ShowHistorySchema(InputSchema):
    """?month=2026-11 (China time); when not given, the month of her latest entry (as the page opens)."""

    month = Month(load_default=None, metadata={"description": "YYYY-MM, China time"})


class ShowRanksSchema(InputSchema):
    """?metric= as the rankings page's tabs."""

    metric = Choice(METRICS, load_default="points")


class ShowServiceRecordSchema(InputSchema):
    """?from=&to= (days, China time); from the first of January to today when not given."""

    start = Day(data_key="from", load_default=None)
    end = Day(data_key="to", load_default=None)


# ---- output ----------------------------------------------------------------------------------------


class ScopeSchema(Schema):
    role = fields.String(required=True, **_d("resident, team_lead, clerk, community_admin or city_admin"))
    community_id = fields.Integer(allow_none=True, **_d("The community the role is in (none: every community)"))
    team_id = fields.Integer(allow_none=True, **_d("A team lead's team"))
    store_id = fields.Integer(allow_none=True, **_d("A clerk's supermarket"))


class CommunitySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ProfileSchema(Schema):
    """The person asking, as the home page shows her."""

    user_id = fields.Integer(required=True)
    name = fields.String(required=True, **_d("Her own name"))
    resident_id = fields.Integer(allow_none=True, **_d("None when the account is not linked to a resident"))
    community = fields.Nested(CommunitySchema, allow_none=True, required=True)
    household = fields.String(allow_none=True, required=True,
                              **_d("Her household's address as the home page writes it (building, unit, room)"))
    moved_out_on = fields.Date(allow_none=True, required=True)
    roles = fields.List(fields.Nested(ScopeSchema), required=True,
                        **_d("The roles this request acts with (a token's are narrowed to what it carries)"))


class BalanceSchema(Schema):
    balance = fields.Integer(required=True, **_d("Points she can spend"))
    earned_total = fields.Integer(required=True, **_d("Points earned in total, all time (spending never lowers it)"))
    owed = fields.Integer(required=True, **_d("Points of deductions still owed: taken from her next points"))


class OwnPlaceSchema(Schema):
    rank = fields.Integer(allow_none=True, required=True, **_d("Her place; none while the board is closed"))
    value = fields.Integer(required=True, **_d("Points, minutes or attendances (the metric)"))


class PeriodPlacesSchema(Schema):
    period = fields.String(required=True, **_d("month, quarter, year or all"))
    key = fields.String(required=True, **_d("The period's key: M2026-11, Q2026-4, Y2026 or A"))
    mine = fields.Nested(OwnPlaceSchema, allow_none=True, required=True,
                         **_d("Her own place; none when she has earned nothing in the period"))
    household = fields.Nested(OwnPlaceSchema, allow_none=True, required=True, **_d("Her household's place"))


class RanksSchema(Schema):
    community_id = fields.Integer(required=True)
    metric = fields.String(required=True, **_d("points, minutes or attendances"))
    frozen = fields.Boolean(required=True, **_d("The board is closed until the announcement: places are hidden"))
    periods = fields.List(fields.Nested(PeriodPlacesSchema), required=True)


class EntrySchema(Schema):
    id = fields.Integer(required=True)
    created_at = fields.AwareDateTime(required=True)
    amount = fields.Integer(required=True, **_d("Signed: + earned, - spent or taken"))
    balance_after = fields.Integer(required=True)
    kind = fields.String(required=True)
    label = fields.String(required=True, **_d("What kind of change, in the reader's language"))
    detail = fields.String(required=True, **_d("Which activity, receipt or day; a reason as typed"))


class HistorySchema(Schema):
    month = fields.String(required=True, **_d("YYYY-MM, China time"))
    earned = fields.Integer(required=True)
    spent = fields.Integer(required=True, **_d("Spent at the supermarket (a positive number)"))
    other = fields.Integer(required=True, **_d("Corrections, deductions, expiry (signed)"))
    balance_end = fields.Integer(required=True, **_d("The balance after the month's last entry"))
    previous = fields.String(allow_none=True, required=True, **_d("The month before, as the page's ‹ link"))
    next = fields.String(allow_none=True, required=True, **_d("The month after, as the page's › link"))
    months = fields.List(fields.String(), required=True, **_d("Her months, newest first (the page's picker)"))
    entries = fields.List(fields.Nested(EntrySchema), required=True, **_d("Newest first"))


class MemberCodeSchema(Schema):
    code = fields.String(required=True, **_d("The text of the QR code the counter or a team lead scans"))
    expires_at = fields.AwareDateTime(required=True, **_d("After this the counter refuses it: ask again"))
    refresh_seconds = fields.Integer(required=True, **_d("Ask for a new code this often"))


class ServiceLineSchema(Schema):
    day = fields.Date(required=True)
    activity = fields.String(required=True)
    kind = fields.String(required=True)
    team = fields.String(required=True)
    minutes = fields.Integer(required=True)
    method = fields.String(required=True, **_d("self_scan, lead_scan or manual"))
    recorded_by = fields.String(required=True)
    points = fields.Integer(required=True)


class ServiceRecordSchema(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    count = fields.Integer(required=True, **_d("Approved attendances"))
    minutes = fields.Integer(required=True)
    hours = fields.Float(required=True, **_d("Minutes as hours, one decimal (as the record prints them)"))
    points = fields.Integer(required=True)
    lines = fields.List(fields.Nested(ServiceLineSchema), required=True)
