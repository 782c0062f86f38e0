"""/api/v1 operations of recognition (star households, honour lists).

- `api_public_recognition` (no login): the star-household notices running (公示) and the published honour
  lists of a community, names under the public-name rule (rankings.starred_households / public_rows) as
  on the board and the notice pages; nothing while the board is frozen (the board hides them too).
- `api_recognition` (the community's office): its evaluations, and what the evaluation page does with
  one: put it on notice, publish it, veto a household, lift a veto (the same services as stars.evaluation).
"""
from pointsapp.core.api import ApiBlueprint
from pointsapp.core.permissions import COMMUNITY_ADMIN, PUBLIC, policy
from pointsapp.core.web import actor, utcnow
from pointsapp.rankings import services as rankings
from pointsapp.recognition.schemas import (
    EvaluationDoneSchema,
    EvaluationListSchema,
    LiftVetoSchema,
    PublicHonoursSchema,
    PublicNoticesSchema,
    VetoHouseholdSchema,
)
from pointsapp.recognition.services import honours, stars
from pointsapp.tree import services as tree
from pointsapp.tree.models import Household
from pointsapp.tree.services import get_community

public_bp = ApiBlueprint("api_public_recognition", __name__, url_prefix="/api/v1/public/communities",
                         description="Star-household notices and honour lists anyone may read")
bp = ApiBlueprint("api_recognition", __name__, url_prefix="/api/v1/communities",
                  description="The community office's star-household evaluations")

NOTICE_HOUSEHOLDS = 500  # starred households listed per notice (a community has up to tens of thousands)
HONOUR_LISTS, HONOUR_NAMES = 10, 500  # published lists, and names per list


@public_bp.route("/<int:community_id>/notices")
@public_bp.response(200, PublicNoticesSchema)
@policy(PUBLIC)
def notices(community_id: int):
    """The star-household evaluations on public notice (公示): the starred households, masked, best first."""
    community = get_community(community_id)
    shown = []
    for e in [] if community.board_frozen else stars.on_notice(community.id):
        rows = stars.results(e, min_stars=1, limit=NOTICE_HOUSEHOLDS + 1)
        shown.append({"id": e.id, "title": e.title, "period": e.period, "notice_started_at": e.notice_started_at,
                      "notice_ends_at": e.notice_ends_at, "more": len(rows) > NOTICE_HOUSEHOLDS,
                      "households": [{"label": label, "stars": n} for label, n in
                                     rankings.starred_households(community, rows[:NOTICE_HOUSEHOLDS])]})
    return {"community_id": community.id, "frozen": bool(community.board_frozen), "notices": shown}


@public_bp.route("/<int:community_id>/honours")
@public_bp.response(200, PublicHonoursSchema)
@policy(PUBLIC)
def public_honours(community_id: int):
    """The published honour lists (outstanding volunteers, building leaders), masked names, newest first."""
    community = get_community(community_id)
    lists = [] if community.board_frozen else honours.published(community.id, HONOUR_LISTS)
    return {"community_id": community.id, "frozen": bool(community.board_frozen), "honours": [
        {"id": h.id, "kind": h.kind, "title": h.title, "period": h.period, "published_at": h.published_at,
         "rows": [{"rank": rank, "name": name, "detail": detail} for rank, name, detail in rows], "unnamed": unnamed}
        for h, rows, unnamed in honours.public_lists(community, lists, names=HONOUR_NAMES)]}


# ---- the office ------------------------------------------------------------------------------------------


@bp.route("/<int:community_id>/evaluations")
@bp.response(200, EvaluationListSchema)
@policy(COMMUNITY_ADMIN)
def evaluations(community_id: int):
    """The community's star-household evaluations, newest first."""
    community = get_community(community_id)
    return {"community_id": community.id, "evaluations": stars.evaluations_of(community.id)}


def _done(evaluation, rated: int | None = None) -> dict:
    counts = stars.distribution(evaluation)
    return {"evaluation": evaluation, "rated": sum(counts.values()) if rated is None else rated,
            "distribution": [{"stars": n, "households": counts[n]} for n in sorted(counts, reverse=True)]}


@bp.route("/<int:community_id>/evaluations/<int:evaluation_id>/notice", methods=["POST"])
@bp.response(200, EvaluationDoneSchema)
@policy(COMMUNITY_ADMIN)
def start_notice(community_id: int, evaluation_id: int):
    """Put a draft evaluation's ratings on public notice (公示): they are stored, and residents may object."""
    evaluation = stars.evaluation_in(get_community(community_id).id, evaluation_id)
    return _done(evaluation, stars.start_notice(actor(), evaluation, utcnow()))


@bp.route("/<int:community_id>/evaluations/<int:evaluation_id>/publish", methods=["POST"])
@bp.response(200, EvaluationDoneSchema)
@policy(COMMUNITY_ADMIN)
def publish(community_id: int, evaluation_id: int):
    """Publish an evaluation after its notice: the ratings can no longer change (409 while the notice runs or objections are open)."""
    evaluation = stars.evaluation_in(get_community(community_id).id, evaluation_id)
    return _done(evaluation, stars.publish(actor(), evaluation, utcnow()))


@bp.route("/<int:community_id>/evaluations/<int:evaluation_id>/vetoes", methods=["POST"])
@bp.arguments(VetoHouseholdSchema, location="json")
@bp.response(200, EvaluationDoneSchema)
@policy(COMMUNITY_ADMIN)
def veto(given: dict, community_id: int, evaluation_id: int):
    """一票否决: a household of the community gets no star in this evaluation, with a reason."""
    community = get_community(community_id)
    evaluation = stars.evaluation_in(community.id, evaluation_id)
    household = tree.get_in_community(Household, community.id, given["household_id"])
    stars.veto(actor(), evaluation, household, given["reason"], utcnow())
    return _done(evaluation)


@bp.route("/<int:community_id>/evaluations/<int:evaluation_id>/vetoes/lift", methods=["POST"])
@bp.arguments(LiftVetoSchema, location="json")
@bp.response(200, EvaluationDoneSchema)
@policy(COMMUNITY_ADMIN)
def lift_veto(given: dict, community_id: int, evaluation_id: int):
    """Lift a veto of this evaluation."""
    evaluation = stars.evaluation_in(get_community(community_id).id, evaluation_id)
    stars.lift_veto(actor(), evaluation, given["veto_id"], utcnow())
    return _done(evaluation)


blueprints = [public_bp, bp]
