"""City admin pages: subdistricts and communities."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from pointsapp.core.extensions import db
from pointsapp.core.forms import options
from pointsapp.core.permissions import CITY_ADMIN, policy
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.tree import services as tree
from pointsapp.tree.forms import CommunityForm, SubdistrictForm
from pointsapp.tree.models import Subdistrict

bp = Blueprint("city", __name__, url_prefix="/city")


@bp.route("/", methods=["GET"])
@policy(CITY_ADMIN)
def index():
    subs = db.session.scalars(select(Subdistrict).order_by(Subdistrict.name)).all()
    community_form = CommunityForm()
    community_form.subdistrict_id.choices = options((s.id, s.name) for s in subs)
    return render_template("city/index.html", subdistricts=subs, sub_form=SubdistrictForm(prefix="sub"),
                           community_form=community_form)


@bp.route("/subdistricts", methods=["POST"])
@policy(CITY_ADMIN)
def add_subdistrict():
    form = SubdistrictForm(prefix="sub")
    if form.validate_on_submit():
        attempt(lambda: tree.create_subdistrict(actor(), form.name.data, form.city.data, utcnow()),
               _("Subdistrict added."))
    else:
        _flash_errors(form)
    return redirect(url_for(".index"))


@bp.route("/communities", methods=["POST"])
@policy(CITY_ADMIN)
def add_community():
    form = CommunityForm()
    form.subdistrict_id.choices = options((s.id, s.name) for s in db.session.scalars(select(Subdistrict)))
    if form.validate_on_submit():
        sub = db.session.get(Subdistrict, form.subdistrict_id.data)
        attempt(lambda: tree.create_community(actor(), sub, form.name.data, form.address.data, utcnow()),
               _("Community added."))
    else:
        _flash_errors(form)
    return redirect(url_for(".index"))


def _flash_errors(form) -> None:
    for field, errors in form.errors.items():
        label = getattr(form, field).label.text if hasattr(form, field) else field
        for message in errors:
            flash(f"{label}: {message}", "error")
