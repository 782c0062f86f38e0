"""Check-in, check-out, manual records and approval of attendances; points go through the ledger.

Every award uses the idempotency key "attendance:<id>", so no path (a double scan, two tabs, an
approval clicked twice) can award one attendance twice.

Locks (the order of core.locks): the activity only when it has a capacity (counting places); attendances
by id when their status or check-out is decided (approve, reject, a check-out scan), re-checked under the
lock; then the ledger's accounts, all of a batch's before its first posting.
"""
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_local
from pointsapp.core.lookup import get_row, valid_id
from pointsapp.core.permissions import Action, could, require
from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services import rules
from pointsapp.tree.models import Community, Household, Resident
from pointsapp.volunteering.models import Activity, Attendance
from pointsapp.volunteering.services import codes

# A second scan sooner than this after check-in is a double scan, not a check-out.
MIN_STAY = timedelta(minutes=10)
# Sent when a lead or the office approves attendances, in the same transaction (webhooks listen):
# attendance_approved.send(actor, attendances=[…approved…], now=…)
attendance_approved = Namespace().signal("volunteering.attendance_approved")


class CheckInError(InvalidInput):
    code = "check_in_refused"


@dataclass
class CheckInResult:
    attendance: Attendance
    action: str  # checked_in | checked_out | already
    points: int  # points awarded by this call (0 when none or pending approval)
    capped: bool = False  # the community's daily or monthly cap cut the award

    @property
    def pending_approval(self) -> bool:
        return self.attendance.status == "pending"


class ReviewResult(NamedTuple):
    approved: int
    points: int
    left: int  # ticked but not this reviewer's to decide (their own household's, or the office's)


# Holds the lead of the team may lift (another lead than the attendee); the office lifts every hold.
LEAD_HOLDS = ("", "self")


def _ceiling(activity: Activity) -> int:
    return db.session.get(Community, activity.community_id).award_ceiling


def _hold(actor: User, resident: Resident, activity: Activity, method: str) -> str:
    """Who besides the activity's rule must confirm this attendance (Attendance.hold; invariant 10): hand
    records and awards above the community's ceiling go to the office; the attendee who runs the activity
    (she shows the code) or a lead recording herself or her household needs another lead or the office."""
    if method == "manual":
        return "manual"
    if activity.rule == "fixed" and activity.points > _ceiling(activity):
        return "ceiling"
    if rules.acts_for_self(actor, resident) and (method != "self_scan" or could(actor, Action.RUN_TEAM, activity)
                                                  or activity.created_by_id == actor.id):
        return "self"
    return ""


def _status(activity: Activity, hold: str) -> str:
    return "pending" if hold or activity.award_on == "approval" else "approved"


def points_for(activity: Activity, checked_in_at: datetime, checked_out_at: datetime | None) -> int:
    """Fixed points, or whole points per hour between check-in and check-out (rounded down, capped)."""
    if activity.rule == "fixed":
        return activity.points
    if checked_out_at is None:
        return 0
    start = max(checked_in_at, activity.starts_at)
    end = min(checked_out_at, activity.ends_at)
    seconds = max(0, int((end - start).total_seconds()))
    earned = seconds * activity.points // 3600
    return min(earned, activity.hourly_cap) if activity.hourly_cap else earned


def _award_posting(attendance: Attendance) -> ledger.Posting | None:
    """The posting that awards this attendance, or None when there is nothing (more) to award."""
    activity = attendance.activity
    amount = points_for(activity, attendance.checked_in_at, attendance.checked_out_at)
    if amount <= 0 or attendance.ledger_entry_id is not None:
        return None
    return ledger.Posting(attendance.resident, amount, EntryKind.AWARD, "attendance", f"attendance:{attendance.id}",
                          f"{activity.kind}：{activity.title}", str(attendance.id))


def _award(attendance: Attendance, actor: User | None, now: datetime, *, office: bool = False) -> tuple[int, bool]:
    """Post the attendance's points, cut to what the community's caps still allow. Returns (points, capped).
    More than the community's ceiling is never awarded on the lead's side (check-in, check-out, the lead's
    approval, whatever the activity's points were edited to): the attendance goes back to pending for the
    office, which passes office=True."""
    posting = _award_posting(attendance)
    if posting is None:
        return 0, False
    if not office and posting.amount > _ceiling(attendance.activity):
        attendance.status, attendance.hold = "pending", "ceiling"
        return 0, False
    ledger.lock_account(attendance.resident)  # the room is read and taken under the account's lock
    room = rules.earning_room(attendance.resident, now)
    capped = room is not None and posting.amount > room
    if capped:
        if room <= 0:
            return 0, True
        posting = replace(posting, amount=room)
    entry = ledger.post(posting, actor, now)
    attendance.ledger_entry_id = entry.id
    attendance.points_awarded = entry.amount
    return entry.amount, capped


def _check_resident(resident: Resident, activity: Activity) -> None:
    if resident.community_id != activity.community_id:
        raise CheckInError(_l("This activity belongs to another community; only its residents can check in."),
                           code="not_resident_of_community")
    if resident.moved_out_on is not None:
        raise CheckInError(_l("%(name)s has moved out and can no longer check in."), code="resident_moved_out",
                           name=resident.name)
    if activity.is_cancelled:
        raise CheckInError(_l("This activity has been cancelled."), code="activity_cancelled")


def _existing(activity: Activity, resident: Resident) -> Attendance | None:
    return db.session.scalar(select(Attendance).where(Attendance.activity_id == activity.id,
                                                      Attendance.resident_id == resident.id))


def check_in(actor: User, resident: Resident, activity: Activity, now: datetime, *, method: str = "self_scan",
             scanned_at: datetime | None = None) -> CheckInResult:
    """Check a resident in, or (hourly rule, second scan) out. scanned_at is when the code was read
    (a login may come in between). Raises not_resident_of_community, resident_moved_out,
    activity_cancelled, not_started, already_over, capacity_full, forbidden (lead scans)."""
    if method == "lead_scan" or actor.resident_id != resident.id:
        require(actor, Action.RUN_TEAM, activity)
    _check_resident(resident, activity)
    moment = scanned_at or now
    attendance = _existing(activity, resident)
    if attendance is None and activity.capacity is not None:
        # Counting the places left takes the activity's check-ins one at a time; without a capacity they run
        # side by side (the unique (activity, resident) still stops a twin).
        activity = locks.lock_row(Activity, activity.id)
        attendance = _existing(activity, resident)  # re-check under the lock
    if attendance is not None:
        return _second_scan(attendance, actor, moment, now)
    if moment < activity.checkin_opens_at:
        raise CheckInError(_l("Check-in has not opened yet. It opens at %(t)s."), code="not_started",
                           t=_local(activity.checkin_opens_at))
    if moment > activity.checkin_closes_at:
        raise CheckInError(_l("This activity is already over."), code="already_over")
    if activity.capacity is not None:
        taken = db.session.scalar(select(func.count()).select_from(Attendance)
                                  .where(Attendance.activity_id == activity.id))
        if taken >= activity.capacity:
            raise CheckInError(_l("Sorry, this activity is full (%(n)d people)."), code="capacity_full",
                               n=activity.capacity)
    hold = _hold(actor, resident, activity, method)
    attendance = Attendance(community_id=activity.community_id, activity_id=activity.id, resident_id=resident.id,
                            checked_in_at=moment, method=method, recorded_by_id=actor.id, manual_reason="",
                            status=_status(activity, hold), hold=hold, reject_reason="", points_awarded=0)
    try:
        with db.session.begin_nested():
            db.session.add(attendance)
    except IntegrityError:
        # another tab or device checked this resident in a moment ago: the same outcome
        attendance = _existing(activity, resident)
        return CheckInResult(attendance, "already", 0)
    points, capped = 0, False
    if attendance.status == "approved" and activity.rule == "fixed" and activity.award_on == "check_in":
        points, capped = _award(attendance, actor, now)
    return CheckInResult(attendance, "checked_in", points, capped)


def check_out(actor: User, resident: Resident, activity: Activity, now: datetime, *, method: str = "self_scan",
              scanned_at: datetime | None = None) -> CheckInResult:
    """The second scan asked for as a check-out (the API's): as check_in's, but only for a resident who has
    checked in. Raises not_checked_in and check_in's codes."""
    if method == "lead_scan" or actor.resident_id != resident.id:
        require(actor, Action.RUN_TEAM, activity)
    _check_resident(resident, activity)
    if _existing(activity, resident) is None:
        raise Conflict(_l("%(name)s has not checked in at this activity."), code="not_checked_in",
                       name=resident.name)
    return check_in(actor, resident, activity, now, method=method, scanned_at=scanned_at)


def scanned_activity(secret: str, code: str, now: datetime) -> Activity:
    """The activity a scanned check-in code opens, the code checked (its signature, its time step, a poster's
    permission). Raises forged_code, code_expired, poster_not_allowed."""
    activity = get_row(Activity, codes.activity_id_of(code))  # an id in a forged code may not fit a row
    codes.read_checkin_code(secret, code, activity, now)
    return activity


def attendance_of(activity: Activity, attendance_id: int) -> Attendance:
    """One attendance of the activity. Raises not_found (also for another activity's)."""
    attendance = get_row(Attendance, attendance_id)
    if attendance is None or attendance.activity_id != activity.id:
        raise NotFound(_l("No such check-in."))
    return attendance


def _second_scan(attendance: Attendance, actor: User, moment: datetime, now: datetime) -> CheckInResult:
    activity = attendance.activity
    if attendance.checked_out_at is not None or moment - attendance.checked_in_at < MIN_STAY:
        return CheckInResult(attendance, "already", 0)
    if activity.rule != "hourly" and activity.award_on != "check_out":
        return CheckInResult(attendance, "already", 0)
    attendance = locks.lock_row(Attendance, attendance.id)
    if attendance.checked_out_at is not None:  # a twin scan checked out while we waited for the lock
        return CheckInResult(attendance, "already", 0)
    attendance.checked_out_at = min(moment, activity.ends_at) if moment > attendance.checked_in_at else moment
    if attendance.checked_out_at < attendance.checked_in_at:
        attendance.checked_out_at = attendance.checked_in_at
    points, capped = _award(attendance, actor, now) if attendance.status == "approved" else (0, False)
    return CheckInResult(attendance, "checked_out", points, capped)


def _local(moment: datetime) -> str:
    return format_local(moment, "%H:%M")


def record_manual(actor: User, resident: Resident, activity: Activity, checked_in_at: datetime,
                  checked_out_at: datetime | None, reason: str, now: datetime) -> CheckInResult:
    """人工补录 by a lead: times are clamped to the activity, so it never credits more than its
    length, and the record waits for the office's approval (hold "manual") before it brings points.
    Raises forbidden, reason_missing, invalid_times, already_checked_in and _check_resident's codes."""
    require(actor, Action.RUN_TEAM, activity)
    _check_resident(resident, activity)
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason for recording by hand."), code="reason_missing")
    start = max(checked_in_at, activity.starts_at)
    end = min(checked_out_at, activity.ends_at) if checked_out_at else None
    if start > activity.ends_at or (end is not None and end < start):
        raise InvalidInput(_l("The times must lie within the activity."), code="invalid_times")
    if activity.rule == "hourly" and end is None:
        raise InvalidInput(_l("Hourly activities need a check-out time."), code="invalid_times")
    if _existing(activity, resident) is not None:
        raise Conflict(_l("%(name)s is already checked in."), code="already_checked_in", name=resident.name)
    attendance = Attendance(community_id=activity.community_id, activity_id=activity.id, resident_id=resident.id,
                            checked_in_at=start, checked_out_at=end, method="manual", recorded_by_id=actor.id,
                            manual_reason=reason.strip()[:300], status="pending", hold="manual",
                            reject_reason="", points_awarded=0)
    try:
        with db.session.begin_nested():
            db.session.add(attendance)
    except IntegrityError as exc:
        raise Conflict(_l("%(name)s is already checked in."), code="already_checked_in", name=resident.name) from exc
    return CheckInResult(attendance, "checked_in", 0)


def _locked_attendances(where, ids: list[int]) -> list[Attendance]:
    """The chosen attendances (of this activity, or this community for the office), locked in id order and
    read fresh: an approval or rejection of the same ones at the same moment has committed before we look,
    or waits for us."""
    wanted = set(ids)
    rows = locks.lock_rows(Attendance, wanted, where) if all(valid_id(i) for i in wanted) else []
    if len(rows) != len(wanted):
        raise InvalidInput(_l("Some of the chosen records do not belong to this activity."), code="invalid_selection")
    return rows


def _may_decide(actor: User, attendance: Attendance, office: bool) -> DomainError | None:
    """Why `actor` may not decide this attendance's points (None: she may)."""
    if rules.acts_for_self(actor, attendance.resident):
        return PermissionDenied(_l("Points for yourself or your household must be decided by someone else "
                                   "(another team lead or the community office)."), code="self_award")
    if not office and attendance.hold not in LEAD_HOLDS:
        return Conflict(_l("%(name)s's record waits for the community office's approval."), code="office_review",
                        name=attendance.resident.name)
    return None


def _approve_rows(actor: User, rows: list[Attendance], now: datetime, *, office: bool) -> ReviewResult:
    chosen, refused = [], []
    for attendance in rows:
        if attendance.status == "approved":
            continue
        if attendance.status == "rejected" and attendance.ledger_entry_id is not None:
            raise Conflict(_l("%(name)s was rejected and the points taken back; record the attendance again "
                              "by hand if that was a mistake."), code="already_rejected", name=attendance.resident.name)
        if attendance.activity.rule == "hourly" and attendance.checked_out_at is None:
            raise InvalidInput(_l("%(name)s has not checked out yet."), code="not_checked_out",
                               name=attendance.resident.name)
        why = _may_decide(actor, attendance, office)
        if why is not None:
            refused.append(why)
            continue
        chosen.append(attendance)
    if refused and not chosen:
        raise refused[0]
    # every account (and earning total) the batch moves, locked before its first posting
    ledger.lock_for_batch([p for p in map(_award_posting, chosen) if p is not None], now)
    points = approved = 0
    for attendance in chosen:
        attendance.status = "approved"
        attendance.reviewed_by_id, attendance.reviewed_at, attendance.reject_reason = actor.id, now, ""
        points += _award(attendance, actor, now, office=office)[0]
        approved += attendance.status == "approved"  # above the ceiling, it went back to wait for the office
    attendance_approved.send(actor, attendances=[a for a in chosen if a.status == "approved"], now=now)
    return ReviewResult(approved, points, len(refused) + len(chosen) - approved)


def approve(actor: User, activity: Activity, ids: list[int], now: datetime) -> ReviewResult:
    """The lead approves attendances and awards them; records held for the office, and her own household's,
    are left (refused when nothing else was ticked). Raises forbidden, invalid_selection, already_rejected,
    not_checked_out, self_award, office_review, cap_reached, busy."""
    require(actor, Action.RUN_TEAM, activity)
    return _approve_rows(actor, _locked_attendances(Attendance.activity_id == activity.id, ids), now, office=False)


def _reject_rows(actor: User, rows: list[Attendance], reason: str, now: datetime, *, office: bool) -> int:
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason for rejecting."), code="reason_missing")
    why = f"签到不予认可：{reason.strip()}"
    chosen = [a for a in rows if a.status != "rejected"]
    if not office:  # a held record is the office's to decide, either way
        blocked = [a for a in chosen if a.hold not in LEAD_HOLDS]
        if blocked and len(blocked) == len(chosen):
            raise _may_decide(actor, blocked[0], office)
        chosen = [a for a in chosen if a.hold in LEAD_HOLDS]
    awards = {a.id: db.session.get(LedgerEntry, a.ledger_entry_id) for a in chosen if a.ledger_entry_id is not None}
    ledger.lock_for_batch([ledger.reversal(entry, why, f"reject:{aid}") for aid, entry in awards.items()], now)
    for attendance in chosen:
        if attendance.id in awards:
            ledger.reverse(actor, awards[attendance.id], why, now, key=f"reject:{attendance.id}")
            attendance.points_awarded = 0
        attendance.status = "rejected"
        attendance.reviewed_by_id, attendance.reviewed_at = actor.id, now
        attendance.reject_reason = reason.strip()[:300]
    return len(chosen)


def reject(actor: User, activity: Activity, ids: list[int], reason: str, now: datetime) -> int:
    """Reject attendances with a reason; points already awarded are reversed. Records held for the office are
    left to it. Raises forbidden, reason_missing, invalid_selection, office_review, insufficient_points (already
    spent), already_reversed, busy."""
    require(actor, Action.RUN_TEAM, activity)
    return _reject_rows(actor, _locked_attendances(Attendance.activity_id == activity.id, ids), reason, now,
                        office=False)


def office_approve(actor: User, community: Community, ids: list[int], now: datetime) -> ReviewResult:
    """The office approves held (or any pending) attendances of its community; never its own household's.
    Raises forbidden, invalid_selection, already_rejected, not_checked_out, self_award, cap_reached, busy."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    return _approve_rows(actor, _locked_attendances(Attendance.community_id == community.id, ids), now, office=True)


def office_reject(actor: User, community: Community, ids: list[int], reason: str, now: datetime) -> int:
    """The office rejects attendances of its community with a reason. Raises forbidden, reason_missing,
    invalid_selection, insufficient_points, already_reversed, busy."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    return _reject_rows(actor, _locked_attendances(Attendance.community_id == community.id, ids), reason, now,
                        office=True)


def held_for_office(community: Community, limit: int = 200) -> list[Attendance]:
    """Attendances waiting for someone other than the lead who recorded them, oldest first."""
    return db.session.scalars(
        select(Attendance).where(Attendance.community_id == community.id, Attendance.status == "pending",
                                 Attendance.hold != "")
        .options(joinedload(Attendance.activity), joinedload(Attendance.recorded_by),
                 joinedload(Attendance.resident).joinedload(Resident.household).joinedload(Household.building))
        .order_by(Attendance.checked_in_at, Attendance.id).limit(limit)).all()


def amount_due(attendance: Attendance) -> int:
    """What approving the attendance would award (before the caps)."""
    return points_for(attendance.activity, attendance.checked_in_at, attendance.checked_out_at)


def attendance_list(activity: Activity) -> list[Attendance]:
    """The activity's attendances, latest first, with each resident and her address loaded in the same
    statement: the lead's page polls this list every 10 s."""
    return db.session.scalars(select(Attendance).where(Attendance.activity_id == activity.id)
                              .options(joinedload(Attendance.resident).joinedload(Resident.household)
                                       .joinedload(Household.building))
                              .order_by(Attendance.checked_in_at.desc())).all()
