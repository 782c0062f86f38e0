"""flask --app pointsapp tree …: the retention rule for residents who moved out (also the nightly job
retention, 01:30 China time: core/queue.py)."""
import click

from pointsapp.core import queue
from pointsapp.core.clock import utcnow
from pointsapp.core.uow import command_unit_of_work
from pointsapp.privacy import services as privacy

group = click.Group("tree", help="Communities and residents: the personal data retention rule.")


@group.command("retention")
@click.option("--community", "community_id", type=int, help="Only this community.")
@click.option("--dry-run", is_flag=True, help="Only say whose personal data would be erased.")
def retention(community_id: int | None, dry_run: bool) -> None:
    """Erase the personal fields (name, phone, ID tail, birth year, PIN, card) of residents who moved out
    longer ago than their community's retention period (default 3 years) and end their logins. Their
    points ledger stays and still verifies. Idempotent: erased residents are not touched again."""
    with command_unit_of_work():
        done = privacy.apply_retention(utcnow(), community_id, dry_run=dry_run)
        for resident in done:
            click.echo(f"community {resident.community_id} resident {resident.id}: moved out {resident.moved_out_on}"
                       + (" (would be erased)" if dry_run else " erased"))
    click.echo(f"{len(done)} residents " + ("would have their personal data erased" if dry_run
                                            else "had their personal data erased"))


@queue.periodic("retention", minute="30", hour="1")
def retention_job(now) -> str:
    """Personal data of residents who moved out long ago erased: flask tree retention."""
    return f"{len(privacy.apply_retention(now))} residents had their personal data erased"


commands = [group]
