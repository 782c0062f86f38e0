"""Command-line entry points (flask --app pointsapp …). Each command is one unit of work."""
import click
from flask import Flask

from pointsapp.core.clock import utcnow
from pointsapp.core.extensions import db


def register_cli(app: Flask) -> None:
    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Only build the demo when the database has no community.")
    @click.option("--buildings", default=12, show_default=True, help="Buildings per community.")
    @click.option("--months", default=8, show_default=True, help="Months of points history.")
    def demo(if_empty: bool, buildings: int, months: int) -> None:
        """Build the demo subdistrict, communities, people and logins."""
        from pointsapp.demo import seed as demo_service

        if not demo_service.is_empty():
            if if_empty:
                click.echo("Database already has data; demo not rebuilt.")
                return
            raise click.ClickException("The database already has communities; use an empty database for the demo.")
        now = utcnow()
        total = len(demo_service.COMMUNITIES) * buildings
        with click.progressbar(length=total, label="Building the community tree") as bar:
            result = demo_service.build_demo(now, progress=bar.update, buildings_per_community=buildings)
        with click.progressbar(length=result.residents + len(result.logins), label="Posting points history") as bar:
            entries = demo_service.build_history(now, progress=bar.update, months=months)
        activities = demo_service.build_activities(now)
        products = demo_service.build_store(now)
        demo_service.build_stars(now)
        demo_service.build_notices(now)
        db.session.commit()
        click.echo(f"{entries} ledger entries posted; checkpoint stored; {activities} activities today; "
                   f"{products} products in the supermarkets (card PIN of 13800000001: {demo_service.DEMO_PIN}).")
        click.echo(f"{result.communities} communities, {result.buildings} buildings, "
                   f"{result.households} households, {result.residents} residents.")
        click.echo(f"Demo logins (password {demo_service.DEMO_PASSWORD}):")
        for login in result.logins:
            click.echo(f"  {login.phone}  {login.role:<16} {login.name}  {login.note}")


    imports_group = click.Group("imports", help="Uploaded resident sheets.")
    app.cli.add_command(imports_group)

    @imports_group.command("purge")
    def purge() -> None:
        """Delete uploaded sheets older than a week (run daily; uploads also purge their community's)."""
        from pointsapp.imports import services as imports

        count = imports.purge_sheets(utcnow())
        db.session.commit()
        click.echo(f"{count} sheets older than {imports.SHEET_DAYS} days deleted")

    ledger = click.Group("ledger", help="Love-points ledger: verify, checkpoint, expire.")
    app.cli.add_command(ledger)

    @ledger.command("verify")
    @click.option("--community", "community_id", type=int, help="Only this community.")
    def verify(community_id: int | None) -> None:
        """Recompute every hash chain and balance; exit 1 when anything is off."""
        import time

        from pointsapp.ledger.services import audit as ledger_audit

        started = time.perf_counter()
        report = ledger_audit.verify(community_id)
        elapsed = time.perf_counter() - started
        db.session.rollback()
        for problem in report.problems:
            click.echo(f"BAD {problem}", err=True)
        click.echo(f"{report.residents} chains, {report.entries} entries checked in {elapsed:.2f} s: "
                   + ("OK" if report.ok else f"{len(report.problems)} problems"))
        if not report.ok:
            raise SystemExit(1)

    @ledger.command("checkpoint")
    @click.option("--community", "community_id", type=int, help="Only this community.")
    def checkpoint(community_id: int | None) -> None:
        """Store a root over all chain heads of each community."""
        from sqlalchemy import select

        from pointsapp.ledger.services import audit as ledger_audit
        from pointsapp.tree.models import Community

        ids = [community_id] if community_id else list(db.session.scalars(select(Community.id)))
        for cid in ids:
            cp = ledger_audit.checkpoint(cid, utcnow())
            click.echo(f"community {cid}: root {cp.root} over {cp.resident_count} chains, {cp.entry_count} entries")
        db.session.commit()

    @ledger.command("expire")
    @click.option("--community", "community_id", type=int, help="Only this community.")
    def expire(community_id: int | None) -> None:
        """Lapse points older than each community's expiry policy (idempotent)."""
        from sqlalchemy import select

        from pointsapp.ledger.services import audit as ledger_audit
        from pointsapp.tree.models import Community

        ids = [community_id] if community_id else list(db.session.scalars(select(Community.id)))
        for cid in ids:
            touched, points = ledger_audit.expire(cid, utcnow())
            click.echo(f"community {cid}: {points} points lapsed for {touched} residents")
        db.session.commit()
