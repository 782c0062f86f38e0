"""/api/v1/communities/<community_id>/webhooks: an office's endpoints, their deliveries, redelivery."""
blueprints: list = []
