"""A community's ledger entries for a date range, as CSV (UTF-8 with BOM, for Excel) or XLSX
(core.spreadsheets: no name or reason becomes a formula)."""
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import aliased

from pointsapp.accounts.models import User
from pointsapp.core.errors import InvalidInput
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_local
from pointsapp.core.periods import CHINA
from pointsapp.core.permissions import Action, require
from pointsapp.core.schemas import MAX_YEAR, MIN_YEAR
from pointsapp.core.spreadsheets import csv_bytes, xlsx_bytes
from pointsapp.ledger.models import LedgerEntry
from pointsapp.tree.models import Building, Household, Resident, household_address

# Headers and kinds in the reader's language (the office may read English); the reason column is the entry's
# stored reason, as the hash chain covers it.
HEADERS = [_l("Entry no."), _l("Time"), _l("Resident"), _l("Address"), _l("Kind"), _l("Points"), _l("Balance"),
           _l("Source"), _l("Source no."), _l("Reason as recorded"), _l("By"), _l("Reverses entry no."), _l("Hash")]
KIND_LABELS = {"award": _l("Volunteer service"), "manual_award": _l("Award by the office"),
               "redemption": _l("Redeemed at the supermarket"), "manual_deduction": _l("Deduction by the office"),
               "reversal": _l("Reversal"), "expiry": _l("Points expired")}
MAX_DAYS = 366 * 3


def _range(start: date, end: date) -> tuple[datetime, datetime]:
    if start is None or end is None:
        raise InvalidInput(_l("Choose a start and an end date."), code="invalid_range")
    if start.year < MIN_YEAR or end.year > MAX_YEAR:  # 9999-12-31 has no next day to end on
        raise InvalidInput(_l("Choose a date like 2026-11-25."), code="invalid_range")
    if end < start:
        raise InvalidInput(_l("The end date is before the start date."), code="invalid_range")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(_l("Export at most three years at a time."), code="invalid_range")
    return (datetime.combine(start, time(), CHINA), datetime.combine(end + timedelta(days=1), time(), CHINA))


def rows(actor: User, community_id: int, start: date, end: date) -> Iterator[list]:
    """Entry rows in time order. Raises forbidden, invalid_range (before the first row)."""
    require(actor, Action.MANAGE_COMMUNITY, community_id)
    return _rows(community_id, *_range(start, end))


def _rows(community_id: int, begin: datetime, stop: datetime) -> Iterator[list]:
    who = aliased(User)
    stmt = (select(LedgerEntry, Resident.name, Building.name, Household.unit, Household.room, who.name)
            .join(Resident, Resident.id == LedgerEntry.resident_id)
            .join(Household, Household.id == Resident.household_id)
            .join(Building, Building.id == Household.building_id)
            .outerjoin(who, who.id == LedgerEntry.actor_id)
            .where(LedgerEntry.community_id == community_id, LedgerEntry.created_at >= begin,
                   LedgerEntry.created_at < stop)
            .order_by(LedgerEntry.created_at, LedgerEntry.id).execution_options(yield_per=2000))
    for e, name, building, unit, room, actor_name in db.session.execute(stmt):
        yield [e.id, format_local(e.created_at, "%Y-%m-%d %H:%M:%S"), name,
               household_address(building, unit, room), str(KIND_LABELS.get(e.kind, e.kind)), e.amount,
               e.balance_after, e.source_type, e.source_id, e.reason, actor_name or str(_l("System")),
               e.reverses_id or "", e.hash]


def as_csv(actor: User, community_id: int, start: date, end: date) -> bytes:
    entries = rows(actor, community_id, start, end)  # checks come first, before any row is written
    return csv_bytes([[str(h) for h in HEADERS], *entries])


def as_xlsx(actor: User, community_id: int, start: date, end: date) -> bytes:
    entries = rows(actor, community_id, start, end)
    return xlsx_bytes([(str(_l("Points ledger")), _with_header(entries))])


def _with_header(entries: Iterator[list]) -> Iterator[list]:
    yield [str(h) for h in HEADERS]
    yield from entries
