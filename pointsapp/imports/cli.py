"""flask --app pointsapp imports …: uploaded resident sheets, and the runner of big ones.

run_job() is the one runner of a queued job (services.jobs): the web starts it in a thread of its own
after the request that queued the job has committed (start_in_background), and `flask imports run` runs
whatever is still waiting (a job queued before a restart, or one whose process died). It is built to be
handed to a real job queue later unchanged: it takes only the job's id, and running it twice is harmless.
"""
import logging
import threading

import click
from flask import Flask, current_app
from flask_babel import gettext as _

from pointsapp.core.clock import utcnow
from pointsapp.core.errors import DomainError
from pointsapp.core.uow import command_unit_of_work, finish, unit_of_work
from pointsapp.imports import services as imports
from pointsapp.imports.services import jobs

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


def start_in_background(app: Flask, job_id: int) -> None:
    """Run the job in a daemon thread with its own app context and database session (after the commit that
    queued it: core.uow.after_commit). Off when IMPORT_RUN_IN_THREAD is False (tests run jobs by hand)."""
    if not app.config.get("IMPORT_RUN_IN_THREAD", True):
        return

    def work():
        with app.app_context():
            try:
                run_job(job_id)
            except Exception:  # noqa: BLE001 - a thread's error would otherwise vanish
                log.exception("import job %s: the runner failed", job_id)

    threading.Thread(target=work, name=f"import-job-{job_id}", daemon=True).start()


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
