"""flask --app pointsapp ledger …: verify, checkpoint, expire; and run_export(), the runner of a big
export (the job queue's task "ledger.export", or `flask ledger run-exports`)."""
import logging
import time

import click
from flask_babel import force_locale
from flask_babel import gettext as _

from pointsapp.core import sqlite
from pointsapp.core.clock import utcnow
from pointsapp.core.extensions import db
from pointsapp.core.periods import local_date
from pointsapp.core.uow import abandon, after_commit, command_unit_of_work, unit_of_work
from pointsapp.jobs import enqueue
from pointsapp.ledger.models import LedgerExport
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import expiry, export_jobs

log = logging.getLogger(__name__)

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



def run_export(job_id: int) -> str:
    """Claim and make one big export; returns its status afterwards ("skipped" when it was not waiting).
    The file is written by a reader (on SQLite it never holds the write lock); the count of entries
    written so far is committed on a connection of its own, for the page that polls it."""
    with unit_of_work():
        claimed = export_jobs.claim(job_id, utcnow())
    if not claimed:
        return "skipped"

    def progress(rows: int) -> None:
        with db.engine.begin() as conn:
            conn.execute(export_jobs.progress_update(job_id, rows))

    try:
        with sqlite.read_only():
            try:
                with force_locale(db.session.get(LedgerExport, job_id).locale):
                    body, rows = export_jobs.produce(job_id, progress=progress)
            finally:
                abandon()
        with unit_of_work():
            export_jobs.finish(job_id, body, rows, utcnow())
        return "done"
    except Exception:  # noqa: BLE001 - logged; the export must not stay "running" for the office
        log.exception("ledger export %s failed", job_id)
    with unit_of_work():
        export_jobs.fail(job_id, _("Something went wrong on our side. Please try again; if it keeps happening, "
                                   "tell the community office."), utcnow())
    return "failed"


def enqueue_export_after_commit(job_id: int) -> None:
    """Hand the export to the job queue once the request has committed (a queue out of reach is logged:
    the export stays queued and `flask ledger run-exports`, or the periodic imports_waiting run, takes it)."""
    from flask import current_app

    app = current_app._get_current_object()

    def hand_over() -> None:
        try:
            enqueue("ledger.export", job_id, app=app)
        except Exception:  # noqa: BLE001 - the commit stands
            log.exception("ledger export %s: could not reach the job queue", job_id)

    after_commit(hand_over)


@group.command("run-exports")
def run_exports() -> None:
    """Make the big exports still waiting (queued before a restart, or whose worker died)."""
    with command_unit_of_work():
        ids = export_jobs.waiting(utcnow())
    for job_id in ids:
        click.echo(f"export {job_id}: {run_export(job_id)}")
    click.echo(f"{len(ids)} waiting exports run")


commands = [group]
