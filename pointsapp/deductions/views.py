"""负向扣分 pages: the office's page (record a deduction, the recent ones, withdraw one) and the resident's notice
on her home page (templates/deductions/_notice.html)."""
import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.core.errors import NotFound
from pointsapp.core.localtime import from_local_naive, to_local
from pointsapp.core.lookup import get_row, typed_id
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.photos import MAX_BYTES
from pointsapp.core.schemas import read_query
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.deductions import services as deductions
from pointsapp.deductions.forms import DeductionForm, WithdrawForm, options
from pointsapp.deductions.schemas import FindResidentsSchema
from pointsapp.tree import services as tree
from pointsapp.tree.models import Resident
from pointsapp.tree.services import search

bp = Blueprint("deductions", __name__)


@bp.app_template_global()
def my_deductions() -> list:
    """The logged-in resident's deductions and her household's of the last 90 days (her home page's notice)."""
    resident = getattr(current_user, "resident", None) if getattr(current_user, "is_authenticated", False) else None
    return deductions.of_resident(resident, utcnow()) if resident is not None else []



def _photo() -> bytes | None:
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        return None
    return upload.read(MAX_BYTES + 1) or None  # (photos.resized refuses what is bigger)


def _record(form: DeductionForm, community, items: dict) -> bool:
    whom = form.whom.data
    resident = household = None
    if whom == "household":
        household = deductions.household_at(community.id, typed_id(form.building.data), form.unit.data, form.room.data)
    else:
        resident = get_row(Resident, typed_id(form.resident_id.data))
        if resident is None or resident.community_id != community.id:
            raise NotFound(_("Find the resident and choose her first."), code="no_such_resident")
    occurred = from_local_naive(form.occurred_at.data)
    deductions.record_deduction(actor(), items.get(typed_id(form.item.data)), resident=resident, household=household,
                                occurred_at=occurred, reason=form.reason.data, evidence=_photo(),
                                request_key=form.request_id.data or "", now=utcnow())
    return True


@bp.route("/admin/c/<int:community_id>/deductions", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def index(community_id):
    community = tree.get_community(community_id)
    items = {i.id: i for i in catalogue_rules.current_items(community.id, "deduct")}
    q = read_query(FindResidentsSchema, request.args)["q"]
    found = search.find_residents(community.id, q) if q else None
    form = DeductionForm()
    form.item.choices = options([("", _("Choose an item"))] + [
        (str(i.id), _("%(title)s (%(n)d points)", title=i.title, n=i.points)) for i in items.values()])
    buildings = deductions.buildings(community.id)
    form.building.choices = options([("", _("Choose a building"))] + [(str(b.id), b.name) for b in buildings])
    if request.method == "GET":
        form.request_id.data = uuid.uuid4().hex
        form.occurred_at.data = to_local(utcnow()).replace(second=0, microsecond=0, tzinfo=None)
    elif form.validate_on_submit():
        ok, _d = attempt(lambda: _record(form, community, items),
                         _("Deduction recorded. The resident sees it on her home page and may object."))
        if ok:
            return redirect(url_for(".index", community_id=community.id))
    rows = deductions.recent(actor(), community.id)
    chosen = get_row(Resident, typed_id(form.resident_id.data))
    if chosen is not None and chosen.community_id != community.id:
        chosen = None
    return render_template("deductions/index.html", community=community, form=form, q=q,
                           found=found.residents if found else [], note=found.note if found else "", chosen=chosen,
                           rows=rows, with_photo=deductions.with_photo([d.id for d in rows]), withdraw_form=WithdrawForm(),
                           has_items=bool(items)), 200 if request.method == "GET" else 422


@bp.route("/admin/c/<int:community_id>/deductions/<int:deduction_id>/withdraw", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def withdraw(community_id: int, deduction_id: int):
    tree.get_community(community_id)
    deduction = deductions.get_deduction(community_id, deduction_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        attempt(lambda: deductions.withdraw_deduction(actor(), deduction, form.reason.data, utcnow()),
                _("Deduction withdrawn: its points are given back and nothing more is owed."))
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for(".index", community_id=community_id))


@bp.route("/admin/c/<int:community_id>/deductions/<int:deduction_id>/photo.jpg")
@policy(COMMUNITY_ADMIN)
def photo(community_id: int, deduction_id: int):
    deduction = deductions.get_deduction(community_id, deduction_id)
    if not deduction.evidence:
        raise NotFound(_("No photo."))
    response = current_app.response_class(deduction.evidence, mimetype="image/jpeg")
    response.cache_control.private = True
    return response
