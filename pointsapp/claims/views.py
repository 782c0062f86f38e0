"""Pages of the claims feature."""
from flask import Blueprint, abort

from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, PUBLIC, policy  # noqa: F401

bp = Blueprint("claims", __name__)


@bp.route("/me/claims/new")
@policy(AUTHENTICATED)
def new():  # replaced by the feature's page
    abort(404)


@bp.route("/me/claims")
@policy(AUTHENTICATED)
def mine():  # replaced by the feature's page
    abort(404)


@bp.route("/me/witness")
@policy(AUTHENTICATED)
def witness_list():  # replaced by the feature's page
    abort(404)


@bp.route("/claims/review")
@policy(AUTHENTICATED)
def review_list():  # replaced by the feature's page
    abort(404)


@bp.route("/admin/communities/<int:community_id>/claims")
@policy(COMMUNITY_ADMIN)
def queue(community_id):  # replaced by the feature's page
    abort(404)
