"""flask --app pointsapp ledger …: verify, checkpoint, expire, run-exports; and the ledger's jobs on the job
queue (core/queue.py): the nightly expiry (02:00 China time) and checkpoint (03:00), the big exports
(task "ledger.export", run_export), the exports left waiting (every 10 minutes) and the purge of export
files (01:00).

run_expiry() is the one runner of expiry: the command and the nightly job both call it."""
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import click
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from pointsapp.core import queue, sqlite
from pointsapp.core.clock import utcnow
from pointsapp.core.extensions import db
from pointsapp.core.periods import local_date
from pointsapp.core.uow import abandon, command_unit_of_work, unit_of_work
from pointsapp.ledger.models import LedgerExport
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import export_jobs
from pointsapp.tree.models import Community

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


@dataclass(frozen=True)
class Lapsed:
    community_id: int
    residents: int
    points: int
    plan: ledger_audit.ExpiryPlan | None  # None: the community has no expiry policy


def run_expiry(now: datetime, community_id: int | None = None, *, chunk_size: int = 500,
               dry_run: bool = False) -> Iterator[Lapsed]:
    """Lapse (dry run: only plan) each community's points as of `now`, yielding one Lapsed per community
    once it is committed. Each community is planned by a reader (one grouped query; on SQLite it does not
    hold the write lock), then its residents are posted `chunk_size` at a time, each chunk committed on
    its own, so no write waits long behind expiry and an interrupted run resumes where it stopped.
    Idempotent: points never lapse twice (ledger_audit.apply_expiry's idempotency key)."""
    with sqlite.read_only():
        try:
            ids = [community_id] if community_id else list(db.session.scalars(
                select(Community.id).order_by(Community.id)))
        finally:
            abandon()
    for cid in ids:
        with sqlite.read_only():
            try:
                plan = ledger_audit.plan_expiry(cid, now)
            finally:
                abandon()
        if plan is None or dry_run:
            yield Lapsed(cid, plan.residents if plan else 0, plan.points if plan else 0, plan)
            continue
        touched = points = 0
        for chunk in plan.chunks(chunk_size):
            with unit_of_work():
                t, p = ledger_audit.apply_expiry(plan, chunk, now)
            touched, points = touched + t, points + p
        yield Lapsed(cid, touched, points, plan)


@group.command("expire")
@click.option("--community", "community_id", type=int, help="Only this community.")
@click.option("--chunk-size", default=500, show_default=True, type=click.IntRange(1),
              help="Residents posted and committed per unit of work.")
@click.option("--dry-run", is_flag=True, help="Only say what would lapse.")
def expire(community_id: int | None, chunk_size: int, dry_run: bool) -> None:
    """Lapse points older than each community's expiry policy (idempotent; the nightly job ledger_expiry
    runs the same at 02:00 China time), `--chunk-size` residents per commit."""
    with command_unit_of_work():  # a refusal or a busy database: one line and exit code 1
        for done in run_expiry(utcnow(), community_id, chunk_size=chunk_size, dry_run=dry_run):
            if done.plan is not None and dry_run:
                click.echo(f"community {done.community_id}: {done.points} points would lapse for "
                           f"{done.residents} residents (earned before {local_date(done.plan.cutoff)})")
            else:
                click.echo(f"community {done.community_id}: {done.points} points lapsed for {done.residents} residents")


@queue.periodic("ledger_expiry", minute="0", hour="2")
def expiry_job(now: datetime) -> str:
    """Points past their community's expiry policy lapse: flask ledger expire."""
    return "; ".join(f"community {r.community_id}: {r.points} points lapsed for {r.residents} residents"
                     for r in run_expiry(now)) or "no communities"


@queue.periodic("ledger_checkpoint", minute="0", hour="3")
def checkpoint_job(now: datetime) -> str:
    """A root over every chain head, after the expiry: flask ledger checkpoint."""
    return f"{len(ledger_audit.checkpoint_all(now, only_if_moved_today=True))} checkpoints stored"


# ---- big exports ----------------------------------------------------------------------------------

@queue.task("ledger.export")
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


@queue.periodic("exports_waiting", minute="*/10", hour="*", daily=False)
def exports_waiting_job(now: datetime) -> str:
    """Big ledger exports still waiting (queued before a restart, or their worker died): flask ledger run-exports."""
    results = [run_export(job_id) for job_id in export_jobs.waiting(now)]
    return f"{len(results)} waiting ledger exports run" + (f": {', '.join(results)}" if results else "")


@queue.periodic("export_purge", minute="0", hour="1")
def export_purge_job(now: datetime) -> str:
    """Ledger export files older than 3 days deleted (they name residents)."""
    return f"{export_jobs.purge(now)} ledger export files older than {export_jobs.KEEP_DAYS} days deleted"


@group.command("run-exports")
def run_exports() -> None:
    """Make the big exports still waiting (queued before a restart, or whose worker died)."""
    with command_unit_of_work():
        ids = export_jobs.waiting(utcnow())
    for job_id in ids:
        click.echo(f"export {job_id}: {run_export(job_id)}")
    click.echo(f"{len(ids)} waiting exports run")


commands = [group]
