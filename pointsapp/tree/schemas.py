"""What the people pages read from query strings and forms (besides their WTForms), and how a resident
is shown to each audience (the coming JSON API): the public, the resident herself, the office."""
from marshmallow import fields

from pointsapp.core.permissions import Action, can
from pointsapp.core.schemas import Flag, Id, InputSchema, OutputSchema, Search, Whole
from pointsapp.rankings.services import named_in_public
from pointsapp.tree.services import mask_phone


class FindResidentsSchema(InputSchema):
    """?q= a name, phone or room; ?moved=1 to include those who moved out."""

    q = Search()
    moved = Flag()


MAX_PER_PAGE = 200  # households on one page of the API's tree


class ShowTreeSchema(InputSchema):
    """The API's tree: ?building_id= one building (else all), ?q= a name, phone or room (as the residents'
    search reads it), ?moved=1 with those who moved out, ?page= and ?per_page= (at most MAX_PER_PAGE)."""

    building_id = Id(load_default=None)
    q = Search()
    moved = Flag()
    page = Whole(min=1, max=1_000_000, load_default=1)
    per_page = Whole(min=1, max=MAX_PER_PAGE, load_default=50)


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
    masked_name = fields.Function(lambda r: named_in_public(r.community, r.name, r.hide_from_board), allow_none=True,
                                  metadata={"type": "string", "description": "The name as public lists show it"})
    household_id = fields.Integer()
    relation = fields.String()
    address = fields.Function(lambda r: r.household.address, metadata={"type": "string"})
    phone = fields.String()
    phone_masked = fields.Function(lambda r: mask_phone(r.phone), data_key="phone",
                                   metadata={"type": "string", "description": "Masked: 139****5678"})
    id_tail = fields.String()
    # the office's resident page before 「查看完整信息」: whether there is an ID tail or birth year, not which
    id_tail_masked = fields.Function(lambda r: "****" if r.id_tail else "", data_key="id_tail",
                                     metadata={"type": "string", "description": "\"****\" when recorded, else empty"})
    birth_year = fields.Integer(allow_none=True)
    birth_year_masked = fields.Function(lambda r: "****" if r.birth_year else "", data_key="birth_year",
                                        metadata={"type": "string",
                                                  "description": "\"****\" when recorded, else empty"})
    moved_in_on = fields.Date(allow_none=True)
    moved_out_on = fields.Date(allow_none=True)
    hide_from_board = fields.Boolean()
    balance = fields.Method("_balance", allow_none=True,
                            metadata={"type": "integer", "description": "Points, when the caller passes them"})

    views = {
        "public": ("masked_name",),
        "resident": ("id", "name", "masked_name", "relation", "address", "phone", "id_tail", "hide_from_board",
                     "balance"),
        "office": ("id", "name", "masked_name", "relation", "address", "phone", "id_tail", "birth_year",
                   "moved_in_on", "moved_out_on", "hide_from_board", "balance"),
        "office_list": ("id", "name", "relation", "address", "phone_masked", "moved_out_on", "balance"),
        # the office's resident page as it first opens (the API's resident for the office): the phone masked,
        # the ID tail and birth year as "****"; the full values only through the logged reveal (the pages')
        "office_card": ("id", "name", "household_id", "relation", "address", "phone_masked", "id_tail_masked",
                        "birth_year_masked", "moved_out_on", "balance"),
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


# ---- the API's answers for the office (tree/api.py) ----------------------------------------------------------

class OfficeResidentRowSchema(ResidentSchema):
    """A resident in the office's lists (the `office_list` view), under its own name in the OpenAPI document."""

    def __init__(self, **kwargs):
        kwargs.pop("only", None)  # (marshmallow's Nested passes only=None): the view decides
        super().__init__("office_list", **kwargs)


class OfficeResidentSchema(ResidentSchema):
    """A resident as her page first shows her to the office (the `office_card` view)."""

    def __init__(self, **kwargs):
        kwargs.pop("only", None)  # (marshmallow's Nested passes only=None): the view decides
        super().__init__("office_card", **kwargs)


class OfficeResidentListSchema(OutputSchema):
    """Residents found by a search: at most `limit`, with how many match in all and what the page would say."""

    total = fields.Integer(required=True, metadata={"description": "Residents matching, all of them"})
    note = fields.String(required=True, metadata={"description": "Why the list is cut or widened; empty if whole"})
    residents = fields.List(fields.Nested(OfficeResidentRowSchema), required=True)

    views = {"office": ("total", "note", "residents")}


class TreeHouseholdSchema(OutputSchema):
    id = fields.Integer(required=True)
    unit = fields.String(required=True)
    room = fields.String(required=True)
    address = fields.String(required=True)
    residents = fields.List(fields.Nested(OfficeResidentRowSchema), required=True,
                            metadata={"description": "Phones masked, no ID digits (as the office's lists)"})

    views = {"office": ("id", "unit", "room", "address", "residents")}


class TreeBuildingSchema(OutputSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    grid_id = fields.Integer(allow_none=True, required=True)
    households = fields.List(fields.Nested(TreeHouseholdSchema("office")), required=True)

    views = {"office": ("id", "name", "grid_id", "households")}


class TreePageSchema(OutputSchema):
    """One page of households, under their buildings, each with its residents."""

    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "Households matching, on every page"})
    buildings = fields.List(fields.Nested(TreeBuildingSchema("office")), required=True)

    views = {"office": ("page", "per_page", "total", "buildings")}


def tree_of(found) -> list[dict]:
    """A households page (tree.services.search.HouseholdsPage) as buildings holding their households."""
    buildings: dict[int, dict] = {}
    for household in found.households:
        building = buildings.setdefault(household.building_id, {
            "id": household.building_id, "name": household.building.name, "grid_id": household.building.grid_id,
            "households": []})
        building["households"].append({"id": household.id, "unit": household.unit, "room": household.room,
                                        "address": household.address,
                                        "residents": found.residents.get(household.id, [])})
    return list(buildings.values())
