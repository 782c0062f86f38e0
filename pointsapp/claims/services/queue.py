"""Reading claims: one claim, her own, the witness's requests, a photo, and the reviewer's queue.

The queue is read in a fixed number of statements whatever its length: the claims with their item and
resident (one join), their photos and history events (one select each), the limits used (one statement for
every claim's window), the claimants' earlier claims of the same items (one, with a window function), the
earlier claims a duplicate photo matches (one) and the current row of each item's lineage (one)."""
from collections import defaultdict
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, false, func, or_, select, tuple_
from sqlalchemy.orm import aliased, joinedload, selectinload

from pointsapp.accounts.models import User
from pointsapp.catalogue.models import CatalogueItem, Confirmer
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.claims.models import Claim, ClaimPhoto, ClaimStatus
from pointsapp.claims.services.access import may_see
from pointsapp.claims.services.fields import QueueRow
from pointsapp.core.errors import NotFound
from pointsapp.core.extensions import db
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import admin_community_ids, led_team_ids
from pointsapp.tree.models import Building, Grid, Household, Resident

HISTORY = 5  # earlier claims of the same item shown with each claim in the queue
QUEUE_MAX = 200
LIST_MAX = 200


def get_claim(actor: User, claim_id) -> Claim:
    """One claim the actor may see (claimant, filer, witness, reviewer, office). Raises not_found."""
    claim = get_row(Claim, claim_id)
    if claim is None or not may_see(actor, claim):
        raise NotFound(_l("No such claim."))
    return claim


def _listed(stmt):
    return (stmt.options(joinedload(Claim.item), joinedload(Claim.resident), selectinload(Claim.photos))
            .order_by(Claim.created_at.desc(), Claim.id.desc()).limit(LIST_MAX))


def my_claims(actor: User) -> list[Claim]:
    """Claims the actor made or that are about her, newest first."""
    mine = [Claim.filed_by_id == actor.id]
    if actor.resident_id is not None:
        mine.append(Claim.resident_id == actor.resident_id)
    return list(db.session.scalars(_listed(select(Claim).where(or_(*mine)))))


def waiting_on(actor: User) -> tuple[int, int]:
    """(her claims the reviewer asked more about, claims waiting for her to confirm as witness): what the home
    page reminds her of, in one statement."""
    if not getattr(actor, "is_authenticated", False):
        return 0, 0
    mine = [Claim.filed_by_id == actor.id]
    witness = false()
    if actor.resident_id is not None:
        mine.append(Claim.resident_id == actor.resident_id)
        witness = and_(Claim.witness_id == actor.resident_id, Claim.status == ClaimStatus.WITNESS)
    asked = and_(or_(*mine), Claim.status == ClaimStatus.MORE_INFO)
    row = db.session.execute(select(func.coalesce(func.sum(case((asked, 1), else_=0)), 0),
                                    func.coalesce(func.sum(case((witness, 1), else_=0)), 0))
                             .where(or_(asked, witness))).one()
    return int(row[0]), int(row[1])


def may_review_any(actor: User) -> bool:
    """Whether the actor reviews claims at all (the home page's link): a team lead or the office (from the grants
    already loaded), else one query: does she lead a building, or is her login phone a grid's worker phone."""
    if not getattr(actor, "is_authenticated", False):
        return False
    if led_team_ids(actor) or admin_community_ids(actor) != set():
        return True
    works = and_(Grid.worker_phone == actor.phone, Grid.worker_phone != "")
    leads = Building.leader_id == actor.resident_id if actor.resident_id else false()
    return bool(db.session.scalar(select(or_(select(Building.id).where(leads).exists(),
                                             select(Grid.id).where(works).exists()))))


def witness_requests(actor: User) -> list[Claim]:
    """Claims waiting for the actor to confirm as their witness, oldest first."""
    if actor.resident_id is None:
        return []
    return list(db.session.scalars(
        select(Claim).where(Claim.witness_id == actor.resident_id, Claim.status == ClaimStatus.WITNESS)
        .options(joinedload(Claim.item), joinedload(Claim.resident), selectinload(Claim.photos))
        .order_by(Claim.submitted_at, Claim.id).limit(LIST_MAX)))


def photo_content(actor: User, photo_id) -> bytes:
    """A claim photo's JPEG, for whoever may see the claim. Raises not_found."""
    photo = get_row(ClaimPhoto, photo_id)
    if photo is None or not may_see(actor, photo.claim):
        raise NotFound(_l("No such photo."))
    return photo.content


# ---- the reviewer's queue -----------------------------------------------------------------------------

def _reviewable(actor: User, community_id: int | None):
    """The SQL twin of access.may_review for pending claims (Claim joined to Resident, Household, Building and
    CatalogueItem): the reviewer the item names or the office, minus the separation of duties."""
    offices = admin_community_ids(actor)  # None: every community (city admin)
    named = []
    if offices is None:
        named.append(Claim.community_id.is_not(None))
    elif offices:
        named.append(Claim.community_id.in_(offices))
    if actor.resident_id is not None:
        named.append(and_(CatalogueItem.confirmer == str(Confirmer.BUILDING_LEADER),
                          Building.leader_id == actor.resident_id))
    if actor.phone:
        named.append(and_(CatalogueItem.confirmer == str(Confirmer.GRID_WORKER),
                          Building.grid_id.in_(select(Grid.id).where(Grid.worker_phone == actor.phone))))
    teams = led_team_ids(actor)
    if teams:
        named.append(and_(CatalogueItem.confirmer == str(Confirmer.TEAM_LEAD), CatalogueItem.team_id.in_(teams)))
    where = [or_(*named) if named else false(), Claim.filed_by_id != actor.id]
    if community_id is not None:
        where.append(Claim.community_id == community_id)
    if actor.resident_id is not None:
        own = db.session.get(Resident, actor.resident_id)
        housemate = aliased(Resident)  # (not the outer query's Resident: no correlation)
        where += [Claim.resident_id != actor.resident_id, Household.id != own.household_id,
                  or_(Claim.witness_id.is_(None),
                      Claim.witness_id.not_in(select(housemate.id).where(housemate.household_id == own.household_id)))]
    return where


def _limits_used(claims: list[Claim]) -> dict[int, int]:
    """Per claim with a limit: the resident's approved claims of the lineage in its window (one statement)."""
    windows = {c.id: catalogue_rules.limit_window(c.item, c.occurred_at) for c in claims}
    limited = [c for c in claims if windows[c.id] is not None]
    if not limited:
        return {}
    start = min(windows[c.id][0] for c in limited)
    end = max(windows[c.id][1] for c in limited)
    rows = db.session.execute(
        select(Claim.id, Claim.resident_id, Claim.lineage_id, Claim.occurred_at)
        .where(tuple_(Claim.resident_id, Claim.lineage_id).in_({(c.resident_id, c.lineage_id) for c in limited}),
               Claim.status == ClaimStatus.APPROVED, Claim.occurred_at >= start, Claim.occurred_at < end)).all()
    by_pair = defaultdict(list)
    for row in rows:
        by_pair[(row.resident_id, row.lineage_id)].append(row.occurred_at)
    return {c.id: sum(1 for at in by_pair[(c.resident_id, c.lineage_id)] if windows[c.id][0] <= at < windows[c.id][1])
            for c in limited}


def _histories(claims: list[Claim]) -> dict[tuple[int, int], list[Claim]]:
    """The newest HISTORY + 1 claims of each (resident, lineage) in the queue (one statement)."""
    pairs = {(c.resident_id, c.lineage_id) for c in claims}
    if not pairs:
        return {}
    place = func.row_number().over(partition_by=(Claim.resident_id, Claim.lineage_id),
                                   order_by=(Claim.created_at.desc(), Claim.id.desc())).label("place")
    newest = (select(Claim.id, place).where(tuple_(Claim.resident_id, Claim.lineage_id).in_(pairs))
              .subquery())
    rows = db.session.scalars(select(Claim).join(newest, newest.c.id == Claim.id)
                              .where(newest.c.place <= HISTORY + 1)
                              .order_by(Claim.created_at.desc(), Claim.id.desc())).all()
    found = defaultdict(list)
    for claim in rows:
        found[(claim.resident_id, claim.lineage_id)].append(claim)
    return found


def _duplicates(claims: list[Claim]) -> dict[int, Claim]:
    """photo id -> the claim that photo belongs to, for every photo a queued photo duplicates (one statement)."""
    wanted = {p.duplicate_of_id for c in claims for p in c.photos if p.duplicate_of_id}
    if not wanted:
        return {}
    earlier = aliased(ClaimPhoto)
    rows = db.session.execute(select(earlier.id, Claim).join(Claim, Claim.id == earlier.claim_id)
                              .where(earlier.id.in_(wanted))
                              .options(joinedload(Claim.resident), joinedload(Claim.item))).all()
    return {photo_id: claim for photo_id, claim in rows}


def _changed(claim: Claim, now_row: CatalogueItem | None) -> CatalogueItem | None:
    if now_row is None or (now_row.id == claim.item_id and now_row.retired_at is None):
        return None
    return now_row


def _items_now(claims: list[Claim]) -> dict[int, CatalogueItem]:
    """lineage id -> its latest row (superseded_at NULL; retired_at set when it was retired), for every lineage
    in the queue (one statement)."""
    lineages = {c.lineage_id for c in claims}
    if not lineages:
        return {}
    rows = db.session.scalars(select(CatalogueItem).where(CatalogueItem.lineage_id.in_(lineages),
                                                          CatalogueItem.superseded_at.is_(None)))
    return {row.lineage_id: row for row in rows}


def item_now(claim: Claim) -> CatalogueItem | None:
    """The claim's item lineage as it stands now, when it changed since the claim was filed (QueueRow.item_now
    for one claim: its page)."""
    return _changed(claim, _items_now([claim]).get(claim.lineage_id))


def review_queue(actor: User, community_id: int | None = None, now: datetime | None = None) -> list[QueueRow]:
    """Pending claims the actor may review, oldest first (submitted_at, id), each with its item, resident,
    photos (not their content), history events, the limit used in its window, the claimant's last claims of the
    same item and the earlier claims a duplicate photo matches."""
    if actor is None or not actor.is_active:
        return []
    claims = list(db.session.scalars(
        select(Claim).join(Resident, Resident.id == Claim.resident_id)
        .join(Household, Household.id == Resident.household_id).join(Building, Building.id == Household.building_id)
        .join(CatalogueItem, CatalogueItem.id == Claim.item_id)
        .where(Claim.status == ClaimStatus.PENDING, *_reviewable(actor, community_id))
        .options(joinedload(Claim.item), joinedload(Claim.resident), joinedload(Claim.witness),
                 selectinload(Claim.photos), selectinload(Claim.events))
        .order_by(Claim.submitted_at, Claim.id).limit(QUEUE_MAX)).unique())
    used = _limits_used(claims)
    histories = _histories(claims)
    duplicates = _duplicates(claims)
    items_now = _items_now(claims)
    rows = []
    for claim in claims:
        history = [c for c in histories.get((claim.resident_id, claim.lineage_id), []) if c.id != claim.id][:HISTORY]
        matched = {duplicates[p.duplicate_of_id].id: duplicates[p.duplicate_of_id] for p in claim.photos
                   if p.duplicate_of_id in duplicates and duplicates[p.duplicate_of_id].id != claim.id}
        rows.append(QueueRow(claim=claim, limit_used=used.get(claim.id),
                             limit_count=claim.item.limit_count if claim.item.limit_period else None,
                             history=history, duplicate_of=sorted(matched.values(), key=lambda c: c.id),
                             item_now=_changed(claim, items_now.get(claim.lineage_id))))
    return rows
