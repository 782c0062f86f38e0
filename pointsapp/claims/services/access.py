"""Who stands where to a claim: may file for a resident, may review, may see. One place for each rule
(the package docstring states them); the other modules only ask here.

A 楼栋长 is the user whose resident is the building's leader; a 网格员 is the account whose login phone is
the grid's worker phone (the grid records a phone, not an account); the office is whoever may manage the
community (community admins, city admins)."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from pointsapp.accounts.models import User
from pointsapp.catalogue.models import Confirmer
from pointsapp.claims.models import Claim, ClaimEvent
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.permissions import Action, can, led_team_ids
from pointsapp.ledger.services import rules as ledger_rules
from pointsapp.tree.models import Building, Grid, Household, Resident


def _active(actor: User | None) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active


def building_of(resident: Resident) -> Building:
    return db.session.get(Household, resident.household_id).building


def is_office(actor: User | None, community_id: int) -> bool:
    return _active(actor) and can(actor, Action.MANAGE_COMMUNITY, community_id)


def leads_building(actor: User | None, resident: Resident) -> bool:
    """The actor is the 楼栋长 of the resident's building."""
    if not _active(actor) or actor.resident_id is None:
        return False
    building = building_of(resident)
    return building.leader_id is not None and building.leader_id == actor.resident_id


def works_grid(actor: User | None, resident: Resident) -> bool:
    """The actor is the 网格员 of the resident's grid (her login phone is the grid's worker phone)."""
    if not _active(actor) or not actor.phone:
        return False
    building = building_of(resident)
    if building.grid_id is None:
        return False
    grid = db.session.get(Grid, building.grid_id)
    return bool(grid.worker_phone) and grid.worker_phone == actor.phone and grid.community_id == resident.community_id


def may_file(actor: User | None, resident: Resident) -> bool:
    """The resident herself, the 楼栋长 of her building, the 网格员 of her grid, the office."""
    if not _active(actor):
        return False
    return (actor.resident_id == resident.id or leads_building(actor, resident) or works_grid(actor, resident)
            or is_office(actor, resident.community_id))


def is_named_reviewer(actor: User | None, claim: Claim) -> bool:
    """The reviewer the claim's item names, or the office (which may always step in)."""
    if not _active(actor):
        return False
    if is_office(actor, claim.community_id):
        return True
    confirmer = claim.item.confirmer
    if confirmer == Confirmer.BUILDING_LEADER:
        return leads_building(actor, claim.resident)
    if confirmer == Confirmer.GRID_WORKER:
        return works_grid(actor, claim.resident)
    if confirmer == Confirmer.TEAM_LEAD:
        return claim.item.team_id is not None and claim.item.team_id in led_team_ids(actor)
    return False


def _same_household(actor: User, resident_id: int) -> bool:
    own = db.session.get(Resident, actor.resident_id)
    other = db.session.get(Resident, resident_id)
    return own is not None and other is not None and own.household_id == other.household_id


def review_refusal(actor: User | None, claim: Claim) -> PermissionDenied | None:
    """Why the actor may not review this claim, or None when she may. Separation of duties first: the claimant
    and her household, the witness and her household, and whoever filed it never decide it, whatever role they
    hold."""
    if not _active(actor):
        return PermissionDenied(_l("You do not have permission to do this."))
    if ledger_rules.acts_for_self(actor, claim.resident):
        return PermissionDenied(_l("A claim for yourself or your household must be reviewed by someone else."),
                                code="self_review")
    if claim.witness_id is not None and actor.resident_id == claim.witness_id:
        return PermissionDenied(_l("You are the witness of this claim: someone else must review it."),
                                code="witness_review")
    if claim.witness_id is not None and actor.resident_id is not None and _same_household(actor, claim.witness_id):
        return PermissionDenied(_l("The witness of this claim lives in your household: someone else must "
                                   "review it."), code="witness_household_review")
    if actor.id == claim.filed_by_id:
        return PermissionDenied(_l("You filed this claim: someone else must review it."), code="filer_review")
    if not is_named_reviewer(actor, claim):
        return PermissionDenied(_l("You do not have permission to do this."))
    return None


def may_review(actor: User | None, claim: Claim) -> bool:
    """The reviewer the item names or the office; never the claimant or her household, the witness or her
    household, the filer."""
    return review_refusal(actor, claim) is None


def may_see(actor: User | None, claim: Claim) -> bool:
    """The claimant, whoever filed it, the witness, the reviewers the item names, the office."""
    if not _active(actor):
        return False
    return (actor.resident_id == claim.resident_id or actor.id == claim.filed_by_id
            or (claim.witness_id is not None and actor.resident_id == claim.witness_id)
            or is_named_reviewer(actor, claim))


def is_claimant_side(actor: User | None, claim: Claim) -> bool:
    """The claimant or whoever filed for her: who answers a question and may withdraw."""
    return _active(actor) and (actor.resident_id == claim.resident_id or actor.id == claim.filed_by_id)


def fileable_residents(actor: User | None) -> list[Resident]:
    """Residents a 楼栋长 or 网格员 may file for: the active residents of the buildings she leads and of the
    grids she works, by building, unit, room, name (herself left out: she files her own as a resident)."""
    if not _active(actor):
        return []
    buildings = select(Building.id).where(Building.leader_id == actor.resident_id) if actor.resident_id else None
    grids = select(Grid.id).where(Grid.worker_phone == actor.phone) if actor.phone else None
    reach = []
    if buildings is not None:
        reach.append(Household.building_id.in_(buildings))
    if grids is not None:
        reach.append(Household.building_id.in_(select(Building.id).where(Building.grid_id.in_(grids))))
    if not reach:
        return []
    stmt = (select(Resident).join(Household, Household.id == Resident.household_id)
            .join(Building, Building.id == Household.building_id)
            .where(or_(*reach), Resident.moved_out_on.is_(None))
            .order_by(Building.name, Household.unit, Household.room, Resident.name, Resident.id))
    if actor.resident_id:
        stmt = stmt.where(Resident.id != actor.resident_id)
    return list(db.session.scalars(stmt.limit(2000)))


# ---- transitions ------------------------------------------------------------------------------------

def locked_in(claim: Claim, *statuses: str) -> Claim:
    """The claim's row locked and read fresh (the same object, refreshed); refuses unless its status is one of
    `statuses`: another person acted first. Raises claim_state, busy."""
    fresh = locks.lock_row(Claim, claim.id)
    if fresh is None or fresh.status not in statuses:
        raise Conflict(_l("This claim has changed in the meantime (someone else acted on it). Please reload "
                          "and check."), code="claim_state")
    return fresh


def record_event(claim: Claim, actor: User | None, action: str, now: datetime, note: str = "") -> ClaimEvent:
    event = ClaimEvent(community_id=claim.community_id, claim_id=claim.id, actor_id=actor.id if actor else None,
                       action=action, note=note, created_at=now)
    db.session.add(event)
    return event
