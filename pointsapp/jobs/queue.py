"""The app's job queue: a Huey instance built lazily from the app's config, with every task registered
on it as a function that runs inside that app (its own app context, database session and unit of work).

JOBS_URL:
- unset or ""           SqliteHuey, queue file `<instance>/jobs.sqlite` (one machine; nothing to install)
- sqlite:///path        SqliteHuey at that path
- redis://host:port/db  RedisHuey (production, several app servers and workers share one queue)
- memory://             in-process only; nothing runs until a test runs it (the test suite's default)
JOBS_IMMEDIATE = True runs each task at once in the caller's thread (huey's immediate mode).

Each registered task runs as `with app.app_context(), unit_of_work(): fn(*args)`: committed at the end,
rolled back on an exception (which huey logs). Results are not stored (nobody reads them, and in Redis
they would pile up): what a job did is in the database (an import's status) and in the worker's log.
"""
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

from pointsapp.core.uow import unit_of_work

log = logging.getLogger(__name__)
KEY = "pointsapp.jobs"
QUEUE_NAME = "pointsapp"
_BUILD = threading.Lock()

# name -> function(*args); filled by tasks.py (imported when the first queue is built)
TASKS: dict[str, Callable] = {}


def task(name: str) -> Callable[[Callable], Callable]:
    """Register `fn` as the queue task `name` (run inside the app, in a unit of work of its own)."""
    def register(fn: Callable) -> Callable:
        TASKS[name] = fn
        return fn
    return register


def build(app: Flask) -> Huey:
    """A Huey for this app's JOBS_URL, with every task and periodic job registered on it."""
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

    from pointsapp.jobs import schedule, tasks  # noqa: F401 - registers the tasks (TASKS, schedule.PERIODIC)

    huey.pointsapp_tasks = {task_name: huey.task(name=task_name)(_in_app(app, fn)) for task_name, fn in TASKS.items()}
    huey.pointsapp_periodic = {
        job.name: huey.periodic_task(job.due, name=f"periodic.{job.name}")(_in_app(app, schedule.run_periodic, job.name))
        for job in schedule.PERIODIC}
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


def enqueue(name: str, *args, app: Flask | None = None):
    """Put the task `name` on the app's queue (or, in immediate mode, run it now)."""
    return queue(app).pointsapp_tasks[name](*args)
