"""Nobody awards themselves (DESIGN.md invariant 10, issue 11 finding 1): a lead's own household's attendance
waits for another lead or the office; hand records and attendances above the community's ceiling wait for the
office; the community's daily and monthly caps hold on every path; the office reviews unusual awards."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services import rules
from pointsapp.volunteering.models import Attendance
from pointsapp.volunteering.services import activities, checkin
from tests.concurrency import run_threads


@pytest.fixture
def place(make, db, now):
    community = make.community()
    team = make.team(community)
    home = make.household(community)
    lead_resident = make.resident(home, name="张建国", phone=make.phone())
    lead = make.user(name="张建国", resident=lead_resident)
    make.grant(lead, "team_lead", community, team=team)
    other_lead = make.user(name="李队长", resident=make.resident(community=community, phone=make.phone()))
    make.grant(other_lead, "team_lead", community, team=team)
    admin = make.admin(community)
    spouse = make.resident(home, name="王丽")  # the lead's household
    neighbour = make.resident_user(community=community)

    def new_activity(**overrides):
        fields = dict(title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(minutes=30),
                      ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="check_in")
        fields.update(overrides)
        return activities.create_activity(lead, team, activities.ActivityFields(**fields), now)

    return dict(community=community, team=team, lead=lead, lead_resident=lead_resident, other_lead=other_lead,
                admin=admin, spouse=spouse, neighbour=neighbour, new_activity=new_activity)


def code_of(call):
    with pytest.raises(DomainError) as err:
        call()
    return err.value.code


# ---- nobody awards themselves ---------------------------------------------------------------------

def test_lead_recording_his_own_attendance_earns_nothing_until_another_lead_approves(place, now):
    a = place["new_activity"]()
    me = place["lead_resident"]
    result = checkin.check_in(place["lead"], me, a, now, method="lead_scan")
    assert (result.attendance.status, result.attendance.hold, result.points) == ("pending", "self", 0)
    assert ledger.balance_of(me.id) == 0
    assert code_of(lambda: checkin.approve(place["lead"], a, [result.attendance.id], now)) == "self_award"
    assert ledger.balance_of(me.id) == 0
    done = checkin.approve(place["other_lead"], a, [result.attendance.id], now)
    assert (done.approved, done.points) == (1, 10)
    assert ledger.balance_of(me.id) == 10


def test_lead_scanning_the_code_of_his_own_activity_waits_too(place, now):
    a = place["new_activity"]()
    result = checkin.check_in(place["lead"], place["lead_resident"], a, now, method="self_scan")
    assert (result.attendance.hold, result.points) == ("self", 0)


def test_lead_recording_his_household_waits_and_the_office_may_approve(place, now):
    a = place["new_activity"]()
    result = checkin.check_in(place["lead"], place["spouse"], a, now, method="lead_scan")
    assert (result.attendance.hold, ledger.balance_of(place["spouse"].id)) == ("self", 0)
    done = checkin.office_approve(place["admin"], place["community"], [result.attendance.id], now)
    assert (done.approved, done.points) == (1, 10)


def test_a_neighbour_scanning_the_code_is_awarded_by_the_rule(place, now):
    a = place["new_activity"]()
    resident = place["neighbour"].resident
    result = checkin.check_in(place["neighbour"], resident, a, now)
    assert (result.attendance.status, result.attendance.hold, result.points) == ("approved", "", 10)


def test_lead_approving_a_batch_leaves_his_own_record_to_someone_else(place, now):
    a = place["new_activity"](award_on="approval")
    own = checkin.check_in(place["lead"], place["lead_resident"], a, now, method="lead_scan").attendance
    other = checkin.check_in(place["neighbour"], place["neighbour"].resident, a, now).attendance
    done = checkin.approve(place["lead"], a, [own.id, other.id], now)
    assert (done.approved, done.points, done.left) == (1, 10, 1)
    assert ledger.balance_of(place["lead_resident"].id) == 0


def test_admin_cannot_award_herself_or_undo_her_own_deduction(make, place, now):
    community = place["community"]
    admin_resident = make.resident(community=community, phone=make.phone())
    admin = make.user(name="刘红梅", resident=admin_resident)
    make.grant(admin, "community_admin", community)
    assert code_of(lambda: ledger.manual(admin, admin_resident, 50, "辛苦了", "m1", now)) == "self_award"
    deduction = ledger.manual(place["admin"], admin_resident, 50, "奖励", "m2", now)
    taken = ledger.manual(place["admin"], admin_resident, -20, "违规", "m3", now)
    assert deduction.amount == 50
    assert code_of(lambda: ledger.reverse_by_admin(admin, taken.id, community.id, "撤销", now)) == "self_award"
    assert ledger.balance_of(admin_resident.id) == 30


# ---- the office's approval: hand records and awards above the ceiling ----------------------------

def test_hand_records_wait_for_the_office_not_the_lead(place, now):
    a = place["new_activity"]()
    resident = place["neighbour"].resident
    att = checkin.record_manual(place["lead"], resident, a, now - timedelta(minutes=20), now, "忘带手机", now).attendance
    assert (att.status, att.hold, ledger.balance_of(resident.id)) == ("pending", "manual", 0)
    assert code_of(lambda: checkin.approve(place["lead"], a, [att.id], now)) == "office_review"
    assert code_of(lambda: checkin.approve(place["other_lead"], a, [att.id], now)) == "office_review"
    assert code_of(lambda: checkin.reject(place["lead"], a, [att.id], "错了", now)) == "office_review"
    checkin.office_approve(place["admin"], place["community"], [att.id], now)
    assert ledger.balance_of(resident.id) == 10


def test_an_activity_above_the_ceiling_waits_for_the_office(place, now):
    place["community"].award_ceiling = 30
    a = place["new_activity"](points=1000)
    resident = place["neighbour"].resident
    result = checkin.check_in(place["neighbour"], resident, a, now)
    assert (result.attendance.status, result.attendance.hold, result.points) == ("pending", "ceiling", 0)
    assert code_of(lambda: checkin.approve(place["lead"], a, [result.attendance.id], now)) == "office_review"
    rejected = checkin.office_reject(place["admin"], place["community"], [result.attendance.id], "分值不合理", now)
    assert rejected == 1 and ledger.balance_of(resident.id) == 0


def test_hours_that_come_to_more_than_the_ceiling_wait_for_the_office(place, clock, now):
    place["community"].award_ceiling = 20
    a = place["new_activity"](rule="hourly", points=10, award_on="check_out", ends_at=now + timedelta(hours=4))
    resident = place["neighbour"].resident
    checkin.check_in(place["neighbour"], resident, a, now)
    out = checkin.check_in(place["neighbour"], resident, a, now + timedelta(hours=3))  # 30 points
    assert (out.action, out.attendance.status, out.attendance.hold, out.points) == ("checked_out", "pending",
                                                                                    "ceiling", 0)
    done = checkin.office_approve(place["admin"], place["community"], [out.attendance.id], now + timedelta(hours=3))
    assert done.points == 30


def test_office_cannot_approve_its_own_household(make, place, now):
    a = place["new_activity"]()
    community = place["community"]
    admin_resident = make.resident(community=community, phone=make.phone())
    admin = make.user(name="刘红梅", resident=admin_resident)
    make.grant(admin, "community_admin", community)
    att = checkin.record_manual(place["lead"], admin_resident, a, now - timedelta(minutes=20), now, "补录",
                                now).attendance
    assert code_of(lambda: checkin.office_approve(admin, community, [att.id], now)) == "self_award"
    assert checkin.office_approve(place["admin"], community, [att.id], now).points == 10


# ---- caps on every path ----------------------------------------------------------------------------

def test_daily_cap_cuts_attendance_awards_and_refuses_manual_awards(place, clock, now):
    place["community"].earn_cap_day = 15
    resident = place["neighbour"].resident
    first = checkin.check_in(place["neighbour"], resident, place["new_activity"](), now)
    second = checkin.check_in(place["neighbour"], resident, place["new_activity"](title="第二场"), now)
    third = checkin.check_in(place["neighbour"], resident, place["new_activity"](title="第三场"), now)
    assert [(r.points, r.capped) for r in (first, second, third)] == [(10, False), (5, True), (0, True)]
    assert third.attendance.status == "approved"  # the attendance counts; only the points stop
    assert code_of(lambda: ledger.manual(place["admin"], resident, 1, "表扬", "cap-1", now)) == "cap_reached"
    assert ledger.balance_of(resident.id) == 15
    # the next day (China time) has room again
    tomorrow = now + timedelta(days=1)
    assert ledger.manual(place["admin"], resident, 10, "表扬", "cap-2", tomorrow).amount == 10


def test_monthly_cap_counts_reversals_back(place, now):
    place["community"].earn_cap_month = 20
    resident = place["neighbour"].resident
    entry = ledger.manual(place["admin"], resident, 20, "表扬", "m-1", now)
    assert code_of(lambda: ledger.manual(place["admin"], resident, 1, "表扬", "m-2", now)) == "cap_reached"
    ledger.reverse_by_admin(place["admin"], entry.id, place["community"].id, "录错了", now)
    assert ledger.manual(place["admin"], resident, 20, "表扬", "m-3", now).amount == 20


def test_caps_follow_china_time_days(place, now):
    """00:30 on 26 Nov in China is still 25 Nov in UTC: the new day has room."""
    place["community"].earn_cap_day = 10
    resident = place["neighbour"].resident
    late = now.replace(hour=15, minute=50)  # 23:50 China time, 25 Nov
    ledger.manual(place["admin"], resident, 10, "表扬", "d-1", late)
    assert code_of(lambda: ledger.manual(place["admin"], resident, 1, "表扬", "d-2", late)) == "cap_reached"
    after_midnight = late + timedelta(minutes=40)  # 00:30 China time, 26 Nov; still 25 Nov in UTC
    assert ledger.manual(place["admin"], resident, 10, "表扬", "d-3", after_midnight).amount == 10


def test_two_awards_at_once_share_the_last_room_once(app, backend, place, now):
    if backend != "postgresql":
        pytest.skip("on SQLite every writing unit of work holds the one write lock: no interleaving to test")
    place["community"].earn_cap_day = 10
    resident_id = place["neighbour"].resident.id
    lead_id, community_id = place["lead"].id, place["community"].id
    acts = [place["new_activity"](title=f"活动{i}").id for i in range(2)]
    _db.session.commit()

    def award(activity_id):
        def work():
            from pointsapp.accounts.models import User
            from pointsapp.tree.models import Resident
            from pointsapp.volunteering.models import Activity
            return checkin.check_in(_db.session.get(User, lead_id), _db.session.get(Resident, resident_id),
                                    _db.session.get(Activity, activity_id), now, method="lead_scan").points
        return work

    results = run_threads(app, *(award(a) for a in acts), together=True)
    assert sorted(r[1] for r in results) == [0, 10], results
    assert ledger.balance_of(resident_id) == 10
    assert rules.earned_since(resident_id, rules.day_start(now)) == 10
    assert community_id


# ---- the probe, over HTTP ---------------------------------------------------------------

def test_lead_cannot_mint_points_for_himself_over_http(client, login, place, now):
    """Create an activity worth 1000, award on check-in, record his own attendance: three rounds, no points."""
    login(client, place["lead"])
    me = place["lead_resident"]
    for round_ in range(3):
        resp = client.post(f"/lead/teams/{place['team'].id}/activities/new", data={
            "title": f"自己的活动{round_}", "kind": "楼道广告清理", "place": "家里",
            "starts_at": "2026-11-25T10:00", "ends_at": "2026-11-25T12:00", "rule": "fixed", "points": "1000",
            "award_on": "check_in", "code_seconds": "30"})
        assert resp.status_code in (200, 302)
        activity_id = max(a.id for a in _all_activities())
        resp = client.post(f"/lead/activities/{activity_id}/checkin", data={"resident_id": str(me.id)})
        assert resp.status_code == 302
    assert ledger.balance_of(me.id) == 0
    assert _db.session.scalar(select(LedgerEntry).where(LedgerEntry.resident_id == me.id)) is None
    holds = _db.session.scalars(select(Attendance.hold).where(Attendance.resident_id == me.id)).all()
    assert len(holds) == 3 and set(holds) == {"ceiling"}


def _all_activities():
    from pointsapp.volunteering.models import Activity
    return _db.session.scalars(select(Activity)).all()


def test_office_review_page_lists_held_records_and_unusual_awards(client, login, place, now):
    a = place["new_activity"]()
    for i in range(4):  # a norm of 10 points
        r = place["new_activity"](title=f"常规{i}")
        checkin.check_in(place["neighbour"], place["neighbour"].resident, r, now)
    big = ledger.manual(place["admin"], place["spouse"], 200, "特别奖励", "big-1", now)
    held = checkin.check_in(place["lead"], place["lead_resident"], a, now, method="lead_scan").attendance
    login(client, place["admin"])
    page = client.get(f"/admin/c/{place['community'].id}/awards/").get_data(as_text=True)
    assert "张建国" in page and f'value="{held.id}"' in page
    assert "常规的 20.0 倍" in page and "特别奖励" in page and f">{big.amount}<" in page
    resp = client.post(f"/admin/c/{place['community'].id}/awards/decide", data={"ids": str(held.id),
                                                                                 "action": "approve"})
    assert resp.status_code == 302
    assert ledger.balance_of(place["lead_resident"].id) == 10


def test_office_sets_the_rules_and_refuses_nonsense(client, login, place):
    login(client, place["admin"])
    url = f"/admin/c/{place['community'].id}/awards/rules"
    client.post(url, data={"award_ceiling": "50", "earn_cap_day": "60", "earn_cap_month": "300"})
    c = place["community"]
    _db.session.refresh(c)
    assert (c.award_ceiling, c.earn_cap_day, c.earn_cap_month) == (50, 60, 300)
    resp = client.post(url, data={"award_ceiling": "50", "earn_cap_day": "400", "earn_cap_month": "300"},
                       follow_redirects=True)
    assert resp.status_code == 200
    _db.session.refresh(c)
    assert c.earn_cap_day == 60
    assert client.post(url, data={"award_ceiling": "１０\x00"}).status_code in (302, 400)


def test_raising_the_points_after_check_in_does_not_pass_the_ceiling(place, now):
    """The lead edits an approval activity from 10 to 1000 points after people checked in, then approves."""
    place["community"].award_ceiling = 30
    a = place["new_activity"](award_on="approval")
    resident = place["neighbour"].resident
    att = checkin.check_in(place["neighbour"], resident, a, now).attendance
    assert att.hold == ""
    a.points = 1000
    done = checkin.approve(place["lead"], a, [att.id], now)
    assert (done.approved, done.points, done.left) == (0, 0, 1)
    assert (att.status, att.hold, ledger.balance_of(resident.id)) == ("pending", "ceiling", 0)
    assert checkin.office_approve(place["admin"], place["community"], [att.id], now).points == 1000


def test_the_resident_is_told_who_approves_her_held_points(app, client, login, place, now):
    """Scanning an activity above the ceiling: 签到成功, and the page says the community office decides."""
    from pointsapp.volunteering.services import codes

    place["community"].award_ceiling = 30
    a = place["new_activity"](points=100)
    code = codes.checkin_code(app.secret_key, a, codes.step_of(now, 30))
    _db.session.commit()
    login(client, place["neighbour"])
    client.get(f"/c/{code}")
    done = client.post("/c/confirm")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "签到成功" in page and "社区审核" in page and "+100" not in page
    assert ledger.balance_of(place["neighbour"].resident.id) == 0
