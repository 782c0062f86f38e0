"""/api/v1/me: who is asking (the app's own pages and a resident's token)."""
from marshmallow import Schema, fields

from pointsapp.core.api import ApiBlueprint
from pointsapp.core.permissions import AUTHENTICATED, policy, scopes_of
from pointsapp.core.web import actor

bp = ApiBlueprint("api_me", __name__, url_prefix="/api/v1/me", description="The person asking")


class ScopeSchema(Schema):
    role = fields.String(required=True)
    community_id = fields.Integer(allow_none=True)
    team_id = fields.Integer(allow_none=True)
    store_id = fields.Integer(allow_none=True)


class WhoAmISchema(Schema):
    user_id = fields.Integer(required=True)
    name = fields.String(required=True)
    resident_id = fields.Integer(allow_none=True)
    roles = fields.List(fields.Nested(ScopeSchema), required=True)


@bp.route("")
@bp.response(200, WhoAmISchema)
@policy(AUTHENTICATED)
def whoami():
    """Who this request acts as, and with which roles (a token's are narrowed to what it carries)."""
    user = actor()
    return {"user_id": user.id, "name": user.name, "resident_id": user.resident_id,
            "roles": [vars(s) for s in scopes_of(user)]}


blueprints = [bp]
