"""Pages of the catalogue feature."""
from flask import Blueprint, abort

from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, PUBLIC, policy  # noqa: F401

bp = Blueprint("catalogue", __name__)


@bp.route("/admin/communities/<int:community_id>/catalogue")
@policy(COMMUNITY_ADMIN)
def manage(community_id):  # replaced by the feature's page
    abort(404)


@bp.route("/communities/<int:community_id>/catalogue")
@policy(PUBLIC)
def public(community_id):  # replaced by the feature's page
    abort(404)


@bp.route("/communities/<int:community_id>/catalogue/print")
@policy(PUBLIC)
def printable(community_id):  # replaced by the feature's page
    abort(404)
