"""flask --app pointsapp demo: the demo subdistrict, communities, people, history and logins."""
import click

from pointsapp.core.clock import utcnow
from pointsapp.core.uow import command_unit_of_work
from pointsapp.demo import seed
from pointsapp.demo.seed.catalogue import build_catalogue_demo


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only build the demo when the database has no community.")
@click.option("--buildings", default=12, show_default=True, help="Buildings per community.")
@click.option("--months", default=8, show_default=True, help="Months of points history.")
def demo(if_empty: bool, buildings: int, months: int) -> None:
    """Build the demo subdistrict, communities, people and logins."""
    if not seed.is_empty():
        if if_empty:
            click.echo("Database already has data; demo not rebuilt.")
            return
        raise click.ClickException("The database already has communities; use an empty database for the demo.")
    now = utcnow()
    with command_unit_of_work():
        total = len(seed.COMMUNITIES) * buildings
        with click.progressbar(length=total, label="Building the community tree") as bar:
            result = seed.build_demo(now, progress=bar.update, buildings_per_community=buildings)
        with click.progressbar(length=result.residents + len(result.logins), label="Posting points history") as bar:
            entries = seed.build_history(now, progress=bar.update, months=months)
        activities = seed.build_activities(now)
        seed.build_points_rules(now)
        products = seed.build_store(now)
        extra = build_catalogue_demo(now, seed.demo_building(buildings))
        seed.build_stars(now)
        seed.build_notices(now)
    click.echo(f"{entries} ledger entries posted; checkpoint stored; {activities} activities today; "
               f"{products} products in the supermarkets (card PIN of 13800000001: {seed.DEMO_PIN}).")
    click.echo(f"{result.communities} communities, {result.buildings} buildings, "
               f"{result.households} households, {result.residents} residents.")
    click.echo(f"Demo logins (password {seed.DEMO_PASSWORD}):")
    click.echo(f"积分细则: {extra.items} items; {extra.claims} claims in every state; {extra.deductions} deductions; {extra.groups} groups.")
    for login in result.logins + extra.logins:
        click.echo(f"  {login.phone}  {login.role:<16} {login.name}  {login.note}")


commands = [demo]
