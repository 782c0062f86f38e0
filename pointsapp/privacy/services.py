"""Personal information (个人信息保护法): the notice and consent, showing full personal values on purpose,
a resident's own data, and erasing the personal fields of residents who moved out long ago.

What is kept, why, for how long and who sees it: docs/privacy.md.
"""
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from pointsapp.accounts.models import User
from pointsapp.accounts.services.sessions import end_all_sessions
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core.extensions import db
from pointsapp.core.localtime import local_date, to_local
from pointsapp.core.permissions import Action, require
from pointsapp.ledger.models import LedgerEntry
from pointsapp.queries.models import PointsQuery
from pointsapp.store.models import Redemption
from pointsapp.tree.models import Building, Community, Resident
from pointsapp.volunteering.models import Attendance

# The version of the notice shown at activation (templates/privacy/notice.html); a user's consent names it.
NOTICE_VERSION = "2026-12"
# What "查看完整信息" shows besides the masked list values.
REVEALED_FIELDS = ("phone", "id_tail", "birth_year")


def record_consent(user: User, now: datetime) -> None:
    """The person ticked the notice at activation: keep when, and which notice."""
    user.consent_at = now
    user.consent_version = NOTICE_VERSION


def reveal(actor: User, resident: Resident, now: datetime) -> None:
    """The office asks to see a resident's full phone, ID tail and birth year: allowed to her community's
    admins (and the city), and written to the audit log. Raises forbidden."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    audit.record(actor, AuditAction.PERSONAL_DATA_VIEWED, resident, now, fields=list(REVEALED_FIELDS))


def _iso(moment: datetime | None) -> str | None:
    return to_local(moment).isoformat() if moment else None


def resident_data(actor: User, resident: Resident) -> dict:
    """Everything kept about `resident` that is hers (her profile is added by the caller through the
    resident's own schema view): her account, her ledger entries, attendances and redemptions.
    Raises forbidden (only she, or her community's office)."""
    require(actor, Action.VIEW_RESIDENT, resident)
    account = db.session.scalar(select(User).where(User.resident_id == resident.id))
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.resident_id == resident.id)
                                 .order_by(LedgerEntry.seq)).all()
    attendances = db.session.scalars(select(Attendance).where(Attendance.resident_id == resident.id)
                                     .options(selectinload(Attendance.activity))
                                     .order_by(Attendance.checked_in_at)).all()
    redemptions = db.session.scalars(select(Redemption).where(Redemption.resident_id == resident.id)
                                     .options(selectinload(Redemption.lines), selectinload(Redemption.store))
                                     .order_by(Redemption.created_at)).all()
    asked = db.session.scalars(select(PointsQuery).where(PointsQuery.resident_id == resident.id)
                               .options(selectinload(PointsQuery.activity)).order_by(PointsQuery.id)).all()
    return {
        "account": None if account is None else {
            "phone": account.phone, "created_at": _iso(account.created_at),
            "last_login_at": _iso(account.last_login_at), "consent_at": _iso(account.consent_at),
            "consent_version": account.consent_version,
        },
        "member_card": {"number": f"{resident.id}-{resident.card_serial}", "pin_set": resident.pin_hash is not None},
        "ledger_entries": [{
            "id": e.id, "seq": e.seq, "at": _iso(e.created_at), "kind": e.kind, "amount": e.amount,
            "balance_after": e.balance_after, "reason": e.reason, "source": e.source_type, "source_id": e.source_id,
            "reverses_id": e.reverses_id, "hash": e.hash,
        } for e in entries],
        "attendances": [{
            "activity": a.activity.title, "kind": a.activity.kind, "checked_in_at": _iso(a.checked_in_at),
            "checked_out_at": _iso(a.checked_out_at), "method": a.method, "status": a.status,
            "points": a.points_awarded,
        } for a in attendances],
        "redemptions": [{
            "receipt_no": r.receipt_no, "store": r.store.name, "at": _iso(r.created_at), "points": r.total_points,
            "status": r.status, "lines": [{"name": x.name, "quantity": x.quantity, "points": x.points} for x in r.lines],
        } for r in redemptions],
        "queries": [{
            "at": _iso(q.created_at), "entry_id": q.entry_id, "activity": q.activity.title if q.activity else None,
            "text": q.text, "status": q.status, "reply": q.reply, "answered_at": _iso(q.answered_at),
        } for q in asked],
    }


# ---- retention -------------------------------------------------------------------------

def erased_name(resident_id: int) -> str:
    return f"已迁出居民#{resident_id}"


def anniversary(day: date, years: int) -> date:
    """`day` plus whole years (29 February falls on 1 March in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def _last_move_out_day(today: date, years: int) -> date:
    """The latest move-out day whose retention period has run out by `today` (its anniversary is today or
    earlier); anniversaries never go backwards, so every earlier day has run out too."""
    day = date(today.year - years, today.month, min(today.day, 28))
    while anniversary(day + timedelta(days=1), years) <= today:
        day += timedelta(days=1)
    return day


def due_for_erasure(now: datetime, community_id: int | None = None) -> list[Resident]:
    """Residents who moved out at least their community's `retention_years` ago (in China time) and whose
    personal fields are still kept, in id order."""
    today = local_date(now)
    communities = db.session.scalars(select(Community).order_by(Community.id)
                                     .where(*([Community.id == community_id] if community_id else []))).all()
    due = []
    for c in communities:
        cutoff = _last_move_out_day(today, c.retention_years)
        due += db.session.scalars(select(Resident).where(
            Resident.community_id == c.id, Resident.moved_out_on.is_not(None), Resident.moved_out_on <= cutoff,
            Resident.erased_at.is_(None)).order_by(Resident.id)).all()
    return due


def erase(actor: User | None, resident: Resident, now: datetime) -> None:
    """Erase a moved-out resident's personal fields and end her login; her ledger, attendances and
    redemptions stay (they name her by id only, so the hash chains still verify). Raises forbidden."""
    if actor is not None:
        require(actor, Action.MANAGE_COMMUNITY, resident)
    resident.name = erased_name(resident.id)
    resident.relation = ""
    resident.phone = ""
    resident.id_tail = ""
    resident.birth_year = None
    resident.pin_hash = None
    resident.pin_failures = 0
    resident.pin_locked_until = None
    resident.card_serial += 1  # a printed card still in a drawer stops working
    resident.hide_from_board = True
    resident.erased_at = now
    for building in db.session.scalars(select(Building).where(Building.leader_id == resident.id)):
        building.leader_id = None
    # her queries' words (and the replies to them) may name her or her neighbours; their outcome stays in the ledger
    db.session.execute(update(PointsQuery).where(PointsQuery.resident_id == resident.id).values(text="", reply=""))
    user = db.session.scalar(select(User).where(User.resident_id == resident.id))
    account = "none"
    if user is not None and user.grants:
        user.resident_id = None  # a staff account of the same person stays, no longer tied to her record
        account = "unlinked"
    elif user is not None:
        user.phone = f"erased-{user.id}"  # the login name is her phone number: it goes too
        user.name = resident.name
        user.password_hash = None
        user.activation_code_hash = None
        user.activation_expires_at = None
        user.is_enabled = False
        end_all_sessions(user, now, "retention")
        account = "disabled"
    db.session.flush()
    audit.record(actor, AuditAction.PERSONAL_DATA_ERASED, resident, now, moved_out_on=resident.moved_out_on,
                 account=account)


def apply_retention(now: datetime, community_id: int | None = None, *, dry_run: bool = False) -> list[Resident]:
    """Erase (or, dry run, only list) every resident due for erasure; returns them."""
    due = due_for_erasure(now, community_id)
    if not dry_run:
        for resident in due:
            erase(None, resident, now)
    return due
