"""The office's award review (separation of duties, DESIGN.md invariant 10): attendances held for the office
(recorded by hand, above the community's ceiling, or a lead's own household's), unusual awards of the last 30
days, and the community's points rules (ceiling and caps)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsapp.core.forms import EmptyForm
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.services import by_hand, rules
from pointsapp.tree.services import get_community
from pointsapp.volunteering.forms import PointsRulesForm
from pointsapp.volunteering.services import checkin
from pointsapp.volunteering.views.reviewing import decide_ticked

bp = Blueprint("awards", __name__, url_prefix="/admin/c/<int:community_id>/awards")


@bp.route("/")
@policy(COMMUNITY_ADMIN)
def review(community_id: int):
    community = get_community(community_id)
    now = utcnow()
    held = checkin.held_for_office(community)
    norm, unusual = rules.unusual_awards(community.id, now)
    form = PointsRulesForm(obj=community)
    return render_template("awards/review.html", community=community, held=held, due=checkin.amount_due,
                           norm=norm, unusual=unusual, form=EmptyForm(), rules_form=form, me=actor(),
                           by_hand=by_hand.waiting(community.id))


@bp.route("/by-hand/<int:award_request_id>", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def decide_by_hand(community_id: int, award_request_id: int):
    """Another office member confirms or refuses an award by hand above the ceiling (ledger.services.by_hand)."""
    community = get_community(community_id)
    form = EmptyForm()
    if form.validate_on_submit():
        def act():
            award = by_hand.get_request(community.id, award_request_id)
            if request.form.get("action") == "confirm":
                return by_hand.confirm(actor(), award, utcnow())
            return by_hand.refuse(actor(), award, request.form.get("reason", ""), utcnow())
        attempt(act, _("Decided."))
    return redirect(url_for(".review", community_id=community.id))


@bp.route("/decide", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def decide(community_id: int):
    community = get_community(community_id)
    decide_ticked(lambda ids: checkin.office_approve(actor(), community, ids, utcnow()),
                  lambda ids, reason: checkin.office_reject(actor(), community, ids, reason, utcnow()))
    return redirect(url_for(".review", community_id=community.id))


@bp.route("/rules", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def save_rules(community_id: int):
    community = get_community(community_id)
    form = PointsRulesForm()
    if form.validate_on_submit():
        chosen = rules.PointsRules(form.award_ceiling.data, form.earn_cap_day.data, form.earn_cap_month.data)
        attempt(lambda: rules.set_points_rules(actor(), community, chosen, utcnow()), _("Points rules saved."))
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for(".review", community_id=community.id))
