"""Community admin pages for the tree: overview, grids, buildings and their households."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm, options
from pointsapp.core.permissions import COMMUNITY_ADMIN, STAFF, admin_community_ids, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.tree import services as tree
from pointsapp.tree.forms import BuildingForm, GridForm, HouseholdForm, LeaderForm
from pointsapp.tree.models import Building, Community, Grid, Household, Resident
from pointsapp.tree.schemas import SetBuildingLeaderSchema
from pointsapp.tree.services import get_community

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@policy(STAFF)
def index():
    ids = admin_community_ids(actor())
    stmt = select(Community).order_by(Community.id)
    if ids is not None:
        stmt = stmt.where(Community.id.in_(ids or [-1]))
    communities = db.session.scalars(stmt).all()
    if len(communities) == 1:
        return redirect(url_for("admin.community", community_id=communities[0].id))
    return render_template("admin/index.html", communities=communities)


@bp.route("/c/<int:community_id>/")
@policy(COMMUNITY_ADMIN)
def community(community_id: int):
    c = get_community(community_id)
    return render_template("admin/community.html", community=c, counts=tree.community_counts(c.id))


@bp.route("/c/<int:community_id>/grids", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def grids(community_id: int):
    c = get_community(community_id)
    form = GridForm()
    if form.validate_on_submit():
        ok, _g = attempt(lambda: tree.create_grid(actor(), c, form.name.data, form.worker_name.data,
                                                 form.worker_phone.data, utcnow()), _("Grid added."))
        if ok:
            return redirect(url_for(".grids", community_id=c.id))
    rows = db.session.execute(
        select(Grid, func.count(Building.id)).outerjoin(Building, Building.grid_id == Grid.id)
        .where(Grid.community_id == c.id).group_by(Grid.id).order_by(Grid.name)).all()
    return render_template("admin/grids.html", community=c, rows=rows, form=form)


def _grid_choices(community_id: int):
    grids_ = db.session.scalars(select(Grid).where(Grid.community_id == community_id).order_by(Grid.name))
    return options([(0, _("(none)"))] + [(g.id, g.name) for g in grids_])


@bp.route("/c/<int:community_id>/buildings", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def buildings(community_id: int):
    c = get_community(community_id)
    form = BuildingForm()
    form.grid_id.choices = _grid_choices(c.id)
    if form.validate_on_submit():
        ok, b = attempt(lambda: tree.create_building(actor(), c, form.name.data, form.grid_id.data or None, utcnow()),
                       _("Building added."))
        if ok:
            return redirect(url_for(".building", community_id=c.id, building_id=b.id))
    households = (select(Household.building_id, func.count(Household.id).label("n"))
                  .where(Household.community_id == c.id).group_by(Household.building_id).subquery())
    rows = db.session.execute(
        select(Building, Grid.name, func.coalesce(households.c.n, 0))
        .outerjoin(Grid, Grid.id == Building.grid_id)
        .outerjoin(households, households.c.building_id == Building.id)
        .where(Building.community_id == c.id)
        .order_by(func.length(Building.name), Building.name)).all()
    return render_template("admin/buildings.html", community=c, rows=rows, form=form)


@bp.route("/c/<int:community_id>/buildings/<int:building_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def building(community_id: int, building_id: int):
    c = get_community(community_id)
    b = tree.get_in_community(Building, c.id, building_id)
    form = HouseholdForm()
    if form.validate_on_submit():
        ok, h = attempt(lambda: tree.create_household(actor(), b, form.unit.data, form.room.data, utcnow()),
                       _("Household added."))
        if ok:
            return redirect(url_for("people.household", community_id=c.id, household_id=h.id))
    counts = dict(db.session.execute(
        select(Resident.household_id, func.count(Resident.id))
        .join(Household).where(Household.building_id == b.id, Resident.moved_out_on.is_(None))
        .group_by(Resident.household_id)).all())
    leader_form = LeaderForm()
    people = db.session.scalars(select(Resident).join(Household)
                                .where(Household.building_id == b.id, Resident.moved_out_on.is_(None))
                                .options(contains_eager(Resident.household))  # the choices show unit and room
                                .order_by(Household.unit, Household.room, Resident.id)).all()
    leader_form.leader_id.choices = options([(0, _("(none)"))] + [
        (r.id, f"{r.name}（{r.household.unit}-{r.household.room}）") for r in people])
    leader_form.leader_id.data = b.leader_id or 0
    return render_template("admin/building.html", community=c, building=b, form=form, counts=counts,
                           leader_form=leader_form)


@bp.route("/c/<int:community_id>/buildings/<int:building_id>/leader", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def building_leader(community_id: int, building_id: int):
    c = get_community(community_id)
    b = tree.get_in_community(Building, c.id, building_id)
    if EmptyForm().validate_on_submit():  # CSRF is checked globally too; this keeps the form explicit
        attempt(lambda: tree.set_building_leader(actor(), b, load_or_error(SetBuildingLeaderSchema,
                                                                           request.form)["leader_id"], utcnow()),
               _("Building leader saved."))
    return redirect(url_for(".building", community_id=c.id, building_id=b.id))
