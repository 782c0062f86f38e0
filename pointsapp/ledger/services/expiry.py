"""Lapsing points under each community's expiry policy: what `flask ledger expire` and the nightly job
(jobs.schedule) both run.

Unlike the other services this one ends units of work itself, as a runner does: each community is
planned by a reader (one grouped query; on SQLite it does not hold the write lock), then its residents
are posted `chunk_size` at a time, each chunk committed on its own, so no write waits long behind
expiry and an interrupted run resumes where it stopped. Idempotent: points never lapse twice
(audit.apply_expiry's idempotency key)."""
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from pointsapp.core import sqlite
from pointsapp.core.extensions import db
from pointsapp.core.uow import abandon, unit_of_work
from pointsapp.ledger.services import audit
from pointsapp.tree.models import Community


@dataclass(frozen=True)
class Lapsed:
    community_id: int
    residents: int
    points: int
    plan: audit.ExpiryPlan | None  # None: the community has no expiry policy


def community_ids(community_id: int | None = None) -> list[int]:
    """The given community, or every community in id order (read without the write lock)."""
    if community_id:
        return [community_id]
    with sqlite.read_only():
        try:
            return list(db.session.scalars(select(Community.id).order_by(Community.id)))
        finally:
            abandon()


def expire(now: datetime, community_id: int | None = None, *, chunk_size: int = 500,
           dry_run: bool = False) -> Iterator[Lapsed]:
    """Lapse (dry run: only plan) each community's points as of `now`; yields one Lapsed per community
    once it is committed (a dry run yields what would lapse)."""
    for cid in community_ids(community_id):
        with sqlite.read_only():
            try:
                plan = audit.plan_expiry(cid, now)
            finally:
                abandon()
        if plan is None or dry_run:
            yield Lapsed(cid, plan.residents if plan else 0, plan.points if plan else 0, plan)
            continue
        touched = points = 0
        for chunk in plan.chunks(chunk_size):
            with unit_of_work():
                t, p = audit.apply_expiry(plan, chunk, now)
            touched, points = touched + t, points + p
        yield Lapsed(cid, touched, points, plan)
