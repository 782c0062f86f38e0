"""Bulk import of households and residents from the XLSX/CSV sheets community offices keep.

check_sheet() is the dry run: it streams the rows (sheets.read_rows: size, row and cell limits) and
reports each bad one with its row number and reason, and counts what an import would create. write()
re-checks the same stored bytes and writes everything or nothing (the caller's single commit; any error
leaves the session to roll back). A sheet of more than SYNC_ROWS rows is checked and imported in the
background (services.jobs), with its progress on the job.
"""
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.permissions import Action, require
from pointsapp.core.spreadsheets import xlsx_bytes
from pointsapp.core.words import labelled
from pointsapp.imports.models import ImportJob
from pointsapp.imports.services import sheets
from pointsapp.rankings.services import mask_name
from pointsapp.tree import services as tree
from pointsapp.tree.models import Building, Community, Grid, Household, Resident, household_address

# canonical column -> accepted header texts (Chinese as offices write them, and English)
COLUMNS: dict[str, tuple[str, ...]] = {
    "grid": ("网格", "所属网格", "grid"),
    "building": ("楼栋", "楼号", "楼栋号", "building"),
    "unit": ("单元", "单元号", "unit"),
    "room": ("房号", "房间号", "门牌号", "room"),
    "name": ("姓名", "居民姓名", "name"),
    "relation": ("与户主关系", "关系", "relation"),
    "phone": ("手机号", "手机号码", "联系电话", "电话", "phone"),
    "id_tail": ("身份证后四位", "身份证后4位", "id_tail"),
    "birth_year": ("出生年份", "birth_year"),
    "moved_in_on": ("入住日期", "迁入日期", "moved_in_on"),
}
REQUIRED = ("building", "unit", "room", "name")
# the sheet's column for each resident field the tree's rule checks (tree.check_resident)
RESIDENT_COLUMNS = {"name": "姓名", "relation": "与户主关系", "phone": "手机号", "id_tail": "身份证后四位",
                    "birth_year": "出生年份"}
TEMPLATE_HEADERS = ["网格", "楼栋", "单元", "房号", "姓名", "与户主关系", "手机号", "身份证后四位", "出生年份", "入住日期"]
TEMPLATE_EXAMPLE = ["第一网格", "3号楼", "1", "301", "王秀英", "户主", "13805351234", "0425", "1952", "2008-05-01"]


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Row:
    number: int
    grid: str
    building: str
    unit: str
    room: str
    name: str
    relation: str
    phone: str
    id_tail: str
    birth_year: int | None
    moved_in_on: date | None


@dataclass
class SheetReport:
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_grids: set = field(default_factory=set)
    new_buildings: set = field(default_factory=set)
    new_households: set = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    def summary(self) -> dict:
        return {"rows": len(self.rows), "errors": len(self.errors), "grids": len(self.new_grids),
                "buildings": len(self.new_buildings), "households": len(self.new_households),
                "residents": len(self.rows) if not self.errors else 0}


def _map_header(header: list[str]) -> dict[str, int]:
    lookup = {alias.lower(): key for key, aliases in COLUMNS.items() for alias in aliases}
    mapping: dict[str, int] = {}
    for index, text in enumerate(header):
        key = lookup.get(re.sub(r"\s+", "", text or "").lower())
        if key and key not in mapping:
            mapping[key] = index
    missing = [COLUMNS[k][0] for k in REQUIRED if k not in mapping]
    if missing:
        raise InvalidInput(_l("The first row must name the columns. Missing: %(cols)s."),
                           code="missing_columns", cols="、".join(missing))
    return mapping


def _parse_date(text: str) -> date | None:
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


def _unit_room(text: str) -> str:
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class _Building:  # plain values: a background check commits its progress, which expires ORM objects
    id: int
    grid_id: int | None


def check_sheet(community: Community, filename: str, content: bytes, *, max_rows: int,
                progress: Callable[[int], None] | None = None) -> SheetReport:
    """Parse and validate a sheet against one community, streaming its rows. `progress(rows read)` is
    called every PROGRESS_EVERY rows. Raises unreadable_file, unsupported_file, zip_bomb, text_too_long,
    cell_too_long, missing_columns, too_many_rows, empty_file; bad rows are reported, not raised."""
    rows = sheets.read_rows(filename, content, max_rows=max_rows)
    first = next(rows, None)
    if first is None:
        raise InvalidInput(_l("The file is empty."), code="empty_file")
    if not any(first[1]) and next(rows, None) is None:
        raise InvalidInput(_l("The file is empty."), code="empty_file")
    mapping = _map_header(first[1])

    cid = community.id
    grid_names = set(db.session.scalars(select(Grid.name).where(Grid.community_id == cid)))
    buildings = {name: _Building(bid, grid_id) for bid, name, grid_id in db.session.execute(
        select(Building.id, Building.name, Building.grid_id).where(Building.community_id == cid))}
    households = {(b, u, r): hid for hid, b, u, r in db.session.execute(
        select(Household.id, Household.building_id, Household.unit, Household.room)
        .where(Household.community_id == cid))}
    existing = set(db.session.execute(
        select(Resident.household_id, Resident.name).where(Resident.community_id == cid)).all())
    grid_names_by_id = dict(db.session.execute(select(Grid.id, Grid.name).where(Grid.community_id == cid)).all())

    report = SheetReport()
    seen: dict[tuple, int] = {}
    phone_rows: dict[str, int] = {}  # a phone -> the first row that gives it (one phone logs in one person)
    building_grid: dict[str, str] = {}
    read = 0
    for number, raw in rows:  # number: the spreadsheet's row number (the header is row 1)
        read += 1
        if progress is not None and read % PROGRESS_EVERY == 0:
            progress(read)
        def get(key, raw=raw):
            i = mapping.get(key)
            return raw[i].strip() if i is not None and i < len(raw) and raw[i] else ""
        errors: list[RowError] = []

        def bad(column, message, errors=errors, number=number):
            errors.append(RowError(number, column, str(message)))

        values = {k: get(k) for k in COLUMNS}
        for key in REQUIRED:
            if not values[key]:
                bad(COLUMNS[key][0], _l("is empty"))
        unit, room = _unit_room(values["unit"]), _unit_room(values["room"])
        for key, text in (("building", values["building"]), ("unit", unit), ("room", room)):
            if len(text) > (40 if key == "building" else 10):
                bad(COLUMNS[key][0], _l("is too long"))
        birth_year, birth_text = None, _unit_room(values["birth_year"])
        if birth_text and not birth_text.isdigit():
            bad("出生年份", _l("“%(v)s” is not a year") % {"v": values["birth_year"]})
        elif birth_text:
            birth_year = int(birth_text)
        fields, problems = tree.check_resident(tree.ResidentFields(
            name=values["name"], relation=values["relation"], phone=values["phone"], id_tail=values["id_tail"],
            birth_year=birth_year))
        flagged = {e.column for e in errors}
        for problem in problems:
            column = RESIDENT_COLUMNS[problem.field]
            if column not in flagged:  # an empty name is already reported as empty
                raw_value = values.get(problem.field, "")
                bad(column, labelled(f"“{raw_value}”", problem.message) if raw_value else problem.message)
        phone, tail = fields.phone, fields.id_tail
        moved_in = None
        try:
            moved_in = _parse_date(values["moved_in_on"])
        except ValueError:
            bad("入住日期", _l("“%(v)s” is not a date like 2020-05-01") % {"v": values["moved_in_on"]})

        bname, gname = values["building"], values["grid"]
        building = buildings.get(bname)
        if building is not None and gname and building.grid_id and grid_names_by_id.get(building.grid_id) != gname:
            bad("网格", _l("building %(b)s belongs to grid %(g)s") % {"b": bname, "g": grid_names_by_id[building.grid_id]})
        if building is None and bname and gname and building_grid.setdefault(bname, gname) != gname:
            bad("网格", _l("building %(b)s is given two different grids in this file") % {"b": bname})
        key = (bname, unit, room, values["name"])
        if values["name"] and key in seen:
            bad("姓名", _l("repeats row %(n)d") % {"n": seen[key]})
        if phone and key not in seen and "手机号" not in {e.column for e in errors}:
            if phone in phone_rows:
                bad("手机号", _l("the same phone number as row %(n)d") % {"n": phone_rows[phone]})
            else:
                phone_rows[phone] = number
        household = households.get((building.id, unit, room)) if building is not None else None
        if household is not None and (household, values["name"]) in existing:
            bad("姓名", _l("this household already has a resident with this name"))

        if errors:
            report.errors.extend(errors)
            continue
        seen[key] = number
        if gname and gname not in grid_names:
            report.new_grids.add(gname)
        if building is None:
            report.new_buildings.add(bname)
        if household is None:
            report.new_households.add((bname, unit, room))
        report.rows.append(Row(number, gname, bname, unit, room, fields.name, fields.relation,
                               phone, tail, birth_year, moved_in))
    _check_phone_owners(report, phone_rows, cid)
    if not report.rows and not report.errors:
        raise InvalidInput(_l("The file has a header row but no residents."), code="empty_file")
    return report


PHONE_CHUNK = 500  # phones looked up at a time (a bound parameter each)


def _check_phone_owners(report: SheetReport, phone_rows: dict[str, int], community_id: int) -> None:
    """Report the rows whose phone already belongs to a resident: a phone is one person's login (the
    activation slip would fail, the counter would find two people). In this community the office sees
    whose (masked name, address); in another community, where it looks only at login accounts, only that
    it is taken. Both lookups use an index (resident: community and phone; user: phone). phone_rows: each
    phone of the sheet and the first row giving it (also a row with other problems: all are reported at once)."""
    phones = sorted(phone_rows)
    owners: dict[str, tuple] = {}

    def owned(phone_column, *where):
        return db.session.execute(
            select(phone_column, Resident.name, Resident.community_id, Building.name, Household.unit, Household.room)
            .join(Household, Household.id == Resident.household_id)
            .join(Building, Building.id == Household.building_id)
            .where(*where).order_by(Resident.id))

    for start in range(0, len(phones), PHONE_CHUNK):
        chunk = phones[start:start + PHONE_CHUNK]
        here = owned(Resident.phone, Resident.community_id == community_id, Resident.phone.in_(chunk))
        for phone, name, cid, building, unit, room in here:
            owners.setdefault(phone, (name, cid, household_address(building, unit, room)))
        rest = [phone for phone in chunk if phone not in owners]
        if rest:  # login accounts of residents anywhere (another community's, or one whose phone changed)
            for phone, name, cid, building, unit, room in owned(
                    User.phone, User.resident_id == Resident.id, User.phone.in_(rest)):
                owners.setdefault(phone, (name, cid, household_address(building, unit, room)))
    if not owners:
        return
    for phone, (name, cid, address) in owners.items():
        if cid == community_id:
            message = _l("%(phone)s already belongs to %(name)s (%(address)s)") % {
                "phone": phone, "name": mask_name(name, "given"), "address": address}
        else:
            message = _l("%(phone)s already belongs to a resident of another community") % {"phone": phone}
        report.errors.append(RowError(phone_rows[phone], "手机号", str(message)))
    taken = {phone_rows[phone] for phone in owners}
    report.rows = [row for row in report.rows if row.number not in taken]
    report.errors.sort(key=lambda e: e.row)


SYNC_ROWS = 2000  # a sheet with more rows is checked and imported in the background (jobs.run_job)
MAX_PROBLEMS_KEPT = 1000  # bad rows kept on the job for its page (all are counted)
WRITE_CHUNK = 1000  # residents flushed at a time
PROGRESS_EVERY = 500  # rows between two progress reports of a background check
SHEET_DAYS = 7  # an uploaded sheet (names, phones, ID digits) is kept this long, then deleted


def purge_sheets(now: datetime, community_id: int | None = None) -> int:
    """Delete the bytes of sheets uploaded more than SHEET_DAYS ago (the job, its counts and summary stay).
    Runs with every upload and from `flask imports purge`. Returns how many were purged."""
    query = update(ImportJob).where(ImportJob.purged_at.is_(None),
                                    ImportJob.created_at < now - timedelta(days=SHEET_DAYS))
    if community_id is not None:
        query = query.where(ImportJob.community_id == community_id)
    return db.session.execute(query.values(content=b"", purged_at=now)).rowcount


def sheet_of(job: ImportJob) -> bytes:
    if job.purged_at is not None:
        raise Conflict(_l("This file was deleted %(n)d days after it was uploaded, to protect residents' data. "
                          "Please upload it again."), code="sheet_purged", n=SHEET_DAYS)
    return job.content


def record(job: ImportJob, report: SheetReport) -> None:
    """Keep a check's outcome on the job: its page shows it without reading the sheet again."""
    job.row_count = len(report.rows) + len({e.row for e in report.errors})
    job.error_count = len(report.errors)
    job.summary = json.dumps(report.summary())
    job.problems = json.dumps([[e.row, e.column, e.message] for e in report.errors[:MAX_PROBLEMS_KEPT]],
                              ensure_ascii=False)


def problems(job: ImportJob) -> list[RowError]:
    return [RowError(*p) for p in json.loads(job.problems or "[]")]


def upload(actor: User, community: Community, filename: str, content: bytes, now: datetime, *,
           max_rows: int, sync_rows: int = SYNC_ROWS) -> tuple[ImportJob, SheetReport | None]:
    """Dry run: keep the sheet (SHEET_DAYS at most) and check it now when it has at most sync_rows rows;
    a bigger one is queued for the background (status queued, report None: jobs.run_job checks it).
    Raises forbidden, and check_sheet's codes (for a queued sheet, only those found before its rows)."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    purge_sheets(now, community.id)
    rows = sheets.count_rows(filename, content, max_rows=max_rows, up_to=sync_rows)
    job = ImportJob(community_id=community.id, filename=filename[:200], content=content, status="checked",
                    task="check", created_by_id=actor.id, created_at=now)
    report = None
    if rows <= sync_rows:
        report = check_sheet(community, filename, content, max_rows=max_rows)
        record(job, report)
    else:
        job.status = "queued"
    db.session.add(job)
    db.session.flush()
    return job, report


def load_job(actor: User, community: Community, job_id: int) -> ImportJob:
    require(actor, Action.MANAGE_COMMUNITY, community)
    job = db.session.get(ImportJob, job_id)
    if job is None or job.community_id != community.id:
        raise NotFound(_l("This import no longer exists."))
    return job


def start_import(actor: User, community: Community, job: ImportJob, now: datetime, *, max_rows: int,
                 sync_rows: int = SYNC_ROWS) -> dict | None:
    """Import a checked sheet, all rows or none: at once when it has at most sync_rows rows (returns the
    summary), else queued for the background (returns None). Raises forbidden, sheet_purged,
    already_imported, sheet_has_errors, and check_sheet's codes."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    sheet_of(job)
    if job.error_count:
        raise InvalidInput(_l("The file has %(n)d problems; nothing was imported."), code="sheet_has_errors",
                           n=job.error_count)
    background = job.row_count > sync_rows
    # Claim the job with a conditional update: of two concurrent clicks exactly one gets it
    # (PostgreSQL makes the second wait for the first's row lock, then finds it taken).
    values = dict(status="queued", task="import", progress=0) if background else \
        dict(status="imported", task="import", imported_at=now)
    claimed = db.session.execute(
        update(ImportJob).where(ImportJob.id == job.id, ImportJob.status == "checked").values(**values)).rowcount
    if claimed != 1:
        raise Conflict(_l("This file has already been imported."), code="already_imported")
    if background:
        db.session.refresh(job)
        # the audit log names who started it now; the rows are written by the background runner
        audit.record(actor, "residents_imported", job, now, rows=job.row_count, background=True)
        return None
    summary = write(community, job, now, max_rows=max_rows)
    audit.record(actor, "residents_imported", job, now, **summary)
    return summary


def run_import(actor: User, community: Community, job: ImportJob, now: datetime, *, max_rows: int) -> dict:
    """Import a checked sheet now, whatever its size (the command line, tests). Raises start_import's codes."""
    return start_import(actor, community, job, now, max_rows=max_rows, sync_rows=max_rows)


def write(community: Community, job: ImportJob, now: datetime, *, max_rows: int,
          progress: Callable[[int], None] | None = None) -> dict:
    """Check the stored sheet again against the tree as it is now, then create its grids, buildings,
    households and residents (flushed, never committed: the caller's unit of work is all or nothing).
    Raises sheet_purged, sheet_has_errors, and check_sheet's codes."""
    report = check_sheet(community, job.filename, sheet_of(job), max_rows=max_rows, progress=progress)
    if report.errors:
        raise InvalidInput(_l("The file has %(n)d problems; nothing was imported."), code="sheet_has_errors",
                           n=len(report.errors))
    cid = community.id
    grids = {g.name: g for g in db.session.scalars(select(Grid).where(Grid.community_id == cid))}
    buildings = {b.name: b for b in db.session.scalars(select(Building).where(Building.community_id == cid))}
    households = {(h.building_id, h.unit, h.room): h
                  for h in db.session.scalars(select(Household).where(Household.community_id == cid))}
    for name in sorted(report.new_grids):
        grids[name] = Grid(community_id=cid, name=name, worker_name="", worker_phone="")
        db.session.add(grids[name])
    db.session.flush()
    for row in report.rows:
        if row.building not in buildings:
            grid = grids.get(row.grid) if row.grid else None
            buildings[row.building] = Building(community_id=cid, name=row.building, grid_id=grid.id if grid else None)
            db.session.add(buildings[row.building])
    db.session.flush()
    for row in report.rows:
        key = (buildings[row.building].id, row.unit, row.room)
        if key not in households:
            households[key] = Household(community_id=cid, building_id=key[0], unit=row.unit, room=row.room, note="")
            db.session.add(households[key])
    db.session.flush()
    for start in range(0, len(report.rows), WRITE_CHUNK):
        db.session.add_all(
            Resident(community_id=cid, household_id=households[(buildings[r.building].id, r.unit, r.room)].id,
                     name=r.name, relation=r.relation, phone=r.phone, id_tail=r.id_tail, birth_year=r.birth_year,
                     moved_in_on=r.moved_in_on, created_at=now)
            for r in report.rows[start:start + WRITE_CHUNK])
        db.session.flush()
    summary = report.summary()
    job.summary = json.dumps(summary)
    return summary


def template_workbook() -> bytes:
    """An XLSX with the expected header and one example row, for offices to fill in."""
    return xlsx_bytes([("居民", [TEMPLATE_HEADERS, TEMPLATE_EXAMPLE])], widths=dict.fromkeys("ABCDEFGHIJ", 14))
