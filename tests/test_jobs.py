"""Background jobs (pointsapp/jobs, issue 13): the schedule, the nightly jobs run twice, and big imports run
by a real worker process (`flask jobs worker`) that two app instances share.

The worker tests start `python -m flask --app pointsapp jobs worker` as a subprocess against the test's
database: on SQLite with the queue in a SQLite file (the default), on PostgreSQL with the queue in Redis
(TEST_JOBS_REDIS_URL, default db 11, flushed here). Outside CI a missing Redis skips the PostgreSQL half
with the reason; under CI=true it fails. The test's clock stands at the moment the test starts, so the
worker (on the machine's clock) and the pages agree on what "now" is; nothing asserts a date.
"""
import inspect
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pointsapp.core import queue as jobs
from pointsapp.core.clock import install as install_clock
from pointsapp.core.extensions import db as _db
from pointsapp.imports.models import ImportJob
from pointsapp.ledger.models import EntryKind, LedgerCheckpoint, LedgerEntry
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.tree.models import Resident

from .conftest import make_test_app
from .servers import require_redis
from .test_imports import big_sheet, post_file, xlsx

REDIS_URL = os.environ.get("TEST_JOBS_REDIS_URL", "redis://127.0.0.1:6379/11")


def china(day: date, hour: int, minute: int = 0) -> datetime:
    """That China-time moment, in UTC (China is UTC+8, no summer time)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


# ---- the schedule ---------------------------------------------------------------------------------

EXPECTED = {  # job -> (China-time hour, minute)
    "sheet_purge": (1, 0), "export_purge": (1, 0), "idempotency_purge": (1, 15), "webhooks_purge": (1, 20),
    "retention": (1, 30),
    "ledger_expiry": (2, 0),
    "ledger_checkpoint": (3, 0), "backup": (3, 30),
}
EVERY_10_MINUTES = {"imports_waiting", "exports_waiting"}
EVERY_MINUTE = {"webhooks_deliver"}  # due at every minute; left out of the sets below


def test_the_periodic_jobs_and_when_huey_enqueues_them_in_china_time(app):
    huey = jobs.queue(app)
    assert set(huey.pointsapp_periodic) == set(EXPECTED) | EVERY_10_MINUTES | EVERY_MINUTE
    day = date(2026, 11, 26)

    def due_at(moment: datetime) -> set[str]:
        # the consumer's scheduler passes naive UTC (Huey(utc=True)); tasks are named periodic.<job>
        due = {t.name.removeprefix("periodic.") for t in huey.read_periodic(moment.replace(tzinfo=None))}
        assert due >= EVERY_MINUTE, moment
        return due - EVERY_MINUTE

    for name, (hour, minute) in EXPECTED.items():
        at = china(day, hour, minute)
        assert name in due_at(at), name
        assert name not in due_at(at + timedelta(minutes=1)) and name not in due_at(at - timedelta(hours=8)), name
    # 02:00 China is 18:00 UTC the day before: a server on UTC (or any zone) still expires at 02:00 China
    assert due_at(datetime(2026, 11, 25, 18, 0, tzinfo=UTC)) == {"ledger_expiry"} | EVERY_10_MINUTES
    assert due_at(china(day, 10, 40)) == EVERY_10_MINUTES
    assert due_at(china(day, 10, 45)) == set()
    # nothing of the night runs by day
    assert all(not due_at(china(day, h, m)) - EVERY_10_MINUTES for h in range(4, 24) for m in (0, 30))

    out = app.test_cli_runner().invoke(args=["jobs", "schedule"]).output
    assert re.search(r"02:00 daily\s+ledger_expiry", out) and re.search(r"03:30 daily\s+backup", out), out
    assert re.search(r"every 1 min\s+webhooks_deliver", out), out
    assert re.search(r"every 10 min\s+imports_waiting", out) and re.search(r"every 10 min\s+exports_waiting", out), out
    assert out.index("sheet_purge") < out.index("retention") < out.index("ledger_expiry") < out.index("backup")


# ---- the nightly jobs, run twice -------------------------------------------------------------------

@pytest.fixture
def fresh_queue(app):
    """The app's in-memory queue, emptied (the day each daily job claimed in an earlier test is forgotten)."""
    huey = jobs.queue(app)
    huey.flush()
    yield huey
    huey.flush()


def test_the_nightly_jobs_run_once_a_night_and_a_second_run_changes_nothing(app, make, db, clock, fresh_queue):
    c = make.community()
    c.points_expire_months = 12
    r = make.resident(community=c)
    ledger.post(Posting(r, 10, EntryKind.AWARD, "attendance", "old", "扫雪"), None, clock.now() - timedelta(days=500))
    ledger.post(Posting(r, 5, EntryKind.AWARD, "attendance", "new", "扫雪"), None, clock.now() - timedelta(days=5))
    gone = make.resident(make.household(c), name="李建国", phone=make.phone())
    gone.moved_out_on = date(2020, 3, 1)
    admin = make.admin(c)
    sheet = ImportJob(community_id=c.id, filename="居民.xlsx", content=b"phones", status="checked", task="check",
                      created_by_id=admin.id, created_at=clock.now() - timedelta(days=10))
    db.session.add(sheet)
    db.session.commit()
    rid, gone_id, sheet_id = r.id, gone.id, sheet.id
    night = date(2026, 11, 26)
    runner = app.test_cli_runner()

    def run_due(hour: int, minute: int) -> str:
        clock.set(china(night, hour, minute))
        result = runner.invoke(args=["jobs", "run-due"])
        assert result.exit_code == 0, result.output
        return result.output

    def entries() -> int:
        db.session.rollback()
        return db.session.scalar(select(func.count()).select_from(LedgerEntry))

    assert "sheet_purge: 1 sheets older than 7 days deleted" in run_due(1, 0)
    assert "sheet_purge: skipped: already run on 2026-11-26" in run_due(1, 0)
    assert "retention: 1 residents had their personal data erased" in run_due(1, 30)
    assert "retention: skipped" in run_due(1, 30)
    assert f"ledger_expiry: community {c.id}: 10 points lapsed for 1 residents" in run_due(2, 0)
    assert "ledger_expiry: skipped" in run_due(2, 0)
    assert "ledger_checkpoint: 1 checkpoints stored" in run_due(3, 0)
    assert "ledger_checkpoint: skipped" in run_due(3, 0)
    assert "webhooks_deliver: 0 webhook deliveries sent" in run_due(10, 5)  # the every-minute job, only

    # forced past the day's claim (two workers that both got in), each job finds nothing left to do
    count = entries()
    forced = runner.invoke(args=["jobs", "run-due", "--force", "--job", "sheet_purge", "--job", "retention",
                                 "--job", "ledger_expiry", "--job", "ledger_checkpoint"]).output
    assert "sheet_purge: 0 sheets" in forced and "retention: 0 residents" in forced, forced
    assert f"community {c.id}: 0 points lapsed for 0 residents" in forced and "0 checkpoints stored" in forced
    assert entries() == count
    assert db.session.scalar(select(func.count()).select_from(LedgerCheckpoint)) == 1
    assert ledger.balance_of(rid) == 5
    assert db.session.get(Resident, gone_id).erased_at is not None
    assert db.session.get(ImportJob, sheet_id).purged_at is not None
    assert ledger_audit.verify(c.id).ok

    # the next night a checkpoint is stored again even over the same chain heads (one a day)
    clock.set(china(night + timedelta(days=1), 3, 0))
    assert "ledger_checkpoint: 1 checkpoints stored" in runner.invoke(args=["jobs", "run-due"]).output


def test_a_periodic_job_run_by_the_queue_uses_the_apps_clock_and_claims_its_day(app, make, db, clock, fresh_queue):
    """The task huey runs (immediate mode here) is the same job: the day it claims is the app clock's."""
    c = make.community()
    c.points_expire_months = 12
    r = make.resident(community=c)
    ledger.post(Posting(r, 7, EntryKind.AWARD, "attendance", "old", "扫雪"), None, clock.now() - timedelta(days=500))
    db.session.commit()
    clock.set(china(date(2026, 11, 26), 2, 0))
    fresh_queue.immediate = True
    try:
        fresh_queue.pointsapp_periodic["ledger_expiry"]()
        fresh_queue.pointsapp_periodic["ledger_expiry"]()
    finally:
        fresh_queue.immediate = False
    db.session.rollback()
    lapsed = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.EXPIRY)).all()
    assert [(e.amount, e.created_at) for e in lapsed] == [(-7, clock.now())]


def test_the_backup_job_is_scheduled_at_half_past_three_china_time(app):
    """The backup itself is pointsapp.backups' (tested there); here only that the nightly job calls it."""
    job = jobs.PERIODIC["backup"]
    assert job.daily and job.matches(china(date(2026, 11, 26), 3, 30))
    assert "take_backup(now)" in inspect.getsource(job.run)


# ---- a real worker process --------------------------------------------------------------------------

def _redis_or_skip():
    return require_redis(REDIS_URL)


@pytest.fixture
def shared_queue(backend, tmp_path):
    """JOBS_URL for this backend: a SQLite queue file (the default kind), or Redis db 11 for PostgreSQL."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite'}"
        return
    client = _redis_or_skip()
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def worker(database_url, shared_queue, tmp_path):
    """start() runs `flask --app pointsapp jobs worker` against the test's database and queue."""
    started = []
    env = {**os.environ, "DATABASE_URL": database_url, "JOBS_URL": shared_queue, "SECRET_KEY": "test-secret",
           "POINTSAPP_INSTANCE": str(tmp_path / "worker-instance"), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "worker.log"

    def start():
        log = log_path.open("w")
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "pointsapp", "jobs", "worker",
                                    "--workers", "2", "--no-periodic"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return process

    start.log = log_path
    yield start
    for process, log in started:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _instance(database_url: str, jobs_url: str, clock):
    app = make_test_app(database_url, JOBS_URL=jobs_url, IMPORT_SYNC_ROWS=100, LEDGER_EXPORT_SYNC_ROWS=5)
    install_clock(app, clock)
    return app


def _wait_for(condition, worker_log, process, seconds: float = 90):
    deadline = time.monotonic() + seconds  # the worker's pace, not a date: at most this long
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the worker stopped: {worker_log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"the job was not done in {seconds} s: {worker_log.read_text()[-3000:]}")
        time.sleep(0.2)


def test_two_instances_sharing_the_queue_run_a_daily_job_once(backend, database_url, shared_queue, db, clock):
    """Two workers (here two app instances on one queue: Redis, or the SQLite queue file) that both enqueue
    the 02:00 expiry: the first to claim the China-time day runs it, the other does nothing that night."""
    clock.set(china(date(2026, 11, 26), 2, 0))
    a, b = _instance(database_url, shared_queue, clock), _instance(database_url, shared_queue, clock)
    try:
        ran = []
        for app in (a, b, a):
            with app.app_context():
                ran.append(jobs.run_periodic("ledger_expiry"))
        assert ran[0] == "no communities"
        assert ran[1:] == ["skipped: already run on 2026-11-26 (China time)"] * 2
        clock.set(china(date(2026, 11, 27), 2, 0))
        with b.app_context():
            assert jobs.run_periodic("ledger_expiry") == "no communities"  # the next night runs again
    finally:
        for app in (a, b):
            with app.app_context():
                _db.engine.dispose()


def test_a_big_import_queued_by_one_instance_is_run_by_a_worker_process_and_shown_by_another(
        backend, database_url, shared_queue, worker, make, db, clock, login):
    """Two app instances (two create_app with one configuration, as two servers) share the job queue: the
    upload on A queues the job, a worker started on its own runs it, and B's page shows progress, then the
    result. On PostgreSQL the queue is Redis; on SQLite the default SQLite queue file."""
    clock.set(datetime.now(UTC))  # the worker reads the machine's clock; the pages must agree with it
    community = make.community("梨园社区")
    admin = make.admin(community)
    db.session.commit()
    a, b = _instance(database_url, shared_queue, clock), _instance(database_url, shared_queue, clock)
    web_a, web_b = login(a.test_client(), admin), login(b.test_client(), admin)
    cid, n = community.id, 600

    uploaded = post_file(web_a, cid, xlsx(big_sheet(n)), "居民.xlsx")
    assert uploaded.status_code == 302
    job_id = db.session.scalar(select(ImportJob.id))
    assert jobs.queue(b).pending_count() == 1  # B sees the job A queued: one queue
    page = web_b.get(f"/admin/c/{cid}/import/{job_id}").get_data(as_text=True)
    assert 'id="import-progress"' in page and "正在检查" in page and "等待开始" in page

    process = worker()

    def status() -> str:
        return web_b.get(f"/admin/c/{cid}/import/{job_id}/progress").get_json()["status"]

    _wait_for(lambda: status() == "checked", worker.log, process)
    assert jobs.queue(a).pending_count() == 0
    checked = web_b.get(f"/admin/c/{cid}/import/{job_id}").get_data(as_text=True)
    assert "没有发现问题" in checked and "import-progress" not in checked

    # "import now" on B queues the import; the same worker writes every row; A's page shows the result
    ran = web_b.post(f"/admin/c/{cid}/import/{job_id}/run", follow_redirects=True)
    assert "正在导入" in ran.get_data(as_text=True)
    _wait_for(lambda: status() == "imported", worker.log, process)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Resident)) == n
    done = web_a.get(f"/admin/c/{cid}/import/{job_id}").get_data(as_text=True)
    assert f"已导入：居民{n}位" in re.sub(r"\s+", "", done)
    summary = json.loads(db.session.get(ImportJob, job_id).summary)
    assert summary["residents"] == n

    # a big ledger export queued on A is made by the worker and downloaded from B
    from pointsapp.core.periods import local_date
    from pointsapp.ledger.models import LedgerExport

    _entries(make, db.session.get(type(community), cid), 12, clock.now())
    db.session.commit()
    today = local_date(clock.now())
    _offered, queued = _queue_export(web_a, cid, str(today - timedelta(days=1)), str(today), "xlsx")
    assert queued.status_code == 302
    export_id = db.session.scalar(select(LedgerExport.id))
    _wait_for(lambda: web_b.get(f"/admin/c/{cid}/ledger/exports/{export_id}/progress").get_json()["status"] == "done",
              worker.log, process)
    got = web_b.get(f"/admin/c/{cid}/ledger/exports/{export_id}/download")
    assert got.status_code == 200 and got.get_data()[:2] == b"PK"  # an .xlsx
    import io

    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(got.get_data()), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == 13  # the header and 12 entries
    assert "Executing" in worker.log.read_text()  # huey's consumer did it, not the request
    for app in (a, b):
        with app.app_context():
            _db.engine.dispose()


# ---- big ledger exports ----------------------------------------------------------------------------

def _entries(make, community, n: int, now: datetime) -> None:
    for i in range(n):
        r = make.resident(community=community)
        ledger.post(Posting(r, 5 + i, EntryKind.AWARD, "attendance", f"e{i}", "楼道广告清理"), None,
                    now - timedelta(hours=i + 1))


def _queue_export(web, cid: int, start: str, end: str, fmt: str = "csv"):
    offered = web.get(f"/admin/c/{cid}/ledger?start={start}&end={end}&format={fmt}")
    return offered, web.post(f"/admin/c/{cid}/ledger/exports", data={"start": start, "end": end, "format": fmt})


def test_a_big_ledger_export_is_made_by_the_runner_with_progress_then_downloaded(
        app, make, db, clock, login, monkeypatch):
    from sqlalchemy import event

    from pointsapp.audit.models import AuditEvent
    from pointsapp.ledger.cli import run_export
    from pointsapp.ledger.models import LedgerExport
    from pointsapp.ledger.services import export_jobs

    c = make.community("梨园社区")
    admin = make.admin(c)
    _entries(make, c, 8, clock.now())
    db.session.commit()
    web = login(app.test_client(), admin)
    app.config["LEDGER_EXPORT_SYNC_ROWS"] = 5
    try:
        offered, queued = _queue_export(web, c.id, "2026-11-01", "2026-11-30")
    finally:
        app.config.pop("LEDGER_EXPORT_SYNC_ROWS")
    html = offered.get_data(as_text=True)
    assert offered.status_code == 200 and "共有 8 条记录" in html and "在后台生成文件" in html
    assert queued.status_code == 302
    job = db.session.scalar(select(LedgerExport))
    assert (job.status, job.total, job.format) == ("queued", 8, "csv")
    page = web.get(queued.headers["Location"]).get_data(as_text=True)
    assert 'id="job-progress"' in page and "正在生成文件" in page and "js/import_progress.js" in page
    assert web.get(f"/admin/c/{c.id}/ledger/exports/{job.id}/download").status_code == 302  # not ready

    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY", 3)
    seen = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE ledger_export SET progress"):
            seen.append(statement)
    event.listen(_db.engine, "after_cursor_execute", watch)
    try:
        db.session.commit()
        assert run_export(job.id) == "done"
    finally:
        event.remove(_db.engine, "after_cursor_execute", watch)
    assert len(seen) == 2  # after 3 and 6 entries, committed where the page's poll sees them
    assert run_export(job.id) == "skipped"  # a second runner finds nothing to do
    assert web.get(f"/admin/c/{c.id}/ledger/exports/{job.id}/progress").get_json() == {
        "status": "done", "progress": 8, "total": 8, "waiting": False}
    done = web.get(f"/admin/c/{c.id}/ledger/exports/{job.id}").get_data(as_text=True)
    assert "文件已生成：共 8 条记录" in done and "job-progress" not in done

    got = web.get(f"/admin/c/{c.id}/ledger/exports/{job.id}/download")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    lines = got.get_data().decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 9 and lines[0].startswith("流水号")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "data_exported")) == 1

    # the nightly purge deletes the file after 3 days; the page says so
    clock.advance(days=4)
    purged = app.test_cli_runner().invoke(args=["jobs", "run-due", "--job", "export_purge", "--force"])
    assert "1 ledger export files older than 3 days deleted" in purged.output, purged.output
    login(web, admin)  # a staff login lasts 12 hours
    gone = web.get(f"/admin/c/{c.id}/ledger/exports/{job.id}/download", follow_redirects=True)
    assert "该文件已在生成 3 天后删除" in gone.get_data(as_text=True)
