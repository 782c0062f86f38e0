"""The job queue (issue 13): a Huey instance per app, built lazily from the app's config, with every task and
periodic job the features registered run inside that app (its own app context, database session and unit
of work).

Features register what they hand to the queue in their cli module (the layer that may end units of
work), as they register commands; the app factory imports every cli module (features.register_cli), so
the registry is full before a queue is built:

    @queue.task("imports.run_job")                        # put on the queue by enqueue("imports.run_job", id)
    def run_job(job_id): ...
    @queue.periodic("sheet_purge", minute="0", hour="1")  # 01:00 China time, once a day
    def purge_job(now): ...                                 # returns one line for the worker's log

JOBS_URL:
- unset or ""           SqliteHuey, queue file `<instance>/jobs.sqlite` (one machine; nothing to install)
- sqlite:///path        SqliteHuey at that path
- redis://host:port/db  RedisHuey (production: every app server and worker shares one queue)
- memory://             in-process only; nothing runs until a test runs it (the test suite's default)
JOBS_IMMEDIATE = True runs each task at once in the caller's thread (huey's immediate mode).

Each task runs as `with app.app_context(), unit_of_work(): fn(*args)`: committed at the end, rolled back
on an exception (which huey logs). Results are not stored (nobody reads them, and in Redis they would pile
up): what a job did is in the database (an import's status) and in the worker's log.

Periodic jobs run in China time (core.periods.CHINA) whatever the server's zone. Two workers may both
enqueue one (each consumer runs a scheduler; on Redis they share one queue), and `flask jobs run-due` from
cron may run beside them. So a daily job first claims its China-time day in the queue's store
(`put_if_empty`: atomic in Redis and in SQLite) and the second claimant does nothing. A run that crashes
keeps its day (no retry loop at 2 a.m.; the next night runs again), and every job is idempotent anyway.
Jobs read the time from the app's clock (core.clock.utcnow), so tests move it.
"""
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.api import Huey

from pointsapp.core.clock import utcnow
from pointsapp.core.periods import CHINA
from pointsapp.core.uow import after_commit, unit_of_work

log = logging.getLogger(__name__)
KEY = "pointsapp.jobs"
QUEUE_NAME = "pointsapp"
MARK = "pointsapp.periodic:{name}:{day}"
_BUILD = threading.Lock()


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


TASKS: dict[str, Callable] = {}  # name -> function(*args)
PERIODIC: dict[str, Periodic] = {}  # name -> job, in the order registered


def task(name: str) -> Callable[[Callable], Callable]:
    """Register `fn` as the queue task `name` (returns it unchanged)."""
    def register(fn: Callable) -> Callable:
        TASKS[name] = fn
        return fn
    return register


def periodic(name: str, *, minute: str, hour: str, daily: bool = True) -> Callable[[Callable], Callable]:
    """Register `fn(now) -> str` as the periodic job `name`, at crontab `minute` `hour` in China time."""
    def register(fn: Callable) -> Callable:
        PERIODIC[name] = Periodic(name, minute, hour, fn, daily)
        return fn
    return register


def schedule() -> list[Periodic]:
    """The periodic jobs in the order they run through a China-time day (every-N-minutes ones first)."""
    return sorted(PERIODIC.values(), key=lambda j: (j.hour.isdigit(), int(j.hour) if j.hour.isdigit() else 0,
                                                     int(j.minute) if j.minute.isdigit() else 0, j.name))


def build(app: Flask) -> Huey:
    """A Huey for this app's JOBS_URL, with every registered task and periodic job on it."""
    url = (app.config.get("JOBS_URL") or "").strip()
    immediate = bool(app.config.get("JOBS_IMMEDIATE", False))
    name = app.config.get("JOBS_QUEUE_NAME") or QUEUE_NAME
    if url.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey(name, url=url, immediate=immediate, results=False)
    elif url == "memory://":
        huey = MemoryHuey(name, immediate=immediate, results=False)
    elif url.startswith("sqlite:///") or not url:
        path = Path(url[len("sqlite:///"):]) if url else Path(app.instance_path) / "jobs.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name, filename=str(path), immediate=immediate, results=False)
    else:
        raise ValueError(f"JOBS_URL must be redis://…, sqlite:///…, memory:// or empty, not {url!r}")
    huey.pointsapp_tasks = {n: huey.task(name=n)(_in_app(app, fn)) for n, fn in TASKS.items()}
    huey.pointsapp_periodic = {job.name: huey.periodic_task(job.due, name=f"periodic.{job.name}")(
        _in_app(app, run_periodic, job.name)) for job in PERIODIC.values()}
    return huey


def _in_app(app: Flask, fn: Callable, *bound) -> Callable:
    def run(*args):
        with app.app_context(), unit_of_work():
            return fn(*bound, *args)
    run.__name__ = getattr(fn, "__name__", "task")
    return run


def queue(app: Flask | None = None) -> Huey:
    """The app's Huey (built on first use)."""
    app = app or current_app._get_current_object()
    huey = app.extensions.get(KEY)
    if huey is None:
        with _BUILD:
            huey = app.extensions.get(KEY)
            if huey is None:
                huey = app.extensions[KEY] = build(app)
    return huey


def enqueue(name: str, *args, app: Flask | None = None) -> None:
    """Put the task `name` on the app's queue (or, in immediate mode, run it now)."""
    queue(app).pointsapp_tasks[name](*args)


def enqueue_after_commit(name: str, *args) -> None:
    """enqueue() once the current unit of work has committed (never if it rolls back). A queue out of reach
    is logged, not shown to the person: the commit stands, and the feature's periodic job for waiting work
    picks the job up."""
    app = current_app._get_current_object()

    def hand_over() -> None:
        try:
            enqueue(name, *args, app=app)
        except Exception:  # noqa: BLE001 - the commit stands; the periodic job picks the job up
            log.exception("%s%r: could not reach the job queue; left for the periodic run", name, args)

    after_commit(hand_over)


def claim_day(name: str, now: datetime) -> bool:
    """Take this job's China-time day in the queue's store; False when another run already has it."""
    day = now.astimezone(CHINA).date()
    huey = queue()
    if not huey.put_if_empty(MARK.format(name=name, day=day.isoformat()), now.isoformat()):
        return False
    huey.delete(MARK.format(name=name, day=(day - timedelta(days=2)).isoformat()))  # the store stays small
    return True


def run_periodic(name: str, *, now: datetime | None = None, force: bool = False) -> str:
    """Run the periodic job `name` as of the app's clock, once per China-time day for a daily job
    (`force`: even when its day is taken). Runs in the caller's unit of work (a job may end units of work
    of its own, as expiry does per chunk). Returns what it did, or "skipped: …"."""
    job = PERIODIC[name]
    now = now or utcnow()
    if job.daily and not claim_day(name, now) and not force:
        message = f"skipped: already run on {now.astimezone(CHINA).date()} (China time)"
    else:
        message = job.run(now)
    log.info("periodic job %s: %s", name, message)
    return message


def due_now(now: datetime) -> list[Periodic]:
    """The jobs whose China-time minute `now` is."""
    return [job for job in schedule() if job.matches(now)]
