"""Big ledger exports, made by the job worker (the task "ledger.export", runner ledger.cli.run_export)
and downloaded from their page, which shows how far the worker has got.

queue() records the request (range checked, permission checked, the entries counted); claim() takes it
with a conditional update (queued → running: of two runners one works on it); produce() writes the
file, reporting each PROGRESS_EVERY entries through the runner's callback; the finished file is kept on
the row until purge() deletes it KEEP_DAYS later (it names residents). Nothing here commits.
"""
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update

from pointsapp.accounts.models import User
from pointsapp.core.errors import Conflict, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.permissions import Action, require
from pointsapp.core.spreadsheets import csv_bytes, xlsx_bytes
from pointsapp.ledger.models import LedgerEntry, LedgerExport
from pointsapp.ledger.services import export
from pointsapp.tree.models import Community

PROGRESS_EVERY = 2000
KEEP_DAYS = 3
STALE_MINUTES = 30  # a run "running" longer than this died with its worker: it may be claimed again
SYNC_ROWS = 20000  # up to this many entries an export is made within the request
WAITING = ("queued", "running")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def count(actor: User, community_id: int, start: date, end: date) -> int:
    """Entries in the range. Raises forbidden, invalid_range."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    begin, stop = export._range(start, end)
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.community_id == community_id, LedgerEntry.created_at >= begin, LedgerEntry.created_at < stop))


def queue(actor: User, community: Community, start: date, end: date, fmt: str, locale: str,
          now: datetime) -> LedgerExport:
    """Record a big export for the worker. Raises forbidden, invalid_range."""
    total = count(actor, community.id, start, end)
    job = LedgerExport(community_id=community.id, created_by_id=actor.id, created_at=now, start_day=start,
                       end_day=end, format="csv" if fmt == "csv" else "xlsx", locale=locale, status="queued",
                       progress=0, total=total, message="")
    db.session.add(job)
    db.session.flush()
    return job


def queue_or_make(actor: User, community: Community, start: date, end: date, fmt: str, locale: str, now: datetime, *,
                  sync_rows: int = SYNC_ROWS) -> LedgerExport:
    """An export kept for its download (the API's): up to sync_rows entries it is made now (done), as the ledger
    page makes a small one within the request; a bigger one waits for the worker (queued: the caller enqueues
    "ledger.export" after the commit). Raises forbidden, invalid_range."""
    job = queue(actor, community, start, end, fmt, locale, now)
    if job.total <= sync_rows:
        body, rows = produce(job.id, progress=lambda _rows: None)
        job.status, job.content, job.progress, job.total = "done", body, rows, rows
        job.started_at = job.finished_at = now
        db.session.flush()
    return job


def load(actor: User, community: Community, job_id: int) -> LedgerExport:
    require(actor, Action.MANAGE_COMMUNITY, community)
    job = db.session.get(LedgerExport, job_id)
    if job is None or job.community_id != community.id:
        raise NotFound(_l("This export no longer exists."))
    return job


def download(actor: User, community: Community, job_id: int) -> tuple[LedgerExport, bytes]:
    """The finished file. Raises forbidden, not_found, export_not_ready, export_purged."""
    job = load(actor, community, job_id)
    if job.purged_at is not None:
        raise Conflict(_l("This file was deleted %(n)d days after it was made, to protect residents' data. "
                          "Please export again.", n=KEEP_DAYS), code="export_purged")
    if job.status != "done" or job.content is None:
        raise Conflict(_l("The file is not ready yet."), code="export_not_ready")
    return job, job.content


def filename(job: LedgerExport) -> str:
    return f"ledger-{job.community_id}-{job.start_day:%Y%m%d}-{job.end_day:%Y%m%d}.{job.format}"


def _claimable(now: datetime):
    stale = now - timedelta(minutes=STALE_MINUTES)
    return or_(LedgerExport.status == "queued",
               (LedgerExport.status == "running") & (LedgerExport.started_at < stale))


def waiting(now: datetime) -> list[int]:
    return list(db.session.scalars(select(LedgerExport.id).where(_claimable(now)).order_by(LedgerExport.id)))


def claim(job_id: int, now: datetime) -> bool:
    """queued → running; False when it is not waiting (done, or another runner has it)."""
    return db.session.execute(update(LedgerExport).where(LedgerExport.id == job_id, _claimable(now))
                              .values(status="running", started_at=now, progress=0)).rowcount == 1


def progress_update(job_id: int, rows: int):
    """The statement that records the count: the runner executes it on a connection of its own (the
    export's read transaction stays open while the file is written)."""
    return (update(LedgerExport).where(LedgerExport.id == job_id, LedgerExport.status == "running")
            .values(progress=rows))


def produce(job_id: int, *, progress: Callable[[int], None]) -> tuple[bytes, int]:
    """The file of a claimed job and its entry count; progress(n) after each PROGRESS_EVERY entries. Reads only."""
    job = db.session.get(LedgerExport, job_id)
    begin, stop = export._range(job.start_day, job.end_day)
    written = [0]

    def counted(entries: Iterator[list]) -> Iterator[list]:
        for n, entry in enumerate(entries, 1):
            yield entry
            if n % PROGRESS_EVERY == 0:
                progress(n)
            written[0] = n

    entries = counted(export._rows(job.community_id, begin, stop))
    headers = [str(h) for h in export.HEADERS]
    if job.format == "csv":
        body = csv_bytes([headers, *entries])
    else:
        body = xlsx_bytes([(str(_l("Points ledger")), _with_header(headers, entries))])
    return body, written[0]


def _with_header(headers: list[str], entries: Iterator[list]) -> Iterator[list]:
    yield headers
    yield from entries


def finish(job_id: int, body: bytes, rows: int, now: datetime) -> None:
    db.session.execute(update(LedgerExport).where(LedgerExport.id == job_id).values(
        status="done", content=body, progress=rows, total=rows, finished_at=now))


def fail(job_id: int, message: str, now: datetime) -> None:
    db.session.execute(update(LedgerExport).where(LedgerExport.id == job_id).values(
        status="failed", message=message[:1000], finished_at=now))


def progress_of(job: LedgerExport) -> dict:
    """What the export's page polls."""
    return {"status": job.status, "progress": job.progress, "total": job.total, "waiting": job.status in WAITING}


def purge(now: datetime) -> int:
    """Delete the files of exports made more than KEEP_DAYS ago (the rows stay). Returns how many."""
    return db.session.execute(update(LedgerExport).where(
        LedgerExport.purged_at.is_(None), LedgerExport.content.is_not(None),
        LedgerExport.created_at < now - timedelta(days=KEEP_DAYS)).values(content=None, purged_at=now)).rowcount
