"""flask --app pointsapp webhooks …, and the job queue's webhook tasks (core/queue.py).

Each delivery is handed to the queue as the task "webhooks.deliver" once the change that made it has
committed (low latency); the periodic job webhooks_deliver (every minute) sends whatever is due: retries after
their backoff, and anything the queue never got. Both claim a delivery in a unit of work of its own before the
request goes out (services.webhooks.claim_due), send it with no transaction open, and record the try in a
third, so a slow receiver holds no lock and two workers never send one attempt twice.
"""
import click

from pointsapp.core import queue
from pointsapp.core.clock import utcnow
from pointsapp.core.uow import unit_of_work
from pointsapp.integrations.services import idempotency, webhooks

group = click.Group("webhooks", help="Webhook deliveries.")


def deliver_claimed(ids: list[int], *, by_id: int | None = None) -> list[str]:
    """Send the claimed deliveries one by one; each try recorded in its own unit of work."""
    states = []
    for delivery_id in ids:
        with unit_of_work():
            outgoing = webhooks.prepare(delivery_id, utcnow())
        result = webhooks.send(outgoing)
        with unit_of_work():
            states.append(webhooks.record(delivery_id, result, utcnow(), by_id=by_id).state)
    return states


@queue.task("webhooks.deliver")
def deliver(delivery_id: int, by_id: int | None = None) -> str:
    """Send one delivery now if it is due and nobody else has it ("skipped" otherwise)."""
    with unit_of_work():
        ids = webhooks.claim_due(utcnow(), only=delivery_id)
    return (deliver_claimed(ids, by_id=by_id) or ["skipped"])[0]


def deliver_due(now=None) -> str:
    """Every due delivery, BATCH at a time, until none is left."""
    states: list[str] = []
    while True:
        with unit_of_work():
            ids = webhooks.claim_due(now or utcnow())
        if not ids:
            break
        states += deliver_claimed(ids)
        if len(ids) < webhooks.BATCH:
            break
    return (f"{len(states)} webhook deliveries sent: {states.count('delivered')} delivered, "
            f"{states.count('pending')} to retry, {states.count('failed')} failed")


@queue.periodic("webhooks_deliver", minute="*/1", hour="*", daily=False)
def run_due(now) -> str:
    """Webhook deliveries due (retries after their backoff, and any the queue missed): flask webhooks deliver."""
    return deliver_due(now)


@group.command("deliver")
def deliver_command() -> None:
    """Send the webhook deliveries that are due now."""
    click.echo(deliver_due())


@queue.periodic("idempotency_purge", minute="15", hour="1")
def purge_idempotency(now) -> str:
    """Idempotency-Key records older than a day deleted (a client retries within minutes)."""
    return f"{idempotency.purge(now)} idempotency records older than {idempotency.KEEP} deleted"


@queue.periodic("webhooks_purge", minute="20", hour="1")
def purge_webhooks(now) -> str:
    """The webhook delivery log older than 30 days deleted (deliveries, their tries, their events)."""
    deliveries, events = webhooks.purge(now)
    return f"{deliveries} webhook deliveries and {events} outbox events older than {webhooks.KEEP_LOG.days} days deleted"


commands = [group]
