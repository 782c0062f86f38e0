"""/api/v1/tokens (tokens.py) and /api/v1/communities/<id>/webhooks (webhooks.py)."""
from pointsapp.integrations.api import tokens, webhooks

blueprints = [*tokens.blueprints, *webhooks.blueprints]
