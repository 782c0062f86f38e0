"""Leaderboards from earning totals (models/rankings.py), kept up to date inside ledger.post().

Totals move only with earning (awards, and reversals of awards): spending never lowers a rank.
Ties share a rank (1, 2, 2, 4)."""
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import TextClause, and_, delete, func, or_, select, text
from sqlalchemy.orm import aliased

from pointsapp.core.errors import InvalidInput
from pointsapp.core.extensions import db
from pointsapp.core.periods import CHINA
from pointsapp.ledger.models import EARNING_KINDS, EntryKind, LedgerEntry
from pointsapp.ledger.services.posting import Posting, posted, preparing
from pointsapp.rankings.models import EarningTotal
from pointsapp.tree.models import Building, Grid, Household, Resident, household_address
from pointsapp.volunteering.models import Activity, Attendance, Team

# Sent by rebuild() once the ledger's earning is back in the totals: rebuilt.send(community_id). Features that
# move the totals themselves (deductions against earning) subscribe and add theirs again.
rebuilt = Namespace().signal("rankings.rebuilt")

SUBJECTS = ("resident", "household", "building", "grid", "team")
METRICS = ("points", "minutes", "attendances")


def period_keys(moment: datetime) -> list[str]:
    local = moment.astimezone(CHINA)
    return [f"M{local.year}-{local.month:02d}", f"Q{local.year}-{(local.month - 1) // 3 + 1}", f"Y{local.year}", "A"]


@dataclass(frozen=True)
class Earning:
    points: int
    minutes: int = 0
    attendances: int = 0
    team_id: int | None = None


def _attendance_earning(entry: LedgerEntry, sign: int) -> tuple[int, int, int | None]:
    if entry.source_type != "attendance" or not (entry.source_id or "").isdigit():
        return 0, 0, None
    attendance = db.session.get(Attendance, int(entry.source_id))
    if attendance is None:
        return 0, 0, None
    activity = db.session.get(Activity, attendance.activity_id)
    minutes = activity.service_minutes(attendance.checked_in_at, attendance.checked_out_at)
    return sign * minutes, sign, activity.team_id


def earning_of(entry: LedgerEntry, reversed_entry: LedgerEntry | None) -> Earning | None:
    """What an entry adds to the earning totals, or None when it is not earning."""
    if entry.kind in EARNING_KINDS:
        minutes, count, team_id = _attendance_earning(entry, 1)
        return Earning(entry.amount, minutes, count, team_id)
    if entry.kind == EntryKind.REVERSAL and reversed_entry is not None and reversed_entry.kind in EARNING_KINDS:
        minutes, count, team_id = _attendance_earning(reversed_entry, -1)
        return Earning(entry.amount, minutes, count, team_id)
    return None


@posted.connect
def _on_posted(entry: LedgerEntry, *, resident: Resident, reverses: LedgerEntry | None, now: datetime) -> None:
    """Every earning entry (and every reversal of one) moves the totals, in the posting's transaction."""
    earning = earning_of(entry, reverses)
    if earning is not None:
        record(resident, now, earning)


@preparing.connect
def _on_preparing(postings: tuple[Posting, ...], *, now: datetime) -> None:
    """A batch is about to post: take every total it will move now (created at zero where missing), all of
    a community's in one sorted statement, so batches and single postings lock totals in one order."""
    rows: dict[int, set[tuple[str, str, int]]] = {}
    for p in postings:
        source = p.reverses if p.kind == EntryKind.REVERSAL else p
        if source is None or source.kind not in EARNING_KINDS:
            continue
        team_id = _team_of(source.source_type, source.source_id)
        rows.setdefault(p.resident.community_id, set()).update(
            (period, kind, sid) for period in period_keys(now) for kind, sid in _subjects(p.resident, team_id))
    for community_id in sorted(rows):
        ordered = sorted(rows[community_id])
        for start in range(0, len(ordered), 500):  # (in order, a statement's parameters kept within bounds)
            _apply(community_id, ordered[start:start + 500], Earning(0))


def _team_of(source_type: str, source_id: str | None) -> int | None:
    if source_type != "attendance" or not (source_id or "").isdigit():
        return None
    attendance = db.session.get(Attendance, int(source_id))
    return db.session.get(Activity, attendance.activity_id).team_id if attendance else None


def _subjects(resident: Resident, team_id: int | None) -> list[tuple[str, int]]:
    building_id, grid_id = db.session.execute(  # one statement: this runs in every earning posting
        select(Building.id, Building.grid_id).join(Household, Household.building_id == Building.id)
        .where(Household.id == resident.household_id)).one()
    subjects = [("resident", resident.id), ("household", resident.household_id), ("building", building_id)]
    if grid_id:
        subjects.append(("grid", grid_id))
    if team_id:
        subjects.append(("team", team_id))
    return subjects


def record(resident: Resident, moment: datetime, earning: Earning) -> None:
    """Add an earning to every period and subject it counts for (one upsert statement)."""
    # rows in one fixed order, so concurrent postings lock shared rows (household, building …) alike
    subjects = sorted(_subjects(resident, earning.team_id))
    _apply(resident.community_id, [(period, kind, sid) for period in sorted(period_keys(moment))
                                   for kind, sid in subjects], earning)


def record_household(household: Household, moment: datetime, earning: Earning) -> None:
    """Add an earning (a negative one: a deduction against a whole household) to the household's, its building's
    and its grid's totals of every period of `moment` (one upsert statement), as record() does for a resident."""
    building_id, grid_id = db.session.execute(select(Building.id, Building.grid_id).where(
        Building.id == household.building_id)).one()
    subjects = sorted([("household", household.id), ("building", building_id)] + ([("grid", grid_id)] if grid_id else []))
    _apply(household.community_id, [(period, kind, sid) for period in sorted(period_keys(moment))
                                    for kind, sid in subjects], earning)


def _apply(community_id: int, rows: list[tuple[str, str, int]], earning: Earning) -> None:
    """Add `earning` to these totals (creating them), in the order given."""
    params = {"community_id": community_id, "points": earning.points, "minutes": earning.minutes,
              "attendances": earning.attendances}
    for i, (period, kind, sid) in enumerate(rows):
        params[f"period{i}"], params[f"kind{i}"], params[f"id{i}"] = period, kind, sid
    db.session.execute(_upsert(len(rows)), params)


_UPSERTS: dict[int, TextClause] = {}


def _upsert(n: int) -> TextClause:
    """The upsert of n totals, built once per n (12 to 20). Written out because SQLAlchemy compiles a
    multi-row insert().values() anew on every call: that and the ORM's bulk path took half of
    record()'s time, about 3 ms a posting. The same SQL runs on PostgreSQL and SQLite (>= 3.24)."""
    if n not in _UPSERTS:
        values = ", ".join(f"(:community_id, :period{i}, :kind{i}, :id{i}, :points, :minutes, :attendances)"
                           for i in range(n))
        _UPSERTS[n] = text(
            "INSERT INTO earning_total (community_id, period, subject_type, subject_id, points, minutes, attendances)"
            f" VALUES {values} ON CONFLICT (community_id, period, subject_type, subject_id) DO UPDATE SET"
            " points = earning_total.points + excluded.points,"
            " minutes = earning_total.minutes + excluded.minutes,"
            " attendances = earning_total.attendances + excluded.attendances")
    return _UPSERTS[n]


def rebuild(community_id: int) -> int:
    """Recompute a community's totals from the ledger (after an import of history, or to check)."""
    db.session.execute(delete(EarningTotal).where(EarningTotal.community_id == community_id))
    count = 0
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.community_id == community_id)
                                 .order_by(LedgerEntry.id)).all()
    by_id = {e.id: e for e in entries}
    for entry in entries:
        earning = earning_of(entry, by_id.get(entry.reverses_id))
        if earning is not None:
            record(db.session.get(Resident, entry.resident_id), entry.created_at, earning)
            count += 1
    rebuilt.send(community_id)  # what else moves the totals (deductions against earning) adds itself again
    db.session.flush()
    return count


# ---- reading -----------------------------------------------------------------------------------

@dataclass
class Place:
    rank: int
    subject_id: int
    value: int
    label: str = ""


def ranked(rows) -> list[Place]:
    """(subject_id, value) rows, best first, as places: equal values share a rank (1, 2, 2, 4)."""
    places: list[Place] = []
    for i, (sid, value) in enumerate(rows):
        rank = places[-1].rank if places and value == places[-1].value else i + 1
        places.append(Place(rank, sid, int(value or 0)))
    return places


PERIOD_KEY = re.compile(r"A|Y\d{4}|Q\d{4}-[1-4]|M\d{4}-(0[1-9]|1[0-2])")  # the keys period_keys() writes


def check_period(period: str) -> str:
    """The one check of a period key (M2026-11, Q2026-4, Y2026, A). Raises invalid_period."""
    if isinstance(period, str) and PERIOD_KEY.fullmatch(period):
        return period
    raise InvalidInput(_l("Unknown period."), code="invalid_period")


def leaderboard(community_id: int, period: str, subject_type: str, metric: str = "points",
                limit: int = 50) -> list[Place]:
    """The top `limit` subjects; equal values share a rank (1, 2, 2, 4)."""
    if subject_type not in SUBJECTS or metric not in METRICS:
        raise InvalidInput(_l("Unknown ranking."), code="invalid_ranking")
    column = getattr(EarningTotal, metric)
    rows = db.session.execute(
        select(EarningTotal.subject_id, column).where(
            EarningTotal.community_id == community_id, EarningTotal.period == check_period(period),
            EarningTotal.subject_type == subject_type, column > 0)
        .order_by(column.desc(), EarningTotal.subject_id).limit(limit)).all()
    places = ranked(rows)
    _label(places, subject_type)
    return places


def rank_of(community_id: int, period: str, subject_type: str, subject_id: int,
            metric: str = "points") -> Place | None:
    """One subject's place (None when it has earned nothing in the period)."""
    column = getattr(EarningTotal, metric)
    base = (EarningTotal.community_id == community_id, EarningTotal.period == check_period(period),
            EarningTotal.subject_type == subject_type)
    value = db.session.scalar(select(column).where(*base, EarningTotal.subject_id == subject_id))
    if not value or value <= 0:
        return None
    ahead = db.session.scalar(select(func.count()).select_from(EarningTotal).where(*base, column > value))
    return Place(ahead + 1, subject_id, value)


def _label(places: list[Place], subject_type: str) -> None:
    ids = [p.subject_id for p in places]
    if not ids:
        return
    if subject_type == "resident":
        names = dict(db.session.execute(select(Resident.id, Resident.name).where(Resident.id.in_(ids))).all())
    elif subject_type == "household":
        rows = db.session.execute(select(Household.id, Building.name, Household.unit, Household.room)
                                  .join(Building, Building.id == Household.building_id)
                                  .where(Household.id.in_(ids))).all()
        names = {hid: household_address(b, u, r) for hid, b, u, r in rows}
    elif subject_type == "building":
        names = dict(db.session.execute(select(Building.id, Building.name).where(Building.id.in_(ids))).all())
    elif subject_type == "grid":
        names = dict(db.session.execute(select(Grid.id, Grid.name).where(Grid.id.in_(ids))).all())
    else:
        names = dict(db.session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all())
    for p in places:
        p.label = names.get(p.subject_id, "—")


def current_periods(now: datetime) -> dict[str, str]:
    month, quarter, year, _all = period_keys(now)
    return {"month": month, "quarter": quarter, "year": year, "all": "A"}


# ---- the public board (红榜) ------------------------------------------------------------------

MASKS = ("middle", "given", "none")


def mask_name(name: str, mode: str) -> str:
    """张小明 → 张*明 (middle), 张** (given), or as is (none). Never shows more than the name."""
    if mode == "none" or len(name) < 2:
        return name
    if mode == "given":
        return name[0] + "*" * (len(name) - 1)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# ---- the public-name rule ------------------------------------------------------------------------
# Every surface anyone may see without being the person herself or her office -- the big-screen board
# (/board/<id>, no login), the rankings page, the star-household notice (公示), honour lists and their
# board panels -- names a resident only through named_in_public(). A resident who keeps her name off
# public boards (Resident.hide_from_board, set on /rankings; erased residents too) is left OUT of
# public lists: the places of the others stay as they are (1, 3 when number 2 opted out), and a
# household she heads is shown by its building only ("3号楼 住户"). Everyone else is masked as the
# community chose (张*明). tests/test_public_names.py holds every surface to this.


def named_in_public(community, name: str | None, hidden: bool) -> str | None:
    """THE public-name rule: the name the public may read, or None when the person must not be named
    (she opted out of public boards, or was erased): callers leave her row out."""
    if hidden:
        return None
    return mask_name(name or "", community.board_mask)


def public_name(community, name: str) -> str:
    """A name known to be shown (the office's example, a resident's preview of herself): masked."""
    return named_in_public(community, name, False) or ""


def public_names(community, resident_ids: list[int]) -> dict[int, str]:
    """Public names by resident id, in one query; those who must not be named are not in the dict."""
    rows = db.session.execute(select(Resident.id, Resident.name, Resident.hide_from_board)
                              .where(Resident.id.in_(resident_ids or [-1])))
    named = {rid: named_in_public(community, name, hidden) for rid, name, hidden in rows}
    return {rid: name for rid, name in named.items() if name is not None}


def public_rows(community, rows: list[tuple], limit: int | None = None,
                hidden: set[int] | None = None) -> tuple[list[tuple], int]:
    """Rows of a public list whose second item is a resident id ((rank, resident_id, ...), as honour
    lists have them), the first `limit` of those who may be named, with the id replaced by the public
    name; and how many on the list are not named (a notice says so). `hidden`: opted_out(), when the
    caller has it. Only the names shown are read (a threshold list can hold thousands)."""
    hidden = opted_out(community.id) if hidden is None else hidden
    kept = [row for row in rows if row[1] not in hidden]
    kept = kept if limit is None else kept[:limit]
    names = public_names(community, [row[1] for row in kept])
    shown = [(row[0], names[row[1]], *row[2:]) for row in kept if row[1] in names]
    return shown, sum(1 for row in rows if row[1] in hidden)


def public_household(community, building: str, head: str | None) -> str:
    """A household as the public sees it: its building and its head's public name (3号楼 张*明家), or
    its building only when the head is not to be named (head None). Never the unit or room."""
    who = str(_l("%(name)s's household", name=head)) if head else str(_l("household"))
    return f"{building} {who}".strip()


def starred_households(community, rows) -> list[tuple[str, int]]:
    """Star results (stars.results rows) as the public sees them (the board's notice panel, the notice
    page): (label, stars)."""
    return [(public_household(community, r.building, named_in_public(community, r.head, r.head_hidden)), r.stars)
            for r in rows]


def own_resident(resident, community):
    """Whose own places the rankings page shows: the viewer's, when she lives in this community. Staff,
    and residents looking at another community, see the board only."""
    return resident if resident is not None and resident.community_id == community.id else None


def board_closed(community, own) -> bool:
    """A frozen board is closed to the community's residents until the announcement; staff see it."""
    return bool(community.board_frozen) and own is not None


@dataclass
class OwnPlaces:
    """A resident's own standing: places in a period, or (over a custom range of months) her totals only,
    since a place in a range would mean summing everyone's months."""

    mine: Place | None = None
    household: Place | None = None
    range_totals: tuple[int, int] | None = None


def own_places(community, own, period: str, metric: str, months: list[str] | None) -> OwnPlaces:
    if own is None:
        return OwnPlaces()
    if months:
        return OwnPlaces(range_totals=(range_total(community.id, months, "resident", own.id, metric),
                                       range_total(community.id, months, "household", own.household_id, metric)))
    return OwnPlaces(rank_of(community.id, period, "resident", own.id, metric),
                     rank_of(community.id, period, "household", own.household_id, metric))


def public_board(community, period: str | None, subject_type: str, metric: str = "points", limit: int = 10,
                 *, months: list[str] | None = None, hidden: set[int] | None = None) -> list[Place]:
    """A board for everyone to see, of a period or (with `months`) a range of whole months: opted-out
    residents left out (their places still count: 1, 3 when number 2 opted out), names masked, no rooms
    or phones. `hidden`: opted_out(), when the caller has read it already."""
    if subject_type not in SUBJECTS:
        raise InvalidInput(_l("Unknown ranking."), code="invalid_ranking")
    keys = cover(months) if months else [check_period(period)]
    hidden = _hidden_subjects(community, subject_type, hidden)
    places = top(community.id, keys, subject_type, metric, limit, hidden=hidden)
    label_public(community, places, subject_type)
    return places


def label_public(community, places: list[Place], subject_type: str) -> None:
    """Label places as the public reads them (the public-name rule; households by building and head),
    once those not to be named are left out."""
    if subject_type == "resident":
        names = public_names(community, [p.subject_id for p in places])
        for p in places:
            p.label = names.get(p.subject_id, "")  # (top() has left out those not named)
    elif subject_type != "household":  # households are shown by their head's public name below, not the room
        _label(places, subject_type)
    if subject_type == "household":
        heads = household_heads(community, [p.subject_id for p in places])
        buildings = dict(db.session.execute(select(Household.id, Building.name).join(
            Building, Building.id == Household.building_id).where(Household.id.in_([p.subject_id for p in places] or [-1]))).all())
        for p in places:
            p.label = public_household(community, buildings.get(p.subject_id, ""), heads.get(p.subject_id))


def _hidden_subjects(community, subject_type: str, residents: set[int] | None) -> set[int] | frozenset[int]:
    """Who a public list of `subject_type` leaves out: the residents not to be named, and on household lists
    their households too (with number 1 of the volunteers hidden, a household of 20 points beside volunteers
    of 15 and 10 would name her). Buildings, grids and teams are many people: none are left out."""
    if subject_type not in ("resident", "household"):
        return frozenset()
    residents = opted_out(community.id) if residents is None else residents
    if subject_type == "resident" or not residents:
        return residents
    return set(db.session.scalars(select(Resident.household_id).where(
        Resident.id.in_(sorted(residents)), Resident.moved_out_on.is_(None))))


def opted_out(community_id: int) -> set[int]:
    """Residents of the community who keep their names off public boards (a partial index holds them)."""
    # (the bare column, as the partial index's condition is written: "IS true" would not use it)
    return set(db.session.scalars(select(Resident.id).where(Resident.community_id == community_id,
                                                            Resident.hide_from_board)))


def top(community_id: int, periods: list[str], subject_type: str, metric: str = "points", limit: int = 50,
        hidden: set[int] | frozenset[int] = frozenset()) -> list[Place]:
    """The best `limit` subjects by their total over `periods` (disjoint earning-total periods, e.g. a
    month range as cover() gives it), leaving out the `hidden` ids but counting them in the places
    (1, 3 when number 2 is hidden). Not labelled.

    One period is one index read (a little past `limit`). Several are summed by Fagin's threshold
    algorithm (bench/rankings.py: 0.2-1.2 s for 12 months at 5M entries when every subject's months were
    summed), see _top_of_sums()."""
    if subject_type not in SUBJECTS or metric not in METRICS:
        raise InvalidInput(_l("Unknown ranking."), code="invalid_ranking")
    if limit <= 0 or not periods:
        return []
    for key in periods:
        check_period(key)
    column = getattr(EarningTotal, metric)
    base = (EarningTotal.community_id == community_id, EarningTotal.subject_type == subject_type)
    if len(periods) > 1:
        best = _top_of_sums(base, column, periods, limit, hidden)
    else:
        fetch = limit + 10
        while True:
            rows = db.session.execute(select(EarningTotal.subject_id, column)
                                      .where(*base, EarningTotal.period == periods[0], column > 0)
                                      .order_by(column.desc(), EarningTotal.subject_id).limit(fetch)).all()
            best = [(sid, value) for sid, value in rows]
            shown = [(sid, value) for sid, value in best if sid not in hidden][:limit]
            # done when read to the end, or when the last shown beats the last read (ties complete)
            if len(rows) < fetch or (len(shown) == limit and shown[-1][1] > rows[-1][1]):
                break
            fetch *= 4
    shown = [(sid, value) for sid, value in best if sid not in hidden][:limit]
    values = sorted(value for _sid, value in best)  # everyone with more than a shown value is in `best`
    return [Place(len(values) - bisect_right(values, value) + 1, sid, int(value)) for sid, value in shown]


EVEN = 2  # the threshold this many times the floor: totals too even for the threshold algorithm


def _top_of_sums(base, column, periods, limit, hidden) -> list[tuple[int, int]]:
    """Subjects by their total over several periods, best first: every subject that can place, and
    everyone with a total above theirs (for the place numbers).

    1. Read the best 8 × `limit` rows of each period from its index. A subject not seen in a period has
       at most the last value read there: `threshold`, the sum of those, bounds every subject not seen,
       and seen values plus those last values bound each subject seen (`bound`).
    2. Sum exactly the `limit` best seen subjects not hidden: the least of those totals, `at_least`, is
       a floor under the `limit`-th total.
    3. When the threshold is far above it (even totals, as when most residents earn a little), summing
       candidates one by one would take thousands of index probes: one GROUP BY ... HAVING total >=
       at_least does it. Otherwise sum exactly the other subjects whose bound reaches `at_least`, and
       the answer is complete when the `limit`-th total reaches the threshold (ties at the last place are
       then complete in their place numbers, not necessarily in id order); if not, the GROUP BY."""
    summed = func.sum(column)
    per_period = [db.session.execute(select(EarningTotal.subject_id, column)
                                     .where(*base, EarningTotal.period == key, column > 0)
                                     .order_by(column.desc(), EarningTotal.subject_id).limit(8 * limit)).all()
                  for key in periods]
    last = [rows[-1][1] if len(rows) == 8 * limit else 0 for rows in per_period]
    threshold = sum(last)
    seen: dict[int, int] = {}
    bound: dict[int, int] = {}
    for i, rows in enumerate(per_period):
        for sid, value in rows:
            seen[sid] = seen.get(sid, 0) + value
            bound[sid] = bound.get(sid, threshold) - last[i]

    def exact(ids) -> dict[int, int]:
        return dict(db.session.execute(
            select(EarningTotal.subject_id, summed)
            .where(*base, EarningTotal.period.in_(periods), EarningTotal.subject_id.in_(sorted(ids)))
            .group_by(EarningTotal.subject_id)).all()) if ids else {}

    def everyone(at_least: int) -> dict[int, int]:
        return dict(db.session.execute(
            select(EarningTotal.subject_id, summed).where(*base, EarningTotal.period.in_(periods))
            .group_by(EarningTotal.subject_id).having(summed >= at_least)).all())

    leaders = sorted((sid for sid in seen if sid not in hidden), key=lambda sid: -seen[sid])[:limit]
    totals = exact(leaders)
    firm = [value for sid, value in totals.items() if sid not in hidden]
    at_least = max(1, min(firm)) if len(firm) == limit else 1
    if len(firm) < limit or EVEN * at_least < threshold:
        totals = everyone(at_least)
    else:
        totals.update(exact([sid for sid in seen if sid not in totals and seen[sid] + bound[sid] >= at_least]))
        shown = sorted((value for sid, value in totals.items() if sid not in hidden and value > 0), reverse=True)
        if len(shown) < limit or shown[limit - 1] < threshold:
            totals = everyone(max(at_least, shown[limit - 1] if len(shown) >= limit else 1))
    # (a month can be negative: a reversal in a later month of an award made earlier)
    return sorted(((sid, value) for sid, value in totals.items() if value > 0), key=lambda kv: (-kv[1], kv[0]))


def household_heads(community, household_ids: list[int]) -> dict[int, str | None]:
    """The public name a household is shown by: its head's (户主), else its first resident's; None when
    that person is not to be named in public (named_in_public)."""
    rows = db.session.execute(select(Resident.household_id, Resident.name, Resident.relation,
                                     Resident.hide_from_board)
                              .where(Resident.household_id.in_(household_ids or [-1]),
                                     Resident.moved_out_on.is_(None)).order_by(Resident.id)).all()
    firsts: dict[int, str | None] = {}
    heads: dict[int, str | None] = {}
    for hid, name, relation, hidden in rows:
        firsts.setdefault(hid, named_in_public(community, name, hidden))
        if relation == "户主":
            heads.setdefault(hid, named_in_public(community, name, hidden))
    return {**firsts, **heads}


# ---- custom ranges and communities -------------------------------------------------------------

def month_keys(first: str, last: str) -> list[str]:
    """"2026-01", "2026-06" → ["M2026-01", …, "M2026-06"] (at most 36 months). Raises invalid_period."""
    try:
        y1, m1 = (int(x) for x in first.split("-"))
        y2, m2 = (int(x) for x in last.split("-"))
    except (ValueError, AttributeError) as exc:
        raise InvalidInput(_l("Choose months like 2026-01."), code="invalid_period") from exc
    keys, y, m = [], y1, m1
    while (y, m) <= (y2, m2) and len(keys) <= 36:
        keys.append(f"M{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if not keys or len(keys) > 36 or not (1 <= m1 <= 12 and 1 <= m2 <= 12):
        raise InvalidInput(_l("Choose a range of 1 to 36 months."), code="invalid_period")
    return keys


def cover(months: list[str]) -> list[str]:
    """Consecutive month keys as the fewest whole years, quarters and months: M2025-12 … M2026-11 →
    M2025-12, Q2026-1, Q2026-2, Q2026-3, M2026-10, M2026-11 (the totals of each are kept anyway)."""
    out, i = [], 0
    while i < len(months):
        year, month = months[i][1:5], int(months[i][6:8])
        if month == 1 and i + 12 <= len(months):
            out.append(f"Y{year}")
            i += 12
        elif month % 3 == 1 and i + 3 <= len(months):
            out.append(f"Q{year}-{(month + 2) // 3}")
            i += 3
        else:
            out.append(months[i])
            i += 1
    return out


def range_total(community_id: int, months: list[str], subject_type: str, subject_id: int,
                metric: str = "points") -> int:
    """One subject's total over consecutive months."""
    if metric not in METRICS:
        raise InvalidInput(_l("Unknown ranking."), code="invalid_ranking")
    return int(db.session.scalar(select(func.coalesce(func.sum(getattr(EarningTotal, metric)), 0)).where(
        EarningTotal.community_id == community_id, EarningTotal.period.in_(cover(months)),
        EarningTotal.subject_type == subject_type, EarningTotal.subject_id == subject_id)) or 0)


def leaderboard_range(community_id: int, months: list[str], subject_type: str, metric: str = "points",
                      limit: int = 50) -> list[Place]:
    """A custom range of whole months (consecutive, as month_keys() gives them): the totals summed."""
    places = top(community_id, cover(months), subject_type, metric, limit)
    _label(places, subject_type)
    return places


def community_board(community_ids: list[int] | None, period: str, metric: str = "points") -> list[Place]:
    """Communities compared, for subdistrict and city staff: the sum of their buildings' totals."""
    from pointsapp.tree.models import Community

    if metric not in METRICS:
        raise InvalidInput(_l("Unknown ranking."), code="invalid_ranking")
    total = func.sum(getattr(EarningTotal, metric)).label("total")
    stmt = (select(EarningTotal.community_id, total).where(EarningTotal.period == check_period(period),
                                                           EarningTotal.subject_type == "building")
            .group_by(EarningTotal.community_id).order_by(total.desc()))
    if community_ids is not None:
        stmt = stmt.where(EarningTotal.community_id.in_(community_ids or [-1]))
    rows = db.session.execute(stmt).all()
    names = dict(db.session.execute(select(Community.id, Community.name)).all())
    places = ranked(rows)
    for p in places:
        p.label = names.get(p.subject_id, "")
    return places


def monthly_series(community_id: int, months: list[str]) -> list[tuple[str, int]]:
    """Points earned per month in a community (for the chart)."""
    rows = dict(db.session.execute(
        select(EarningTotal.period, func.sum(EarningTotal.points)).where(
            EarningTotal.community_id == community_id, EarningTotal.period.in_(months),
            EarningTotal.subject_type == "building").group_by(EarningTotal.period)).all())
    return [(m, int(rows.get(m) or 0)) for m in months]


def participation_by_building(community_id: int, period: str) -> list[tuple[str, int, int]]:
    """(building, households that earned in the period, households) — the share that took part."""
    took_part = dict(db.session.execute(
        select(Household.building_id, func.count(EarningTotal.id))
        .join(Household, Household.id == EarningTotal.subject_id)
        .where(EarningTotal.community_id == community_id, EarningTotal.period == check_period(period),
               EarningTotal.subject_type == "household", EarningTotal.points > 0)
        .group_by(Household.building_id)).all())
    sizes = db.session.execute(select(Building.id, Building.name, func.count(Household.id))
                               .join(Household, Household.building_id == Building.id)
                               .where(Building.community_id == community_id)
                               .group_by(Building.id, Building.name).order_by(Building.id)).all()
    return [(name, took_part.get(bid, 0), n) for bid, name, n in sizes]


def last_months(now: datetime, n: int = 12) -> list[str]:
    local = now.astimezone(CHINA)
    y, m, out = local.year, local.month, []
    for _ in range(n):
        out.append(f"M{y}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return list(reversed(out))


# ---- the board early in a month ------------------------------------------------------------------
# The board early in a month: on the 2nd it named three people. Until this month has enough ranked
# residents (Community.board_min_ranked, default 10; 0 turns this off), the big-screen board and the
# rankings page show a second panel beside this month's: last month's final standings, or the last 30 days
# (Community.board_fallback), each labelled with its period.
#
# Period edges are in China time (core.periods.CHINA), from the `now` the caller read from the app's clock:
# on 1 January last month is December of the year before; the last 30 days are today and the 29 local days
# before it (so 29 February counts like any other day).

FALLBACKS = ("last_month", "rolling30")
ROLLING_DAYS = 30
ROLLING_SUBJECTS = ("resident", "household", "building")  # what the ledger alone can group by


@dataclass(frozen=True)
class Span:
    """A period a panel shows: an earning-total period (a month), or a rolling window of local days."""

    kind: str  # "month" (this month so far), "last_month" (final), "rolling30"
    first_day: date  # local dates, both counted
    last_day: date
    period: str | None = None  # the earning-total key (M2026-11) of a month; None for a rolling window


def this_month(now: datetime) -> Span:
    today = now.astimezone(CHINA).date()
    return Span("month", today.replace(day=1), today, f"M{today.year}-{today.month:02d}")


def last_month(now: datetime) -> Span:
    today = now.astimezone(CHINA).date()
    last_day = today.replace(day=1) - timedelta(days=1)
    return Span("last_month", last_day.replace(day=1), last_day, f"M{last_day.year}-{last_day.month:02d}")


def rolling(now: datetime) -> Span:
    today = now.astimezone(CHINA).date()
    return Span("rolling30", today - timedelta(days=ROLLING_DAYS - 1), today)


def ranked_count(community_id: int, period: str) -> int:
    """How many residents have earned in the period (opted-out ones too: they hold places)."""
    return db.session.scalar(select(func.count()).select_from(EarningTotal).where(
        EarningTotal.community_id == community_id, EarningTotal.period == check_period(period),
        EarningTotal.subject_type == "resident", EarningTotal.points > 0)) or 0


def fallback_span(community, now: datetime, subject_type: str = "resident", metric: str = "points") -> Span | None:
    """What to show beside this month, or None when this month has enough ranked residents (one count).
    A rolling window is summed from the ledger, by points, for residents, households and buildings; for
    other rankings the fallback is last month."""
    wanted = community.board_min_ranked or 0
    if wanted <= 0 or ranked_count(community.id, this_month(now).period) >= wanted:
        return None
    if community.board_fallback == "rolling30" and metric == "points" and subject_type in ROLLING_SUBJECTS:
        return rolling(now)
    return last_month(now)


BOARD_SUBJECTS = ("resident", "household", "building")


def board_panels(community, now: datetime, hidden: set[int] | None = None,
                 limit: int = 10) -> list[tuple[str, list[tuple[Span, list[Place]]]]]:
    """The big screen's panels (/board/<id> and its JSON): for residents, households and buildings, this
    month's leaders, and early in the month last month's (or the last 30 days') beside them; none while
    the board is frozen. `hidden`: opted_out(), when the caller has read it."""
    if community.board_frozen:
        return []
    hidden = opted_out(community.id) if hidden is None else hidden
    month = current_periods(now)["month"]
    month_so_far = this_month(now)
    beside = fallback_span(community, now)
    panels = []
    for subject in BOARD_SUBJECTS:
        columns = [(month_so_far, public_board(community, month, subject, limit=limit, hidden=hidden))]
        if beside is not None:
            columns.append((beside, public_places(community, beside, subject, limit=limit, hidden=hidden)))
        panels.append((subject, columns))
    return panels


def public_places(community, span: Span, subject_type: str, metric: str = "points", limit: int = 10,
                  hidden: set[int] | None = None):
    """The public board of a span (the public-name rule applied, as public_board)."""
    if span.period is not None:
        return public_board(community, span.period, subject_type, metric, limit, hidden=hidden)
    return rolling_board(community, span, subject_type, limit, hidden=hidden)


def rolling_board(community, span: Span, subject_type: str, limit: int = 10,
                  hidden: set[int] | None = None) -> list[Place]:
    """Points earned in a window of local days, summed from the ledger (earning entries, less their
    reversals), best first; residents not to be named left out, their places kept (1, 3)."""
    if subject_type not in ROLLING_SUBJECTS:
        raise ValueError(subject_type)
    start = datetime.combine(span.first_day, time(), CHINA).astimezone(UTC)
    end = datetime.combine(span.last_day + timedelta(days=1), time(), CHINA).astimezone(UTC)
    undone = aliased(LedgerEntry)
    earning = or_(LedgerEntry.kind.in_(EARNING_KINDS), and_(
        LedgerEntry.kind == EntryKind.REVERSAL,
        select(undone.id).where(undone.id == LedgerEntry.reverses_id, undone.kind.in_(EARNING_KINDS)).exists()))
    subject = {"resident": LedgerEntry.resident_id, "household": Resident.household_id,
               "building": Household.building_id}[subject_type]
    total = func.sum(LedgerEntry.amount)
    stmt = select(subject, total).where(LedgerEntry.community_id == community.id, LedgerEntry.created_at >= start,
                                        LedgerEntry.created_at < end, earning)
    if subject_type != "resident":
        stmt = stmt.join(Resident, Resident.id == LedgerEntry.resident_id)
    if subject_type == "building":
        stmt = stmt.join(Household, Household.id == Resident.household_id)
    rows = db.session.execute(stmt.group_by(subject).having(total > 0)).all()
    hidden = _hidden_subjects(community, subject_type, hidden)
    values = sorted((int(v) for _sid, v in rows), reverse=True)
    best = sorted(((sid, int(v)) for sid, v in rows if sid not in hidden), key=lambda kv: (-kv[1], kv[0]))[:limit]
    places = [Place(sum(1 for v in values if v > value) + 1, sid, value) for sid, value in best]
    label_public(community, places, subject_type)
    return places
