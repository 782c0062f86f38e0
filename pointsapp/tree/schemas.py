"""What the people pages read from query strings and forms (besides their WTForms), and how a resident
is shown to each audience (the coming JSON API): the public, the resident herself, the office."""
from marshmallow import fields

from pointsapp.core.permissions import Action, can
from pointsapp.core.schemas import Flag, Id, InputSchema, OutputSchema, Search
from pointsapp.rankings.services import named_in_public
from pointsapp.tree.services import mask_phone


class FindResidentsSchema(InputSchema):
    """?q= a name, phone or room; ?moved=1 to include those who moved out."""

    q = Search()
    moved = Flag()


class SetBuildingLeaderSchema(InputSchema):
    """The building leader picked from the building's residents; "0" is "(none)"."""

    leader_id = Id(zero_is_none=True, load_default=None)


class ResidentSchema(OutputSchema):
    """A resident, per audience. `public`: the masked name only (never the phone, the ID digits or the
    room); `resident`: her own record; `office`: everything; `office_list`: a row of a list, the phone
    masked and no ID digits; `own_data`: all of her record, for her own download. Balances are passed in
    (`balances={resident_id: points}`): schemas never query the database."""

    id = fields.Integer()
    name = fields.String()
    # None when she keeps her name off public lists (the public-name rule)
    masked_name = fields.Function(lambda r: named_in_public(r.community, r.name, r.hide_from_board))
    relation = fields.String()
    address = fields.Function(lambda r: r.household.address)
    phone = fields.String()
    phone_masked = fields.Function(lambda r: mask_phone(r.phone), data_key="phone")
    id_tail = fields.String()
    birth_year = fields.Integer(allow_none=True)
    moved_in_on = fields.Date(allow_none=True)
    moved_out_on = fields.Date(allow_none=True)
    hide_from_board = fields.Boolean()
    balance = fields.Method("_balance")

    views = {
        "public": ("masked_name",),
        "resident": ("id", "name", "masked_name", "relation", "address", "phone", "id_tail", "hide_from_board",
                     "balance"),
        "office": ("id", "name", "masked_name", "relation", "address", "phone", "id_tail", "birth_year",
                   "moved_in_on", "moved_out_on", "hide_from_board", "balance"),
        "office_list": ("id", "name", "relation", "address", "phone_masked", "moved_out_on", "balance"),
        # her own data download (/me/data): everything kept about her
        "own_data": ("id", "name", "relation", "address", "phone", "id_tail", "birth_year", "moved_in_on",
                     "moved_out_on", "hide_from_board", "balance"),
    }

    def __init__(self, view: str, *, balances: dict[int, int] | None = None, **kwargs):
        super().__init__(view, **kwargs)
        self.balances = balances or {}

    def _balance(self, resident) -> int | None:
        return self.balances.get(resident.id)


def audience(viewer, resident, *, listing: bool = False) -> str:
    """The view of `resident` that `viewer` (a user, or None) may have: the office of her community
    (`office`, in a list `office_list`), herself (`resident`), anyone else, other residents included
    (`public`)."""
    if can(viewer, Action.MANAGE_COMMUNITY, resident):
        return "office_list" if listing else "office"
    if can(viewer, Action.VIEW_SELF) and viewer.resident_id == resident.id:
        return "resident"
    return "public"
