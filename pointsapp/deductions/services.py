"""负向扣分: the office records a deduction under a catalogue deduction item against a resident or a household.

Points are taken through the ledger and never below zero: what the balance cannot cover is owed
(Deduction.owed) by one account, Deduction.owed_by (the resident, or the household's first payer when it was
recorded, whoever heads the household later): its PointsAccount.owed is the sum of what its standing deductions
owe, cleared by a withdrawal and taken from its next earning (_on_posted, a subscriber of ledger.posted).
Its entries (source_type "deduction") are undone only by withdrawing it: ledger.reverse_by_admin refuses them.
The item version decides the rest: counts_against_earning lowers the earning totals
(rankings) of the period by the full points; is_veto vetoes the household in star evaluations of the
period of occurred_at (recognition.services.stars reads the deductions). A withdrawal (an objection upheld)
reverses the entries, clears what is still owed and gives the earning back; nothing is edited or deleted.

Locks (core.locks' order): evaluations on notice that the deduction moves (subscribers of `changing`,
order 0), then the points accounts (order 3), then the deduction's row and the earning totals.
"""
from datetime import datetime, timedelta

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.catalogue.models import CatalogueItem, ItemKind
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.core import locks, photos
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.lookup import get_row, valid_id
from pointsapp.core.permissions import Action, require
from pointsapp.core.text import ascii_form, lines
from pointsapp.deductions.models import Deduction
from pointsapp.ledger.models import EARNING_KINDS, EntryKind, LedgerEntry, PointsAccount
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services import rules as ledger_rules
from pointsapp.rankings import services as rankings
from pointsapp.tree.models import Building, Household, Resident

REASON_MAX = 500
PHOTO_PIXELS = 1280
NOTICE_DAYS = 90  # a resident sees the deductions of this many days on her home page
SOURCE = ledger.DEDUCTION_SOURCE  # "deduction"

# Sent before a deduction is recorded or withdrawn, before any account is locked: changing.send(community_id,
# moment=occurred_at, now=…). Star evaluations on public notice that cover the moment are locked now (they come
# first in the lock order) and ...
changing = Namespace().signal("deductions.changing")
# ... refreshed when it is written: changed.send(deduction, now=…), in the same transaction.
changed = Namespace().signal("deductions.changed")


def _reason(value: str | None) -> str:
    text = lines(value or "")
    if not text:
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    if len(text) > REASON_MAX:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="text_too_long", n=REASON_MAX)
    return text


def payers(household_id: int) -> list[Resident]:
    """Who pays a household's deduction, in order: its active residents, the head (户主) first, then by id."""
    residents = db.session.scalars(select(Resident).where(Resident.household_id == household_id,
                                                          Resident.moved_out_on.is_(None)).order_by(Resident.id))
    return sorted(residents, key=lambda r: (r.relation != "户主", r.id))


def _existing(community_id: int, request_key: str, subject: tuple) -> Deduction | None:
    """The deduction this form (its request key) already recorded. The same form sent again for another resident,
    household or item (the office changed the address and sent it without reloading) is refused."""
    first = db.session.scalar(select(Deduction).where(Deduction.community_id == community_id,
                                                      Deduction.request_key == request_key))
    if first is not None and (first.resident_id, first.household_id if first.resident_id is None else None,
                              first.item_id) != subject:
        raise Conflict(_l("This form was already sent for another deduction. Please open the page again."),
                       code="form_reused")
    return first


def _against(item: CatalogueItem | None, community_id: int) -> CatalogueItem:
    if item is None or item.community_id != community_id or item.kind != ItemKind.DEDUCT or not item.is_current:
        raise NotFound(_l("Choose one of the community's current deduction items."), code="no_such_item")
    return item


def record_deduction(actor: User, item: CatalogueItem | None, *, resident: Resident | None = None,
                     household: Household | None = None, occurred_at: datetime, reason: str,
                     evidence: bytes | None, request_key: str, now: datetime) -> Deduction:
    """The office records a deduction against a resident or (without one) a whole household. A retried form
    (the same request key) returns the first deduction. Raises forbidden, no_such_item, invalid_subject,
    resident_moved_out, household_empty, reason_missing, text_too_long, invalid_time, invalid_photo,
    photo_too_large, invalid_idempotency_key, busy."""
    if (resident is None) == (household is None):
        raise InvalidInput(_l("Choose one resident or one household."), code="invalid_subject")
    community_id = (resident or household).community_id
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    request_key = (request_key or "").strip()
    if not request_key or len(request_key) > 64:
        raise InvalidInput(_l("Missing request key."), code="invalid_idempotency_key")
    subject = (resident.id if resident else None, household.id if household else None, getattr(item, "id", None))
    first = _existing(community_id, request_key, subject)
    if first is not None:
        return first
    item = _against(catalogue_rules.item_in(community_id, getattr(item, "id", None)), community_id)
    reason = _reason(reason)
    if occurred_at is None or occurred_at > now + timedelta(minutes=5) or occurred_at < now - timedelta(days=366):
        raise InvalidInput(_l("When it happened must be within the last year, not in the future."),
                           code="invalid_time")
    if resident is not None and resident.moved_out_on is not None:
        raise InvalidInput(_l("%(name)s has moved out."), code="resident_moved_out", name=resident.name)
    photo = photos.resized(evidence, PHOTO_PIXELS).content if evidence else None
    paying = [resident] if resident is not None else payers(household.id)
    if not paying:
        raise InvalidInput(_l("Nobody lives in this household any more."), code="household_empty")
    changing.send(community_id, moment=occurred_at, now=now)
    accounts = ledger.lock_accounts(paying)  # one call, in resident-id order
    first = _existing(community_id, request_key, subject)  # under the locks: a twin of this form has committed or waits
    if first is not None:
        return first
    deduction = Deduction(
        community_id=community_id, item_id=item.id,
        household_id=resident.household_id if resident else household.id, resident_id=resident.id if resident else None, points=item.points,
        taken=0, owed=0, occurred_at=occurred_at, reason=reason, evidence=photo, is_veto=bool(item.is_veto),
        counts_against_earning=bool(item.counts_against_earning), request_key=request_key,
        owed_by_id=paying[0].id,
        created_by_id=actor.id, created_at=now, withdrawn_reason="", status_note="")
    db.session.add(deduction)
    db.session.flush()
    left = item.points
    for payer in paying:
        take = min(accounts[payer.id].balance, left)
        if take <= 0:
            continue
        key = f"deduction:{deduction.id}" if resident else f"deduction:{deduction.id}:{payer.id}"
        ledger.post(ledger.Posting(payer, -take, EntryKind.DEDUCTION, SOURCE, key, f"{item.title}：{reason}",
                                   str(deduction.id)), actor, now)
        left -= take
        if left == 0:
            break
    deduction.taken, deduction.owed = item.points - left, left
    if left:
        accounts[paying[0].id].owed += left
    if deduction.counts_against_earning:
        _move_earning(deduction, now, -deduction.points)
    db.session.flush()
    audit.record(actor, AuditAction.DEDUCTION_RECORDED, deduction, now, item_id=item.id, points=item.points,
                 taken=deduction.taken, owed=deduction.owed, household_id=deduction.household_id)
    changed.send(deduction, now=now)
    return deduction


def _move_earning(deduction: Deduction, moment: datetime, points: int) -> None:
    """The deduction's points against (or, withdrawn, back to) the earning totals of the periods of `moment`."""
    earning = rankings.Earning(points)
    if deduction.resident_id is not None:
        rankings.record(deduction.resident, moment, earning)
    else:
        rankings.record_household(deduction.household, moment, earning)


def _owed_by(deduction: Deduction) -> Resident:
    """The one account that carries what the deduction still owes: hers, or the household's payer when it was
    recorded (even if she has moved out or someone else heads the household now)."""
    return deduction.owed_by or deduction.resident or payers(deduction.household_id)[0]


def withdraw_deduction(actor: User, deduction: Deduction, reason: str, now: datetime) -> Deduction:
    """An objection upheld: reverse the deduction's entries, clear what it still owes, give the earning back.
    Raises forbidden, self_award, reason_missing, text_too_long, already_withdrawn, busy."""
    require(actor, Action.MANAGE_COMMUNITY, deduction.community_id)
    reason = _reason(reason)
    owner = _owed_by(deduction)
    ledger_rules.refuse_self_award(actor, owner)  # giving points back is deciding her points
    changing.send(deduction.community_id, moment=deduction.occurred_at, now=now)
    # the owing account and every account the deduction took from (one call, in resident-id order); the
    # entries cannot change meanwhile: only this withdrawal (under the deduction's row lock) and collection
    # (under the owing account's lock) write them
    entries = _entries(deduction)
    accounts = ledger.lock_accounts([owner, *(e.resident for e in entries)])
    deduction = locks.lock_rows(Deduction, [deduction.id])[0]
    if deduction.withdrawn_at is not None:
        raise Conflict(_l("This deduction has already been withdrawn."), code="already_withdrawn")
    for entry in _entries(deduction):  # read again under the locks
        ledger.reverse(actor, entry, reason, now, key=f"withdraw:{entry.id}")
    accounts[owner.id].owed -= deduction.owed
    deduction.owed = 0
    deduction.withdrawn_at, deduction.withdrawn_by_id, deduction.withdrawn_reason = now, actor.id, reason
    if deduction.counts_against_earning:
        _move_earning(deduction, deduction.created_at, deduction.points)  # back where it was taken from
    db.session.flush()
    audit.record(actor, AuditAction.DEDUCTION_WITHDRAWN, deduction, now, entries=len(_entries(deduction)))
    changed.send(deduction, now=now)
    return deduction


def _entries(deduction: Deduction) -> list[LedgerEntry]:
    """The entries that took the deduction's points (when recorded, and collected since), oldest first."""
    return list(db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.community_id == deduction.community_id, LedgerEntry.source_type == SOURCE,
        LedgerEntry.source_id == str(deduction.id), LedgerEntry.kind == EntryKind.DEDUCTION)
        .order_by(LedgerEntry.id)))


def of_entry(entry: LedgerEntry | None) -> Deduction | None:
    """The deduction that took this entry's points (None when the entry is not a deduction's)."""
    if entry is None or entry.source_type != SOURCE or not (entry.source_id or "").isascii() \
            or not entry.source_id.isdigit():
        return None
    deduction = get_row(Deduction, int(entry.source_id))
    return deduction if deduction is not None and deduction.community_id == entry.community_id else None


@rankings.rebuilt.connect
def _on_rebuilt(community_id: int) -> None:
    """The totals were rebuilt from the ledger: deductions that count against earning (and stand) count again,
    in the periods they were recorded in."""
    for deduction in db.session.scalars(select(Deduction).where(
            Deduction.community_id == community_id, Deduction.counts_against_earning.is_(True),
            Deduction.withdrawn_at.is_(None)).order_by(Deduction.id)):
        _move_earning(deduction, deduction.created_at, -deduction.points)


# ---- what is owed: taken from the next earning ------------------------------------------------------

@ledger.posted.connect
def _on_posted(entry: LedgerEntry, *, resident: Resident, reverses: LedgerEntry | None, now: datetime) -> None:
    """An earning entry pays what the resident owes, up to her balance. Her account is locked already (post()
    locked it): reading `owed` costs no statement, so earning without a debt costs nothing more."""
    if entry.amount <= 0 or entry.kind not in EARNING_KINDS:
        return
    account: PointsAccount | None = locks.held(locks.ACCOUNTS).get(resident.id)
    if account is None or account.owed <= 0:
        return
    collect(resident, account, entry, now)


def collect(resident: Resident, account: PointsAccount, earning: LedgerEntry, now: datetime) -> int:
    """Take what she owes (up to her balance) after `earning`, paying her owing deductions oldest first: one
    DEDUCTION entry per deduction paid. Returns the points taken."""
    left = min(account.owed, account.balance)
    if left <= 0:
        return 0
    owing = db.session.scalars(select(Deduction).where(
        Deduction.community_id == resident.community_id, Deduction.owed_by_id == resident.id, Deduction.owed > 0,
        Deduction.withdrawn_at.is_(None))
        .order_by(Deduction.created_at, Deduction.id)).all()
    taken = 0
    for i, deduction in enumerate(owing):
        part = min(deduction.owed, left - taken)
        if part <= 0:
            break
        key = f"owed:{earning.id}" if i == 0 else f"owed:{earning.id}:{deduction.id}"
        ledger.post(ledger.Posting(resident, -part, EntryKind.DEDUCTION, SOURCE, key, "", str(deduction.id)),
                    None, now)
        deduction.taken, deduction.owed = deduction.taken + part, deduction.owed - part
        taken += part
    account.owed -= taken
    db.session.flush()
    return taken


def household_at(community_id: int, building_id, unit: str | None, room: str | None) -> Household:
    """The household at a building, unit and room typed on the office's form (full-width digits read as
    ASCII). Raises not_found."""
    unit, room = ascii_form(unit or "").strip(), ascii_form(room or "").strip()
    household = db.session.scalar(select(Household).where(
        Household.community_id == community_id, Household.building_id == building_id,
        Household.unit == unit, Household.room == room)) if valid_id(building_id) and room else None
    if household is None:
        raise NotFound(_l("No household at this building, unit and room."), code="no_such_household")
    return household


def buildings(community_id: int) -> list[Building]:
    """The community's buildings, by name (the household picker)."""
    return list(db.session.scalars(select(Building).where(Building.community_id == community_id)
                                   .order_by(Building.name, Building.id)))


# ---- reading ------------------------------------------------------------------------------------------

def get_deduction(community_id: int, deduction_id) -> Deduction:
    """One of the community's deductions. Raises not_found."""
    deduction = get_row(Deduction, deduction_id)
    if deduction is None or deduction.community_id != community_id:
        raise NotFound(_l("No such deduction."))
    return deduction


def recent(actor: User, community_id: int, limit: int = 100) -> list[Deduction]:
    """The community's latest deductions, newest first (the office's page). Raises forbidden."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    return list(db.session.scalars(
        select(Deduction).where(Deduction.community_id == community_id)
        .options(joinedload(Deduction.item), joinedload(Deduction.resident),
                 joinedload(Deduction.household).joinedload(Household.building))
        .order_by(Deduction.created_at.desc(), Deduction.id.desc()).limit(limit)))


def with_photo(ids: list[int]) -> set[int]:
    """Which of these deductions have a photo (without reading the photos)."""
    return set(db.session.scalars(select(Deduction.id).where(Deduction.id.in_(ids or [-1]),
                                                             Deduction.evidence.is_not(None))))


def concerns(resident: Resident, deduction: Deduction) -> bool:
    """Whether the deduction is hers: against her, or against her whole household."""
    if deduction.resident_id is not None:
        return deduction.resident_id == resident.id
    return deduction.household_id == resident.household_id


def of_resident(resident: Resident, now: datetime, days: int = NOTICE_DAYS) -> list[Deduction]:
    """Her deductions and her household's of the last `days` days, newest first (what she is told)."""
    return list(db.session.scalars(
        select(Deduction).where(
            Deduction.household_id == resident.household_id, Deduction.created_at >= now - timedelta(days=days),
            or_(Deduction.resident_id == resident.id, Deduction.resident_id.is_(None)))
        .options(joinedload(Deduction.item))
        .order_by(Deduction.created_at.desc(), Deduction.id.desc()).limit(50)))


def vetoes_in(community_id: int, bounds: tuple[datetime, datetime] | None) -> list[Deduction]:
    """Veto deductions not withdrawn whose occurred_at falls within `bounds` (None: any time), oldest first."""
    stmt = select(Deduction).where(Deduction.community_id == community_id, Deduction.is_veto.is_(True),
                                   Deduction.withdrawn_at.is_(None))
    if bounds is not None:
        stmt = stmt.where(Deduction.occurred_at >= bounds[0], Deduction.occurred_at < bounds[1])
    return list(db.session.scalars(stmt.options(joinedload(Deduction.item))
                                   .order_by(Deduction.occurred_at, Deduction.id)))
