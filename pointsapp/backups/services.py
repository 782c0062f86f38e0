"""Backups of the whole database, and their restore into an empty database.

- SQLite: the online backup API (sqlite3.Connection.backup, all pages in one step). With WAL the copy
  reads one snapshot while the app keeps writing; a write transaction still open is not in it.
- PostgreSQL: `pg_dump --format=custom` of the app's database, run on a snapshot exported by a
  REPEATABLE READ transaction of ours (`--snapshot`), so the counts written into the manifest are
  counted in exactly the state the dump holds.

Each backup is one file named by its UTC time and backend (pointsapp-20261125T023000Z-sqlite.sqlite3,
pointsapp-…-postgresql.pgdump), written to a temporary name and renamed, mode 0600 in a 0700 folder (it
holds phones and ID digits), beside a manifest `<file>.json`: format, backend, alembic revision,
row counts, size and SHA-256. Retention keeps the newest N of the files named so and deletes the older
ones with their manifests; nothing else in the folder is touched.

restore() checks the file against its manifest before touching anything, and refuses a target that
is not empty (it never merges into or overwrites data). check() then compares the restored database
with the manifest and the code: same alembic head, same counts, and `flask ledger verify` clean.
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from pointsapp.core.config import normalise_db_url
from pointsapp.core.sqlite import BUSY_TIMEOUT_MS

FORMAT = 1
DEFAULT_KEEP = 14
EXTENSIONS = {"sqlite": "sqlite3", "postgresql": "pgdump"}
NAME = re.compile(r"^pointsapp-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?-(?P<backend>sqlite|postgresql)"
                  r"\.(?P<ext>sqlite3|pgdump)$")
MANIFEST_SUFFIX = ".json"
TEMP = re.compile(r"^\.pointsapp-\d{8}T\d{6}Z(?:-\d+)?-(?:sqlite|postgresql)\.(?:sqlite3|pgdump)(?:\.json)?\.\d+\.tmp$")
STALE_TEMP_SECONDS = 24 * 3600
# what the manifest counts, and restore compares: table -> label
COUNTED = {"ledger_entry": "ledger_entries", "points_account": "points_accounts", "resident": "residents",
           "community": "communities"}
PG_DUMP_TIMEOUT_S = 6 * 3600


class BackupError(Exception):
    """An expected failure (missing file, damaged file, non-empty target, no pg_dump …): one clear line for
    the operator, no traceback."""


@dataclass(frozen=True)
class Backup:
    path: Path
    stamp: str
    n: int
    backend: str

    @property
    def manifest_path(self) -> Path:
        return manifest_path(self.path)


@dataclass
class BackupResult:
    path: Path
    manifest: dict
    removed: list[Path] = field(default_factory=list)


@dataclass
class CheckReport:
    ok: bool
    lines: list[str]


# -- configuration and names -------------------------------------------------------------------------

def backup_dir() -> Path:
    """BACKUP_DIR, else <instance>/backups."""
    configured = current_app.config.get("BACKUP_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "backups"


def backup_keep() -> int:
    return int(current_app.config.get("BACKUP_KEEP") or DEFAULT_KEEP)


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _stamp(now: datetime) -> str:
    """20261125T023000Z: the UTC second, sortable as text."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    moment = now.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    return moment.isoformat().replace("-", "").replace(":", "") + "Z"


def list_backups(directory: Path) -> list[Backup]:
    """Our backup files in the folder, oldest first (by the time in their names)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        m = NAME.match(path.name)
        if m and path.is_file() and EXTENSIONS[m["backend"]] == m["ext"]:
            found.append(Backup(path, m["stamp"], int(m["n"] or 0), m["backend"]))
    return sorted(found, key=lambda b: (b.stamp, b.n))


def _new_name(directory: Path, now: datetime, backend: str) -> Path:
    base, ext = f"pointsapp-{_stamp(now)}", EXTENSIONS[backend]
    path, n = directory / f"{base}-{backend}.{ext}", 1
    while path.exists() or manifest_path(path).exists():  # two backups within one second
        path, n = directory / f"{base}-{n}-{backend}.{ext}", n + 1
    return path


def database_url(url: str | None = None) -> URL:
    """The given URL (default: the app's database). A relative SQLite path is taken as Flask-SQLAlchemy takes
    it, relative to the instance folder, and made absolute (the check runs in another process)."""
    parsed = make_url(normalise_db_url(url) if url else current_app.config["SQLALCHEMY_DATABASE_URI"])
    database = parsed.database
    if (parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
            and not database.startswith("file:") and not Path(database).is_absolute()):
        parsed = parsed.set(database=str(Path(current_app.instance_path) / database))
    return parsed


def libpq_conninfo(url: URL) -> tuple[str, dict]:
    """A SQLAlchemy URL (postgresql+psycopg://u:p@h:5432/db?sslmode=…) as a libpq URI for pg_dump and
    pg_restore, and the environment carrying the password (never on a command line `ps` shows)."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def shown(url: URL) -> str:
    """The URL for messages: without the password or the driver name."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


# -- files ----------------------------------------------------------------------------------------------

def _private_dir(directory: Path) -> None:
    """A folder made here is 0700 (the umask would widen it); one that exists keeps its mode (it may be a
    shared mount, or /tmp): each backup file is 0600 whatever the folder."""
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)


def _private_new_file(path: Path) -> None:
    """Create the file empty with mode 0600 before anything writes into it (SQLite and pg_dump keep the mode
    of a file that exists; a umask of 022 would give 0644)."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(path: Path, manifest: dict) -> None:
    target = manifest_path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _private_new_file(tmp)
    try:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_manifest(path: Path) -> dict:
    mpath = manifest_path(path)
    if not mpath.is_file():
        raise BackupError(f"{mpath.name} is missing: restore needs the manifest written beside the backup "
                          f"(it holds the checksum and counts the restore is checked against)")
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{mpath}: not a readable manifest ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("backend") not in EXTENSIONS:
        raise BackupError(f"{mpath}: not a pointsapp backup manifest of format {FORMAT}")
    return manifest


# -- taking a backup ----------------------------------------------------------------------------------

def take_backup(now: datetime, *, keep: int | None = None, directory: Path | None = None) -> Path:
    """Back the app's database up into BACKUP_DIR (or `directory`), then keep the newest `keep` (default
    BACKUP_KEEP) backups. Returns the new file's path. Raises BackupError for expected failures."""
    return backup(now, keep=keep, directory=directory).path


def backup(now: datetime, *, keep: int | None = None, directory: Path | None = None) -> BackupResult:
    keep = backup_keep() if keep is None else keep
    if keep < 1:
        raise BackupError("keep must be at least 1 (the backup just taken)")
    directory = Path(directory) if directory else backup_dir()
    # BACKUP_DATABASE_URL: the same database reached directly, when DATABASE_URL goes through PgBouncer
    url = database_url(current_app.config.get("BACKUP_DATABASE_URL"))
    backend = url.get_backend_name()
    if backend not in EXTENSIONS:
        raise BackupError(f"cannot back up a {backend} database (SQLite and PostgreSQL only)")
    try:
        _private_dir(directory)
    except OSError as exc:
        raise BackupError(f"cannot use {directory} for backups: {exc.strerror or exc}") from exc
    target = _new_name(directory, now, backend)
    tmp = directory / f".{target.name}.{os.getpid()}.tmp"
    try:
        _private_new_file(tmp)
        facts = _sqlite_backup(url, tmp) if backend == "sqlite" else _pg_backup(url, tmp)
        tmp.chmod(0o600)
        _fsync(tmp)
        manifest = {"format": FORMAT, "file": target.name, "backend": backend, "created_at": now.isoformat(),
                    "size": tmp.stat().st_size, "sha256": sha256_of(tmp), **facts}
        os.replace(tmp, target)
        _write_manifest(target, manifest)
        _fsync(directory)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if not manifest_path(target).exists():  # a backup without its manifest would only be refused
            target.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # a full disk, a folder we may not write into
            raise BackupError(f"writing the backup into {directory} failed: {exc.strerror or exc}") from exc
        raise
    return BackupResult(target, manifest, prune(directory, keep, now))


def prune(directory: Path, keep: int, now: datetime | None = None) -> list[Path]:
    """Delete all but the newest `keep` of our backups (with their manifests), and our temporary files left
    by a run that died more than a day before `now`. Returns the backups deleted."""
    backups = list_backups(directory)
    removed = []
    for old in backups[:max(len(backups) - keep, 0)]:
        old.path.unlink(missing_ok=True)
        old.manifest_path.unlink(missing_ok=True)
        removed.append(old.path)
    if now is not None:
        for leftover in directory.glob(".pointsapp-*.tmp"):
            if TEMP.match(leftover.name) and leftover.stat().st_mtime < now.timestamp() - STALE_TEMP_SECONDS:
                leftover.unlink(missing_ok=True)
    return removed


def _count(execute: Callable[[str], object]) -> dict:
    """Facts of a database read inside one snapshot: alembic revision, row counts, points in accounts."""
    facts = {"alembic_revision": execute("SELECT version_num FROM alembic_version")}
    counts = {label: int(execute(f'SELECT count(*) FROM "{table}"')) for table, label in COUNTED.items()}
    counts["points_balance_total"] = int(execute("SELECT coalesce(sum(balance), 0) FROM points_account"))
    facts["counts"] = counts
    return facts


def _sqlite_backup(url: URL, tmp: Path) -> dict:
    source = url.database
    if not source or source == ":memory:" or source.startswith("file:"):
        raise BackupError("the database is in memory: there is nothing on disk to back up")
    if not Path(source).is_file():
        raise BackupError(f"SQLite database {source} does not exist")
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    dst = sqlite3.connect(tmp, isolation_level=None)
    try:
        # pages=-1: every page in one step, inside one read transaction of the source. In WAL mode that is a
        # snapshot; writers go on meanwhile. (In several steps, each write by another connection restarts it.)
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        problem = dst.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the copy failed SQLite's quick_check: {problem}")
        facts = _count(lambda sql: dst.execute(sql).fetchone()[0])
        facts["sqlite_version"] = sqlite3.sqlite_version
        return facts
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup of {source} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()


def _pg_tool(name: str) -> str:
    bindir = current_app.config.get("BACKUP_PG_BINDIR")
    found = str(Path(bindir) / name) if bindir else shutil.which(name)
    if not found or not Path(found).is_file():
        where = f"in BACKUP_PG_BINDIR={bindir}" if bindir else "on PATH"
        raise BackupError(f"{name} not found {where}: install the PostgreSQL client of the server's major "
                          f"version (Debian: postgresql-client-15) or set BACKUP_PG_BINDIR")
    return found


def _run(argv: list[str], env: dict, what: str) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=PG_DUMP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what} could not run: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.strip() or f"exit code {done.returncode}"
        if "version mismatch" in message:
            message += (" — pg_dump/pg_restore must be of the server's major version (or newer): install that "
                        "client and set BACKUP_PG_BINDIR to its bin folder")
        raise BackupError(f"{what} failed: {message}")
    return done


def _pg_backup(url: URL, tmp: Path) -> dict:
    pg_dump = _pg_tool("pg_dump")
    conninfo, env = libpq_conninfo(url)
    version = _run([pg_dump, "--version"], env, "pg_dump").stdout.strip()
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            # One snapshot for the counts and the dump: the transaction stays open until pg_dump is done.
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
            facts = _count(lambda sql: conn.execute(text(sql)).scalar())
            facts["server_version"] = conn.execute(text("SHOW server_version")).scalar()
            _run([pg_dump, "--format=custom", "--no-password", f"--snapshot={snapshot}",
                  "--lock-wait-timeout=60000", f"--file={tmp}", f"--dbname={conninfo}"], env, "pg_dump")
        # (closing the connection ends the read-only transaction)
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot read the database {shown(url)}: {str(exc.orig or exc).strip()}") from exc
    finally:
        engine.dispose()
    facts["pg_dump_version"] = version
    return facts


# -- restoring ----------------------------------------------------------------------------------------

def restore(path: Path, target_url: str | None = None) -> dict:
    """Restore the backup at `path` into the empty database at `target_url` (default: the app's own).
    The file is checked against its manifest first. Returns the manifest."""
    path = Path(path).absolute()
    if path.name.endswith(MANIFEST_SUFFIX):  # the manifest was named instead of its backup
        path = path.with_name(path.name[:-len(MANIFEST_SUFFIX)])
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    manifest = read_manifest(path)
    try:
        size, digest = path.stat().st_size, sha256_of(path)
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size != manifest.get("size") or digest != manifest.get("sha256"):
        raise BackupError(f"{path.name} is damaged or not the file its manifest describes: size {size}, sha256 "
                          f"{digest[:16]}…; the manifest says size {manifest.get('size')}, sha256 "
                          f"{str(manifest.get('sha256'))[:16]}…. Restore another backup.")
    url = database_url(target_url)
    backend = url.get_backend_name()
    if backend != manifest["backend"]:
        raise BackupError(f"{path.name} is a {manifest['backend']} backup; the target {shown(url)} is {backend}. "
                          f"Restore it into a {manifest['backend']} database.")
    if backend == "sqlite":
        _sqlite_restore(path, url)
    else:
        _pg_restore(path, url)
    return manifest


def _not_empty(url: URL, tables: int) -> BackupError:
    return BackupError(f"the target database {shown(url)} is not empty ({tables} tables): restore only goes into an "
                       f"empty database. Create a new one (or drop this one after making sure nothing in it is "
                       f"needed), then run restore again.")


def _sqlite_restore(path: Path, url: URL) -> None:
    target = url.database
    if not target or target == ":memory:" or target.startswith("file:"):
        raise BackupError("restore needs a SQLite database file as the target, not an in-memory one")
    target_path = Path(target).absolute()
    if target_path.exists() and target_path.stat().st_size > 0:
        with sqlite3.connect(target_path.as_uri() + "?mode=ro", uri=True) as probe:
            tables = probe.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables:
            raise _not_empty(url, tables)
    target_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not target_path.exists():
        _private_new_file(target_path)
    src = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    dst = sqlite3.connect(target_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        src.backup(dst, pages=-1)  # into the target in one transaction of it: all or nothing
        dst.execute("PRAGMA journal_mode = WAL")  # as the app runs it
    except sqlite3.Error as exc:
        raise BackupError(f"restoring into {target} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()
    target_path.chmod(0o600)


def _pg_engine(url: URL):
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})


def _pg_user_tables(url: URL) -> int:
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', "
                "'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
            )).scalar()
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot connect to the target database {shown(url)}: {str(exc.orig or exc).strip()}. "
                          f"Create it first (createdb -O <app role> {url.database}).") from exc
    finally:
        engine.dispose()


def _pg_restore(path: Path, url: URL) -> None:
    pg_restore = _pg_tool("pg_restore")
    tables = _pg_user_tables(url)
    if tables:
        raise _not_empty(url, tables)
    conninfo, env = libpq_conninfo(url)
    # one transaction: a failed restore leaves the target empty, as it was
    _run([pg_restore, "--no-owner", "--exit-on-error", "--single-transaction", "--no-password",
          f"--dbname={conninfo}", str(path)], env, "pg_restore")


# -- checking a restored database ----------------------------------------------------------------------

def code_heads() -> set[str]:
    """The alembic head(s) of this code's migrations."""
    config = Config()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    return set(ScriptDirectory.from_config(config).get_heads())


def _facts_of(url: URL) -> dict:
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(Path(url.database).absolute().as_uri() + "?mode=ro", uri=True) as conn:
            return _count(lambda sql: conn.execute(sql).fetchone()[0])
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="REPEATABLE READ")
            return _count(lambda sql: conn.execute(text(sql)).scalar())
    finally:
        engine.dispose()


def check(manifest: dict, target_url: str | None = None) -> CheckReport:
    """After a restore: the revision is this code's head, the counts are the manifest's, and `flask ledger
    verify` (run as its own process on the target) finds every hash chain and balance intact."""
    url = database_url(target_url)
    lines: list[str] = []
    facts = _facts_of(url)
    revision, heads = facts["alembic_revision"], code_heads()
    ok = True
    if facts["counts"] != manifest.get("counts"):
        ok = False
        lines.append(f"BAD counts differ from the manifest: restored {facts['counts']}, "
                     f"manifest {manifest.get('counts')}")
    else:
        lines.append("counts match the manifest: " + ", ".join(f"{v} {k}" for k, v in facts["counts"].items()))
    if revision not in heads:
        lines.append(f"the restored schema is at alembic revision {revision}; this code's head is "
                     f"{', '.join(sorted(heads))}. Run `DATABASE_URL=… flask --app pointsapp db upgrade` on it, "
                     f"then `flask --app pointsapp ledger verify`." if revision in _known_revisions() else
                     f"the restored schema is at alembic revision {revision}, which this code does not know: the "
                     f"backup was made by a newer version of pointsapp; restore it with that version.")
        return CheckReport(False, lines)
    lines.append(f"schema at this code's head ({revision})")
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False),
           "POINTSAPP_INSTANCE": current_app.instance_path, "SECRET_KEY": current_app.secret_key or ""}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "pointsapp", "ledger", "verify"], env=env,
                          capture_output=True, text=True)
    output = (done.stdout + done.stderr).strip()
    lines.extend(f"ledger verify: {line}" for line in output.splitlines()[-20:])
    if done.returncode != 0:
        ok = False
    return CheckReport(ok, lines)


def _known_revisions() -> set[str]:
    config = Config()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    return {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
