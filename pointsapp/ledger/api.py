"""/api/v1 operations of the ledger. `api_checkpoints`: the public checkpoint roots (no login)."""
from pointsapp.core.api import ApiBlueprint
from pointsapp.core.periods import local_date
from pointsapp.core.permissions import PUBLIC, policy
from pointsapp.ledger.schemas import CheckpointsSchema
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.tree.services import get_community

checkpoints_bp = ApiBlueprint("api_checkpoints", __name__, url_prefix="/api/v1/public/communities",
                              description="Ledger checkpoints anyone may check the ledger against")

CHECKPOINTS_SHOWN = 30  # about a month of nightly checkpoints


@checkpoints_bp.route("/<int:community_id>/checkpoints")
@checkpoints_bp.response(200, CheckpointsSchema)
@policy(PUBLIC)
def checkpoints(community_id: int):
    """The community's latest ledger checkpoints (day, root hash, counts), newest first."""
    community = get_community(community_id)
    return {"community_id": community.id, "checkpoints": [
        {"day": local_date(cp.created_at), "created_at": cp.created_at, "root": cp.root,
         "resident_count": cp.resident_count, "entry_count": cp.entry_count}
        for cp in ledger_audit.recent_checkpoints(community.id, CHECKPOINTS_SHOWN)]}


blueprints = [checkpoints_bp]
