"""flask --app pointsapp jobs …: the worker, the periodic jobs run once, and the schedule; and the nightly
backup (the one periodic job no other feature owns)."""
import logging
import os

import click
from flask import current_app

from pointsapp.core import queue as jobs
from pointsapp.core.clock import utcnow
from pointsapp.core.periods import CHINA
from pointsapp.core.uow import command_unit_of_work

group = click.Group("jobs", help="Background jobs: the worker and the nightly schedule.")


def _default_workers() -> int:
    # jobs are few and mostly wait on the database; two threads keep a long import from holding up the rest
    return max(2, min(4, os.cpu_count() or 1))


@group.command("worker")
@click.option("--workers", type=click.IntRange(1, 32), default=None,
              help="Worker threads (default: the CPU count, between 2 and 4).")
@click.option("--no-periodic", is_flag=True, help="Run queued jobs only; another worker runs the schedule.")
def worker(workers: int | None, no_periodic: bool) -> None:
    """Run the job queue's consumer: queued jobs (big imports) and the periodic jobs, until SIGTERM or
    Ctrl-C (which lets running jobs finish)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    huey = jobs.queue()
    if huey.immediate:
        raise click.ClickException("JOBS_IMMEDIATE is on: jobs run where they are queued, there is nothing to consume")
    count = workers or _default_workers()
    click.echo(f"job worker: {type(huey.storage).__name__} queue {huey.name!r}, {count} threads, "
               f"periodic jobs {'off' if no_periodic else 'on'} (app {current_app.name})")
    huey.create_consumer(workers=count, worker_type="thread", periodic=not no_periodic,
                         check_worker_health=True).run()


@group.command("run-due")
@click.option("--job", "names", multiple=True, metavar="NAME",
              help="Run this job whatever the time (may be repeated).")
@click.option("--force", is_flag=True, help="Run even when the job already ran today.")
def run_due(names: tuple[str, ...], force: bool) -> None:
    """Run the periodic jobs due this minute (China time; from cron every minute, where no worker runs),
    or the ones named with --job, here and now. A daily job runs once a day however often this is called."""
    unknown = [n for n in names if n not in jobs.PERIODIC]
    if unknown:
        raise click.BadParameter(f"no periodic job {', '.join(unknown)} (flask jobs schedule lists them)",
                                 param_hint="--job")
    now = utcnow()
    due = [jobs.PERIODIC[n] for n in names] if names else jobs.due_now(now)
    for job in due:
        with command_unit_of_work():
            click.echo(f"{job.name}: {jobs.run_periodic(job.name, now=now, force=force)}")
    if not due:
        click.echo(f"no periodic job is due at {now.astimezone(CHINA):%H:%M} China time")


@group.command("schedule")
def show_schedule() -> None:
    """List the periodic jobs and when they run (China time)."""
    for job in jobs.schedule():
        doc = (job.run.__doc__ or "").strip()
        click.echo(f"{job.when():<16} {job.name:<18}" + (f"  {doc}" if doc else ""))


@group.command("status")
def status() -> None:
    """How many jobs wait in the queue, and how many are scheduled for later (retries)."""
    huey = jobs.queue()
    click.echo(f"{type(huey.storage).__name__} {huey.name!r}: {huey.pending_count()} waiting, "
               f"{huey.scheduled_count()} scheduled")


@jobs.periodic("backup", minute="30", hour="3")
def nightly_backup(now) -> str:
    """The nightly backup, after the checkpoint: pointsapp.backups.services.take_backup. An expected failure (a
    folder it may not use, a full disk, no pg_dump) is one line in the worker's log, not a traceback."""
    from pointsapp.backups.services import BackupError, take_backup

    try:
        return f"backup: {take_backup(now)}"
    except BackupError as exc:
        logging.getLogger(__name__).error("nightly backup failed: %s", exc)
        return f"backup FAILED: {exc}"


commands = [group]
