"""/api/v1/communities/<id>/tree and /residents: the office's tree and people, as its pages show them.

The office's lists show a phone masked and no ID digits; a resident's own page shows the ID tail and birth year
as "****" until 「查看完整信息」 (a logged reveal, on the pages only). The API answers with the same views of
ResidentSchema (`office_list`, `office_card`): whatever the pages withhold, the API withholds; the full ID number
is never stored at all (only its last four characters).
"""
from flask import jsonify

from pointsapp.core.api import ApiBlueprint
from pointsapp.core.permissions import COMMUNITY_ADMIN, Action, policy, require
from pointsapp.core.web import actor
from pointsapp.ledger.services.posting import balance_of
from pointsapp.tree import services as tree
from pointsapp.tree.models import Building, Resident
from pointsapp.tree.schemas import (
    FindResidentsSchema,
    OfficeResidentListSchema,
    OfficeResidentSchema,
    ShowTreeSchema,
    TreePageSchema,
    tree_of,
)
from pointsapp.tree.services import search

bp = ApiBlueprint("api_tree", __name__, url_prefix="/api/v1/communities/<int:community_id>",
                  description="The office: the community's buildings, households and residents")

SEARCH_LIMIT = 100  # as the office's residents page


@bp.route("/tree")
@bp.arguments(ShowTreeSchema, location="query")
@bp.response(200, TreePageSchema("office"))
@policy(COMMUNITY_ADMIN)
def show_tree(wanted, community_id: int):
    """A page of households under their buildings, each with its residents (filter by building or a search)."""
    c = tree.get_community(community_id)
    if wanted["building_id"] is not None:
        tree.get_in_community(Building, c.id, wanted["building_id"])
    found = search.households_page(c.id, wanted["q"], building_id=wanted["building_id"], page=wanted["page"],
                                   per_page=wanted["per_page"], include_moved_out=wanted["moved"])
    return {"page": wanted["page"], "per_page": wanted["per_page"], "total": found.total,
            "buildings": tree_of(found)}


@bp.route("/residents")
@bp.arguments(FindResidentsSchema, location="query")
@bp.response(200, OfficeResidentListSchema("office"))
@policy(COMMUNITY_ADMIN)
def find_residents(wanted, community_id: int):
    """Residents by a name, phone or room, best first (at most 100, with the total), as the residents page."""
    c = tree.get_community(community_id)
    found = search.find_residents(c.id, wanted["q"], limit=SEARCH_LIMIT, include_moved_out=wanted["moved"])
    return {"total": found.total, "note": found.note, "residents": found.residents}


@bp.route("/residents/<int:resident_id>")
@bp.response(200, OfficeResidentSchema())
@policy(COMMUNITY_ADMIN)
def show_resident(community_id: int, resident_id: int):
    """One resident as her page first shows her to the office: phone masked, ID tail and birth year "****"."""
    c = tree.get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    require(actor(), Action.VIEW_RESIDENT, r)
    response = jsonify(OfficeResidentSchema(balances={r.id: balance_of(r.id)}).dump(r))
    response.headers["Cache-Control"] = "no-store"  # personal data, as her page
    return response


blueprints = [bp]
