"""Command-line entry points (flask --app pointsapp …). Each command is one unit of work."""
import click
from flask import Flask

from .clock import utcnow
from .extensions import db


def register_cli(app: Flask) -> None:
    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Only build the demo when the database has no community.")
    def demo(if_empty: bool) -> None:
        """Build the demo subdistrict, communities, people and logins."""
        from .services import demo as demo_service

        if not demo_service.is_empty():
            if if_empty:
                click.echo("Database already has data; demo not rebuilt.")
                return
            raise click.ClickException("The database already has communities; use an empty database for the demo.")
        total = len(demo_service.COMMUNITIES) * 12
        with click.progressbar(length=total, label="Building demo data") as bar:
            result = demo_service.build_demo(utcnow(), progress=bar.update)
        db.session.commit()
        click.echo(f"{result.communities} communities, {result.buildings} buildings, "
                   f"{result.households} households, {result.residents} residents.")
        click.echo(f"Demo logins (password {demo_service.DEMO_PASSWORD}):")
        for login in result.logins:
            click.echo(f"  {login.phone}  {login.role:<16} {login.name}  {login.note}")
