"""The volunteer service record certificate (志愿服务记录证明): a resident's attendances in a period."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from pointsapp.accounts.models import User
from pointsapp.core.errors import InvalidInput
from pointsapp.core.extensions import db
from pointsapp.core.periods import CHINA
from pointsapp.tree.models import Resident
from pointsapp.volunteering.models import Activity, Attendance, Team


@dataclass
class ServiceLine:
    day: date
    activity: str
    kind: str
    team: str
    minutes: int
    method: str  # self_scan | lead_scan | manual
    recorded_by: str
    points: int


@dataclass
class ServiceRecord:
    resident: Resident
    start: date
    end: date
    lines: list[ServiceLine]

    @property
    def minutes(self) -> int:
        return sum(line.minutes for line in self.lines)

    @property
    def count(self) -> int:
        return len(self.lines)


def service_record(resident: Resident, start: date, end: date) -> ServiceRecord:
    """Approved attendances between two dates (China time), with who recorded each. Raises invalid_range."""
    if start is None or end is None or end < start or (end - start).days > 366 * 5:
        raise InvalidInput(_l("Choose a start and an end date (at most five years)."), code="invalid_range")
    begin = datetime.combine(start, time(), CHINA)
    stop = datetime.combine(end + timedelta(days=1), time(), CHINA)
    rows = db.session.execute(
        select(Attendance, Activity, Team.name, User.name)
        .join(Activity, Activity.id == Attendance.activity_id).join(Team, Team.id == Activity.team_id)
        .join(User, User.id == Attendance.recorded_by_id)
        .where(Attendance.resident_id == resident.id, Attendance.status == "approved",
               Attendance.checked_in_at >= begin, Attendance.checked_in_at < stop)
        .order_by(Attendance.checked_in_at)).all()
    lines = []
    for attendance, activity, team, recorder in rows:
        minutes = activity.service_minutes(attendance.checked_in_at, attendance.checked_out_at)
        lines.append(ServiceLine(attendance.checked_in_at.astimezone(CHINA).date(), activity.title, activity.kind,
                                 team, minutes, attendance.method, recorder, attendance.points_awarded))
    return ServiceRecord(resident, start, end, lines)
