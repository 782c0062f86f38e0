"""/api/v1/communities/<id>/deductions: the office's 负向扣分 (deductions.services, as the office's page): the
recent deductions, recording one against a resident or a household (with an optional photo as base64), and
withdrawing one (an objection upheld)."""
import base64
import binascii

from flask import current_app
from flask_babel import lazy_gettext as _l

from pointsapp.catalogue.models import CatalogueItem
from pointsapp.core.api import ApiBlueprint, domain_key
from pointsapp.core.errors import InvalidInput, NotFound
from pointsapp.core.localtime import FIRST_YEAR, LAST_YEAR, from_local_naive, local_naive
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.web import actor, utcnow
from pointsapp.deductions import services as deductions
from pointsapp.deductions.schemas import (
    DeductionListSchema,
    DeductionSchema,
    RecordDeductionSchema,
    WithdrawDeductionSchema,
)
from pointsapp.tree import services as tree
from pointsapp.tree.models import Resident

bp = ApiBlueprint("api_deductions", __name__, url_prefix="/api/v1/communities/<int:community_id>/deductions",
                  description="The office: deductions (负向扣分)")


def _photo(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True) or None
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(_l("This file is not a photo we can read (use JPEG or PNG)."), code="invalid_photo") from exc


def _moment(occurred):
    """The body's time (aware, China time when it named no zone) as UTC; now when not given."""
    if occurred is None:
        return utcnow()
    if not FIRST_YEAR <= occurred.year <= LAST_YEAR:  # before converting: year 1 or 9999 would overflow
        return from_local_naive(occurred.replace(tzinfo=None))  # raises invalid_date
    return from_local_naive(local_naive(occurred))


@bp.route("")
@bp.response(200, DeductionListSchema("office"))
@policy(COMMUNITY_ADMIN)
def list_deductions(community_id: int):
    """The community's latest deductions (at most 100), newest first, as the office's page lists them."""
    c = tree.get_community(community_id)
    rows = deductions.recent(actor(), c.id)
    photos = deductions.with_photo([d.id for d in rows])  # one statement; the photos themselves stay unread
    for d in rows:
        d.has_photo = d.id in photos
    return {"deductions": rows}


@bp.route("", methods=["POST"])
@bp.arguments(RecordDeductionSchema, location="json")
@bp.response(201, DeductionSchema("office"))
@policy(COMMUNITY_ADMIN)
def record(wanted, community_id: int):
    """Record a deduction against one resident or one household (building, unit, room) under a current item."""
    c = tree.get_community(community_id)
    resident = household = None
    if wanted["resident_id"] is not None:
        resident = get_row(Resident, wanted["resident_id"])
        if resident is None or resident.community_id != c.id:
            raise NotFound(_l("Find the resident and choose her first."), code="no_such_resident")
    if wanted["building_id"] is not None or wanted["room"]:
        household = deductions.household_at(c.id, wanted["building_id"], wanted["unit"], wanted["room"])
    return deductions.record_deduction(
        actor(), get_row(CatalogueItem, wanted["item_id"]), resident=resident, household=household,
        occurred_at=_moment(wanted["occurred_at"]), reason=wanted["reason"], evidence=_photo(wanted["photo"]),
        request_key=domain_key(wanted["request_key"]), now=utcnow())


@bp.route("/<int:deduction_id>/withdraw", methods=["POST"])
@bp.arguments(WithdrawDeductionSchema, location="json")
@bp.response(200, DeductionSchema("office"))
@policy(COMMUNITY_ADMIN)
def withdraw(wanted, community_id: int, deduction_id: int):
    """Withdraw a deduction (an objection upheld): its points are given back and nothing more is owed."""
    c = tree.get_community(community_id)
    deduction = deductions.get_deduction(c.id, deduction_id)
    return deductions.withdraw_deduction(actor(), deduction, wanted["reason"], utcnow())


@bp.route("/<int:deduction_id>/photo")
@bp.doc(responses={"200": {"description": "The photo recorded with it (JPEG)", "content": {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}})
@policy(COMMUNITY_ADMIN)
def photo(community_id: int, deduction_id: int):
    """The photo recorded with a deduction (JPEG, as stored: shrunk, EXIF and GPS dropped); 404 when it has none.
    A deduction in the list says whether it has one (`has_photo`)."""
    c = tree.get_community(community_id)
    deduction = deductions.get_deduction(c.id, deduction_id)
    if not deduction.evidence:
        raise NotFound(_l("This deduction has no photo."), code="no_photo")
    return current_app.response_class(deduction.evidence, mimetype="image/jpeg")


blueprints = [bp]
