"""What the team leads' and the word-list pages read from forms and query strings (besides WTForms)."""
import re

from flask_babel import lazy_gettext as _l
from marshmallow import post_load

from pointsapp.core.schemas import Choice, Id, IdList, InputSchema, Search, Text, Whole

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
