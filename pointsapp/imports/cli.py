"""flask --app pointsapp imports …: uploaded resident sheets, and the runner of big ones.

run_job() is the one runner of a queued job (services.jobs): the web puts it on the job queue (the task
"imports.run_job", core/queue.py) once the request that queued the job has committed, and a worker
(`flask jobs worker`) runs it; whatever is still waiting (a job queued while the queue was out of reach,
or one whose worker died) is run by the periodic job imports_waiting (every 10 minutes) or by
`flask imports run`. It takes only the job's id, and running it twice is harmless. The periodic
sheet_purge (01:00 China time) is `flask imports purge`.
"""
import logging

import click
from flask import current_app
from flask_babel import gettext as _

from pointsapp.core import queue
from pointsapp.core.clock import utcnow
from pointsapp.core.errors import DomainError
from pointsapp.core.uow import command_unit_of_work, finish, unit_of_work
from pointsapp.imports import services as imports
from pointsapp.imports.services import jobs

log = logging.getLogger(__name__)
group = click.Group("imports", help="Uploaded resident sheets.")


@queue.task("imports.run_job")
def run_job(job_id: int, *, stale_minutes: int = jobs.STALE_MINUTES) -> str:
    """Claim and run one job in units of work of its own; returns its status afterwards ("skipped" when it
    was not waiting). The check commits its progress as it goes; the import's rows are one commit."""
    with unit_of_work():
        claimed = jobs.claim(job_id, utcnow(), stale_minutes=stale_minutes)
    if not claimed:
        return "skipped"

    def progress(rows: int) -> None:
        jobs.record_progress(job_id, rows)
        finish()  # only the count: the check reads, and the import's writes come after the last call

    max_rows = current_app.config["IMPORT_MAX_ROWS"]
    try:
        with unit_of_work():
            return jobs.process(job_id, utcnow(), max_rows=max_rows, progress=progress).status
    except DomainError as exc:
        message = str(exc)
    except Exception:  # noqa: BLE001 - logged; the job must not stay "running" for the office
        log.exception("import job %s failed", job_id)
        message = _("Something went wrong on our side. Please try again; if it keeps happening, tell the "
                    "community office.")
    with unit_of_work():
        jobs.fail(job_id, message)
    return "failed"


@queue.periodic("imports_waiting", minute="*/10", hour="*", daily=False)
def run_waiting(now) -> str:
    """Big import sheets still waiting (queued before a restart, or their runner died): flask imports run."""
    results = [run_job(job_id) for job_id in jobs.waiting(now)]
    return f"{len(results)} waiting import jobs run" + (f": {', '.join(results)}" if results else "")


@queue.periodic("sheet_purge", minute="0", hour="1")
def purge_job(now) -> str:
    """Uploaded sheets older than 7 days deleted: flask imports purge."""
    return f"{imports.purge_sheets(now)} sheets older than {imports.SHEET_DAYS} days deleted"


@group.command("run")
@click.option("--stale-minutes", default=jobs.STALE_MINUTES, show_default=True,
              help="Also take over jobs marked running for longer than this (their process died).")
def run(stale_minutes: int) -> None:
    """Run the sheets waiting to be checked or imported in the background."""
    with command_unit_of_work():
        ids = jobs.waiting(utcnow(), stale_minutes=stale_minutes)
    for job_id in ids:
        click.echo(f"job {job_id}: {run_job(job_id, stale_minutes=stale_minutes)}")
    click.echo(f"{len(ids)} waiting jobs run")


@group.command("purge")
def purge() -> None:
    """Delete uploaded sheets older than a week (the nightly job sheet_purge; uploads also purge their community's)."""
    with command_unit_of_work():
        click.echo(purge_job(utcnow()))


commands = [group]
