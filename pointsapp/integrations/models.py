"""API tokens, idempotent requests, webhook endpoints, the outbox and its deliveries."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime

TOKEN_KINDS = ("personal", "device")


class ApiToken(db.Model):
    """A bearer token: acts as `user`, with at most `roles` of hers, in one community (and one store).
    Only the SHA-256 of the secret is kept; `prefix` (its first characters) names it on pages."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    kind: Mapped[str] = mapped_column(String(10))  # personal | device
    name: Mapped[str] = mapped_column(String(80))
    roles: Mapped[str] = mapped_column(String(120))  # Role values, comma-separated
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_per_minute: Mapped[int] = mapped_column(default=120)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (
        CheckConstraint("kind IN ('personal', 'device')", name="kind_known"),
        CheckConstraint("rate_per_minute > 0", name="rate_positive"),
    )

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]


class IdempotencyRecord(db.Model):
    """One Idempotency-Key of one client (`owner`: "user:<id>" or "token:<id>"): the request's
    fingerprint, and once it has finished, the response to replay."""

    __tablename__ = "idempotency_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))  # running | done
    status: Mapped[int | None] = mapped_column()
    body: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("owner", "key"),
        CheckConstraint("state IN ('running', 'done')", name="state_known"),
    )


class WebhookEndpoint(db.Model):
    """An office's HTTPS endpoint and the events it wants; `secret` signs every delivery (HMAC-SHA256)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(120), default="")
    events: Mapped[str] = mapped_column(String(500))  # event names, comma-separated
    secret: Mapped[str] = mapped_column(String(80))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def event_list(self) -> list[str]:
        return [e for e in self.events.split(",") if e]


class OutboxEvent(db.Model):
    """Something that happened, written in the same transaction as the change itself."""

    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDelivery(db.Model):
    """One event to one endpoint: pending until delivered (a 2xx), retried with backoff, then failed."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id"))
    state: Mapped[str] = mapped_column(String(10))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    endpoint: Mapped[WebhookEndpoint] = relationship()
    event: Mapped[OutboxEvent] = relationship()

    __table_args__ = (
        UniqueConstraint("community_id", "endpoint_id", "event_id"),
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state_known"),
        Index("ix_webhook_delivery_due", "state", "next_attempt_at"),
    )


class WebhookAttempt(db.Model):
    """The delivery log: every try, automatic or by hand (`by_id`)."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(300))
    duration_ms: Mapped[int] = mapped_column(default=0)
    manual: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


__all__ = ["TOKEN_KINDS", "ApiToken", "IdempotencyRecord", "OutboxEvent", "WebhookAttempt", "WebhookDelivery",
           "WebhookEndpoint"]
