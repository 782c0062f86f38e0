"""Background jobs and schedules (issue 13): one Huey queue per app, its tasks, the nightly schedule and
`flask jobs …`.

- queue.py builds the app's Huey from `JOBS_URL` the first time it is asked for: SqliteHuey with its file
  in the instance folder by default (nothing extra to run), RedisHuey for `redis://…` (production: every
  app server and worker shares one queue), `memory://` (tests: nothing runs unless a test runs it).
- tasks.py: what the web hands to the queue (a big import sheet's check or import).
- schedule.py: the periodic jobs, in China time, each safe to run twice.
- cli.py: `flask jobs worker` (the consumer), `flask jobs run-due` (the due periodic jobs, once),
  `flask jobs schedule` (what runs when).
"""
from pointsapp.jobs.queue import enqueue, queue

__all__ = ["enqueue", "queue"]
