"""Backups and restore (issue 13), on SQLite and PostgreSQL: backup → restore into an empty database →
`ledger verify` clean with the same counts; retention; refusals (non-empty target, damaged file, missing
file or manifest, no pg_dump); and a backup taken while writer threads post through the ledger's posting
service restores to a consistent prefix of the live ledger.

PostgreSQL targets are databases named backup_<random> on the test server, dropped afterwards. pg_dump and
pg_restore must be on PATH for the PostgreSQL half (outside CI it is skipped without them; under CI=true
it fails).
"""
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from pointsapp.backups import services as backups
from pointsapp.backups.services import BackupError
from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.tree.models import Resident

from .conftest import ON_CI, _pg_admin_engine


@pytest.fixture
def pg_tools(backend):
    if backend == "postgresql" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        message = "pg_dump/pg_restore not on PATH (Debian: postgresql-client-15)"
        if ON_CI:
            pytest.fail(message + " (CI=true requires them)", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def empty_target(backend, tmp_path):
    """The URL of an empty database of the test's backend: a new SQLite file path, or a new PostgreSQL
    database backup_<random> (dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    engine, url = _pg_admin_engine()
    name = f"backup_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _engine(url: str):
    return create_engine(backups.database_url(url), poolclass=NullPool)


def _scalar(url: str, sql: str):
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def _chains(url: str) -> dict[int, list[tuple[int, str]]]:
    """resident -> [(seq, hash), …] of a database (live or restored)."""
    engine = _engine(url)
    chains: dict[int, list] = {}
    try:
        with engine.connect() as conn:
            for rid, seq, h in conn.execute(text("SELECT resident_id, seq, hash FROM ledger_entry "
                                                 "ORDER BY resident_id, seq")):
                chains.setdefault(rid, []).append((seq, h))
    finally:
        engine.dispose()
    return chains


def _accounts_match_entries(url: str) -> list:
    """Accounts whose balance or entry count is not what their entries give (empty when consistent)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(
                "SELECT a.resident_id, a.balance, a.entry_count, coalesce(sum(e.amount), 0), count(e.id) "
                "FROM points_account a LEFT JOIN ledger_entry e ON e.resident_id = a.resident_id "
                "GROUP BY a.resident_id, a.balance, a.entry_count "
                "HAVING a.balance != coalesce(sum(e.amount), 0) OR a.entry_count != count(e.id)")))
    finally:
        engine.dispose()


def _post(resident, amount, key, now):
    kind, source = (EntryKind.AWARD, "attendance") if amount > 0 else (EntryKind.REDEMPTION, "redemption")
    return ledger.post(Posting(resident, amount, kind, source, key, "志愿服务" if amount > 0 else "兑换"), None, now)


def _seed(make, now, residents=12, entries=3) -> list[int]:
    """A community with residents holding real hash chains (posted through the ledger), and a checkpoint."""
    community = make.community()
    people = [make.resident(community=community) for _ in range(residents)]
    for i, r in enumerate(people):
        for j in range(entries):
            _post(r, 5 + j, f"seed-{i}-{j}", now)
    _post(people[0], -3, "seed-spend", now)
    ledger_audit.checkpoint(community.id, now)
    ids = [r.id for r in people]
    _db.session.commit()  # (and no new transaction after it: on SQLite it would hold the write lock)
    return ids


def _restore(app, path, target):
    return app.test_cli_runner().invoke(args=["restore", str(path), "--target-url", target])


def test_backup_restore_verify_same_counts(app, db, make, now, tmp_path, empty_target, pg_tools, backend,
                                           monkeypatch):
    _seed(make, now)
    monkeypatch.setitem(app.config, "BACKUP_DIR", str(tmp_path / "backups"))
    path = backups.take_backup(now)  # what the scheduled job calls
    assert path.parent == tmp_path / "backups"
    suffix = "sqlite3" if backend == "sqlite" else "pgdump"
    assert path.name == f"pointsapp-20261125T023000Z-{backend}.{suffix}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(backups.manifest_path(path).stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temp file left
    manifest = backups.read_manifest(path)
    assert manifest["counts"]["ledger_entries"] == 37 and manifest["counts"]["residents"] == 12
    assert manifest["sha256"] == backups.sha256_of(path)

    monkeypatch.chdir(path.parent)  # FILE relative, as typed in a shell
    result = _restore(app, path.name, empty_target)
    assert result.exit_code == 0, result.output
    assert "12 chains, 37 entries checked" in result.output and "restore clean" in result.output
    live = backups.database_url().render_as_string(hide_password=False)
    assert _chains(empty_target) == _chains(live)
    assert _scalar(empty_target, "SELECT sum(balance) FROM points_account") == \
        _scalar(live, "SELECT sum(balance) FROM points_account") == 12 * 18 - 3
    assert _scalar(empty_target, "SELECT count(*) FROM ledger_checkpoint") == 1
    if backend == "sqlite":
        assert stat.S_IMODE(Path(backups.database_url(empty_target).database).stat().st_mode) == 0o600


def test_sqlite_restore_into_a_relative_path(app, db, make, now, tmp_path, backend, monkeypatch):
    if backend != "sqlite":
        pytest.skip("a file path is SQLite's")
    _seed(make, now, residents=2, entries=1)
    path = backups.take_backup(now, directory=tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
    # a relative SQLite path is inside the instance folder, as Flask-SQLAlchemy takes DATABASE_URL
    result = _restore(app, Path("b") / path.name, "sqlite:///restored/pointsapp.sqlite")
    assert result.exit_code == 0, result.output
    assert "restore clean" in result.output
    restored = tmp_path / "instance" / "restored" / "pointsapp.sqlite"
    assert _scalar(f"sqlite:///{restored}", "SELECT count(*) FROM ledger_entry") == 3


def test_a_folder_that_exists_keeps_its_mode_and_a_new_one_is_private(app, db, make, now, tmp_path, pg_tools):
    """Review: the backup chmod-ed any folder it was given to 0700 (`--dir /tmp` as root would have closed /tmp);
    a folder it makes is 0700, one that exists keeps its mode, and the file is 0600 either way."""
    _seed(make, now, residents=1, entries=1)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    made = backups.take_backup(now, directory=shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    fresh = tmp_path / "new" / "backups"
    backups.take_backup(now, directory=fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_retention_keeps_the_newest_and_only_touches_our_files(app, db, make, now, tmp_path, pg_tools):
    _seed(make, now, residents=2, entries=1)
    folder = tmp_path / "b"
    folder.mkdir()
    foreign = [folder / "notes.txt", folder / "pointsapp-manual-copy.sqlite3", folder / "pointsapp.sqlite"]
    for f in foreign:
        f.write_text("not ours")
    stale, fresh = folder / ".pointsapp-20261120T023000Z-sqlite.sqlite3.4242.tmp", folder / ".pointsapp-x.tmp"
    for f in (stale, fresh):
        f.write_text("left by a run that died")
    os.utime(stale, (now.timestamp() - 3 * 86400,) * 2)
    os.utime(fresh, (now.timestamp() - 3 * 86400,) * 2)  # old, but not a name of ours: kept
    foreign.append(fresh)
    made = [backups.take_backup(now + timedelta(hours=h), keep=3, directory=folder) for h in range(5)]
    assert not stale.exists()
    ours = sorted(p.name for p in folder.iterdir() if p not in foreign)
    assert ours == sorted([p.name for p in made[-3:]] + [p.name + ".json" for p in made[-3:]])
    assert all(f.read_text() in ("not ours", "left by a run that died") for f in foreign)

    # the CLI: the clock stands still, so three backups fall in one second and still get their own names
    runner, folder = app.test_cli_runner(), tmp_path / "cli"
    for _ in range(3):
        result = runner.invoke(args=["backup", "--keep", "2", "--dir", str(folder)])
        assert result.exit_code == 0, result.output
    assert "removed 1 older backups" in result.output
    kept = [b.path.name for b in backups.list_backups(folder)]
    assert len(kept) == 2 and kept[0].startswith("pointsapp-20261125T023000Z-1-")
    assert kept[1].startswith("pointsapp-20261125T023000Z-2-")
    assert runner.invoke(args=["backup", "--keep", "0", "--dir", str(folder)]).exit_code == 2
    with pytest.raises(BackupError):
        backups.take_backup(now, keep=0, directory=folder)
    assert len(backups.list_backups(folder)) == 2


def test_restore_refuses_a_database_that_is_not_empty(app, db, make, now, tmp_path, database_url, pg_tools):
    _seed(make, now, residents=2, entries=1)
    path = backups.take_backup(now, directory=tmp_path)
    before = _scalar(database_url, "SELECT count(*) FROM ledger_entry")
    result = _restore(app, path, database_url)  # the live database itself
    assert result.exit_code == 1
    assert "is not empty" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert _scalar(database_url, "SELECT count(*) FROM ledger_entry") == before == 3


def _tables(url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(backups.database_url(url).database)
        if not path.exists():
            return 0
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    return _scalar(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")


def test_damaged_missing_and_unmanifested_files_are_refused(app, db, make, now, tmp_path, empty_target, pg_tools):
    _seed(make, now, residents=3, entries=2)
    path = backups.take_backup(now, directory=tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle
    path.write_bytes(bytes(data))
    result = _restore(app, path, empty_target)
    assert result.exit_code == 1 and "is damaged" in result.output and "Traceback" not in result.output
    assert _tables(empty_target) == 0  # nothing was written

    result = _restore(app, tmp_path / "no-such-backup.sqlite3", empty_target)
    assert result.exit_code == 1 and "no such backup file" in result.output

    backups.manifest_path(path).unlink()
    result = _restore(app, path, empty_target)
    assert result.exit_code == 1 and ".json is missing" in result.output
    assert _tables(empty_target) == 0


def test_a_restore_behind_the_code_says_to_upgrade(app, db, make, now, tmp_path, empty_target, pg_tools):
    _seed(make, now, residents=2, entries=1)
    path = backups.take_backup(now, directory=tmp_path)
    manifest = backups.restore(path, empty_target)
    assert backups.check(manifest, empty_target).ok
    (head,) = backups.code_heads()
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    config = Config()
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    older = ScriptDirectory.from_config(config).get_revision(head).down_revision
    engine = _engine(empty_target)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": older})
    engine.dispose()
    report = backups.check(manifest, empty_target)
    assert not report.ok and any("db upgrade" in line for line in report.lines)


def test_backup_without_pg_dump_says_so(app, db, make, now, tmp_path, backend):
    if backend != "postgresql":
        pytest.skip("pg_dump is PostgreSQL's")
    _seed(make, now, residents=1, entries=1)
    bindir = tmp_path / "empty-bin"
    bindir.mkdir()
    app.config["BACKUP_PG_BINDIR"] = str(bindir)
    try:
        result = app.test_cli_runner().invoke(args=["backup", "--dir", str(tmp_path / "b")])
    finally:
        app.config["BACKUP_PG_BINDIR"] = None
    assert result.exit_code == 1 and "pg_dump not found" in result.output and "Traceback" not in result.output
    assert backups.list_backups(tmp_path / "b") == [] and list((tmp_path / "b").iterdir()) == []


class Writers:
    """Threads posting awards and redemptions through the ledger's posting service, one unit of work (and
    commit) each, as requests do, until stopped."""

    def __init__(self, app, resident_ids, now, threads=2):
        self.app, self.ids, self.now = app, resident_ids, now
        self.committed = [0] * threads
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]

    def run(self, i):
        rng, n = random.Random(i), 0
        while not self.stop.is_set():
            n += 1
            with self.app.app_context():
                try:
                    resident = _db.session.get(Resident, rng.choice(self.ids))
                    _post(resident, rng.choice((4, 6, -3, -5)), f"load-{i}-{n}", self.now)
                    _db.session.commit()
                    self.committed[i] += 1
                except DomainError:  # not enough points: nothing written
                    _db.session.rollback()
                except Exception as exc:  # noqa: BLE001 - reported by the test, not swallowed
                    _db.session.rollback()
                    self.errors.append(f"{exc.__class__.__name__}: {str(exc)[:200]}")
                finally:
                    _db.session.remove()

    @property
    def total(self) -> int:
        return sum(self.committed)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def _wait_for(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _count_entries(url: str, key_like: str = "%") -> int:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM ledger_entry WHERE idempotency_key LIKE :k"),
                                {"k": key_like}).scalar()
    finally:
        engine.dispose()


def test_a_backup_taken_under_write_load_restores_to_a_consistent_prefix(app, db, make, now, tmp_path, empty_target,
                                                                         pg_tools, database_url):
    """Two writer threads in this process and one writer process post continuously; a backup taken meanwhile
    (until one overlaps commits) restores, verifies clean and holds a prefix of every live chain."""
    ids = _seed(make, now, residents=150, entries=2)
    live, folder, stop = database_url, tmp_path / "b", tmp_path / "stop-writing"
    env = {**os.environ, "SECRET_KEY": "test-secret"}
    log = (tmp_path / "writer.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "tests.backup_writer", live, str(stop), now.isoformat(),
                                *map(str, ids)], env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=Path(__file__).resolve().parent.parent)
    try:
        with Writers(app, ids, now) as writers:
            _wait_for(lambda: _count_entries(live, "proc-%") >= 5 or process.poll() is not None, 60)
            assert process.poll() is None, (tmp_path / "writer.log").read_text()
            # Until one backup overlaps commits (on PostgreSQL pg_dump alone takes long enough the first time;
            # a SQLite copy of this database takes milliseconds).
            for _attempt in range(1, 51):
                started = _count_entries(live)
                path = backups.take_backup(now, keep=1, directory=folder)
                ended = _count_entries(live)
                if ended > started:
                    break
            _wait_for(lambda: _count_entries(live) >= ended + 10)  # and the writers went on after it
    finally:
        stop.touch()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    in_backup = backups.read_manifest(path)["counts"]["ledger_entries"]
    final = _count_entries(live)
    print(f"backup attempts {_attempt}, entries committed while it ran {ended - started} ({started} -> {ended}), "
          f"in the backup {in_backup}, at the end {final}")
    assert ended > started, "no commit happened while a backup ran"
    assert writers.errors == [] and process.returncode == 0, (tmp_path / "writer.log").read_text()
    assert started <= in_backup <= ended < final

    result = _restore(app, path, empty_target)
    assert result.exit_code == 0, result.output
    assert f"{in_backup} entries checked" in result.output and "restore clean" in result.output
    assert _accounts_match_entries(empty_target) == []
    restored, now_live = _chains(empty_target), _chains(live)
    # a consistent prefix: each resident's restored chain is the start of the live chain, entry for entry
    assert all(now_live[rid][:len(chain)] == chain for rid, chain in restored.items())
    assert sum(map(len, restored.values())) == in_backup
    # both kinds of writer are in it
    assert _count_entries(empty_target, "proc-%") > 0 and _count_entries(empty_target, "load-%") > 0


def test_a_backup_leaves_out_a_write_still_in_progress_and_does_not_wait_for_it(app, db, make, now, tmp_path,
                                                                                pg_tools, database_url):
    """A unit of work that has posted but not committed while the backup runs: the backup finishes (it does
    not wait for the writer) and the entry is not in it; the writer then commits."""
    ids = _seed(make, now, residents=3, entries=1)
    before = _scalar(database_url, "SELECT count(*) FROM ledger_entry")
    posted, release, done = threading.Event(), threading.Event(), []

    def held_writer():
        with app.app_context():
            try:
                _post(_db.session.get(Resident, ids[0]), 7, "held", now)
                _db.session.flush()
                posted.set()
                release.wait(30)
                _db.session.commit()
                done.append("committed")
            finally:
                _db.session.remove()

    thread = threading.Thread(target=held_writer)
    thread.start()
    try:
        assert posted.wait(30)
        path = backups.take_backup(now, directory=tmp_path)
        assert not release.is_set() and done == []  # finished while the write was still open
    finally:
        release.set()
        thread.join(30)
    assert done == ["committed"]
    assert backups.read_manifest(path)["counts"]["ledger_entries"] == before == 4
    assert _scalar(database_url, "SELECT count(*) FROM ledger_entry") == 5
