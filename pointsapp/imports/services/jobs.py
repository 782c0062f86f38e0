"""Background runs of big sheets: the steps a runner takes (imports.cli.run_job: a task on the job queue
enqueued after the request's commit, or `flask imports run`), each in the runner's own unit of work; nothing here commits.

A job waits as status "queued" with its task (check | import). claim() takes it with a conditional
update (queued → running), so of two runners exactly one works on it; process() does the task and
reports progress through the runner's callback, which commits the count (the check only reads until
then); the import's writes are flushed in the runner's last unit of work: all rows or none. A run that
fails leaves the job "failed" with its reason. A job "running" for longer than STALE_MINUTES (its
process died) may be claimed again: the import wrote nothing that outlived the crash.
"""
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from pointsapp.core.extensions import db
from pointsapp.imports import services as imports
from pointsapp.imports.models import ImportJob
from pointsapp.tree.models import Community

STALE_MINUTES = 30  # far longer than the biggest allowed sheet takes (20,000 rows: under a minute)
WAITING = ("queued", "running")


def _claimable(now: datetime, stale_minutes: int):
    stale = now - timedelta(minutes=stale_minutes)
    return or_(ImportJob.status == "queued", (ImportJob.status == "running") & (ImportJob.started_at < stale))


def waiting(now: datetime, *, stale_minutes: int = STALE_MINUTES) -> list[int]:
    """Ids of the jobs a runner may claim now, oldest first."""
    return list(db.session.scalars(select(ImportJob.id).where(_claimable(now, stale_minutes))
                                   .order_by(ImportJob.id)))


def claim(job_id: int, now: datetime, *, stale_minutes: int = STALE_MINUTES) -> bool:
    """Take a waiting job (queued → running). False when it is not waiting (done, or another runner has it)."""
    return db.session.execute(
        update(ImportJob).where(ImportJob.id == job_id, _claimable(now, stale_minutes))
        .values(status="running", started_at=now, progress=0, message="")).rowcount == 1


def record_progress(job_id: int, rows: int) -> None:
    db.session.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == "running")
                       .values(progress=rows))


def process(job_id: int, now: datetime, *, max_rows: int, progress: Callable[[int], None]) -> ImportJob:
    """Do a claimed job's task: check the sheet (→ checked) or import it (→ imported). Raises
    check_sheet's and write's codes (the runner then calls fail())."""
    job = db.session.get(ImportJob, job_id)
    community = db.session.get(Community, job.community_id)
    if job.task == "import":
        imports.write(community, job, now, max_rows=max_rows, progress=progress)
        job = db.session.get(ImportJob, job_id)
        job.status, job.imported_at = "imported", now
    else:
        report = imports.check_sheet(community, job.filename, imports.sheet_of(job), max_rows=max_rows,
                                     progress=progress)
        job = db.session.get(ImportJob, job_id)
        imports.record(job, report)
        job.status = "checked"
    job.progress = job.row_count
    db.session.flush()
    return job


def fail(job_id: int, message: str) -> None:
    """Mark a run as failed, with its reason for the job's page."""
    db.session.execute(update(ImportJob).where(ImportJob.id == job_id)
                       .values(status="failed", message=message[:1000]))


def progress_of(job: ImportJob) -> dict:
    """What the job's page polls: its status, the rows read so far and (for an import) of how many."""
    return {"status": job.status, "task": job.task, "progress": job.progress,
            "total": job.row_count if job.task == "import" else None, "waiting": job.status in WAITING}
