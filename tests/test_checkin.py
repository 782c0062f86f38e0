"""Check-in codes, the resident's scan flow, hourly arithmetic, windows, capacity and approval."""
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.volunteering.models import Attendance
from pointsapp.volunteering.services import activities, checkin, codes

SECRET = "test-secret"  # the test app's SECRET_KEY


@pytest.fixture
def setup(make, db, now):
    community = make.community()
    team = make.team(community)
    lead = make.user(name="队长")
    make.grant(lead, "team_lead", community, team=team)
    resident_user = make.resident_user(community=community)

    def new_activity(**overrides):
        fields = dict(title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(minutes=30),
                      ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="check_in")
        fields.update(overrides)
        return activities.create_activity(lead, team, activities.ActivityFields(**fields), now)

    return community, team, lead, resident_user, new_activity


def step(now, seconds=30):
    return codes.step_of(now, seconds)


# ---- codes -----------------------------------------------------------------------------------

def test_current_and_previous_step_codes_are_accepted(setup, now):
    *_, new_activity = setup
    a = new_activity()
    for s in (step(now), step(now) - 1):
        assert codes.read_checkin_code(SECRET, codes.checkin_code(SECRET, a, s), a, now).step == s


def test_code_expires_after_its_own_step_and_the_next(setup, now):
    *_, new_activity = setup
    a = new_activity()
    code = codes.checkin_code(SECRET, a, step(now))
    boundary = (step(now) + 1) * 30  # first second of the next step
    from datetime import UTC, datetime
    still_ok = datetime.fromtimestamp(boundary + 29, UTC)  # last second of the next step
    too_late = datetime.fromtimestamp(boundary + 30, UTC)
    assert codes.read_checkin_code(SECRET, code, a, still_ok)
    with pytest.raises(DomainError) as err:
        codes.read_checkin_code(SECRET, code, a, too_late)
    assert err.value.code == "code_expired"


@pytest.mark.parametrize("mangle", [
    lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # tampered signature
    lambda c: re.sub(r"\.(\d+)\.", lambda m: f".{int(m.group(1)) + 1}.", c),  # tampered step
    lambda c: "a999" + c[c.index("."):],  # other activity id
    lambda c: "garbage",
    lambda c: "",
])
def test_forged_and_tampered_codes_are_refused(setup, now, mangle):
    *_, new_activity = setup
    a = new_activity()
    forged = mangle(codes.checkin_code(SECRET, a, step(now)))
    with pytest.raises(DomainError) as err:
        codes.read_checkin_code(SECRET, forged, a, now)
    assert err.value.code == "forged_code"


def test_code_of_one_activity_does_not_open_another(setup, now):
    *_, new_activity = setup
    a, b = new_activity(), new_activity(title="另一个")
    with pytest.raises(DomainError) as err:
        codes.read_checkin_code(SECRET, codes.checkin_code(SECRET, a, step(now)), b, now)
    assert err.value.code == "forged_code"


def test_code_signed_with_another_secret_is_refused(setup, now):
    *_, new_activity = setup
    a = new_activity()
    with pytest.raises(DomainError):
        codes.read_checkin_code(SECRET, codes.checkin_code("other-secret", a, step(now)), a, now)


def test_poster_code_only_when_allowed_and_renewing_voids_it(setup, now):
    _, _, lead, _, new_activity = setup
    a = new_activity(allow_poster=True)
    poster = codes.checkin_code(SECRET, a, None)
    assert codes.read_checkin_code(SECRET, poster, a, now + timedelta(hours=1)).step is None
    a.allow_poster = False
    with pytest.raises(DomainError) as err:
        codes.read_checkin_code(SECRET, poster, a, now)
    assert err.value.code == "poster_not_allowed"
    a.allow_poster = True
    activities.renew_codes(lead, a, now)
    with pytest.raises(DomainError):
        codes.read_checkin_code(SECRET, poster, a, now)


# ---- check-in rules ----------------------------------------------------------------------------

def test_fixed_rule_awards_on_check_in_once(setup, now):
    _, _, _, user, new_activity = setup
    a = new_activity()
    first = checkin.check_in(user, user.resident, a, now)
    again = checkin.check_in(user, user.resident, a, now + timedelta(minutes=20))
    assert (first.action, first.points, again.action, again.points) == ("checked_in", 10, "already", 0)
    assert ledger.balance_of(user.resident_id) == 10
    entry = _db.session.get(LedgerEntry, first.attendance.ledger_entry_id)
    assert (entry.idempotency_key, entry.source_type) == (f"attendance:{first.attendance.id}", "attendance")


@pytest.mark.parametrize("minutes, expected", [(11, 0), (59, 4), (60, 5), (119, 9), (150, 12), (600, 20)])
def test_hourly_rule_rounds_down_and_caps(setup, now, minutes, expected):
    """5 points an hour, counted by the second and rounded down to whole points, at most 20."""
    _, _, _, user, new_activity = setup
    a = new_activity(rule="hourly", points=5, hourly_cap=20, award_on="check_out",
                     starts_at=now, ends_at=now + timedelta(hours=12))
    checkin.check_in(user, user.resident, a, now)
    result = checkin.check_in(user, user.resident, a, now + timedelta(minutes=minutes))
    if minutes >= 10:
        assert result.action == "checked_out"
    assert ledger.balance_of(user.resident_id) == expected


def test_hourly_checkout_never_counts_beyond_the_activity_end(setup, now):
    _, _, _, user, new_activity = setup
    a = new_activity(rule="hourly", points=10, award_on="check_out", starts_at=now, ends_at=now + timedelta(hours=2))
    checkin.check_in(user, user.resident, a, now)
    checkin.check_in(user, user.resident, a, now + timedelta(hours=2, minutes=25))  # scanned late, within window
    assert ledger.balance_of(user.resident_id) == 20


def test_a_quick_second_scan_is_not_a_checkout(setup, now):
    _, _, _, user, new_activity = setup
    a = new_activity(rule="hourly", points=10, award_on="check_out")
    checkin.check_in(user, user.resident, a, now)
    result = checkin.check_in(user, user.resident, a, now + timedelta(minutes=2))
    assert result.action == "already" and result.attendance.checked_out_at is None


@pytest.mark.parametrize("offset, code", [(-timedelta(minutes=31), "not_started"),
                                          (timedelta(hours=2, minutes=31), "already_over")])
def test_check_in_window_edges(setup, now, offset, code):
    _, _, _, user, new_activity = setup
    a = new_activity(starts_at=now, ends_at=now + timedelta(hours=2))  # window: 30 min either side
    with pytest.raises(DomainError) as err:
        checkin.check_in(user, user.resident, a, now + offset)
    assert err.value.code == code
    # the last minute inside the window still works
    inside = now - timedelta(minutes=30) if code == "not_started" else now + timedelta(hours=2, minutes=30)
    assert checkin.check_in(user, user.resident, a, inside).action == "checked_in"


def test_capacity_edge(setup, make, now):
    community, _, _, user, new_activity = setup
    a = new_activity(capacity=2)
    others = [make.resident_user(community=community) for _ in range(2)]
    checkin.check_in(others[0], others[0].resident, a, now)
    checkin.check_in(others[1], others[1].resident, a, now)
    with pytest.raises(DomainError) as err:
        checkin.check_in(user, user.resident, a, now)
    assert err.value.code == "capacity_full"


def test_resident_of_another_community_is_refused(setup, make, now):
    *_, new_activity = setup
    stranger = make.resident_user(community=make.community())
    with pytest.raises(DomainError) as err:
        checkin.check_in(stranger, stranger.resident, new_activity(), now)
    assert err.value.code == "not_resident_of_community"


def test_resident_cannot_check_in_somebody_else(setup, make, now):
    community, _, _, user, new_activity = setup
    neighbour = make.resident(community=community)
    with pytest.raises(DomainError) as err:
        checkin.check_in(user, neighbour, new_activity(), now)
    assert err.value.code == "forbidden"


def test_approval_rule_awards_only_after_approval_and_reject_reverses(setup, make, now):
    community, _, lead, user, new_activity = setup
    a = new_activity(award_on="approval")
    other = make.resident_user(community=community)
    r1 = checkin.check_in(user, user.resident, a, now)
    r2 = checkin.check_in(other, other.resident, a, now)
    assert r1.points == 0 and r1.pending_approval and ledger.balance_of(user.resident_id) == 0
    assert checkin.approve(lead, a, [r1.attendance.id, r2.attendance.id], now) == (2, 20, 0)
    assert checkin.approve(lead, a, [r1.attendance.id], now) == (0, 0, 0)  # approving twice awards once
    assert checkin.reject(lead, a, [r2.attendance.id], "未到场", now) == 1
    assert ledger.balance_of(user.resident_id) == 10 and ledger.balance_of(other.resident_id) == 0


def test_manual_record_is_clamped_to_the_activity_and_needs_a_reason(setup, make, now):
    community, _, lead, _, new_activity = setup
    a = new_activity(rule="hourly", points=6, award_on="check_out", starts_at=now, ends_at=now + timedelta(hours=2))
    elder = make.resident(community=community, name="无手机的老人")
    with pytest.raises(DomainError) as err:
        checkin.record_manual(lead, elder, a, now - timedelta(hours=5), now + timedelta(hours=9), " ", now)
    assert err.value.code == "reason_missing"
    result = checkin.record_manual(lead, elder, a, now - timedelta(hours=5), now + timedelta(hours=9), "老人无手机", now)
    assert result.attendance.method == "manual" and result.attendance.manual_reason == "老人无手机"
    assert ledger.balance_of(elder.id) == 0  # a hand record waits for the office (tests/test_separation.py)
    checkin.office_approve(make.admin(community), community, [result.attendance.id], now)
    assert ledger.balance_of(elder.id) == 12  # 2 hours, never more than the activity's length


def test_only_the_teams_lead_or_admin_runs_the_activity(setup, make, now):
    community, _, _, _, new_activity = setup
    a = new_activity()
    other_lead = make.team_lead(community)
    elder = make.resident(community=community)
    with pytest.raises(DomainError) as err:
        checkin.check_in(other_lead, elder, a, now, method="lead_scan")
    assert err.value.code == "forbidden"
    admin = make.admin(community)
    assert checkin.check_in(admin, elder, a, now, method="lead_scan").action == "checked_in"


def test_member_card_and_phone_codes(setup, make, now):
    community, *_ = setup
    r = make.resident(community=community)
    card = codes.member_card_code(SECRET, r)
    assert codes.read_member_code(SECRET, card, now, lambda i: r).is_card
    phone = codes.member_phone_code(SECRET, r, now)
    assert not codes.read_member_code(SECRET, phone, now + timedelta(seconds=30), lambda i: r).is_card
    with pytest.raises(DomainError) as err:
        codes.read_member_code(SECRET, phone, now + timedelta(seconds=61), lambda i: r)
    assert err.value.code == "code_expired"
    r.card_serial += 1  # card reissued
    with pytest.raises(DomainError) as err:
        codes.read_member_code(SECRET, card, now, lambda i: r)
    assert err.value.code == "card_replaced"


# ---- concurrency -------------------------------------------------------------------------------

def test_duplicate_scans_from_two_tabs_at_once_award_once(app, setup, now):
    _, _, _, user, new_activity = setup
    a = new_activity()
    _db.session.commit()
    user_id, activity_id, resident_id = user.id, a.id, user.resident_id
    _db.session.rollback()
    n = 6
    barrier = threading.Barrier(n)
    outcomes = []

    def tab():
        from pointsapp.accounts.models import User
        from pointsapp.volunteering.models import Activity
        with app.app_context():
            try:
                barrier.wait()  # (before any query: on SQLite a query holds the write lock)
                u = _db.session.get(User, user_id)
                act = _db.session.get(Activity, activity_id)
                outcomes.append(checkin.check_in(u, u.resident, act, now).action)
                _db.session.commit()
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=tab) for _ in range(n)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert sorted(outcomes) == ["already"] * (n - 1) + ["checked_in"]
    assert _db.session.scalar(select(func.count()).select_from(Attendance)) == 1
    assert ledger.balance_of(resident_id) == 10


def test_last_place_taken_concurrently_by_one_resident_only(app, setup, make, now):
    community, _, _, _, new_activity = setup
    a = new_activity(capacity=1)
    users = [make.resident_user(community=community) for _ in range(6)]
    _db.session.commit()
    ids, activity_id = [u.id for u in users], a.id
    _db.session.rollback()
    barrier = threading.Barrier(len(ids))
    outcomes = []

    def scan(uid):
        from pointsapp.accounts.models import User
        from pointsapp.volunteering.models import Activity
        with app.app_context():
            try:
                barrier.wait()
                u = _db.session.get(User, uid)
                act = _db.session.get(Activity, activity_id)
                outcomes.append(checkin.check_in(u, u.resident, act, now).action)
                _db.session.commit()
            except DomainError as exc:
                _db.session.rollback()
                outcomes.append(exc.code)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=scan, args=(i,)) for i in ids]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert sorted(outcomes) == ["capacity_full"] * 5 + ["checked_in"]


# ---- the resident's web flow ---------------------------------------------------------------------

def test_get_never_checks_in_and_the_scan_survives_login(app, client, setup, now):
    _, _, _, user, new_activity = setup
    a = new_activity(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    code = codes.checkin_code(app.secret_key, a, codes.step_of(now, 30))
    _db.session.commit()
    response = client.get(f"/c/{code}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _db.session.scalar(select(func.count()).select_from(Attendance)) == 0
    response = client.post("/login", data={"phone": user.phone, "password": "secret-pass", "next": "/c/confirm"})
    assert response.headers["Location"] == "/c/confirm"
    page = client.get("/c/confirm")
    assert "确认签到" in page.get_data(as_text=True)
    assert _db.session.scalar(select(func.count()).select_from(Attendance)) == 0  # still nothing
    done = client.post("/c/confirm")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "签到成功" in page and "+10" in page
    assert ledger.balance_of(user.resident_id) == 10


def test_expired_and_forged_codes_get_clear_pages(app, client, setup, now):
    *_, new_activity = setup
    a = new_activity()
    old = codes.checkin_code(app.secret_key, a, 1000)
    _db.session.commit()
    expired = client.get(f"/c/{old}")
    assert expired.status_code == 410 and "二维码已过期" in expired.get_data(as_text=True)
    forged = client.get(f"/c/{old[:-2]}{'xx' if old[-2:] != 'xx' else 'yy'}")  # (a MAC may end in xx: 1 in 4096)
    assert forged.status_code == 400 and "二维码无效" in forged.get_data(as_text=True)
    assert client.get("/c/not-a-code").status_code == 400


def test_lead_checks_in_a_resident_by_scanning_the_printed_member_card(app, client, login, setup, make, now):
    community, _, lead, _, new_activity = setup
    a = new_activity(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    elder = make.resident(community=community, name="没有手机的张奶奶")
    card = codes.member_card_code(app.secret_key, elder)
    _db.session.commit()
    login(client, lead)
    response = client.post(f"/lead/activities/{a.id}/checkin", data={"code": card})
    assert response.status_code == 302
    attendance = _db.session.scalar(select(Attendance).where(Attendance.resident_id == elder.id))
    assert attendance.method == "lead_scan" and attendance.recorded_by_id == lead.id
    assert ledger.balance_of(elder.id) == 10
    page = client.get(f"/lead/activities/{a.id}").get_data(as_text=True)
    assert "没有手机的张奶奶" in page and "队长扫码" in page


def test_a_forged_card_code_at_the_lead_gives_a_message_not_an_error(client, login, setup, now):
    _, _, lead, _, new_activity = setup
    a = new_activity()
    _db.session.commit()
    login(client, lead)
    response = client.post(f"/lead/activities/{a.id}/checkin", data={"code": "m1.c1.AAAAAAAAAAAAAAAA"}, follow_redirects=True)
    assert response.status_code == 200 and "会员码无效" in response.get_data(as_text=True)
    assert _db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_attendance_counts_hours_attendances_and_team_in_the_rankings(setup, now):
    from pointsapp.rankings import services as rankings
    community, team, lead, user, new_activity = setup
    a = new_activity(rule="hourly", points=6, award_on="check_out", starts_at=now, ends_at=now + timedelta(hours=3))
    checkin.check_in(user, user.resident, a, now)
    checkin.check_in(user, user.resident, a, now + timedelta(minutes=90))
    mine = rankings.rank_of(community.id, "A", "resident", user.resident_id, metric="minutes")
    assert mine.value == 90
    assert rankings.rank_of(community.id, "A", "resident", user.resident_id, metric="attendances").value == 1
    assert rankings.leaderboard(community.id, "A", "team")[0].subject_id == team.id


def test_fixed_activities_count_service_time_from_check_in_to_their_scheduled_end(setup, make, now):
    from pointsapp.rankings import services as rankings
    community, team, lead, user, new_activity = setup
    a = new_activity(starts_at=now - timedelta(minutes=30), ends_at=now + timedelta(hours=2))  # fixed, on check-in
    checkin.check_in(user, user.resident, a, now)  # 30 minutes late: 120 minutes left
    hourly = new_activity(title="安全值守", rule="hourly", points=6, award_on="check_out",
                          starts_at=now, ends_at=now + timedelta(hours=3))
    checkin.check_in(user, user.resident, hourly, now)  # not checked out: no time yet, no points
    assert rankings.rank_of(community.id, "A", "resident", user.resident_id, metric="minutes").value == 120
    other = make.resident_user(community=community)
    checkin.check_in(other, other.resident, a, now - timedelta(minutes=40))  # before the start: from the start
    assert rankings.rank_of(community.id, "A", "resident", other.resident_id, metric="minutes").value == 150
    assert rankings.rank_of(community.id, "A", "team", team.id, metric="minutes").value == 270


def test_service_record_lists_approved_attendances_with_who_recorded_them(setup, make, now):
    from pointsapp.core.periods import local_date
    from pointsapp.volunteering.services import records
    community, _, lead, user, new_activity = setup
    a = new_activity(title="安全值守", kind="安全值守", rule="hourly", points=6, award_on="check_out",
                     starts_at=now, ends_at=now + timedelta(hours=3))
    b = new_activity(title="扶老助弱", kind="扶老助弱", award_on="approval")
    checkin.check_in(user, user.resident, a, now)
    checkin.check_in(user, user.resident, a, now + timedelta(minutes=100))
    pending = checkin.check_in(user, user.resident, b, now)  # not approved: not on the record
    day = local_date(now)
    record = records.service_record(user.resident, day, day)
    assert [(x.activity, x.minutes, x.method) for x in record.lines] == [("安全值守", 100, "self_scan")]
    checkin.approve(lead, b, [pending.attendance.id], now)
    record = records.service_record(user.resident, day, day)
    # a fixed-points activity has no check-out: from check-in to its scheduled end (now + 2 h)
    assert record.count == 2 and record.minutes == 100 + 120
    with pytest.raises(DomainError):
        records.service_record(user.resident, day, day - timedelta(days=1))


def test_the_rankings_page_shows_volunteer_time_in_hours(setup, client, login, now):
    community, team, lead, user, new_activity = setup
    a = new_activity(rule="hourly", points=6, award_on="check_out", starts_at=now, ends_at=now + timedelta(hours=3))
    checkin.check_in(user, user.resident, a, now)
    checkin.check_in(user, user.resident, a, now + timedelta(minutes=90))
    login(client, user)
    page = client.get("/rankings?period=all&by=resident&metric=minutes").get_data(as_text=True)
    assert "服务时长（小时）：1.5" in page  # 90 minutes, as hours, in her own place
    assert '<td class="num">1.5</td>' in page


@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_hand_recorded_time_out_of_any_calendar_is_a_message_not_a_500(client, login, setup, make, now, typed):
    community, _, lead, _, new_activity = setup
    a = new_activity()
    elder = make.resident(community=community, name="张奶奶")
    _db.session.commit()
    login(client, lead)
    response = client.post(f"/lead/activities/{a.id}/manual", data={
        "resident_id": elder.id, "checked_in_at": typed, "checked_out_at": "", "reason": "老人无手机"},
        follow_redirects=True)
    assert response.status_code == 200
    assert "请填写 1900 年到 2100 年之间的日期" in response.get_data(as_text=True)
    assert _db.session.scalar(select(func.count()).select_from(Attendance)) == 0
