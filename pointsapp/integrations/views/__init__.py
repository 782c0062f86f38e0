"""Pages: API tokens (tokens.py), webhooks (webhooks.py)."""
