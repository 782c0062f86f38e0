"""Integrations: API tokens (bearer clients: a mini-program, a kiosk, the city's platform), the record of
Idempotency-Key requests, and webhooks (an outbox written with the change, delivered by the job runner)."""
