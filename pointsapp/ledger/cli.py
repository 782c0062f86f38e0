"""flask --app pointsapp ledger …: verify, checkpoint, expire."""
import time

import click

from pointsapp.core import sqlite
from pointsapp.core.clock import utcnow
from pointsapp.core.periods import local_date
from pointsapp.core.uow import abandon, command_unit_of_work
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import expiry

group = click.Group("ledger", help="Love-points ledger: verify, checkpoint, expire.")


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
    with command_unit_of_work():
        for cp in ledger_audit.checkpoint_all(utcnow(), community_id):
            click.echo(f"community {cp.community_id}: root {cp.root} over {cp.resident_count} chains, {cp.entry_count} entries")


@group.command("expire")
@click.option("--community", "community_id", type=int, help="Only this community.")
@click.option("--chunk-size", default=500, show_default=True, type=click.IntRange(1),
              help="Residents posted and committed per unit of work.")
@click.option("--dry-run", is_flag=True, help="Only say what would lapse.")
def expire(community_id: int | None, chunk_size: int, dry_run: bool) -> None:
    """Lapse points older than each community's expiry policy (idempotent; the nightly job runs the same).

    Each community is planned by a reader (one grouped query; on SQLite it does not hold the write
    lock), then its residents are posted `--chunk-size` at a time, each chunk committed on its own, so
    no write waits long behind expiry and an interrupted run resumes where it stopped."""
    with command_unit_of_work():  # a refusal or a busy database: one line and exit code 1
        for done in expiry.expire(utcnow(), community_id, chunk_size=chunk_size, dry_run=dry_run):
            if done.plan is not None and dry_run:
                click.echo(f"community {done.community_id}: {done.points} points would lapse for "
                           f"{done.residents} residents (earned before {local_date(done.plan.cutoff)})")
            else:
                click.echo(f"community {done.community_id}: {done.points} points lapsed for {done.residents} residents")


commands = [group]
