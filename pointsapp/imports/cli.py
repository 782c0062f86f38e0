"""flask --app pointsapp imports …: uploaded resident sheets."""
import click

from pointsapp.core.clock import utcnow
from pointsapp.core.uow import command_unit_of_work
from pointsapp.imports import services as imports

group = click.Group("imports", help="Uploaded resident sheets.")


@group.command("purge")
def purge() -> None:
    """Delete uploaded sheets older than a week (run daily; uploads also purge their community's)."""
    with command_unit_of_work():
        count = imports.purge_sheets(utcnow())
    click.echo(f"{count} sheets older than {imports.SHEET_DAYS} days deleted")


commands = [group]
