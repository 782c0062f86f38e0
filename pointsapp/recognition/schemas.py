"""What the star evaluation, honour list and objection pages read from their forms."""
import re

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, post_load

from pointsapp.core.schemas import Id, InputSchema, OutputSchema, Text, Whole, ascii_form

THRESHOLDS = _l("Give five rising point thresholds for 1 to 5 stars.")
NOTICE_DAYS = _l("The public notice lasts 1 to 60 days.")
_PERIOD = re.compile(r"A|Y[0-9]{4}|Q[0-9]{4}-[1-4]|M[0-9]{4}-(0[1-9]|1[0-2])")  # earning-total period keys


class Period(Text):
    """An earning-total period: A (all time), Y2026, Q2026-4 or M2026-11."""

    code = "invalid_period"
    default_error_messages = {"invalid": _l("Choose a year, quarter or month.")}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = ascii_form(super()._deserialize(value, attr, data, **kwargs))
        if not _PERIOD.fullmatch(text):
            raise self.make_error("invalid")
        return text


def _threshold() -> Whole:
    return Whole(min=0, max=10**9, error=THRESHOLDS, required=True, error_messages={"required": THRESHOLDS})


class CreateRuleSetSchema(InputSchema):
    """A star rule set: a name, the points for 1 to 5 stars (star1..star5), the attendances needed."""

    name = Text(truncate=80)
    star1, star2, star3, star4, star5 = (_threshold() for _ in range(5))
    min_attendances = Whole(min=0, max=10**6, required=True,
                            error=_l("The minimum number of attendances must be 0 or more."),
                            error_messages={"required": _l("The minimum number of attendances must be 0 or more.")})

    @post_load
    def _thresholds(self, data: dict, **_kwargs) -> dict:
        return {"name": data["name"], "min_attendances": data["min_attendances"],
                "thresholds": [data[f"star{i}"] for i in range(1, 6)]}


class CreateEvaluationSchema(InputSchema):
    rule_set_id = Id(required=True, error=_l("No such rule set."), error_messages={"required": _l("No such rule set.")})
    title = Text(truncate=100)
    period = Period(required=True)
    notice_days = Whole(min=1, max=60, required=True, error=NOTICE_DAYS, error_messages={"required": NOTICE_DAYS})


class CreateHonourListSchema(InputSchema):
    """An honour list: kind and rule are checked by the service (its messages name the choices)."""

    kind = Text(truncate=20)
    title = Text(truncate=100)
    period = Period(required=True)
    rule = Text(truncate=20)
    value = Whole(min=1, max=10**6, required=True, error=_l(
        "Choose the best N (up to 200), or a threshold (points, or a percentage for leaders)."))
    notice_days = Whole(min=1, max=60, required=True, error=NOTICE_DAYS, error_messages={"required": NOTICE_DAYS})


class VetoHouseholdSchema(InputSchema):
    household_id = Id(required=True, error=_l("No such household."))
    reason = Text(truncate=200)


class LiftVetoSchema(InputSchema):
    veto_id = Id(required=True, error=_l("No such veto."))


class RemoveHonourEntrySchema(InputSchema):
    resident_id = Id(required=True, error=_l("No such resident."))
    reason = Text(truncate=300)


class AnswerObjectionSchema(InputSchema):
    objection_id = Id(required=True, error=_l("No such objection."))
    answer = Text(multiline=True, truncate=1000)


class LodgeObjectionSchema(InputSchema):
    """A resident's objection during the notice, about one household of the evaluation or in general."""

    text = Text(multiline=True, truncate=1000)
    household_id = Id(load_default=None, error=_l("No such household."))


# ---- output: the public notices and honours, the office's evaluations (/api/v1) ------------------------


def _d(text: str) -> dict:
    return {"metadata": {"description": text}}


class NoticeHouseholdSchema(Schema):
    label = fields.String(required=True, **_d("Building and the head's masked name, never the room"))
    stars = fields.Integer(required=True)


class PublicNoticeSchema(Schema):
    """A star-household evaluation on public notice (公示), as the notice page shows it."""

    id = fields.Integer(required=True)
    title = fields.String(required=True)
    period = fields.String(required=True, **_d("Y2026, Q2026-4, M2026-11 or A"))
    notice_started_at = fields.AwareDateTime(allow_none=True, required=True)
    notice_ends_at = fields.AwareDateTime(allow_none=True, required=True, **_d("Objections until then"))
    households = fields.List(fields.Nested(NoticeHouseholdSchema), required=True,
                             **_d("Households with at least one star, best first"))
    more = fields.Boolean(required=True, **_d("More starred households than listed here"))


class PublicNoticesSchema(Schema):
    community_id = fields.Integer(required=True)
    frozen = fields.Boolean(required=True, **_d("The board is closed until the announcement: nothing is shown"))
    notices = fields.List(fields.Nested(PublicNoticeSchema), required=True)


class HonourRowSchema(Schema):
    rank = fields.Integer(required=True)
    name = fields.String(required=True, **_d("The public name (masked)"))
    detail = fields.String(required=True)


class PublicHonourSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, **_d("volunteer or building_leader"))
    title = fields.String(required=True)
    period = fields.String(required=True, **_d("Y2026, Q2026-4, M2026-11 or A"))
    published_at = fields.AwareDateTime(allow_none=True, required=True)
    rows = fields.List(fields.Nested(HonourRowSchema), required=True)
    unnamed = fields.Integer(required=True, **_d("How many more are on the list, not named at their own wish"))


class PublicHonoursSchema(Schema):
    community_id = fields.Integer(required=True)
    frozen = fields.Boolean(required=True, **_d("The board is closed until the announcement: nothing is shown"))
    honours = fields.List(fields.Nested(PublicHonourSchema), required=True, **_d("Published lists, newest first"))


class EvaluationSchema(OutputSchema):
    """A star-household evaluation. The office sees its counts; the public never sees this schema."""

    id = fields.Integer(required=True)
    title = fields.String(required=True)
    period = fields.String(required=True, **_d("Y2026, Q2026-4, M2026-11 or A"))
    status = fields.String(required=True, **_d("draft, notice or published"))
    rule_set_id = fields.Integer(required=True)
    notice_days = fields.Integer(required=True)
    notice_started_at = fields.AwareDateTime(allow_none=True, required=True)
    notice_ends_at = fields.AwareDateTime(allow_none=True, required=True)
    published_at = fields.AwareDateTime(allow_none=True, required=True)
    created_at = fields.AwareDateTime(required=True)

    views = {"office": ("id", "title", "period", "status", "rule_set_id", "notice_days", "notice_started_at",
                        "notice_ends_at", "published_at", "created_at")}


class EvaluationListSchema(Schema):
    community_id = fields.Integer(required=True)
    evaluations = fields.List(fields.Nested(EvaluationSchema("office")), required=True, **_d("Newest first"))


class StarCountSchema(Schema):
    stars = fields.Integer(required=True, **_d("0 to 5"))
    households = fields.Integer(required=True)


class EvaluationDoneSchema(Schema):
    """An evaluation after an action: as it stands, with how many households were rated."""

    evaluation = fields.Nested(EvaluationSchema("office"), required=True)
    rated = fields.Integer(required=True, **_d("Households whose rating is stored"))
    distribution = fields.List(fields.Nested(StarCountSchema), required=True)
