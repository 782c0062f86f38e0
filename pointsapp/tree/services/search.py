"""Finding a resident by what a clerk or a team lead types: a name, a phone number or a room.

One search for every page that looks a resident up (the counter, the lead's activity and team pages, the
office's list). People write a room many ways: the app prints 3号楼1单元301, and they type "3号楼 301",
"1单元301", "3-1-301", "3栋1单元301室", "３＃１－３０１" or just "301". The query is read into its parts
(building number, unit, room), and the best matches come first: the household the address names; a
phone number typed in full; a name typed in full before names that begin or contain it. A list cut at
its limit says so, with the total and how to narrow it (`Found.note`).

Statements per search: at most three, whatever the number of matches (the buildings of the community
when an address names one, the page of residents with their households and buildings, and a count when
the page is cut); two more when an address with a slip in its building or unit is widened to its room. Rooms are read through (community_id, room) and the household's unique
(community_id, building_id, unit, room); phones and names through (community_id, phone / name): no
statement reads the whole resident table.
"""
import re
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import contains_eager

from pointsapp.core.extensions import db
from pointsapp.core.text import ascii_form
from pointsapp.tree.models import Building, Household, Resident

# What follows a number in an address: the building (号楼, 栋, 幢, 座, 楼, #), the unit (单元) or the room
# (室, 户). A bare 号 is the building's when more numbers follow ("3号1单元301"), else the room's ("301号").
_BUILDING, _UNIT, _ROOM = "building", "unit", "room"
_MARKS = (("号楼", _BUILDING), ("单元", _UNIT), ("栋", _BUILDING), ("幢", _BUILDING), ("座", _BUILDING),
          ("楼", _BUILDING), ("#", _BUILDING), ("室", _ROOM), ("户", _ROOM), ("号", "号"))
_PART = re.compile(r"(\d{1,6})\s*(" + "|".join(re.escape(m) for m, _ in _MARKS) + r")?")
_SEPARATORS = re.compile(r"[\s\-_/.,，、·—–~]+")
_PHONE_DIGITS = 7  # this many digits or more, with nothing else: a phone number, not a room
_LEADING_NUMBER = re.compile(r"^\s*(\d+)")


@dataclass
class Address:
    """The parts of a room typed into the search; None: not given. `building_or_unit`: the first of two
    bare numbers ("1-301"), which may be either."""
    building: int | None = None
    unit: str | None = None
    room: str | None = None
    building_or_unit: str | None = None

    @property
    def names_more_than_the_room(self) -> bool:
        return any(x is not None for x in (self.building, self.unit, self.building_or_unit))


@dataclass
class Query:
    kind: str  # "all" (nothing typed), "room", "phone", "digits" (a room or part of a phone), "name"
    text: str = ""
    address: Address | None = None


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def read_query(typed: str | None) -> Query:
    """What the typed search asks for (see the module's docstring)."""
    text = ascii_form(typed or "")[:100]
    if not text:
        return Query("all")
    bare = _SEPARATORS.sub("", text)
    if bare.isdigit():
        if _SEPARATORS.search(text) is None:  # one number: a phone, or a room or part of a phone
            return Query("phone", bare) if len(bare) >= _PHONE_DIGITS else Query("digits", bare, Address(room=bare))
        if len(bare) >= 10:  # 138 0535 1234: no address has that many digits
            return Query("phone", bare)
    address = _read_address(text)
    if address is not None:
        return Query("room", text, address)
    if bare.isdigit() and len(bare) >= _PHONE_DIGITS:
        return Query("phone", bare)
    return Query("name", text)


def _read_address(text: str) -> Address | None:
    parts: list[list] = []  # [number, role or None]
    rest = _PART.sub(lambda m: parts.append([m.group(1), dict(_MARKS).get(m.group(2) or "")]) or " ", text)
    if _SEPARATORS.sub("", rest) or not 1 <= len(parts) <= 3:
        return None  # other words (a name), or too many numbers for an address
    for i, part in enumerate(parts):
        if part[1] == "号":
            part[1] = _BUILDING if i < len(parts) - 1 else _ROOM
    roles = [role for _, role in parts if role]
    if len(roles) != len(set(roles)):
        return None
    address = Address()
    bare = [part for part in parts if part[1] is None]
    if bare and _ROOM not in roles and bare[-1] is parts[-1]:
        bare.pop()[1] = _ROOM  # a room is written last
    free = [role for role in (_BUILDING, _UNIT) if role not in roles]
    if len(bare) == 1 and len(free) == 2:
        bare[0][1] = "either"  # "1-301": building 1 or unit 1
    elif len(bare) > len(free):
        return None
    else:
        for part, role in zip(bare, free, strict=False):
            part[1] = role
    for number, role in parts:
        if role == _BUILDING:
            address.building = int(number)
        elif role == _UNIT:
            address.unit = str(int(number))
        elif role == _ROOM:
            address.room = number
        elif role == "either":
            address.building_or_unit = str(int(number))
    return address


@dataclass
class Found:
    """One page of matches, best first, and how many there are in all."""
    residents: list[Resident] = field(default_factory=list)
    total: int = 0
    query: Query = field(default_factory=lambda: Query("all"))
    widened: bool = False  # no household at the address typed: these share its room number elsewhere

    @property
    def is_cut(self) -> bool:
        return self.total > len(self.residents)

    @property
    def note(self) -> str:
        """What the page says under a cut or widened list ("" when the list is whole)."""
        parts = []
        if self.widened:
            parts.append(_l("Nobody lives at that address; these residents live in room %(room)s of other buildings.",
                            room=self.query.address.room))
        if self.is_cut:
            shown, total = len(self.residents), self.total
            if self.query.kind in ("room", "digits"):
                parts.append(_l("Showing the first %(shown)d of %(total)d residents; add the building or unit "
                                "number to narrow the list (e.g. 3号楼1单元301).", shown=shown, total=total))
            elif self.query.kind == "phone":
                parts.append(_l("Showing the first %(shown)d of %(total)d residents; type more of the phone number "
                                "to narrow the list.", shown=shown, total=total))
            elif self.query.kind == "name":
                parts.append(_l("Showing the first %(shown)d of %(total)d residents; type the full name, or search "
                                "by room or phone number.", shown=shown, total=total))
            else:
                parts.append(_l("Showing the first %(shown)d of %(total)d residents; type a name, a phone number "
                                "or a room to narrow the list.", shown=shown, total=total))
        return " ".join(str(p) for p in parts)


def _building_ids(community_id: int, number: int) -> list[int]:
    """The buildings a typed number names: "3" is 3号楼, 3栋, 3幢 or 03号楼, whichever the community uses."""
    rows = db.session.execute(select(Building.id, Building.name).where(Building.community_id == community_id))
    ids = []
    for building_id, name in rows:
        m = _LEADING_NUMBER.match(ascii_form(name))
        if m and int(m.group(1)) == number:
            ids.append(building_id)
    return ids or [-1]


def _like(text: str, start: str = "%", end: str = "%"):
    return start + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + end


def _address_match(community_id: int, address: Address, *, exact: bool):
    """Households at the address (exact), or with its room number anywhere (not exact)."""
    where = [Household.room == address.room] if address.room is not None else []
    if exact:
        if address.building is not None:
            where.append(Household.building_id.in_(_building_ids(community_id, address.building)))
        if address.unit is not None:
            where.append(Household.unit == address.unit)
        if address.building_or_unit is not None:
            number = address.building_or_unit
            where.append(or_(Household.unit == number,
                             Household.building_id.in_(_building_ids(community_id, int(number)))))
    return and_(*where) if where else literal(True)


def _match(community_id: int, q: Query, *, exact: bool = True):
    """(the condition, the rank expression: 0 best)."""
    if q.kind == "all":
        return literal(True), literal(0)
    if q.kind == "room":
        return _address_match(community_id, q.address, exact=exact), literal(0)
    if q.kind == "phone":
        if len(q.text) >= 11:  # a whole number: read through (community_id, phone), best of all
            return Resident.phone == q.text, literal(0)
        return Resident.phone.like(_like(q.text), escape="\\"), literal(1)
    if q.kind == "digits":  # a room number ("301"), or four or more digits of a phone ("0535", "1234")
        conditions = [Household.room == q.text]
        if len(q.text) >= 4:
            conditions.append(Resident.phone.like(_like(q.text), escape="\\"))
        return or_(*conditions), case((Household.room == q.text, 0), else_=1)
    return (Resident.name.like(_like(q.text), escape="\\"),
            case((Resident.name == q.text, 0), (Resident.name.like(_like(q.text, start=""), escape="\\"), 1), else_=2))


def find_residents(community_id: int, typed: str | None, *, limit: int = 20,
                   include_moved_out: bool = False) -> Found:
    """Residents of one community matching a name, phone or room, best first, at most `limit`, with the
    total (see the module's docstring)."""
    q = read_query(typed)
    found = _page(community_id, q, limit, include_moved_out, exact=True)
    if not found.residents and q.kind == "room" and q.address.room and q.address.names_more_than_the_room:
        found = _page(community_id, q, limit, include_moved_out, exact=False)  # a slip in the building or unit
        found.widened = bool(found.residents)
    return found


def _page(community_id: int, q: Query, limit: int, include_moved_out: bool, *, exact: bool) -> Found:
    condition, rank = _match(community_id, q, exact=exact)
    where = [Resident.community_id == community_id, Household.community_id == community_id, condition]
    if not include_moved_out:
        where.append(Resident.moved_out_on.is_(None))
    stmt = (select(Resident).join(Household, Household.id == Resident.household_id)
            .join(Building, Building.id == Household.building_id).where(*where))
    # the lists show each resident's address: household and building come with the joins already made;
    # buildings in their natural order (2号楼 before 10号楼), then unit and room
    residents = db.session.scalars(
        stmt.options(contains_eager(Resident.household).contains_eager(Household.building))
        .order_by(rank, func.length(Building.name), Building.name, func.length(Household.unit), Household.unit,
                  func.length(Household.room), Household.room, Resident.id)
        .limit(limit + 1)).unique().all()  # one more tells whether the list is cut
    total = len(residents)
    residents = residents[:limit]
    if total > limit:
        total = db.session.scalar(select(func.count()).select_from(
            select(Resident.id).join(Household, Household.id == Resident.household_id)
            .join(Building, Building.id == Household.building_id).where(*where).subquery()))
    return Found(list(residents), total, q)


@dataclass
class HouseholdsPage:
    """One page of a community's tree: households in their natural order (building, unit, room) with the
    residents shown under each, and how many households match in all."""
    households: list[Household] = field(default_factory=list)
    residents: dict[int, list[Resident]] = field(default_factory=dict)
    total: int = 0


def households_page(community_id: int, typed: str | None, *, building_id: int | None = None, page: int = 1,
                    per_page: int = 50, include_moved_out: bool = False) -> HouseholdsPage:
    """The tree as the office's pages walk it (buildings, their households, their residents), a page of households
    at a time: of one building (`building_id`) or all; with a search (`typed`, read as find_residents reads it),
    only the households with a matching resident, and under each only the residents who match. Three statements."""
    q = read_query(typed)
    condition, _rank = _match(community_id, q)
    people = [Resident.community_id == community_id, Resident.household_id == Household.id]
    if not include_moved_out:
        people.append(Resident.moved_out_on.is_(None))
    where = [Household.community_id == community_id]
    if building_id is not None:
        where.append(Household.building_id == building_id)
    if q.kind != "all":
        where.append(select(Resident.id).where(*people, condition).correlate(Household).exists())
    stmt = select(Household).join(Building, Building.id == Household.building_id).where(*where)
    total = db.session.scalar(select(func.count()).select_from(stmt.with_only_columns(Household.id).subquery()))
    households = db.session.scalars(
        stmt.options(contains_eager(Household.building))
        .order_by(func.length(Building.name), Building.name, func.length(Household.unit), Household.unit,
                  func.length(Household.room), Household.room, Household.id)
        .offset((page - 1) * per_page).limit(per_page)).unique().all()
    residents: dict[int, list[Resident]] = {h.id: [] for h in households}
    if households:
        rows = db.session.scalars(
            select(Resident).join(Household, Household.id == Resident.household_id)
            .where(*people, Resident.household_id.in_(list(residents)), condition if q.kind != "all" else literal(True))
            .options(contains_eager(Resident.household))
            .order_by(Resident.id))
        for resident in rows:
            residents[resident.household_id].append(resident)
    return HouseholdsPage(list(households), residents, total)
