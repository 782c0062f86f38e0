"""Residents browse upcoming activities and sign up; community admins manage teams and word lists."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm, options
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.core.words import word
from pointsapp.tree.services import get_community
from pointsapp.volunteering.forms import TeamForm
from pointsapp.volunteering.models import Activity, Team, TeamMember
from pointsapp.volunteering.schemas import SetLabelsSchema
from pointsapp.volunteering.services import activities

bp = Blueprint("volunteer", __name__)


@bp.route("/activities")
@policy(AUTHENTICATED)
def upcoming():
    resident = current_user.resident
    if resident is None:
        return render_template("volunteer/upcoming.html", activities=[], signed=set(), resident=None)
    acts = activities.upcoming(resident.community_id, utcnow())
    return render_template("volunteer/upcoming.html", activities=acts, resident=resident, form=EmptyForm(),
                           signed=activities.signed_up_ids(resident.id, [a.id for a in acts]), now=utcnow())


@bp.route("/activities/<int:activity_id>/signup", methods=["POST"])
@policy(AUTHENTICATED)
def signup(activity_id: int):
    resident = current_user.resident
    if resident is not None and EmptyForm().validate_on_submit():
        a = activities.get_activity(activity_id)
        attempt(lambda: activities.sign_up(resident, a, utcnow()), _("You have signed up for “%(t)s”.", t=a.title))
    return redirect(url_for(".upcoming"))


@bp.route("/admin/c/<int:community_id>/teams", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def teams(community_id: int):
    c = get_community(community_id)
    form = TeamForm()
    form.category.choices = options((x, word(x)) for x in activities.labels(c.id, "team_category"))
    if request.method == "POST" and request.form.get("labels_group"):
        if EmptyForm().validate_on_submit():
            def work():
                words = load_or_error(SetLabelsSchema, request.form)
                return activities.set_labels(actor(), c, words["group"], words["names"], utcnow())
            attempt(work, _("Saved."))
        return redirect(url_for(".teams", community_id=c.id))
    if form.validate_on_submit():
        ok, _t = attempt(lambda: activities.create_team(actor(), c, form.name.data, form.category.data, utcnow()),
                        _("Team added."))
        if ok:
            return redirect(url_for(".teams", community_id=c.id))
    members = (select(TeamMember.team_id, func.count(TeamMember.id).label("n")).group_by(TeamMember.team_id)
               .subquery())
    acts = (select(Activity.team_id, func.count(Activity.id).label("n")).group_by(Activity.team_id).subquery())
    rows = db.session.execute(select(Team, func.coalesce(members.c.n, 0), func.coalesce(acts.c.n, 0))
                              .outerjoin(members, members.c.team_id == Team.id)
                              .outerjoin(acts, acts.c.team_id == Team.id)
                              .where(Team.community_id == c.id).order_by(Team.category, Team.name)).all()
    return render_template("volunteer/teams.html", community=c, rows=rows, form=form, button_form=EmptyForm(),
                           categories=activities.labels(c.id, "team_category"),
                           kinds=activities.labels(c.id, "activity_kind"))
