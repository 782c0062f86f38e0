"""flask --app pointsapp backup / restore."""
import time
from pathlib import Path

import click

from pointsapp.backups import services
from pointsapp.backups.services import BackupError
from pointsapp.core.clock import utcnow


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


@click.command("backup")
@click.option("--keep", type=click.IntRange(1), help="Backups to keep, the newest (default BACKUP_KEEP, 14).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the backups (default BACKUP_DIR, else instance/backups).")
def backup(keep: int | None, directory: Path | None) -> None:
    """Back up the database (SQLite: online backup API; PostgreSQL: pg_dump) and keep the newest N."""
    started = time.perf_counter()
    try:
        result = services.backup(utcnow(), keep=keep, directory=directory)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    m = result.manifest
    click.echo(f"{result.path} ({_size(m['size'])}, {m['counts']['ledger_entries']} ledger entries, "
               f"revision {m['alembic_revision']}) written in {time.perf_counter() - started:.2f} s")
    if result.removed:
        click.echo(f"removed {len(result.removed)} older backups: " + ", ".join(p.name for p in result.removed))


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target-url", help="Database to restore into; it must be empty (default: DATABASE_URL).")
def restore(file: Path, target_url: str | None) -> None:
    """Restore FILE into an empty database, then check it as `flask ledger verify` does; exit 1 unless clean."""
    started = time.perf_counter()
    try:
        manifest = services.restore(file, target_url)
        target = services.shown(services.database_url(target_url))
        click.echo(f"restored {manifest['file']} (taken {manifest['created_at']}) into {target} "
                   f"in {time.perf_counter() - started:.2f} s")
        report = services.check(manifest, target_url)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines:
        click.echo(line, err=line.startswith("BAD"))
    if not report.ok:
        click.echo("restore NOT clean: do not use this database until the lines above are resolved", err=True)
        raise SystemExit(1)
    click.echo("restore clean")


commands = [backup, restore]
