"""flask --app pointsapp ledger …: verify, checkpoint, expire."""
import time

import click
from sqlalchemy import select

from pointsapp.core import sqlite
from pointsapp.core.clock import utcnow
from pointsapp.core.extensions import db
from pointsapp.core.uow import abandon, unit_of_work
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.tree.models import Community

group = click.Group("ledger", help="Love-points ledger: verify, checkpoint, expire.")


def _community_ids(community_id: int | None) -> list[int]:
    return [community_id] if community_id else list(db.session.scalars(select(Community.id).order_by(Community.id)))


@group.command("verify")
@click.option("--community", "community_id", type=int, help="Only this community.")
def verify(community_id: int | None) -> None:
    """Recompute every hash chain and balance; exit 1 when anything is off."""
    started = time.perf_counter()
    with sqlite.read_only():  # a reader: on SQLite it must never hold the write lock
        try:
            report = ledger_audit.verify(community_id)
        finally:
            abandon()
    elapsed = time.perf_counter() - started
    for problem in report.problems:
        click.echo(f"BAD {problem}", err=True)
    click.echo(f"{report.residents} chains, {report.entries} entries checked in {elapsed:.2f} s: "
               + ("OK" if report.ok else f"{len(report.problems)} problems"))
    if not report.ok:
        raise SystemExit(1)


@group.command("checkpoint")
@click.option("--community", "community_id", type=int, help="Only this community.")
def checkpoint(community_id: int | None) -> None:
    """Store a root over all chain heads of each community."""
    with unit_of_work():
        for cid in _community_ids(community_id):
            cp = ledger_audit.checkpoint(cid, utcnow())
            click.echo(f"community {cid}: root {cp.root} over {cp.resident_count} chains, {cp.entry_count} entries")


@group.command("expire")
@click.option("--community", "community_id", type=int, help="Only this community.")
def expire(community_id: int | None) -> None:
    """Lapse points older than each community's expiry policy (idempotent)."""
    for cid in _community_ids(community_id):
        with unit_of_work():
            touched, points = ledger_audit.expire(cid, utcnow())
        click.echo(f"community {cid}: {points} points lapsed for {touched} residents")


commands = [group]
