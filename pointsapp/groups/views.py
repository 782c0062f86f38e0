"""Pages of the groups feature."""
from flask import Blueprint, abort

from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, PUBLIC, policy  # noqa: F401

bp = Blueprint("groups", __name__)


@bp.route("/admin/communities/<int:community_id>/groups")
@policy(COMMUNITY_ADMIN)
def index(community_id):  # replaced by the feature's page
    abort(404)


@bp.route("/communities/<int:community_id>/groups")
@policy(PUBLIC)
def public(community_id):  # replaced by the feature's page
    abort(404)
