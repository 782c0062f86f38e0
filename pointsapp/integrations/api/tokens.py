"""/api/v1/tokens: a user's own tokens (list, revoke)."""
blueprints: list = []
