"""What the web hands to the queue. Each task takes only ids (it runs later, maybe on another machine) and
is harmless when run twice."""
from pointsapp.jobs.queue import task


@task("imports.run_job")
def run_import_job(job_id: int) -> str:
    """A big sheet's check or import (imports.cli.run_job claims it first: a second run does nothing)."""
    from pointsapp.imports.cli import run_job

    return run_job(job_id)


@task("ledger.export")
def run_ledger_export(job_id: int) -> str:
    """A big ledger export (ledger.cli.run_export claims it first: a second run does nothing)."""
    from pointsapp.ledger.cli import run_export

    return run_export(job_id)
