"""/api/v1/me: the person asking, and a resident's own things, read through the services her pages use
(home, 我的积分 points.my_points, rankings.page, 会员码 points.my_code, 志愿服务证明
points.my_service_record). The profile needs a login; the rest the resident role (a token without it: 403).
Nothing here names another resident: every read is keyed by the asker's own resident record."""
from flask import current_app

from pointsapp.accounts.schemas import (
    BalanceSchema,
    HistorySchema,
    MemberCodeSchema,
    ProfileSchema,
    RanksSchema,
    ServiceRecordSchema,
    ShowHistorySchema,
    ShowRanksSchema,
    ShowServiceRecordSchema,
)
from pointsapp.core.api import ApiBlueprint
from pointsapp.core.periods import local_date
from pointsapp.core.permissions import AUTHENTICATED, RESIDENT, policy, scopes_of
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.describe import describe
from pointsapp.ledger.services.history import month_history
from pointsapp.rankings import services as rankings
from pointsapp.volunteering.services import codes, records

bp = ApiBlueprint("api_me", __name__, url_prefix="/api/v1/me", description="The person asking, and her own things")


def _resident():
    """The asker's own resident record (the RESIDENT policy has made sure there is one, not moved out)."""
    return actor().resident


@bp.route("")
@bp.response(200, ProfileSchema)
@policy(AUTHENTICATED)
def whoami():
    """Who this request acts as: name, community, household and roles (a token's are narrowed to what it carries)."""
    user = actor()
    resident = user.resident
    return {"user_id": user.id, "name": user.name, "resident_id": user.resident_id,
            "community": None if resident is None else {"id": resident.community.id, "name": resident.community.name},
            "household": None if resident is None else resident.household.address,
            "moved_out_on": None if resident is None else resident.moved_out_on,
            "roles": [vars(s) for s in scopes_of(user)]}


@bp.route("/balance")
@bp.response(200, BalanceSchema)
@policy(RESIDENT)
def balance():
    """Her points: what she can spend, what she has earned in all, what deductions she still owes."""
    account = ledger.account_of(_resident().id)
    if account is None:
        return {"balance": 0, "earned_total": 0, "owed": 0}
    return {"balance": account.balance, "earned_total": account.earned_total, "owed": account.owed}


@bp.route("/ranks")
@bp.arguments(ShowRanksSchema, location="query")
@bp.response(200, RanksSchema)
@policy(RESIDENT)
def ranks(wanted: dict):
    """Her own and her household's places this month, quarter, year and all time, as the rankings page shows them."""
    resident = _resident()
    community = resident.community
    own = rankings.own_resident(resident, community)
    frozen = rankings.board_closed(community, own)
    metric = wanted["metric"]

    def shown(place):
        if place is None:
            return None
        return {"rank": None if frozen else place.rank, "value": place.value}

    periods = []
    for name, key in rankings.current_periods(utcnow()).items():
        places = rankings.own_places(community, own, key, metric, None)
        periods.append({"period": name, "key": key, "mine": shown(places.mine), "household": shown(places.household)})
    return {"community_id": community.id, "metric": metric, "frozen": frozen, "periods": periods}


@bp.route("/history")
@bp.arguments(ShowHistorySchema, location="query")
@bp.response(200, HistorySchema)
@policy(RESIDENT)
def history(wanted: dict):
    """Her ledger entries of one month (China time), newest first, labelled as 我的积分 labels them."""
    page = month_history(_resident().id, wanted["month"], utcnow())
    entries = []
    for e in page.entries:
        text = describe(e)
        entries.append({"id": e.id, "created_at": e.created_at, "amount": e.amount, "balance_after": e.balance_after,
                        "kind": str(e.kind), "label": str(text.label), "detail": str(text.detail)})
    return {"month": page.month, "earned": page.earned, "spent": page.spent, "other": page.other,
            "balance_end": page.balance_end, "previous": page.older, "next": page.newer, "months": page.months,
            "entries": entries}


@bp.route("/member-code")
@bp.response(200, MemberCodeSchema)
@policy(RESIDENT)
def member_code():
    """The member code the counter or a team lead scans (会员码): short-lived, ask again before it expires."""
    now = utcnow()
    return {"code": codes.member_phone_code(current_app.secret_key, _resident(), now),
            "expires_at": codes.member_code_expires_at(now), "refresh_seconds": codes.MEMBER_CODE_SECONDS}


@bp.route("/service-record")
@bp.arguments(ShowServiceRecordSchema, location="query")
@bp.response(200, ServiceRecordSchema)
@policy(RESIDENT)
def service_record(wanted: dict):
    """Her approved volunteer attendances with their hours and points (志愿服务证明), this year unless asked."""
    today = local_date(utcnow())
    record = records.service_record(_resident(), wanted["start"] or today.replace(month=1, day=1),
                                    wanted["end"] or today)
    return {"start": record.start, "end": record.end, "count": record.count, "minutes": record.minutes,
            "hours": round(record.minutes / 60, 1), "points": sum(line.points for line in record.lines),
            "lines": [{"day": line.day, "activity": line.activity, "kind": line.kind, "team": line.team,
                       "minutes": line.minutes, "method": line.method, "recorded_by": line.recorded_by,
                       "points": line.points} for line in record.lines]}


blueprints = [bp]
