"""/api/v1/tokens: her own tokens (list, revoke). Tokens are made on the token pages (the secret is shown
once, to a person); a token cannot make tokens."""
from marshmallow import Schema, fields

from pointsapp.core.api import ApiBlueprint, current_token
from pointsapp.core.errors import NotFound
from pointsapp.core.permissions import AUTHENTICATED, policy
from pointsapp.core.web import actor, utcnow
from pointsapp.integrations.services import tokens

bp = ApiBlueprint("api_tokens", __name__, url_prefix="/api/v1/tokens", description="Her own API tokens")


class TokenSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["personal", "device"]})
    prefix = fields.String(required=True, metadata={"description": "The secret's first characters"})
    roles = fields.List(fields.String(), required=True, attribute="role_list")
    community_id = fields.Integer(required=True)
    store_id = fields.Integer(allow_none=True, required=True)
    rate_per_minute = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    revoked_at = fields.DateTime(allow_none=True, required=True)
    last_used_at = fields.DateTime(allow_none=True, required=True)


def _reachable(token) -> bool:
    """Hers, and, when this request came with a token, in that token's community and no wider than it."""
    calling = current_token()
    if token.user_id != actor().id:
        return False
    if calling is None or token.id == calling.id:
        return True
    # a token reaches her other tokens only when it carries at least their roles, for the whole community (a
    # counter tablet's token does not see, or revoke, the office member's own)
    return (token.community_id == calling.community_id and calling.store_id is None
            and set(token.role_list) <= set(calling.role_list))


def _own(token_id: int):
    token = tokens.get(None, token_id)
    if not _reachable(token):
        raise NotFound()
    return token


@bp.route("")
@bp.response(200, TokenSchema(many=True))
@policy(AUTHENTICATED)
def index():
    """Her tokens, newest first: name, roles, where, last use, expiry, whether revoked."""
    return [t for t in tokens.of_user(actor()) if _reachable(t)]


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@bp.response(200, TokenSchema)
@policy(AUTHENTICATED)
def revoke(token_id: int):
    """Revoke one of her tokens (it stops working at once; a token may revoke itself)."""
    return tokens.revoke(actor(), _own(token_id), utcnow())


blueprints = [bp]
