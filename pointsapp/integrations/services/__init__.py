"""Integrations' services: tokens, idempotency records, webhooks."""
