"""Pages of the catalogue (积分细则): the office's page to keep it, the residents' page in plain words, and the
A4 notice for the board."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from pointsapp.catalogue.forms import EmptyForm, ItemForm, RetireForm, options
from pointsapp.catalogue.models import CatalogueItem, Confirmer, ItemKind
from pointsapp.catalogue.services import items as catalogue
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.core import qr
from pointsapp.core.errors import NotFound
from pointsapp.core.extensions import db
from pointsapp.core.hosts import public_url
from pointsapp.core.localtime import local_date
from pointsapp.core.permissions import COMMUNITY_ADMIN, PUBLIC, policy
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.tree import services as tree
from pointsapp.volunteering.models import Team

bp = Blueprint("catalogue", __name__)


def _item(community_id: int, item_id: int) -> CatalogueItem:
    item = catalogue_rules.item_in(community_id, item_id)
    if item is None:
        raise NotFound(_("No such catalogue item."))
    return item


def _form(community_id: int, **kwargs) -> ItemForm:
    form = ItemForm(**kwargs)
    teams = db.session.scalars(select(Team).where(Team.community_id == community_id).order_by(Team.name)).all()
    form.team_id.choices = options([(0, "—"), *((t.id, t.name) for t in teams)])
    return form


def _fields(form: ItemForm, kind: str) -> catalogue.ItemFields:
    deduct = kind == ItemKind.DEDUCT
    return catalogue.ItemFields(
        kind=kind, category=form.category.data or "", title=form.title.data or "",
        description=form.description.data or "", points=form.points.data,
        per_hour=bool(form.per_hour.data) and not deduct, hourly_cap=form.hourly_cap.data,
        evidence=form.evidence.data, confirmer=Confirmer.OFFICE if deduct else form.confirmer.data,
        team_id=form.team_id.data or None, claimable=bool(form.claimable.data) and not deduct,
        limit_count=None if deduct else form.limit_count.data,
        limit_period=None if deduct else (form.limit_period.data or None),
        active_from=form.active_from.data, active_until=form.active_until.data,
        is_veto=bool(form.is_veto.data) and deduct, counts_against_earning=bool(form.counts_against_earning.data))


@bp.route("/admin/c/<int:community_id>/catalogue", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def manage(community_id: int):
    c = tree.get_community(community_id)
    form = _form(c.id)
    if form.validate_on_submit():
        ok, item = attempt(lambda: catalogue.create_item(actor(), c, _fields(form, form.kind.data), utcnow()),
                           _("Item added to the catalogue."))
        if ok:
            return redirect(url_for(".manage", community_id=c.id))
    current = catalogue_rules.current_items(c.id)
    groups = {kind: {} for kind in (ItemKind.EARN, ItemKind.DEDUCT)}
    for item in current:
        groups[item.kind].setdefault(item.category, []).append(item)
    return render_template("catalogue/manage.html", community=c, form=form, groups=groups, empty=not current,
                           retired=catalogue.retired_items(c.id), button=EmptyForm(), describe=catalogue.describe)


@bp.route("/admin/c/<int:community_id>/catalogue/model", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def adopt(community_id: int):
    c = tree.get_community(community_id)
    if EmptyForm().validate_on_submit():
        attempt(lambda: catalogue.adopt_model_catalogue(actor(), c, utcnow()),
                _("The model catalogue was added. Check the points and limits, then print it for the notice board."))
    return redirect(url_for(".manage", community_id=c.id))


@bp.route("/admin/c/<int:community_id>/catalogue/<int:item_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def edit(community_id: int, item_id: int):
    c = tree.get_community(community_id)
    item = _item(c.id, item_id)
    form = _form(c.id, obj=item)
    if request.method == "GET":
        form.note.data = ""  # the note is this change's, not the version's it starts from
    if item.is_current and form.validate_on_submit():
        ok, new = attempt(lambda: catalogue.revise_item(actor(), item, _fields(form, item.kind), form.note.data,
                                                        utcnow()),
                          _("Saved as a new version. Earlier claims keep the points of their version."))
        if ok:
            return redirect(url_for(".edit", community_id=c.id, item_id=new.id))
    return render_template("catalogue/edit.html", community=c, item=item, form=form, retire_form=RetireForm(),
                           history=catalogue.versions(item), describe=catalogue.describe)


@bp.route("/admin/c/<int:community_id>/catalogue/<int:item_id>/retire", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def retire(community_id: int, item_id: int):
    c = tree.get_community(community_id)
    item = _item(c.id, item_id)
    form = RetireForm()
    if form.validate_on_submit():
        attempt(lambda: catalogue.retire_item(actor(), item, form.note.data, utcnow()),
                _("Retired: the item is no longer in the catalogue."))
    return redirect(url_for(".manage", community_id=c.id))


def _public(community_id: int):
    c = tree.get_community(community_id)
    now = utcnow()
    return c, catalogue.public_catalogue(c.id, local_date(now)), catalogue.latest_change(c.id)


@bp.route("/communities/<int:community_id>/catalogue")
@policy(PUBLIC)
def public(community_id: int):
    c, groups, changed = _public(community_id)
    return render_template("catalogue/public.html", community=c, groups=groups, changed=changed)


@bp.route("/communities/<int:community_id>/catalogue/print")
@policy(PUBLIC)
def printable(community_id: int):
    c, groups, changed = _public(community_id)
    link = public_url("catalogue.public", community_id=c.id)
    return render_template("catalogue/printable.html", community=c, groups=groups, changed=changed, link=link,
                           qr_svg=qr.svg(link, border=1).decode())
