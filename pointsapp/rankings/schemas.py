"""What the rankings pages read (query strings, the board settings) and what a board shows."""
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from pointsapp.core.schemas import Choice, Flag, Id, InputSchema, Month, OutputSchema, Whole
from pointsapp.rankings.services import FALLBACKS, MASKS, METRICS, SUBJECTS

PERIODS = ("month", "quarter", "year", "all", "custom")


class ShowRankingsSchema(InputSchema):
    """?period=&by=&metric= (tabs), ?from=&to= (a custom range of months), ?community= (staff)."""

    period = Choice(PERIODS, load_default="month")
    by = Choice(SUBJECTS, load_default="resident")
    metric = Choice(METRICS, load_default="points")
    start = Month(data_key="from", load_default=None, metadata={"label": _l("From month")})
    end = Month(data_key="to", load_default=None, metadata={"label": _l("To month")})
    community = Id(load_default=None)


class ToggleBoardSchema(InputSchema):
    hide = Flag()


class SaveBoardSettingsSchema(InputSchema):
    mask = Choice(MASKS, load_default="middle", error=_l("Unknown masking."), code="invalid_mask")
    frozen = Flag()
    # until this month has this many ranked residents, the board shows `fallback` beside it (0: never)
    min_ranked = Whole(min=0, max=50, load_default=10, metadata={"label": _l("Names this month before the board shows them alone")})
    fallback = Choice(FALLBACKS, load_default="last_month")


class PlaceSchema(OutputSchema):
    """A place on a board: the label is already what its audience may read (a masked name, a building
    and the head's masked name); subject ids are for the office only (they lead to people)."""

    rank = fields.Integer()
    label = fields.String()
    value = fields.Integer()
    subject_id = fields.Integer()

    views = {"public": ("rank", "label", "value"),
             "resident": ("rank", "label", "value"),
             "office": ("rank", "label", "value", "subject_id")}


# ---- the public board as JSON (/api/v1/public/communities/<id>/board) -----------------------------------


def _d(text: str) -> dict:
    return {"metadata": {"description": text}}


class BoardColumnSchema(Schema):
    span = fields.String(required=True, **_d("month (this month so far), last_month (final) or rolling30"))
    first_day = fields.Date(required=True, **_d("China time, counted"))
    last_day = fields.Date(required=True, **_d("China time, counted"))
    period = fields.String(allow_none=True, required=True, **_d("M2026-11 for a month; none for the last 30 days"))
    places = fields.List(fields.Nested(PlaceSchema("public")), required=True,
                         **_d("Masked names; a missing place is someone who keeps her name off the board"))


class BoardPanelSchema(Schema):
    subject = fields.String(required=True, **_d("resident, household or building"))
    columns = fields.List(fields.Nested(BoardColumnSchema), required=True,
                          **_d("This month; early in the month last month's (or 30 days') beside it"))


class BoardHouseholdSchema(Schema):
    label = fields.String(required=True, **_d("Building and the head's masked name, never the room"))
    stars = fields.Integer(required=True)


class BoardNoticeSchema(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    notice_ends_at = fields.AwareDateTime(allow_none=True, required=True, **_d("Objections until then"))
    households = fields.List(fields.Nested(BoardHouseholdSchema), required=True)


class BoardHonourRowSchema(Schema):
    rank = fields.Integer(required=True)
    name = fields.String(required=True, **_d("The public name (masked)"))
    detail = fields.String(required=True)


class BoardHonourSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, **_d("volunteer or building_leader"))
    title = fields.String(required=True)
    period = fields.String(required=True, **_d("Y2026, Q2026-4, M2026-11 or A"))
    status = fields.String(required=True, **_d("notice or published"))
    notice_ends_at = fields.AwareDateTime(allow_none=True, required=True)
    published_at = fields.AwareDateTime(allow_none=True, required=True)
    rows = fields.List(fields.Nested(BoardHonourRowSchema), required=True)
    unnamed = fields.Integer(required=True, **_d("How many more are on the list, not named at their own wish"))


class BoardCheckpointSchema(Schema):
    day = fields.Date(required=True, **_d("China time"))
    created_at = fields.AwareDateTime(required=True)
    root = fields.String(required=True, **_d("SHA-256 over every chain head of the community, hex"))
    resident_count = fields.Integer(required=True)
    entry_count = fields.Integer(required=True)


class BoardSchema(Schema):
    community_id = fields.Integer(required=True)
    community = fields.String(required=True, **_d("The community's name"))
    month = fields.String(required=True, **_d("This month's key, M2026-11"))
    frozen = fields.Boolean(required=True, **_d("Closed until the announcement: no panels, notice or honours"))
    panels = fields.List(fields.Nested(BoardPanelSchema), required=True)
    notice = fields.Nested(BoardNoticeSchema, allow_none=True, required=True,
                           **_d("The star-household notice (公示) running, its first 12 starred households"))
    honours = fields.List(fields.Nested(BoardHonourSchema), required=True,
                          **_d("The two latest honour lists on notice or published, their first 10 names"))
    checkpoint = fields.Nested(BoardCheckpointSchema, allow_none=True, required=True, **_d("The latest ledger checkpoint"))
