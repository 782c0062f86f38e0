"""/api/v1/communities/<community_id>/webhooks: an office's endpoints, their deliveries, redelivery.

The same services as the pages (integrations/services/webhooks.py); community admins of the community only."""
from pointsapp.core.api import ApiBlueprint
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.web import actor, utcnow
from pointsapp.integrations.schemas.webhooks import (
    ChangeEndpointSchema,
    DeliveryListSchema,
    DeliverySchema,
    EndpointListSchema,
    EndpointSchema,
    NewSecretSchema,
    SaveEndpointSchema,
    delivery_dict,
)
from pointsapp.integrations.services import webhooks
from pointsapp.tree import services as tree

bp = ApiBlueprint("api_webhooks", __name__, url_prefix="/api/v1/communities/<int:community_id>/webhooks",
                  description="A community's webhook endpoints and their deliveries")


def _endpoint(community_id: int, endpoint_id: int):
    community = tree.get_community(community_id)
    return webhooks.get_endpoint(actor(), community.id, endpoint_id)


@bp.route("", methods=["GET"])
@bp.response(200, EndpointListSchema)
@policy(COMMUNITY_ADMIN)
def list_endpoints(community_id: int):
    """The community's webhook endpoints, newest first (never their secrets)."""
    community = tree.get_community(community_id)
    return {"endpoints": webhooks.endpoints(actor(), community.id)}


@bp.route("", methods=["POST"])
@bp.arguments(SaveEndpointSchema, location="json")
@bp.response(201, NewSecretSchema)
@policy(COMMUNITY_ADMIN)
def create_endpoint(fields: dict, community_id: int):
    """Register an endpoint (https:// only); the answer carries its signing secret, shown this once."""
    community = tree.get_community(community_id)
    endpoint, secret = webhooks.register(actor(), community.id, url=fields["url"], events=fields["events"],
                                         description=fields["description"], now=utcnow())
    return {"endpoint": endpoint, "secret": secret}


@bp.route("/<int:endpoint_id>", methods=["GET"])
@bp.response(200, EndpointSchema)
@policy(COMMUNITY_ADMIN)
def get_endpoint(community_id: int, endpoint_id: int):
    """One endpoint."""
    return _endpoint(community_id, endpoint_id)


@bp.route("/<int:endpoint_id>", methods=["PATCH"])
@bp.arguments(ChangeEndpointSchema, location="json")
@bp.response(200, EndpointSchema)
@policy(COMMUNITY_ADMIN)
def update_endpoint(fields: dict, community_id: int, endpoint_id: int):
    """Change an endpoint's address, events or description, or turn it off (`active`: false) and on."""
    endpoint = _endpoint(community_id, endpoint_id)
    return webhooks.update_endpoint(actor(), endpoint, url=fields["url"], events=fields["events"],
                                    description=fields["description"], active=fields["active"], now=utcnow())


@bp.route("/<int:endpoint_id>/secret", methods=["POST"])
@bp.response(200, NewSecretSchema)
@policy(COMMUNITY_ADMIN)
def renew_secret(community_id: int, endpoint_id: int):
    """A new signing secret (shown this once); the old one signs nothing from now on."""
    endpoint = _endpoint(community_id, endpoint_id)
    secret = webhooks.renew_secret(actor(), endpoint, utcnow())
    return {"endpoint": endpoint, "secret": secret}


@bp.route("/<int:endpoint_id>/deliveries", methods=["GET"])
@bp.response(200, DeliveryListSchema)
@policy(COMMUNITY_ADMIN)
def list_deliveries(community_id: int, endpoint_id: int):
    """The endpoint's latest 50 deliveries, newest first."""
    endpoint = _endpoint(community_id, endpoint_id)
    return {"deliveries": [delivery_dict(d) for d in webhooks.deliveries(actor(), endpoint)]}


@bp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@bp.response(200, DeliverySchema)
@policy(COMMUNITY_ADMIN)
def redeliver(community_id: int, endpoint_id: int, delivery_id: int):
    """Send a delivery again: pending now, a fresh round of attempts (who asked is logged)."""
    endpoint = _endpoint(community_id, endpoint_id)
    delivery = webhooks.redeliver(actor(), webhooks.get_delivery(actor(), endpoint, delivery_id), utcnow())
    return delivery_dict(delivery)


blueprints = [bp]
