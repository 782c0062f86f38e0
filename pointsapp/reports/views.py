"""Pages of the reports feature."""
from flask import Blueprint, abort

from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, PUBLIC, policy  # noqa: F401

bp = Blueprint("reports", __name__)


@bp.route("/admin/communities/<int:community_id>/reports")
@policy(COMMUNITY_ADMIN)
def index(community_id):  # replaced by the feature's page
    abort(404)
