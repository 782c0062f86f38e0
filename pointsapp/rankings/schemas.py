"""What the rankings pages read (query strings, the board settings) and what a board shows."""
from flask_babel import lazy_gettext as _l
from marshmallow import fields

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
