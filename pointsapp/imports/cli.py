"""flask --app pointsapp imports …: uploaded resident sheets, and the runner of big ones.

run_job() is the one runner of a queued job (services.jobs): the web puts it on the job queue (the task
"imports.run_job", pointsapp.jobs) once the request that queued the job has committed (enqueue_after_commit),
and a worker (`flask jobs worker`) runs it; whatever is still waiting (a job queued before the queue was
reachable, or one whose worker died) is run by the periodic job imports_waiting or by `flask imports run`.
It takes only the job's id, and running it twice is harmless.
"""
import logging

import click
from flask import current_app
from flask_babel import gettext as _

from pointsapp.core.clock import utcnow
from pointsapp.core.errors import DomainError
from pointsapp.core.uow import after_commit, command_unit_of_work, finish, unit_of_work
from pointsapp.imports import services as imports
from pointsapp.imports.services import jobs
from pointsapp.jobs import enqueue

log = logging.getLogger(__name__)
group = click.Group("imports", help="Uploaded resident sheets.")


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


def enqueue_after_commit(job_id: int) -> None:
    """Hand the job to the job queue once the current unit of work has committed (never if it rolls back).
    A queue that cannot be reached is logged, not shown to the office: the job stays queued in the database
    and the periodic job imports_waiting (every 10 minutes) runs it."""
    app = current_app._get_current_object()

    def hand_over() -> None:
        try:
            enqueue("imports.run_job", job_id, app=app)
        except Exception:  # noqa: BLE001 - the commit stands; the periodic job picks the job up
            log.exception("import job %s: could not reach the job queue; left for the periodic run", job_id)

    after_commit(hand_over)


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
    """Delete uploaded sheets older than a week (run daily; uploads also purge their community's)."""
    with command_unit_of_work():
        count = imports.purge_sheets(utcnow())
    click.echo(f"{count} sheets older than {imports.SHEET_DAYS} days deleted")


commands = [group]
