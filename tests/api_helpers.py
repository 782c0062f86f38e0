"""Calling /api/v1 in tests: tokens made through the service (as the token pages do), headers, the error
shape. `token_for(user, community, roles)` returns the secret a client would send."""
import uuid

from pointsapp.core.extensions import db
from pointsapp.integrations.services import tokens

RATE_FOR_TESTS = 6000  # requests a minute: tests that count on the limit make their own token


def token_for(user, community, roles, *, store=None, kind="personal", actor=None, now=None, days=30,
              rate=RATE_FOR_TESTS) -> str:
    from pointsapp.core.clock import utcnow
    community_id = community if isinstance(community, int) else community.id
    store_id = store if store is None or isinstance(store, int) else store.id
    _, secret = tokens.create(actor or user, user=user, kind=kind, name=f"test {uuid.uuid4().hex[:6]}",
                              roles=[str(r) for r in roles], community_id=community_id, store_id=store_id,
                              days=days, rate_per_minute=rate, now=now or utcnow())
    db.session.commit()
    return secret


def bearer(secret: str, key: str | None = None, lang: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if lang is not None:
        headers["Accept-Language"] = lang
    return headers


def error_of(response) -> dict:
    """The error of an API response, checked to be in the one shape."""
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
