"""What the groups pages read: the public page's query, the office's forms."""
from flask_babel import lazy_gettext as _l

from pointsapp.core.schemas import Choice, Id, InputSchema, Search, Text
from pointsapp.groups.services import KINDS, NAME_MAX, RANK_BY

PUBLIC_PERIODS = ("month", "year")
OFFICE_PERIODS = ("month", "quarter", "year", "all")


class ShowPublicGroupsSchema(InputSchema):
    """?period=month|year&by=total|average&group=<id> (one group's members)."""

    period = Choice(PUBLIC_PERIODS, load_default="month")
    by = Choice(RANK_BY, load_default="total")
    group = Id(load_default=None)


class ShowOfficeGroupsSchema(InputSchema):
    period = Choice(OFFICE_PERIODS, load_default="month")
    by = Choice(RANK_BY, load_default="total")
    q = Search(load_default="")


class SaveGroupSchema(InputSchema):
    name = Text(required=True, max_length=NAME_MAX, metadata={"label": _l("Group name")})
    kind = Choice(KINDS, load_default="other")


GROUP_ACTIONS = ("rename", "publish", "unpublish", "delete", "add", "paste", "remove")


class GroupActionSchema(InputSchema):
    """The buttons of a group's page: `what` names the action."""

    what = Choice(GROUP_ACTIONS, required=True)
    resident_id = Id(load_default=None)
    lines = Text(multiline=True, max_length=4000, load_default="",
                 metadata={"label": _l("Phone numbers or names, one per line")})
