"""Star civilised household evaluations: draft → public notice (公示) → published (immutable).

Household points and attendances come from the earning totals for the evaluation's period (earning
only, invariant 9). Results are stored when the notice starts and refreshed while it runs (a veto
after an objection); publishing freezes them, so later ledger entries change nothing."""
import json
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select

from pointsapp.accounts.models import User
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_local
from pointsapp.core.periods import period_bounds
from pointsapp.core.permissions import Action, require
from pointsapp.core.unique import insert_unique
from pointsapp.deductions import services as deductions
from pointsapp.rankings import services as rankings
from pointsapp.rankings.models import EarningTotal
from pointsapp.recognition.models import Evaluation, StarResult, StarRuleSet, StarVeto
from pointsapp.recognition.services import notice
from pointsapp.tree.models import Building, Community, Household, Resident, household_address


def create_rule_set(actor: User, community: Community, name: str, thresholds: list[int], min_attendances: int,
                    now: datetime) -> StarRuleSet:
    """Raises forbidden, name_missing, invalid_thresholds, already_exists."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    if not (name or "").strip():
        raise InvalidInput(_l("Please enter a name."), code="name_missing")
    if len(thresholds) != 5 or any(not isinstance(t, int) for t in thresholds) or thresholds[0] <= 0 or \
            any(a >= b for a, b in zip(thresholds, thresholds[1:], strict=False)):
        raise InvalidInput(_l("Give five rising point thresholds for 1 to 5 stars."), code="invalid_thresholds")
    if not isinstance(min_attendances, int) or min_attendances < 0:
        raise InvalidInput(_l("The minimum number of attendances must be 0 or more."), code="invalid_thresholds")
    rules = StarRuleSet(community_id=community.id, name=name.strip()[:80], min_attendances=min_attendances,
                        created_at=now, **{f"star{i + 1}": t for i, t in enumerate(thresholds)})
    insert_unique(rules, Conflict(_l("This community already has a rule set called “%(name)s”. Please choose "
                                     "another name."), code="already_exists", name=rules.name))
    return rules


def create_evaluation(actor: User, community: Community, rules: StarRuleSet, title: str, period: str,
                      notice_days: int, now: datetime) -> Evaluation:
    """Raises forbidden, title_missing, invalid_period, invalid_notice_days."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    if rules.community_id != community.id:
        raise NotFound(_l("No such rule set."))
    if not (title or "").strip():
        raise InvalidInput(_l("Please enter a title."), code="title_missing")
    try:
        rankings.check_period(period)  # the one rule for a period key
    except InvalidInput as exc:
        raise InvalidInput(_l("Choose a year, quarter or month."), code="invalid_period") from exc
    if not isinstance(notice_days, int) or not 1 <= notice_days <= 60:
        raise InvalidInput(_l("The public notice lasts 1 to 60 days."), code="invalid_notice_days")
    evaluation = Evaluation(community_id=community.id, rule_set_id=rules.id, title=title.strip()[:100],
                            period=period, status="draft", notice_days=notice_days, created_by_id=actor.id,
                            created_at=now, rules_snapshot="")
    db.session.add(evaluation)
    db.session.flush()
    return evaluation


def _rules(evaluation: Evaluation) -> tuple[list[int], int]:
    if evaluation.rules_snapshot:
        data = json.loads(evaluation.rules_snapshot)
        return data["thresholds"], data["min_attendances"]
    return evaluation.rule_set.thresholds, evaluation.rule_set.min_attendances


@dataclass
class Rating:
    household_id: int
    points: int
    attendances: int
    stars: int
    vetoed: bool
    note: str


def compute(evaluation: Evaluation) -> list[Rating]:
    """Rate every household of the community for the evaluation's period (nothing is stored)."""
    thresholds, min_attendances = _rules(evaluation)
    totals = {sid: (points, attendances) for sid, points, attendances in db.session.execute(
        select(EarningTotal.subject_id, EarningTotal.points, EarningTotal.attendances).where(
            EarningTotal.community_id == evaluation.community_id, EarningTotal.period == evaluation.period,
            EarningTotal.subject_type == "household"))}
    vetoes = dict(db.session.execute(select(StarVeto.household_id, StarVeto.reason)
                                     .where(StarVeto.evaluation_id == evaluation.id)).all())
    for hid, note in deduction_vetoes(evaluation.community_id, evaluation.period).items():
        vetoes[hid] = f"{vetoes[hid]}; {note}" if hid in vetoes else note
    households = db.session.scalars(select(Household.id).where(Household.community_id == evaluation.community_id)
                                    .order_by(Household.id)).all()
    ratings = []
    for hid in households:
        points, attendances = totals.get(hid, (0, 0))
        if hid in vetoes:
            ratings.append(Rating(hid, points, attendances, 0, True, vetoes[hid]))
            continue
        if attendances < min_attendances:
            ratings.append(Rating(hid, points, attendances, 0, False, str(_l("fewer than %(n)d attendances",
                                                                              n=min_attendances))))
            continue
        ratings.append(Rating(hid, points, attendances, sum(1 for t in thresholds if points >= t), False, ""))
    return ratings


def deduction_vetoes(community_id: int, period: str) -> dict[int, str]:
    """Households vetoed by a deduction under a veto item (一票否决) that happened in the period and was not
    withdrawn, with the note 扣分项：<item>（<date>）, several joined."""
    notes: dict[int, list[str]] = {}
    for d in deductions.vetoes_in(community_id, period_bounds(period)):
        notes.setdefault(d.household_id, []).append(str(_l("Deduction: %(item)s (%(date)s)", item=d.item.title,
                                                           date=format_local(d.occurred_at, "%Y-%m-%d"))))
    return {hid: "; ".join(n) for hid, n in notes.items()}


@deductions.changing.connect
def _lock_for_deduction(community_id: int, *, moment: datetime, now: datetime) -> None:
    """A deduction is about to be recorded or withdrawn: lock the community's evaluations on notice (first in the
    lock order, one statement), so a publish waits for it and then sees its results."""
    locks.lock_matching(Evaluation, Evaluation.community_id == community_id, Evaluation.status == "notice")


@deductions.changed.connect
def _refresh_for_deduction(deduction, *, now: datetime) -> None:
    """Its veto and its points show in the stored results of evaluations on notice (published ones stay)."""
    if not (deduction.is_veto or deduction.counts_against_earning):
        return
    periods = set(rankings.period_keys(deduction.occurred_at)) | set(rankings.period_keys(deduction.created_at))
    for evaluation in db.session.scalars(select(Evaluation).where(
            Evaluation.community_id == deduction.community_id, Evaluation.status == "notice",
            Evaluation.period.in_(sorted(periods)))):
        _store(evaluation)


def _store(evaluation: Evaluation) -> int:
    db.session.execute(delete(StarResult).where(StarResult.evaluation_id == evaluation.id))
    ratings = compute(evaluation)
    if ratings:
        db.session.execute(StarResult.__table__.insert(), [
            {"community_id": evaluation.community_id, "evaluation_id": evaluation.id, "household_id": r.household_id,
             "points": r.points, "attendances": r.attendances, "stars": r.stars, "vetoed": r.vetoed, "note": r.note}
            for r in ratings])
    return len(ratings)


_not_published = notice.require_not_published


def veto(actor: User, evaluation: Evaluation, household: Household, reason: str, now: datetime) -> StarVeto:
    """一票否决 with a reason. Raises forbidden, evaluation_published, reason_missing, already_vetoed."""
    require(actor, Action.MANAGE_COMMUNITY, evaluation)
    notice.lock(evaluation)
    _not_published(evaluation)
    if household.community_id != evaluation.community_id:
        raise NotFound(_l("Not found in this community."))
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    if db.session.scalar(select(StarVeto).where(StarVeto.evaluation_id == evaluation.id,
                                                StarVeto.household_id == household.id)):
        raise Conflict(_l("This household is already vetoed."), code="already_vetoed")
    v = StarVeto(community_id=evaluation.community_id, evaluation_id=evaluation.id, household_id=household.id,
                 reason=reason.strip()[:300], created_by_id=actor.id, created_at=now)
    db.session.add(v)
    db.session.flush()
    if evaluation.status == "notice":
        _store(evaluation)
    return v


def lift_veto(actor: User, evaluation: Evaluation, veto_id: int, now: datetime) -> None:
    require(actor, Action.MANAGE_COMMUNITY, evaluation)
    notice.lock(evaluation)
    _not_published(evaluation)
    v = db.session.get(StarVeto, veto_id)
    if v is None or v.evaluation_id != evaluation.id:
        raise NotFound(_l("No such veto."))
    db.session.delete(v)
    db.session.flush()
    if evaluation.status == "notice":
        _store(evaluation)


def start_notice(actor: User, evaluation: Evaluation, now: datetime) -> int:
    """Publish the ratings for public notice. Raises forbidden, wrong_status."""
    require(actor, Action.MANAGE_COMMUNITY, evaluation)
    notice.lock(evaluation)
    notice.begin(evaluation, now)
    rules = evaluation.rule_set  # the rules as they stand now are the rules of this evaluation
    evaluation.rules_snapshot = json.dumps({"thresholds": rules.thresholds, "min_attendances": rules.min_attendances})
    return _store(evaluation)


def publish(actor: User, evaluation: Evaluation, now: datetime) -> int:
    """Freeze the ratings. Raises forbidden, wrong_status, notice_running, objections_open."""
    require(actor, Action.MANAGE_COMMUNITY, evaluation)
    notice.lock(evaluation)
    notice.check_publishable(evaluation, now)
    count = _store(evaluation)
    notice.mark_published(evaluation, actor, now)
    return count


def evaluation_in(community_id: int, evaluation_id: int) -> Evaluation:
    """The community's evaluation with that id. Raises not_found (also another community's)."""
    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None or evaluation.community_id != community_id:
        raise NotFound(_l("No such evaluation."))
    return evaluation


def on_notice(community_id: int, limit: int | None = None) -> list[Evaluation]:
    """The community's evaluations on public notice (公示), newest first: the board shows the first."""
    stmt = (select(Evaluation).where(Evaluation.community_id == community_id, Evaluation.status == "notice")
            .order_by(Evaluation.created_at.desc(), Evaluation.id.desc()))
    return list(db.session.scalars(stmt if limit is None else stmt.limit(limit)))


def evaluations_of(community_id: int) -> list[Evaluation]:
    """Every evaluation of the community, newest first (the office's list)."""
    return list(db.session.scalars(select(Evaluation).where(Evaluation.community_id == community_id)
                                   .order_by(Evaluation.created_at.desc(), Evaluation.id.desc())))


@dataclass
class ResultRow:
    household_id: int
    address: str  # building, unit and room: for the office, never for public lists
    building: str
    head: str
    points: int
    attendances: int
    stars: int
    vetoed: bool
    note: str
    head_hidden: bool = False  # the head keeps her name off public lists (rankings.named_in_public)


def results(evaluation: Evaluation, *, min_stars: int = 0, limit: int | None = None) -> list[ResultRow]:
    """Stored results (notice/published) or a live preview (draft), best first (stars, points, address).

    With `limit`, only the first `limit` rows, and only those are read and labelled (the board shows
    12 of a community's 30,000 households). Labels come from joins and subqueries, not lists of ids:
    30,000 bound ids took about a second on PostgreSQL (bench/rankings.py)."""
    if limit is not None and limit <= 0:
        return []
    place = (Building.name, Household.unit, Household.room)
    if evaluation.status == "draft":
        ratings = [r for r in compute(evaluation) if r.stars >= min_stars]
        places = {hid: rest for hid, *rest in db.session.execute(
            select(Household.id, *place).join(Building, Building.id == Household.building_id)
            .where(Household.community_id == evaluation.community_id))}
        rows = [(r.household_id, r.points, r.attendances, r.stars, r.vetoed, r.note,
                 *places.get(r.household_id, ("", "", ""))) for r in ratings]
        households = select(Household.id).where(Household.community_id == evaluation.community_id)
    else:
        chosen = [StarResult.evaluation_id == evaluation.id, StarResult.stars >= min_stars]
        if limit is not None:
            # the best `limit` by stars and points, with everyone tied with the last of them: the
            # address, which breaks those ties, is ordered below as Python orders strings
            edge = db.session.execute(select(StarResult.stars, StarResult.points).where(*chosen)
                                      .order_by(StarResult.stars.desc(), StarResult.points.desc())
                                      .offset(limit - 1).limit(1)).first()
            if edge is not None:
                chosen.append(or_(StarResult.stars > edge.stars,
                                  and_(StarResult.stars == edge.stars, StarResult.points >= edge.points)))
        rows = db.session.execute(
            select(StarResult.household_id, StarResult.points, StarResult.attendances, StarResult.stars,
                   StarResult.vetoed, StarResult.note, *place)
            .join(Household, Household.id == StarResult.household_id)
            .join(Building, Building.id == Household.building_id).where(*chosen)).all()
        # the few rows of the board's panel by their ids; the whole list by a subquery (a list of 30,000
        # bound ids is slow on PostgreSQL)
        households = [r[0] for r in rows] if len(rows) <= 1000 else select(StarResult.household_id).where(*chosen)
    heads: dict[int, tuple[str, bool]] = {}  # (name, keeps off public lists)
    for hid, name, relation, hidden in db.session.execute(
            select(Resident.household_id, Resident.name, Resident.relation, Resident.hide_from_board)
            .where(Resident.household_id.in_(households)).order_by(Resident.id)):
        if relation == "户主" or hid not in heads:
            heads[hid] = (name, bool(hidden)) if relation == "户主" else heads.get(hid, (name, bool(hidden)))
    out = [ResultRow(hid, household_address(b, u, room), b, heads.get(hid, ("", False))[0], p, a, s, bool(v), note,
                     head_hidden=heads.get(hid, ("", False))[1])
           for hid, p, a, s, v, note, b, u, room in rows]
    out.sort(key=lambda r: (-r.stars, -r.points, r.address))
    return out if limit is None else out[:limit]


def distribution(evaluation: Evaluation) -> dict[int, int]:
    counts = dict.fromkeys(range(6), 0)
    if evaluation.status == "draft":
        for r in compute(evaluation):
            counts[r.stars] += 1
    else:  # counted in SQL: the labels results() builds are not needed here
        for stars, n in db.session.execute(select(StarResult.stars, func.count()).where(
                StarResult.evaluation_id == evaluation.id).group_by(StarResult.stars)):
            counts[stars] += n
    return counts
