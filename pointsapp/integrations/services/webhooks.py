"""Webhooks: a community office's HTTPS endpoints, the outbox written with each change, and its delivery.

**Endpoints** (register/update/renew_secret): a community admin's, HTTPS only (plain http only for the hosts
in config WEBHOOK_ALLOW_HTTP_HOSTS: a receiver on the same machine, the tests' 127.0.0.1), no user name or
password in the address, no address of this network (loopback, private, link-local) unless allowed the same
way; events chosen from EVENTS. Each endpoint has its own secret (`whsec_` + 48 hex), shown once when it is
made or renewed.

**The outbox**: the source services send a blinker signal inside their own transaction (volunteering's
attendance approval, the store's checkout and void, a star evaluation's publication, a claim's approval, a
deduction recorded); the subscribers below write one OutboxEvent and one WebhookDelivery per active endpoint
of the community that wants the event, in the same session (flush, never commit), so a change that rolls back
leaves no event and a committed one always has its deliveries. Nothing is written when no endpoint wants the
event. After the commit each delivery is handed to the job queue (task "webhooks.deliver", integrations/cli.py);
the periodic job webhooks_deliver (every minute) sends whatever is due (retries, and anything the queue missed).

**Delivery**: POST of the JSON envelope {"id", "event", "community_id", "occurred_at", "data"} with the headers
Content-Type, X-Pointsapp-Event, X-Pointsapp-Delivery (the delivery's id), X-Pointsapp-Timestamp and
X-Pointsapp-Signature `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; 5 s timeout; a 2xx is delivered,
anything else is tried again after 1 min, 5 min, 30 min, 2 h, 12 h, and failed after the 6th attempt. Every try
is a WebhookAttempt (status, error, duration). A due delivery is *claimed* before it is sent: its next attempt is
moved a lease ahead by a conditional update (PostgreSQL picks the candidates with FOR UPDATE SKIP LOCKED), and
the claim commits before the request goes out, so two workers never send the same attempt; a worker that dies
mid-send leaves the delivery to be tried again when the lease ends. The office may send a delivery again
(pending at once, a fresh round of attempts; who asked is in the audit log and on the attempt).

Payloads carry ids, the community, points and times (ISO 8601, UTC): never a name, phone or address.
"""
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.claims.services import review as claims_review
from pointsapp.core import queue
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.lookup import valid_id
from pointsapp.core.permissions import Action, require
from pointsapp.deductions import services as deductions
from pointsapp.integrations.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from pointsapp.recognition.services import stars
from pointsapp.store.services import counter
from pointsapp.volunteering.services import checkin

EVENTS = ("attendance.approved", "redemption.made", "redemption.voided", "evaluation.published",
          "claim.approved", "deduction.recorded")
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
           timedelta(hours=12))
MAX_ATTEMPTS = len(BACKOFF) + 1  # the 6th failure is final
TIMEOUT_SECONDS = 5
LEASE = timedelta(minutes=2)  # a claimed delivery is not claimed again for this long (longer than a send)
URL_MAX = 500
DESCRIPTION_MAX = 120
MAX_ENDPOINTS = 20  # per community
LOG_LIMIT = 50
SECRET_PREFIX = "whsec_"
ERROR_MAX = 300
BATCH = 50  # deliveries claimed at a time by the periodic job
KEEP_LOG = timedelta(days=30)  # the delivery log (deliveries, their tries, the outbox events) kept this long


# ---- endpoints -----------------------------------------------------------------------------------

def _allowed_http_hosts() -> set[str]:
    return {h.strip().lower() for h in current_app.config.get("WEBHOOK_ALLOW_HTTP_HOSTS", []) or [] if h.strip()}


def check_url(value: str | None) -> str:
    """The endpoint's address, or InvalidInput: url_missing, url_too_long, invalid_url, url_not_https,
    url_userinfo, url_internal."""
    url = (value or "").strip()
    if not url:
        raise InvalidInput(_l("Please enter the endpoint's address."), code="url_missing")
    if len(url) > URL_MAX:
        raise InvalidInput(_l("The address may be at most %(n)d characters long."), code="url_too_long", n=URL_MAX)
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url) or not url.isascii():
        raise InvalidInput(_l("This is not a web address. Please enter one like https://example.com/hook."),
                           code="invalid_url")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("https", "http") or not parts.netloc:
        raise InvalidInput(_l("The address must start with https://."), code="url_not_https")
    try:
        port = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        port = -1
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise InvalidInput(_l("The address must not contain a user name or password; the signature proves "
                              "who sends."), code="url_userinfo")
    host = (parts.hostname or "").lower().rstrip(".")  # "localhost." is localhost
    if _odd_ipv4(host):  # 2130706433, 127.1, 0x7f000001, 017700000001: a resolver reads them as addresses
        raise InvalidInput(_l("This is not a web address. Please enter one like https://example.com/hook."),
                           code="invalid_url")
    if not host or (port is not None and not 0 < port < 65536):
        raise InvalidInput(_l("This is not a web address. Please enter one like https://example.com/hook."),
                           code="invalid_url")
    allowed = _allowed_http_hosts()
    if parts.scheme.lower() != "https" and host not in allowed:
        raise InvalidInput(_l("The address must start with https://."), code="url_not_https")
    if host not in allowed and _is_internal(host):
        raise InvalidInput(_l("The address must be a public one, not of this server or its network."),
                           code="url_internal")
    return url


_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")


def _odd_ipv4(host: str) -> bool:
    """A host of digits (decimal, octal, hex) that is not a canonical dotted quad."""
    if not _NUMERIC_HOST.fullmatch(host) or not any(c.isdigit() for c in host) or \
            re.search(r"[a-f]", host.replace("0x", "")) and "0x" not in host:
        return False
    try:
        return str(ipaddress.IPv4Address(host)) != host
    except ValueError:
        return True


def resolves_to_internal(url: str) -> bool:
    """At send time: does the endpoint's host name now resolve to an address that is not public (a name
    pointed at this server's network after it was registered)? Hosts allowed over http (tests) are exempt."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host in _allowed_http_hosts():
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False  # unresolvable: the request fails on its own
    return any(not ipaddress.ip_address(info[4][0].split("%")[0]).is_global for info in infos)


def _is_internal(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def check_events(values: Sequence[str] | None) -> list[str]:
    """The chosen events in EVENTS' order, or InvalidInput: unknown_event, no_events."""
    values = list(values or [])
    if any(v not in EVENTS for v in values):
        raise InvalidInput(_l("Choose events from the list."), code="unknown_event")
    chosen = [v for v in EVENTS if v in values]
    if not chosen:
        raise InvalidInput(_l("Choose at least one event."), code="no_events")
    return chosen


def _description(value: str | None) -> str:
    text = " ".join((value or "").split())
    if len(text) > DESCRIPTION_MAX:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="text_too_long", n=DESCRIPTION_MAX)
    return text


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(24)


def endpoints(actor: User, community_id: int) -> list[WebhookEndpoint]:
    """The community's endpoints, newest first. Raises forbidden."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    return list(db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.community_id == community_id)
                                   .order_by(WebhookEndpoint.id.desc())))


def get_endpoint(actor: User, community_id: int, endpoint_id) -> WebhookEndpoint:
    """One endpoint of the community. Raises forbidden, no_such_endpoint."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    endpoint = db.session.get(WebhookEndpoint, endpoint_id) if valid_id(endpoint_id) else None
    if endpoint is None or endpoint.community_id != community_id:
        raise NotFound(_l("No such webhook endpoint."), code="no_such_endpoint")
    return endpoint


def register(actor: User, community_id: int, *, url: str, events: Sequence[str], description: str = "",
             now: datetime) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown this once). Raises forbidden, url_*, invalid_url, no_events,
    unknown_event, text_too_long, too_many_endpoints."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    url, chosen, description = check_url(url), check_events(events), _description(description)
    count = db.session.scalar(select(func.count()).select_from(WebhookEndpoint)
                              .where(WebhookEndpoint.community_id == community_id))
    if count >= MAX_ENDPOINTS:
        raise Conflict(_l("A community may have at most %(n)d webhook endpoints."), code="too_many_endpoints",
                       n=MAX_ENDPOINTS)
    secret = _new_secret()
    endpoint = WebhookEndpoint(community_id=community_id, url=url, description=description, events=",".join(chosen),
                               secret=secret, is_active=True, created_by_id=actor.id, created_at=now)
    db.session.add(endpoint)
    db.session.flush()
    audit.record(actor, AuditAction.WEBHOOK_ADDED, endpoint, now, events=len(chosen), host=urlsplit(url).hostname)
    return endpoint, secret


def update_endpoint(actor: User, endpoint: WebhookEndpoint, *, url: str | None = None,
                    events: Sequence[str] | None = None, description: str | None = None,
                    active: bool | None = None, now: datetime) -> WebhookEndpoint:
    """Change an endpoint's address, events, description, or turn it off/on (what is None stays). Raises
    forbidden and the checks of register()."""
    require(actor, Action.MANAGE_COMMUNITY, endpoint.community_id)
    changed = []
    if url is not None and (url := check_url(url)) != endpoint.url:
        endpoint.url = url
        changed.append("url")
    if events is not None and (joined := ",".join(check_events(events))) != endpoint.events:
        endpoint.events = joined
        changed.append("events")
    if description is not None and (text := _description(description)) != endpoint.description:
        endpoint.description = text
        changed.append("description")
    if active is not None and bool(active) != endpoint.is_active:
        endpoint.is_active = bool(active)
        endpoint.disabled_at = None if active else now
        changed.append("enabled" if active else "disabled")
    if changed:
        db.session.flush()
        audit.record(actor, AuditAction.WEBHOOK_CHANGED, endpoint, now, changed=",".join(changed))
    return endpoint


def renew_secret(actor: User, endpoint: WebhookEndpoint, now: datetime) -> str:
    """A new secret for the endpoint (shown this once); the old one signs nothing from now on."""
    require(actor, Action.MANAGE_COMMUNITY, endpoint.community_id)
    secret = endpoint.secret = _new_secret()
    db.session.flush()
    audit.record(actor, AuditAction.WEBHOOK_CHANGED, endpoint, now, changed="secret")
    return secret


# ---- the delivery log ----------------------------------------------------------------------------

def deliveries(actor: User, endpoint: WebhookEndpoint, limit: int = LOG_LIMIT) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first (with their events)."""
    require(actor, Action.MANAGE_COMMUNITY, endpoint.community_id)
    return list(db.session.scalars(select(WebhookDelivery).options(joinedload(WebhookDelivery.event))
                                   .where(WebhookDelivery.endpoint_id == endpoint.id)
                                   .order_by(WebhookDelivery.id.desc()).limit(max(1, min(limit, 200)))))


def attempts_of(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                   .order_by(WebhookAttempt.id)))


def get_delivery(actor: User, endpoint: WebhookEndpoint, delivery_id) -> WebhookDelivery:
    """One delivery of the endpoint. Raises forbidden, no_such_delivery."""
    require(actor, Action.MANAGE_COMMUNITY, endpoint.community_id)
    delivery = db.session.get(WebhookDelivery, delivery_id) if valid_id(delivery_id) else None
    if delivery is None or delivery.endpoint_id != endpoint.id or delivery.community_id != endpoint.community_id:
        raise NotFound(_l("No such delivery."), code="no_such_delivery")
    return delivery


def redeliver(actor: User, delivery: WebhookDelivery, now: datetime) -> WebhookDelivery:
    """Send the delivery again: pending at once with a fresh round of attempts (its log stays). Who asked is in
    the audit log, and on the attempt when the job queue sends it. Raises forbidden, endpoint_disabled."""
    require(actor, Action.MANAGE_COMMUNITY, delivery.community_id)
    if not delivery.endpoint.is_active:
        raise Conflict(_l("This endpoint is turned off. Turn it on first."), code="endpoint_disabled")
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    db.session.flush()
    audit.record(actor, AuditAction.WEBHOOK_REDELIVERED, delivery.endpoint, now, delivery_id=delivery.id,
                 event=delivery.event.event)
    queue.enqueue_after_commit("webhooks.deliver", delivery.id, actor.id)
    return delivery


# ---- the outbox ----------------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def wanting(community_id: int, event: str) -> list[WebhookEndpoint]:
    """The community's active endpoints that want the event (one statement)."""
    return [e for e in db.session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.community_id == community_id, WebhookEndpoint.is_active.is_(True))) if event in e.event_list]


def emit(community_id: int, event: str, data: Callable[[], dict], now: datetime, *,
         endpoints: list[WebhookEndpoint] | None = None) -> OutboxEvent | None:
    """Write the event (its payload: `data()`) and one delivery per active endpoint of the community that wants
    it (`endpoints`: as wanting() found them), in the current transaction (flush, no commit); hand the deliveries
    to the job queue once it commits. None when no endpoint wants the event: nothing written, nothing more
    read (one statement on the checkout's path)."""
    endpoints = wanting(community_id, event) if endpoints is None else endpoints
    if not endpoints:
        return None
    outbox = OutboxEvent(community_id=community_id, event=event, payload=data(), occurred_at=now)
    db.session.add(outbox)
    db.session.flush()
    made = [WebhookDelivery(community_id=community_id, endpoint_id=e.id, event_id=outbox.id, state="pending",
                            attempts=0, next_attempt_at=now, created_at=now) for e in endpoints]
    db.session.add_all(made)
    db.session.flush()
    for delivery in made:
        queue.enqueue_after_commit("webhooks.deliver", delivery.id)
    return outbox


@checkin.attendance_approved.connect
def _on_attendance_approved(actor, *, attendances, now: datetime) -> None:
    found: dict[int, list[WebhookEndpoint]] = {}  # a batch of one community: its endpoints read once
    for a in attendances:
        if a.community_id not in found:
            found[a.community_id] = wanting(a.community_id, "attendance.approved")
        endpoints = found[a.community_id]
        emit(a.community_id, "attendance.approved", lambda a=a: {
            "attendance_id": a.id, "activity_id": a.activity_id, "resident_id": a.resident_id,
            "points": a.points_awarded, "ledger_entry_id": a.ledger_entry_id,
            "checked_in_at": iso(a.checked_in_at), "checked_out_at": iso(a.checked_out_at),
            "approved_at": iso(now)}, now, endpoints=endpoints)


def _redemption_data(r) -> dict:
    return {"redemption_id": r.id, "receipt_no": r.receipt_no, "store_id": r.store_id, "resident_id": r.resident_id,
            "household_id": r.household_id, "points": r.total_points, "made_at": iso(r.created_at)}


@counter.redeemed.connect
def _on_redeemed(redemption, *, now: datetime) -> None:
    emit(redemption.community_id, "redemption.made", lambda: {
        **_redemption_data(redemption), "balance_after": redemption.balance_after,
        "lines": [{"product_id": line.product_id, "quantity": line.quantity, "points": line.points}
                  for line in sorted(redemption.lines, key=lambda x: x.product_id)]}, now)


@counter.voided.connect
def _on_voided(redemption, *, now: datetime) -> None:
    emit(redemption.community_id, "redemption.voided", lambda: {**_redemption_data(redemption),
                                                        "voided_at": iso(redemption.voided_at)}, now)


@stars.published.connect
def _on_evaluation_published(evaluation, *, count: int, now: datetime) -> None:
    emit(evaluation.community_id, "evaluation.published", lambda: {
        "evaluation_id": evaluation.id, "title": evaluation.title, "period": evaluation.period,
        "households": count, "published_at": iso(evaluation.published_at or now)}, now)


@claims_review.approved.connect
def _on_claim_approved(claim, *, now: datetime) -> None:
    emit(claim.community_id, "claim.approved", lambda: {
        "claim_id": claim.id, "resident_id": claim.resident_id, "item_id": claim.item_id, "points": claim.points,
        "ledger_entry_id": claim.entry_id, "occurred_at": iso(claim.occurred_at), "approved_at": iso(now)}, now)


@deductions.changed.connect
def _on_deduction_changed(deduction, *, now: datetime) -> None:
    if deduction.withdrawn_at is not None:
        return  # a withdrawal: no event (the list has none for it)
    emit(deduction.community_id, "deduction.recorded", lambda: {
        "deduction_id": deduction.id, "item_id": deduction.item_id, "resident_id": deduction.resident_id,
        "household_id": deduction.household_id, "points": deduction.points, "taken": deduction.taken,
        "owed": deduction.owed, "occurred_at": iso(deduction.occurred_at), "recorded_at": iso(deduction.created_at)},
        now)


# ---- delivery ------------------------------------------------------------------------------------

def claim_due(now: datetime, *, only: int | None = None, limit: int = BATCH) -> list[int]:
    """Take up to `limit` due deliveries (or the one `only`, if due) of active endpoints: their next attempt is
    moved LEASE ahead, so no other worker takes them until this one has recorded its try. Commit before
    sending."""
    query = (select(WebhookDelivery.id).join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
             .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now,
                    WebhookEndpoint.is_active.is_(True))
             .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
    if only is not None:
        query = query.where(WebhookDelivery.id == only)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
    claimed = []
    for delivery_id in db.session.scalars(query).all():
        taken = db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at <= now).values(next_attempt_at=now + LEASE)
            .execution_options(synchronize_session=False))
        if taken.rowcount:
            claimed.append(delivery_id)
    return claimed


@dataclass(frozen=True)
class Outgoing:
    delivery_id: int
    url: str
    body: bytes
    headers: dict


def envelope(event: OutboxEvent) -> dict:
    return {"id": event.id, "event": event.event, "community_id": event.community_id,
            "occurred_at": iso(event.occurred_at), "data": event.payload}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def prepare(delivery_id: int, now: datetime) -> Outgoing:
    """The request for one claimed delivery, signed as of `now`."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    body = json.dumps(envelope(delivery.event), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now.timestamp())
    return Outgoing(delivery.id, delivery.endpoint.url, body, {
        "Content-Type": "application/json", "User-Agent": "pointsapp-webhooks/1",
        "X-Pointsapp-Event": delivery.event.event, "X-Pointsapp-Delivery": str(delivery.id),
        "X-Pointsapp-Timestamp": str(timestamp),
        "X-Pointsapp-Signature": sign(delivery.endpoint.secret, timestamp, body)})


@dataclass(frozen=True)
class Result:
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def send(outgoing: Outgoing, timeout: float = TIMEOUT_SECONDS) -> Result:
    """POST it (no database work here: nothing is locked while the receiver takes its time)."""
    started = time.monotonic()
    if resolves_to_internal(outgoing.url):
        return Result(None, "refused: the address is not a public one", 0)
    try:
        response = requests.post(outgoing.url, data=outgoing.body, headers=outgoing.headers, timeout=timeout,
                                 allow_redirects=False)
        response.close()
        status, error = response.status_code, None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except requests.Timeout:
        status, error = None, f"no answer within {timeout:g} s"
    except requests.RequestException as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
    return Result(status, error, int((time.monotonic() - started) * 1000))


def record(delivery_id: int, result: Result, now: datetime, *, by_id: int | None = None) -> WebhookDelivery:
    """Log the try and move the delivery on: delivered, tried again after the backoff, or failed."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    db.session.add(WebhookAttempt(community_id=delivery.community_id, delivery_id=delivery.id, attempted_at=now,
                                  status=result.status, error=(result.error or None) and result.error[:ERROR_MAX],
                                  duration_ms=result.duration_ms, manual=by_id is not None, by_id=by_id))
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.last_status = now, result.status
    delivery.last_error = result.error[:ERROR_MAX] if result.error else None
    if result.ok:
        delivery.state, delivery.next_attempt_at = "delivered", None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.state, delivery.next_attempt_at = "failed", None
    else:
        delivery.next_attempt_at = now + BACKOFF[delivery.attempts - 1]
    db.session.flush()
    return delivery


# ---- retention -----------------------------------------------------------------------------------

def purge(now: datetime) -> tuple[int, int]:
    """The nightly job: deliveries older than KEEP_LOG that are done (delivered or failed) go with their tries,
    and outbox events older than that with no delivery left. A delivery still pending then belongs to an
    endpoint turned off since (active endpoints finish within a day, BACKOFF): it is failed with that reason
    and goes too; turned on again, the endpoint does not receive month-old events. Returns (deliveries, events)."""
    cutoff = now - KEEP_LOG
    db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.state == "pending", WebhookDelivery.created_at < cutoff)
        .values(state="failed", next_attempt_at=None, last_error="the endpoint was turned off")
        .execution_options(synchronize_session=False))
    old = select(WebhookDelivery.id).where(WebhookDelivery.state.in_(("delivered", "failed")),
                                           WebhookDelivery.created_at < cutoff)
    db.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old))
                       .execution_options(synchronize_session=False))
    deliveries = db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(old))
                                    .execution_options(synchronize_session=False)).rowcount
    events = db.session.execute(delete(OutboxEvent).where(
        OutboxEvent.occurred_at < cutoff, ~exists().where(WebhookDelivery.event_id == OutboxEvent.id))
        .execution_options(synchronize_session=False)).rowcount
    return deliveries, events
