"""The community tree: create, edit and search subdistricts, communities, grids, buildings,
households and residents."""
import re
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import Action, Actor, require
from pointsapp.core.text import ascii_form, one_line
from pointsapp.core.validation import clean_id_tail, clean_phone, is_id_tail, is_phone
from pointsapp.tree.models import Building, Community, Grid, Household, Resident, Subdistrict
from pointsapp.tree.services import search


def _name(value: str, max_len: int = 80) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(_l("Please enter a name."), code="name_missing")
    if len(text) > max_len:
        raise InvalidInput(_l("The name is too long (at most %(n)d characters)."), code="name_too_long", n=max_len)
    return text


def _insert(obj, conflict_message) -> None:
    """Add and flush inside a savepoint so a unique violation becomes a Conflict, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.add(obj)
    except IntegrityError as exc:
        raise Conflict(conflict_message, code="already_exists") from exc


def get_in_community(model, community_id: int, object_id: int):
    """Load an object of one community or raise not_found (never leak another community's rows)."""
    obj = db.session.get(model, object_id)
    if obj is None or obj.community_id != community_id:
        raise NotFound(_l("Not found in this community."))
    return obj


def get_community(community_id: int) -> Community:
    """The community with that id. Raises not_found (also for ids no database column can hold)."""
    community = get_row(Community, community_id)
    if community is None:
        raise NotFound(_l("No such community."), code="not_found")
    return community


OFFICE_HOURS_MAX = 100


def office_contacts() -> list[Community]:
    """Every community's office (name, address, phone, hours) for a visitor who is not logged in, by name."""
    return list(db.session.scalars(select(Community).order_by(Community.name, Community.id)))


def set_office_contact(actor: Actor, community: Community, phone: str, hours: str, now: datetime) -> None:
    """The office's phone and opening hours, shown on residents' pages. Raises forbidden, invalid_contact."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    phone, hours = ascii_form(phone or ""), one_line(hours or "")
    if len(phone) > 30 or len(hours) > OFFICE_HOURS_MAX:
        raise InvalidInput(_l("The phone can have at most 30 characters and the hours %(n)d."),
                           code="invalid_contact", n=OFFICE_HOURS_MAX)
    if phone and not re.fullmatch(r"[0-9+\- ()]{3,30}", phone):
        raise InvalidInput(_l("Enter the phone number with digits (and - or spaces)."), code="invalid_contact")
    community.phone, community.office_hours = phone, hours
    db.session.flush()


def create_subdistrict(actor: Actor, name: str, city: str, now: datetime) -> Subdistrict:
    """Raises forbidden, name_missing, already_exists."""
    require(actor, Action.MANAGE_CITY)
    sub = Subdistrict(name=_name(name), city=(city or "").strip())
    _insert(sub, _l("A subdistrict with this name exists."))
    return sub


def create_community(actor: Actor, subdistrict: Subdistrict, name: str, address: str, now: datetime) -> Community:
    """Raises forbidden, name_missing, already_exists."""
    require(actor, Action.MANAGE_CITY)
    community = Community(subdistrict_id=subdistrict.id, name=_name(name), address=(address or "").strip())
    _insert(community, _l("This subdistrict already has a community with this name."))
    return community


def create_grid(actor: Actor, community: Community, name: str, worker_name: str, worker_phone: str,
                now: datetime) -> Grid:
    """Raises forbidden, name_missing, invalid_phone, already_exists."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    phone = clean_phone(worker_phone)
    if phone and not is_phone(phone):
        raise InvalidInput(_l("Please enter an 11-digit mobile number."), code="invalid_phone")
    grid = Grid(community_id=community.id, name=_name(name), worker_name=(worker_name or "").strip(),
                worker_phone=phone)
    _insert(grid, _l("This community already has a grid with this name."))
    return grid


def create_building(actor: Actor, community: Community, name: str, grid_id: int | None, now: datetime) -> Building:
    """Raises forbidden, name_missing, not_found (grid), already_exists."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    if grid_id:
        get_in_community(Grid, community.id, grid_id)
    building = Building(community_id=community.id, name=_name(name, 40), grid_id=grid_id or None)
    _insert(building, _l("This community already has a building with this name."))
    return building


def set_building_leader(actor: Actor, building: Building, resident_id: int | None, now: datetime) -> None:
    """Appoint (or clear) the building leader. Raises forbidden, not_found, leader_not_in_building."""
    require(actor, Action.MANAGE_COMMUNITY, building)
    if resident_id is None:
        building.leader_id = None
        return
    resident = get_in_community(Resident, building.community_id, resident_id)
    if resident.moved_out_on is not None:
        raise InvalidInput(_l("This resident has moved out."), code="resident_moved_out")
    building.leader_id = resident.id


def _room_part(value, label) -> str:
    text = str(value or "").strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not text or len(text) > 10:
        raise InvalidInput(_l("Please enter the %(what)s."), code="address_missing", what=label)
    return text


def create_household(actor: Actor, building: Building, unit: str, room: str, now: datetime) -> Household:
    """Raises forbidden, address_missing, already_exists."""
    require(actor, Action.MANAGE_COMMUNITY, building)
    household = Household(community_id=building.community_id, building_id=building.id,
                          unit=_room_part(unit, _l("unit")), room=_room_part(room, _l("room number")), note="")
    _insert(household, _l("This household already exists."))
    return household


@dataclass
class ResidentFields:
    name: str
    relation: str = ""
    phone: str = ""
    id_tail: str = ""
    birth_year: int | None = None
    moved_in_on: date | None = None


NAME_MAX, RELATION_MAX = 40, 20


@dataclass(frozen=True)
class FieldProblem:
    field: str  # a ResidentFields attribute
    code: str
    message: str


def check_resident(fields: ResidentFields) -> tuple[ResidentFields, list[FieldProblem]]:
    """The one rule for a resident's fields, used by the office's form and by the import alike: the
    cleaned fields and every problem found (the form shows the first, the import reports each by row)."""
    problems = []
    name = (fields.name or "").strip()
    if not name:
        problems.append(FieldProblem("name", "name_missing", str(_l("Please enter a name."))))
    elif len(name) > NAME_MAX:
        problems.append(FieldProblem("name", "name_too_long",
                                     str(_l("The name is too long (at most %(n)d characters).")) % {"n": NAME_MAX}))
    phone = clean_phone(fields.phone)
    if phone and not is_phone(phone):
        problems.append(FieldProblem("phone", "invalid_phone", str(_l("Please enter an 11-digit mobile number."))))
    tail = clean_id_tail(fields.id_tail)
    if tail and not is_id_tail(tail):
        problems.append(FieldProblem("id_tail", "invalid_id_tail", str(
            _l("The ID-card tail is the last 4 characters (digits, or X at the end)."))))
    if fields.birth_year is not None and not 1900 <= fields.birth_year <= 2100:
        problems.append(FieldProblem("birth_year", "invalid_birth_year", str(_l("The birth year looks wrong."))))
    cleaned = ResidentFields(name=name, relation=(fields.relation or "").strip()[:RELATION_MAX], phone=phone,
                             id_tail=tail, birth_year=fields.birth_year, moved_in_on=fields.moved_in_on)
    return cleaned, problems


def _clean_resident(fields: ResidentFields) -> ResidentFields:
    cleaned, problems = check_resident(fields)
    if problems:
        raise InvalidInput(problems[0].message, code=problems[0].code)
    return cleaned


def add_resident(actor: Actor, household: Household, fields: ResidentFields, now: datetime) -> Resident:
    """Raises forbidden, name_missing, invalid_phone, invalid_id_tail, already_exists."""
    require(actor, Action.MANAGE_COMMUNITY, household)
    f = _clean_resident(fields)
    resident = Resident(community_id=household.community_id, household_id=household.id, name=f.name,
                        relation=f.relation, phone=f.phone, id_tail=f.id_tail, birth_year=f.birth_year,
                        moved_in_on=f.moved_in_on, created_at=now)
    _insert(resident, _l("This household already has a resident with this name."))
    return resident


def update_resident(actor: Actor, resident: Resident, fields: ResidentFields, now: datetime) -> Resident:
    """Raises forbidden, name_missing, invalid_phone, invalid_id_tail, already_exists."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    f = _clean_resident(fields)
    for attr in ("name", "relation", "phone", "id_tail", "birth_year", "moved_in_on"):
        setattr(resident, attr, getattr(f, attr))
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict(_l("This household already has a resident with this name."), code="already_exists") from exc
    return resident


def move_out(actor: Actor, resident: Resident, on: date, now: datetime) -> None:
    """Mark a resident as moved out; nothing is deleted. Raises forbidden, already_moved_out, invalid_date."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    if resident.moved_out_on is not None:
        raise Conflict(_l("This resident has already moved out."), code="already_moved_out")
    if resident.moved_in_on and on < resident.moved_in_on:
        raise InvalidInput(_l("The move-out date is before the move-in date."), code="invalid_date")
    resident.moved_out_on = on


def mask_phone(phone: str) -> str:
    """13912345678 → 139****5678: enough to tell two people apart in a list (the office's, the counter's)."""
    phone = phone or ""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def search_residents(community_id: int, query: str, *, limit: int = 50, include_moved_out: bool = False):
    """Residents of one community matching a name, phone, or room, best first (tree.search, which also tells
    the pages how many there are in all)."""
    return search.find_residents(community_id, query, limit=limit, include_moved_out=include_moved_out).residents


def community_counts(community_id: int) -> dict:
    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model)
                                 .where(model.community_id == community_id, *where))
    return {
        "grids": count(Grid),
        "buildings": count(Building),
        "households": count(Household),
        "residents": count(Resident, Resident.moved_out_on.is_(None)),
    }
