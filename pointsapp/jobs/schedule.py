"""The periodic jobs. Times are China time (Asia/Shanghai), whatever the server's zone:

| China time      | job              | what it does (the command that does the same by hand)                    |
|-----------------|------------------|---------------------------------------------------------------------------|
| every 10 min    | imports_waiting  | big import sheets and ledger exports still waiting: queued before a restart, or whose runner died (`flask imports run`, `flask ledger run-exports`) |
| 01:00 daily     | sheet_purge      | uploaded sheets older than 7 days, ledger export files older than 3 days deleted (`flask imports purge` for the sheets) |
| 01:30 daily     | retention        | personal data of residents who moved out N years ago erased (`flask tree retention`) |
| 02:00 daily     | ledger_expiry    | points older than the community's expiry policy lapse (`flask ledger expire`) |
| 03:00 daily     | ledger_checkpoint| a root over every chain head, after the night's expiry (`flask ledger checkpoint`) |
| 03:30 daily     | backup           | the nightly backup, after the checkpoint (`pointsapp.backups.services.take_backup`) |

Two workers may both enqueue a job (each consumer runs a scheduler; on Redis they share one queue), and
`flask jobs run-due` from cron may run beside them. So a daily job first claims its China-time day in
the queue's store (`put_if_empty`, atomic in Redis and in SQLite): the second claimant does nothing.
A run that crashes keeps its day claimed (no retry loop at 2 a.m.); the next night runs again, and
every job is idempotent anyway: expiry never lapses the same points twice, purge and retention skip
what is already gone, a checkpoint is not stored again when the chain heads have not moved that day,
and the import runner claims each sheet before working on it. Every job reads the time from the app's
clock (core.clock.utcnow), so tests move it.
"""
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from huey import crontab

from pointsapp.core.clock import utcnow
from pointsapp.core.periods import CHINA

log = logging.getLogger(__name__)
MARK = "pointsapp.periodic:{name}:{day}"


@dataclass(frozen=True)
class Periodic:
    name: str
    minute: str
    hour: str
    run: Callable[[datetime], str]  # does the work as of `now`; returns one line for the log
    daily: bool = True  # claims its China-time day before running (see the module's docstring)

    def matches(self, moment: datetime) -> bool:
        """Is `moment` (aware, any zone) a minute this job runs at, in China time?"""
        return crontab(minute=self.minute, hour=self.hour, strict=True)(moment.astimezone(CHINA))

    def due(self, timestamp: datetime) -> bool:
        """Huey's scheduler test: it passes naive UTC (Huey(utc=True), the default)."""
        return self.matches(timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp)

    def when(self) -> str:
        if self.hour == "*" and self.minute.startswith("*/"):
            return f"every {self.minute[2:]} min"
        return f"{int(self.hour):02d}:{int(self.minute):02d} daily"


# ---- the jobs: each calls the service its command calls --------------------------------------------

def imports_waiting(now: datetime) -> str:
    """Big imports and ledger exports still waiting (queued before a restart, or their runner died): flask imports run, flask ledger run-exports."""
    from pointsapp.imports.cli import run_job
    from pointsapp.imports.services import jobs
    from pointsapp.ledger.cli import run_export
    from pointsapp.ledger.services import export_jobs

    imports = [run_job(job_id) for job_id in jobs.waiting(now)]
    exports = [run_export(job_id) for job_id in export_jobs.waiting(now)]
    return f"{len(imports)} waiting import jobs run, {len(exports)} waiting ledger exports run"


def sheet_purge(now: datetime) -> str:
    """Uploaded sheets older than 7 days and ledger export files older than 3 days deleted: flask imports purge."""
    from pointsapp.imports import services as imports
    from pointsapp.ledger.services import export_jobs

    return (f"{imports.purge_sheets(now)} sheets older than {imports.SHEET_DAYS} days deleted, "
            f"{export_jobs.purge(now)} ledger export files older than {export_jobs.KEEP_DAYS} days deleted")


def retention(now: datetime) -> str:
    """Personal data of residents who moved out long ago erased: flask tree retention."""
    from pointsapp.privacy import services as privacy

    return f"{len(privacy.apply_retention(now))} residents had their personal data erased"


def ledger_expiry(now: datetime) -> str:
    """Points past their community's expiry policy lapse: flask ledger expire."""
    from pointsapp.ledger.services import expiry

    done = list(expiry.expire(now))
    return "; ".join(f"community {r.community_id}: {r.points} points lapsed for {r.residents} residents"
                     for r in done) or "no communities"


def ledger_checkpoint(now: datetime) -> str:
    """A root over every chain head, after the expiry: flask ledger checkpoint."""
    from pointsapp.ledger.services import audit

    stored = audit.checkpoint_all(now, only_if_moved_today=True)
    return f"{len(stored)} checkpoints stored"


def backup(now: datetime) -> str:
    """The nightly backup, after the checkpoint: pointsapp.backups.services.take_backup."""
    from pointsapp.backups.services import take_backup  # written beside this (issue 13's backups)

    return f"backup: {take_backup(now)}"


PERIODIC = (
    Periodic("imports_waiting", minute="*/10", hour="*", run=imports_waiting, daily=False),
    Periodic("sheet_purge", minute="0", hour="1", run=sheet_purge),
    Periodic("retention", minute="30", hour="1", run=retention),
    Periodic("ledger_expiry", minute="0", hour="2", run=ledger_expiry),
    Periodic("ledger_checkpoint", minute="0", hour="3", run=ledger_checkpoint),
    Periodic("backup", minute="30", hour="3", run=backup),
)
BY_NAME = {job.name: job for job in PERIODIC}


def claim_day(name: str, now: datetime) -> bool:
    """Take this job's China-time day in the queue's store; False when another run already has it."""
    from pointsapp.jobs.queue import queue

    day = now.astimezone(CHINA).date()
    huey = queue()
    if not huey.put_if_empty(MARK.format(name=name, day=day.isoformat()), now.isoformat()):
        return False
    huey.delete(MARK.format(name=name, day=(day - timedelta(days=2)).isoformat()))  # the store stays small
    return True


def run_periodic(name: str, *, now: datetime | None = None, force: bool = False) -> str:
    """Run the periodic job `name` as of the app's clock, once per China-time day for a daily job
    (`force`: even when its day is taken). Runs in the caller's unit of work (and its own, for expiry's
    chunks). Returns what it did, or "skipped: …"."""
    job = BY_NAME[name]
    now = now or utcnow()
    if job.daily and not claim_day(name, now) and not force:
        message = f"skipped: already run on {now.astimezone(CHINA).date()} (China time)"
    else:
        message = job.run(now)
    log.info("periodic job %s: %s", name, message)
    return message


def due_now(now: datetime) -> list[Periodic]:
    """The jobs whose China-time minute `now` is."""
    return [job for job in PERIODIC if job.matches(now)]
