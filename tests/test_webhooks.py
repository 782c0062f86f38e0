"""Webhooks (issue 15): endpoints of a community's office, the outbox written in the change's own transaction,
and delivery by the job queue to a real HTTP receiver (a http.server thread on 127.0.0.1), signed with the
endpoint's secret, retried with backoff, sent again by hand; the HTTPS rule and hostile addresses; the pages
and the API. Both databases.
"""
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from pointsapp.audit.models import AuditAction, AuditEvent
from pointsapp.core import queue as jobs
from pointsapp.core.errors import DomainError, InvalidInput
from pointsapp.core.uow import unit_of_work
from pointsapp.integrations.models import (
    IdempotencyRecord,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from pointsapp.integrations.services import webhooks
from pointsapp.store.services import counter
from pointsapp.volunteering.services import activities, checkin

from .api_helpers import bearer, error_of, token_for
from .test_counter import Shop, add_product, identified, resident_with

API = "/api/v1/communities/{cid}/webhooks"


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every request and answers `status`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def queue(app):
    """The app's in-memory job queue, emptied before and after."""
    huey = jobs.queue(app)
    huey.flush()
    yield huey
    huey.flush()


def drain(db, huey) -> int:
    """Run every task waiting in the queue (as a worker would), in app contexts of their own."""
    db.session.commit()
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    db.session.rollback()
    return ran


def run_due(db) -> str:
    db.session.commit()
    message = jobs.run_periodic("webhooks_deliver")
    db.session.rollback()
    return message


@pytest.fixture
def shop(make, db, now) -> Shop:
    community = make.community()
    clerk = make.clerk(community)
    return Shop(community, make.admin(community), clerk, clerk.grants[0].store)


def endpoint_for(admin, community, url, events=("redemption.made",)):
    from pointsapp.core.clock import utcnow
    endpoint, secret = webhooks.register(admin, community.id, url=url, events=list(events), now=utcnow())
    return endpoint, secret


def checked_out(shop, resident, product, request_id, now):
    with unit_of_work():
        who = identified(shop.clerk, shop.store, resident, now)
        return counter.redeem(shop.clerk, shop.store, who.id, counter.Cart({product.id: 1}), request_id, now).redemption


def verify(secret: str, request: dict) -> dict:
    """The receiver's side: recompute the HMAC over "<t>.<body>" and compare."""
    headers = request["headers"]
    parts = dict(p.split("=", 1) for p in headers["X-Pointsapp-Signature"].split(","))
    assert parts["t"] == headers["X-Pointsapp-Timestamp"]
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return json.loads(request["body"])


def count(db, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


# ---- delivered to a real receiver, signed ---------------------------------------------------------

def test_a_checkout_reaches_a_real_receiver_signed_with_the_endpoints_secret(make, db, shop, now, receiver, queue):
    endpoint, secret = endpoint_for(shop.admin, shop.community, receiver.url)
    assert secret.startswith("whsec_") and endpoint.secret == secret
    r = resident_with(make, shop, now, 50)
    r.phone = "13812345678"
    oil = add_product(shop, now, price=10)
    db.session.commit()
    sale = checked_out(shop, r, oil, "hook-1", now)
    assert drain(db, queue) == 1  # handed to the queue after the commit
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got["headers"]["Content-Type"] == "application/json"
    assert got["headers"]["X-Pointsapp-Event"] == "redemption.made"
    delivery = db.session.scalar(select(WebhookDelivery))
    assert got["headers"]["X-Pointsapp-Delivery"] == str(delivery.id)
    assert got["headers"]["X-Pointsapp-Timestamp"] == str(int(now.timestamp()))
    body = verify(secret, got)
    assert body["event"] == "redemption.made" and body["community_id"] == shop.community.id
    assert body["occurred_at"] == "2026-11-25T02:30:00Z"
    assert body["data"]["redemption_id"] == sale.id and body["data"]["points"] == 10
    assert body["data"]["resident_id"] == r.id and body["data"]["lines"] == [
        {"product_id": oil.id, "quantity": 1, "points": 10}]
    text = got["body"].decode()
    assert "13812345678" not in text and r.name not in text  # no phone, no name
    with pytest.raises(AssertionError):  # a wrong secret does not verify
        verify("whsec_wrong", got)
    assert delivery.state == "delivered" and delivery.attempts == 1 and delivery.last_status == 200
    attempt = db.session.scalar(select(WebhookAttempt))
    assert attempt.status == 200 and attempt.error is None and not attempt.manual and attempt.duration_ms >= 0
    # the void is an event too (only endpoints that want it get it)
    webhooks.update_endpoint(shop.admin, endpoint, events=["redemption.made", "redemption.voided"], now=now)
    db.session.commit()
    with unit_of_work():
        counter.void(shop.admin, db.session.get(type(sale), sale.id), "拿错了", now)
    drain(db, queue)
    assert [q["headers"]["X-Pointsapp-Event"] for q in receiver.requests] == ["redemption.made", "redemption.voided"]
    assert verify(secret, receiver.requests[1])["data"]["voided_at"] == "2026-11-25T02:30:00Z"


def test_an_attendance_approval_reaches_the_receiver_by_the_periodic_job(make, db, now, receiver, queue):
    c = make.community()
    admin, lead = make.admin(c), make.team_lead(c)
    resident_user = make.resident_user(community=c)
    activity = activities.create_activity(lead, lead.grants[0].team, activities.ActivityFields(
        title="楼道广告清理", kind="楼道广告清理", place="", starts_at=now, ends_at=now + timedelta(hours=1), award_on="approval"), now)
    attendance = checkin.check_in(resident_user, resident_user.resident, activity, now).attendance
    endpoint, secret = endpoint_for(admin, c, receiver.url, events=["attendance.approved"])
    db.session.commit()
    assert count(db, OutboxEvent) == 0  # a check-in is no event
    with unit_of_work():
        checkin.approve(lead, activity, [attendance.id], now)
    assert count(db, OutboxEvent) == 1
    queue.flush()  # the queue lost it: the every-minute job sends it anyway
    assert run_due(db).startswith("1 webhook deliveries sent: 1 delivered")
    body = verify(secret, receiver.requests[0])
    assert body["event"] == "attendance.approved"
    assert body["data"]["attendance_id"] == attendance.id and body["data"]["points"] == 10
    assert body["data"]["approved_at"] == "2026-11-25T02:30:00Z"
    assert run_due(db).startswith("0 webhook deliveries")  # delivered once


# ---- the outbox: written iff the change commits -------------------------------------------------

def test_an_outbox_row_exists_only_when_the_change_committed(make, db, shop, now, receiver, queue):
    endpoint_for(shop.admin, shop.community, receiver.url)
    r = resident_with(make, shop, now, 15)
    oil = add_product(shop, now, price=10)
    db.session.commit()
    with pytest.raises(DomainError) as refused, unit_of_work():  # a refused checkout writes nothing
        who = identified(shop.clerk, shop.store, r, now)
        counter.redeem(shop.clerk, shop.store, who.id, counter.Cart({oil.id: 2}), "too-much", now)
    assert refused.value.code == "insufficient_points"
    assert count(db, OutboxEvent) == 0 and count(db, WebhookDelivery) == 0

    with pytest.raises(RuntimeError), unit_of_work():  # a checkout whose unit of work rolls back: none either
        who = identified(shop.clerk, shop.store, r, now)
        counter.redeem(shop.clerk, shop.store, who.id, counter.Cart({oil.id: 1}), "rolled-back", now)
        assert count(db, OutboxEvent) == 1  # written in the same transaction...
        raise RuntimeError("the request failed after the checkout")
    assert count(db, OutboxEvent) == 0 and count(db, WebhookDelivery) == 0  # ...and gone with it
    assert drain(db, queue) == 0 and receiver.requests == []  # nothing was handed to the queue

    checked_out(shop, r, oil, "kept", now)
    assert count(db, OutboxEvent) == 1 and count(db, WebhookDelivery) == 1
    assert drain(db, queue) == 1 and len(receiver.requests) == 1


def test_an_endpoint_gets_only_its_own_communitys_events_and_the_ones_it_chose(make, db, now, receiver, queue):
    shops = []
    for _ in range(2):
        community = make.community()
        clerk = make.clerk(community)
        shops.append(Shop(community, make.admin(community), clerk, clerk.grants[0].store))
    a, b = shops
    other = Receiver()
    try:
        endpoint_for(a.admin, a.community, receiver.url)
        endpoint_for(b.admin, b.community, other.url)
        endpoint_for(b.admin, b.community, other.url + "/voids-only", events=["redemption.voided"])
        off, _ = endpoint_for(b.admin, b.community, other.url + "/off")
        webhooks.update_endpoint(b.admin, off, active=False, now=now)
        rb = resident_with(make, b, now, 50)
        oil = add_product(b, now)
        db.session.commit()
        checked_out(b, rb, oil, "b-1", now)
        drain(db, queue)
        assert receiver.requests == []  # community A's endpoint never hears of B
        assert [q["path"] for q in other.requests] == ["/hook"]
        assert json.loads(other.requests[0]["body"])["community_id"] == b.community.id
        assert count(db, WebhookDelivery) == 1
    finally:
        other.close()


# ---- retries ------------------------------------------------------------------------------------

def test_a_failing_receiver_is_retried_at_the_backoff_times_then_failed(make, db, shop, now, clock, receiver, queue):
    receiver.status = 500
    endpoint_for(shop.admin, shop.community, receiver.url)
    r = resident_with(make, shop, now, 50)
    oil = add_product(shop, now)
    db.session.commit()
    checked_out(shop, r, oil, "retry", now)
    drain(db, queue)
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.state == "pending" and delivery.attempts == 1 and delivery.last_status == 500
    assert delivery.next_attempt_at == now + timedelta(minutes=1)
    waits = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
             timedelta(hours=12)]
    at = now
    for n, wait in enumerate(waits, start=2):
        clock.set(at + wait - timedelta(seconds=1))
        assert run_due(db).startswith("0 webhook deliveries")  # not before its time
        at += wait
        clock.set(at)
        assert run_due(db).startswith("1 webhook deliveries"), n
        delivery = db.session.get(WebhookDelivery, delivery.id)
        assert delivery.attempts == n and delivery.last_attempt_at == at
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    assert len(receiver.requests) == 6
    tries = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
    assert [t.status for t in tries] == [500] * 6 and all(t.error == "HTTP 500" for t in tries)
    assert [t.attempted_at - now for t in tries] == [timedelta(0), *[sum(waits[:i], timedelta(0))
                                                                    for i in range(1, 6)]]
    clock.advance(days=3)
    assert run_due(db).startswith("0 webhook deliveries")  # failed is final
    # each attempt's request was signed anew, with its own time
    assert len({q["headers"]["X-Pointsapp-Timestamp"] for q in receiver.requests}) == 6


def test_the_nightly_purge_keeps_a_month_of_the_delivery_log(make, db, shop, now, clock, receiver, queue):
    on, _ = endpoint_for(shop.admin, shop.community, receiver.url)
    off, _ = endpoint_for(shop.admin, shop.community, receiver.url + "off")
    r = resident_with(make, shop, now, 50)
    oil = add_product(shop, now)
    db.session.commit()
    checked_out(shop, r, oil, "old", now)
    webhooks.update_endpoint(shop.admin, db.session.get(WebhookEndpoint, off.id), active=False, now=now)
    drain(db, queue)  # the endpoint turned off keeps its delivery pending
    old_event = db.session.scalar(select(OutboxEvent.id))
    assert sorted((d.endpoint_id, d.state) for d in db.session.scalars(select(WebhookDelivery))) == [
        (on.id, "delivered"), (off.id, "pending")]
    clock.advance(days=29)
    checked_out(shop, r, oil, "recent", clock.now())
    drain(db, queue)
    clock.advance(days=1, seconds=1)  # the first checkout is 30 days and a second old; the second one a day
    message = jobs.run_periodic("webhooks_purge")
    db.session.commit()
    assert message == "2 webhook deliveries and 1 outbox events older than 30 days deleted", message
    left = db.session.scalars(select(WebhookDelivery)).all()
    assert [(d.endpoint_id, d.state, d.event_id != old_event) for d in left] == [(on.id, "delivered", True)]
    assert [a.delivery_id for a in db.session.scalars(select(WebhookAttempt))] == [left[0].id]
    assert db.session.scalars(select(OutboxEvent.id)).all() == [left[0].event_id]
    # turned on again, the endpoint is not sent the month-old event
    webhooks.update_endpoint(shop.admin, db.session.get(WebhookEndpoint, off.id), active=True, now=clock.now())
    db.session.commit()
    assert run_due(db).startswith("0 webhook deliveries")
    assert jobs.run_periodic("webhooks_purge").startswith("skipped")  # once a night


def test_an_unreachable_receiver_is_logged_as_an_error_and_a_claimed_delivery_is_not_sent_twice(
        make, db, shop, now, clock, queue):
    dead = Receiver()
    dead.close()  # nobody listens there any more
    endpoint_for(shop.admin, shop.community, dead.url)
    r = resident_with(make, shop, now, 50)
    oil = add_product(shop, now)
    db.session.commit()
    checked_out(shop, r, oil, "unreachable", now)
    # a worker claims it (and, say, is still sending): another finds nothing to send
    with unit_of_work():
        claimed = webhooks.claim_due(now)
    assert len(claimed) == 1
    with unit_of_work():
        assert webhooks.claim_due(now) == []
    assert drain(db, queue) == 1  # the queued task finds it taken: skipped
    assert count(db, WebhookAttempt) == 0
    clock.advance(webhooks.LEASE)  # the first worker died: after the lease it is due again
    run_due(db)
    attempt = db.session.scalar(select(WebhookAttempt))
    assert attempt.status is None and "ConnectionError" in attempt.error


# ---- by hand: the pages -------------------------------------------------------------------------

def test_the_office_adds_an_endpoint_sees_its_secret_once_and_sends_a_failed_delivery_again(
        app, client, login, make, db, shop, now, clock, receiver, queue):
    login(client, shop.admin)
    cid = shop.community.id
    page = client.get(f"/admin/c/{cid}/webhooks")
    assert page.status_code == 200 and "添加" in page.get_data(as_text=True)
    assert f'href="/admin/c/{cid}/webhooks"' in client.get(f"/admin/c/{cid}/groups").get_data(as_text=True)
    added = client.post(f"/admin/c/{cid}/webhooks", data={"url": receiver.url, "description": "街道平台",
                                                          "events": ["redemption.made", "redemption.voided"]})
    assert added.status_code == 200 and added.headers["Cache-Control"] == "no-store"
    endpoint = db.session.scalar(select(WebhookEndpoint))
    first_secret = endpoint.secret
    assert first_secret in added.get_data(as_text=True)
    assert endpoint.event_list == ["redemption.made", "redemption.voided"]
    again = client.get(f"/admin/c/{cid}/webhooks/{endpoint.id}").get_data(as_text=True)
    assert first_secret not in again and receiver.url in again  # shown once
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == AuditAction.WEBHOOK_ADDED)).actor_id \
        == shop.admin.id

    receiver.status = 500
    r = resident_with(make, shop, now, 50)
    oil = add_product(shop, now)
    db.session.commit()
    checked_out(shop, r, oil, "by-hand", now)
    drain(db, queue)
    for wait in (1, 5, 30, 120, 720):
        clock.advance(minutes=wait)
        run_due(db)
    login(client, shop.admin)  # her staff login ended after 12 idle hours
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.state == "failed" and delivery.attempts == 6
    log = client.get(f"/admin/c/{cid}/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "失败" in log and "HTTP 500" in log and "重新发送" in log

    receiver.status = 204
    sent = client.post(f"/admin/c/{cid}/webhooks/{endpoint.id}", data={"what": "redeliver",
                                                                       "delivery_id": delivery.id})
    assert sent.status_code == 302
    delivery = db.session.get(WebhookDelivery, delivery.id)
    assert delivery.state == "pending" and delivery.attempts == 0 and delivery.next_attempt_at == clock.now()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == AuditAction.WEBHOOK_REDELIVERED))
    assert event.actor_id == shop.admin.id
    assert drain(db, queue) == 1
    delivery = db.session.get(WebhookDelivery, delivery.id)
    assert delivery.state == "delivered" and delivery.last_status == 204
    last = db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id.desc())).first()
    assert last.manual and last.by_id == shop.admin.id  # who asked is on the attempt
    assert count(db, WebhookAttempt) == 7

    # renew the secret: shown once, the next delivery is signed with it
    renewed = client.post(f"/admin/c/{cid}/webhooks/{endpoint.id}", data={"what": "renew"})
    new_secret = db.session.get(WebhookEndpoint, endpoint.id).secret
    assert new_secret != first_secret and new_secret in renewed.get_data(as_text=True)
    # turn it off: nothing is written for it; on again
    client.post(f"/admin/c/{cid}/webhooks/{endpoint.id}", data={"what": "disable"})
    assert db.session.get(WebhookEndpoint, endpoint.id).is_active is False
    checked_out(shop, r, oil, "while-off", now)
    assert count(db, WebhookDelivery) == 1
    client.post(f"/admin/c/{cid}/webhooks/{endpoint.id}", data={"what": "enable"})
    checked_out(shop, r, oil, "on-again", now)
    drain(db, queue)
    verify(new_secret, receiver.requests[-1])
    changes = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == AuditAction.WEBHOOK_CHANGED))
    assert len(list(changes)) == 3


HOSTILE_URLS = [
    ("javascript:alert(1)", "url_not_https"),
    ("http://user:pw@example.com/hook", "url_userinfo"),
    ("https://user:pw@example.com/hook", "url_userinfo"),
    ("https://" + "a" * 10_000 + ".com/", "url_too_long"),
    ("http://example.com/hook", "url_not_https"),
    ("ftp://example.com/hook", "url_not_https"),
    ("data:text/html,<script>alert(1)</script>", "url_not_https"),
    ("https://10.0.0.5/hook", "url_internal"),
    ("https://169.254.169.254/latest/meta-data", "url_internal"),
    ("https://[::1]/hook", "url_internal"),
    ("https://localhost.localhost/", "url_internal"),
    # numeric hosts a resolver reads as addresses (review: each reached 127.0.0.1 or the metadata service)
    ("https://2130706433/", "invalid_url"),
    ("https://127.1/", "invalid_url"),
    ("https://0x7f000001/", "invalid_url"),
    ("https://017700000001/", "invalid_url"),
    ("https://0/", "invalid_url"),
    ("https://2852039166/", "invalid_url"),
    ("https://metadata.google.internal./", "url_internal"),
    ("https://example.com:99999/", "invalid_url"),
    ("https://exa mple.com/", "invalid_url"),
    ("https://例子.中国/", "invalid_url"),
    ("", "url_missing"),
]


@pytest.mark.parametrize("url, code", HOSTILE_URLS)
def test_the_https_rule_and_hostile_addresses_are_refused_with_a_clear_message(url, code, make, db, app):
    c = make.community()
    admin = make.admin(c)
    with pytest.raises(InvalidInput) as refused:
        webhooks.register(admin, c.id, url=url, events=["claim.approved"], now=None)
    assert refused.value.code == code and str(refused.value)
    assert count(db, WebhookEndpoint) == 0


def test_a_name_that_resolves_to_this_machine_is_refused_when_sending(app, db):
    """A public-looking name pointed at an internal address after it was registered: checked again at send."""
    saved = app.config["WEBHOOK_ALLOW_HTTP_HOSTS"]
    app.config["WEBHOOK_ALLOW_HTTP_HOSTS"] = []
    try:
        assert webhooks.resolves_to_internal("https://localhost/hook")  # /etc/hosts: 127.0.0.1
        result = webhooks.send(webhooks.Outgoing(1, "https://localhost:9/hook", b"{}", {}))
        assert not result.ok and result.status is None and "not a public" in result.error
    finally:
        app.config["WEBHOOK_ALLOW_HTTP_HOSTS"] = saved


def test_a_replayed_secret_renewal_does_not_hand_the_secret_out_again(client, make, db):
    from .api_helpers import bearer, token_for
    c = make.community()
    admin = make.admin(c)
    db.session.commit()
    headers = bearer(token_for(admin, c, ["community_admin"]), key="make-hook")
    made = client.post(f"/api/v1/communities/{c.id}/webhooks", headers=headers,
                       json={"url": "https://example.com/hook", "events": ["claim.approved"]})
    again = client.post(f"/api/v1/communities/{c.id}/webhooks", headers=headers,
                        json={"url": "https://example.com/hook", "events": ["claim.approved"]})
    assert made.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert made.get_json()["secret"] and again.get_json()["secret"] == ""
    assert again.get_json()["endpoint"]["id"] == made.get_json()["endpoint"]["id"] and count(db, WebhookEndpoint) == 1
    assert made.get_json()["secret"] not in " ".join(db.session.scalars(select(IdempotencyRecord.body)).all())


def test_allowed_addresses_and_the_event_list(make, db, now):
    c = make.community()
    admin = make.admin(c)
    for url in ("https://example.com/hook", "https://hooks.example.cn:8443/a?b=c", "http://127.0.0.1:9/x",
                "http://localhost/x"):
        assert webhooks.check_url(url) == url
    with pytest.raises(InvalidInput) as refused:
        webhooks.register(admin, c.id, url="https://example.com", events=["ledger.everything"], now=now)
    assert refused.value.code == "unknown_event"
    with pytest.raises(InvalidInput) as refused:
        webhooks.register(admin, c.id, url="https://example.com", events=[], now=now)
    assert refused.value.code == "no_events"
    endpoint, _ = webhooks.register(admin, c.id, url="https://example.com",
                                    events=list(reversed(webhooks.EVENTS)), now=now)
    assert endpoint.event_list == list(webhooks.EVENTS)


def test_a_hostile_address_on_the_page_is_refused_with_its_message_and_the_form_kept(client, login, make, db):
    c = make.community()
    admin = make.admin(c)
    db.session.commit()
    login(client, admin)
    page = client.post(f"/admin/c/{c.id}/webhooks", data={"url": "javascript:alert(1)", "events": ["claim.approved"],
                                                          "description": "<b>x</b>"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "https://" in html and "javascript:alert(1)" in html  # kept, escaped
    assert "<b>x</b>" not in html
    assert count(db, WebhookEndpoint) == 0


def test_hostile_ids_on_the_pages(client, login, make, db, now):
    a, b = make.community(), make.community()
    admin_a, admin_b = make.admin(a), make.admin(b)
    theirs, _ = webhooks.register(admin_b, b.id, url="https://b.example.com", events=["claim.approved"], now=now)
    db.session.commit()
    login(client, admin_a)
    for endpoint_id in (theirs.id, 0, 999999, 10**20):
        assert client.get(f"/admin/c/{a.id}/webhooks/{endpoint_id}").status_code == 404
        assert client.post(f"/admin/c/{a.id}/webhooks/{endpoint_id}", data={"what": "disable"}).status_code == 404
    assert client.get(f"/admin/c/{b.id}/webhooks/{theirs.id}").status_code == 403
    assert db.session.get(WebhookEndpoint, theirs.id).is_active
    mine, _ = webhooks.register(admin_a, a.id, url="https://a.example.com", events=["claim.approved"], now=now)
    db.session.commit()
    for delivery_id in ("0", "-1", "999999", str(10**20), "x"):
        sent = client.post(f"/admin/c/{a.id}/webhooks/{mine.id}", data={"what": "redeliver", "delivery_id": delivery_id})
        assert sent.status_code == 302


# ---- the API ------------------------------------------------------------------------------------

def test_the_api_creates_lists_changes_and_redelivers(client, make, db, shop, now, receiver, queue):
    secret = token_for(shop.admin, shop.community, ["community_admin"])
    cid = shop.community.id
    made = client.post(API.format(cid=cid), json={"url": receiver.url, "events": ["redemption.made"],
                                                  "description": "平台"}, headers=bearer(secret, key="create-1"))
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    hook_secret, endpoint_id = body["secret"], body["endpoint"]["id"]
    assert body["endpoint"]["events"] == ["redemption.made"] and body["endpoint"]["is_active"] is True
    listed = client.get(API.format(cid=cid), headers=bearer(secret)).get_json()
    assert [e["id"] for e in listed["endpoints"]] == [endpoint_id]
    assert hook_secret not in json.dumps(listed)  # never listed

    r = resident_with(make, shop, now, 50)
    oil = add_product(shop, now)
    db.session.commit()
    checked_out(shop, r, oil, "api-1", now)
    drain(db, queue)
    verify(hook_secret, receiver.requests[0])
    deliveries = client.get(f"{API.format(cid=cid)}/{endpoint_id}/deliveries", headers=bearer(secret)).get_json()
    [delivery] = deliveries["deliveries"]
    assert delivery["event"] == "redemption.made" and delivery["state"] == "delivered" and delivery["attempts"] == 1
    again = client.post(f"{API.format(cid=cid)}/{endpoint_id}/deliveries/{delivery['id']}/redeliver",
                        headers=bearer(secret, key="again-1"))
    assert again.status_code == 200 and again.get_json()["state"] == "pending"
    drain(db, queue)
    assert len(receiver.requests) == 2

    changed = client.patch(f"{API.format(cid=cid)}/{endpoint_id}", json={"active": False,
                                                                         "events": ["claim.approved"]},
                           headers=bearer(secret, key="patch-1"))
    assert changed.status_code == 200 and changed.get_json()["is_active"] is False
    assert changed.get_json()["events"] == ["claim.approved"] and changed.get_json()["disabled_at"]
    renewed = client.post(f"{API.format(cid=cid)}/{endpoint_id}/secret", headers=bearer(secret, key="renew-1"))
    assert renewed.status_code == 200 and renewed.get_json()["secret"] != hook_secret
    one = client.get(f"{API.format(cid=cid)}/{endpoint_id}", headers=bearer(secret)).get_json()
    assert "secret" not in one
    refused = client.post(f"{API.format(cid=cid)}/{endpoint_id}/deliveries/{delivery['id']}/redeliver",
                          headers=bearer(secret, key="again-2"))
    assert refused.status_code == 409 and error_of(refused)["code"] == "endpoint_disabled"


@pytest.mark.parametrize("url, code", [("javascript:alert(1)", "url_not_https"),
                                       ("http://user:pw@example.com", "url_userinfo"),
                                       ("https://" + "x" * 10_000, "url_too_long")])
def test_the_api_refuses_hostile_addresses_with_the_one_error_shape(url, code, client, make, db):
    c = make.community()
    admin = make.admin(c)
    db.session.commit()
    secret = token_for(admin, c, ["community_admin"])
    answer = client.post(API.format(cid=c.id), json={"url": url, "events": ["claim.approved"]},
                         headers=bearer(secret, key=f"bad-{code}", lang="en"))
    assert answer.status_code == 422
    error = error_of(answer)
    assert error["code"] == code and error["message"]
    assert count(db, WebhookEndpoint) == 0


def test_the_api_keeps_communities_apart_and_answers_hostile_ids(client, make, db, now):
    a, b = make.community(), make.community()
    admin_a, admin_b = make.admin(a), make.admin(b)
    resident = make.resident_user(community=a)
    theirs, _ = webhooks.register(admin_b, b.id, url="https://b.example.com", events=["claim.approved"], now=now)
    db.session.commit()
    secret = token_for(admin_a, a, ["community_admin"])
    assert client.get(API.format(cid=b.id), headers=bearer(secret)).status_code == 403
    assert client.get(f"{API.format(cid=a.id)}/{theirs.id}", headers=bearer(secret)).status_code == 404
    for hostile in (0, 999999, 10**20):
        for path in (f"/{hostile}", f"/{hostile}/deliveries"):
            answer = client.get(API.format(cid=a.id) + path, headers=bearer(secret))
            assert answer.status_code == 404 and error_of(answer)
    answer = client.post(f"{API.format(cid=a.id)}/{theirs.id}/deliveries/1/redeliver", headers=bearer(secret, key="h1"))
    assert answer.status_code == 404
    assert client.get(API.format(cid=a.id)).status_code == 401
    resident_token = token_for(resident, a, ["resident"])
    assert client.get(API.format(cid=a.id), headers=bearer(resident_token)).status_code == 403
    assert client.patch(f"{API.format(cid=b.id)}/{theirs.id}", json={"active": False},
                        headers=bearer(secret, key="h2")).status_code == 403
    assert db.session.get(WebhookEndpoint, theirs.id).is_active


def webhook_in_world(admin, community, now):
    """An endpoint of the community with one delivery (for the permission matrix and the hostile-ids walk)."""
    endpoint, _ = webhooks.register(admin, community.id, url="https://hooks.example.com/x",
                                    events=["claim.approved"], now=now)
    webhooks.emit(community.id, "claim.approved", lambda: {"claim_id": 1}, now)
    return endpoint, webhooks.deliveries(admin, endpoint)[0]
