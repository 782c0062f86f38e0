"""Residents browse the coming weeks' activities, sign up and cancel; community admins manage teams and word lists."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm, options
from pointsapp.core.localtime import local_date
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import load_or_error, read_query
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.core.words import word
from pointsapp.tree.services import get_community
from pointsapp.volunteering.forms import TeamForm
from pointsapp.volunteering.models import Activity, Team, TeamMember
from pointsapp.volunteering.schemas import BrowseActivitiesSchema, SetLabelsSchema
from pointsapp.volunteering.services import activities, signups

bp = Blueprint("volunteer", __name__)


@bp.route("/activities")
@policy(AUTHENTICATED)
def upcoming():
    resident = current_user.resident
    if resident is None:
        return render_template("volunteer/upcoming.html", days=[], mine=[], resident=None)
    now = utcnow()
    wanted = read_query(BrowseActivitiesSchema, request.args)
    acts = signups.upcoming(resident.community_id, now, week=wanted["week"], team_id=wanted["team"],
                            kind=wanted["kind"] or None)
    mine = signups.my_signups(resident, now)
    teams = db.session.scalars(select(Team).where(Team.community_id == resident.community_id)
                               .order_by(Team.category, Team.name)).all()
    return render_template("volunteer/upcoming.html", days=signups.by_day(acts, now), mine=mine, resident=resident,
                           places=signups.places(resident, [*acts, *mine], now), form=EmptyForm(), now=now,
                           teams=teams, kinds=activities.labels(resident.community_id, "activity_kind"),
                           wanted=wanted, weeks=[signups.week_days(now, w) for w in range(signups.WEEKS)],
                           today=local_date(now),
                           back=request.full_path.rstrip("?"))


def _back():
    """Back to the list the button was on (its filters kept), never to another site."""
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/activities") and "//" not in target else url_for(".upcoming"))


@bp.route("/activities/<int:activity_id>/signup", methods=["POST"])
@policy(AUTHENTICATED)
def signup(activity_id: int):
    if EmptyForm().validate_on_submit():
        def work():
            a = activities.get_activity(activity_id)
            signups.sign_up(actor(), a, utcnow())
            flash(_("You have signed up for “%(t)s”.", t=a.title), "success")
        attempt(work)
    return _back()


@bp.route("/activities/<int:activity_id>/cancel", methods=["POST"])
@policy(AUTHENTICATED)
def cancel(activity_id: int):
    if EmptyForm().validate_on_submit():
        def work():
            a = activities.get_activity(activity_id)
            signups.cancel(actor(), a, utcnow())
            flash(_("Your sign-up for “%(t)s” is cancelled.", t=a.title), "success")
        attempt(work)
    return _back()


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
