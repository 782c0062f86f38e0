"""Residents' sign-ups (报名 / 取消报名): states, the lead's cut-off, China-time days, the lead's roster and the
resident's activities list."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.volunteering.models import Signup
from pointsapp.volunteering.services import activities, checkin, signups

from .concurrency import run_threads


@pytest.fixture
def setup(make, db, now):
    community = make.community()
    team = make.team(community, name="红心服务队")
    lead = make.user(name="队长")
    make.grant(lead, "team_lead", community, team=team)
    resident_user = make.resident_user(community=community)

    def new_activity(**overrides):
        fields = dict(title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now + timedelta(days=2),
                      ends_at=now + timedelta(days=2, hours=2), rule="fixed", points=10, award_on="check_in")
        fields.update(overrides)
        return activities.create_activity(lead, team, activities.ActivityFields(**fields), now)

    return community, team, lead, resident_user, new_activity


def active_signups(activity) -> int:
    return _db.session.scalar(select(func.count()).select_from(Signup).where(
        Signup.activity_id == activity.id, Signup.cancelled_at.is_(None)))


def refusal(fn) -> str:
    with pytest.raises(DomainError) as exc:
        fn()
    return exc.value.code


def test_sign_up_twice_is_one_sign_up_and_cancel_then_sign_up_again(setup, now):
    *_, user, new_activity = setup
    a = new_activity()
    first = signups.sign_up(user, a, now)
    again = signups.sign_up(user, a, now + timedelta(seconds=1))  # a double tap
    assert first.id == again.id and active_signups(a) == 1
    assert signups.places(user.resident, [a], now)[a.id].can_cancel
    signups.cancel(user, a, now)
    signups.cancel(user, a, now)  # a retried cancel changes nothing
    assert active_signups(a) == 0
    place = signups.places(user.resident, [a], now)[a.id]
    assert not place.signed_up and place.can_sign_up
    assert signups.sign_up(user, a, now).id == first.id and active_signups(a) == 1
    assert _db.session.scalar(select(func.count()).select_from(Signup)) == 1


def test_the_default_cut_off_is_two_hours_before_the_start(setup, now):
    *_, new_activity = setup
    a = new_activity()
    assert a.signup_closes_minutes == 120 and a.signup_closes_at == a.starts_at - timedelta(hours=2)


@pytest.mark.parametrize("after, allowed", [(timedelta(0), True), (timedelta(seconds=1), False),
                                            (-timedelta(seconds=1), True)])
def test_sign_up_and_cancel_until_exactly_the_cut_off(setup, now, after, allowed):
    *_, user, new_activity = setup
    a = new_activity(starts_at=now + timedelta(hours=5), ends_at=now + timedelta(hours=6), signup_closes_minutes=60)
    cut_off = now + timedelta(hours=4)
    signups.sign_up(user, a, now)
    if allowed:
        signups.cancel(user, a, cut_off + after)
        signups.sign_up(user, a, cut_off + after)
        assert active_signups(a) == 1
    else:
        assert refusal(lambda: signups.cancel(user, a, cut_off + after)) == "signup_closed"
        assert active_signups(a) == 1  # still signed up: the lead counts on her
        signups.cancel(user, a, cut_off)  # (a fresh one) … at the cut-off itself she could
        assert refusal(lambda: signups.sign_up(user, a, cut_off + after)) == "signup_closed"


def test_the_cut_off_message_names_the_time_in_china_time(setup, now, app):
    *_, user, new_activity = setup
    # starts 2026-11-27 09:00 China time, closes 07:00 China time (23:00 UTC the day before)
    a = new_activity(starts_at=datetime(2026, 11, 27, 1, 0, tzinfo=UTC), ends_at=datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        with pytest.raises(DomainError) as exc:
            signups.sign_up(user, a, datetime(2026, 11, 26, 23, 0, 1, tzinfo=UTC))
        assert "11月27日 07:00" in str(exc.value)


def test_past_and_running_activities_refuse_sign_up_and_cancel(setup, now):
    *_, user, new_activity = setup
    a = new_activity(starts_at=now + timedelta(hours=3), ends_at=now + timedelta(hours=5), signup_closes_minutes=0)
    signups.sign_up(user, a, now)
    assert refusal(lambda: signups.cancel(user, a, now + timedelta(hours=4))) == "already_over"
    assert refusal(lambda: signups.sign_up(user, a, now + timedelta(hours=6))) == "already_over"


def test_attended_means_no_sign_up_and_no_cancel(setup, make, now):
    *_, user, new_activity = setup
    a = new_activity(starts_at=now + timedelta(minutes=20), ends_at=now + timedelta(hours=2), signup_closes_minutes=0)
    signups.sign_up(user, a, now)
    checkin.check_in(user, user.resident, a, now, method="self_scan")
    place = signups.places(user.resident, [a], now)[a.id]
    assert place.attended and not place.can_sign_up and not place.can_cancel
    assert refusal(lambda: signups.cancel(user, a, now)) == "already_checked_in"
    walk_in = make.resident_user(household=user.resident.household)
    checkin.check_in(walk_in, walk_in.resident, a, now, method="self_scan")
    assert refusal(lambda: signups.sign_up(walk_in, a, now)) == "already_checked_in"
    assert not signups.places(walk_in.resident, [a], now)[a.id].can_sign_up


def test_a_full_activity_refuses_and_a_cancel_frees_the_place(setup, make, now):
    community, *_, user, new_activity = setup
    a = new_activity(capacity=1)
    signups.sign_up(user, a, now)
    other = make.resident_user(community=community)
    assert signups.places(other.resident, [a], now)[a.id].full
    assert refusal(lambda: signups.sign_up(other, a, now)) == "capacity_full"
    assert signups.sign_up(user, a, now)  # her own double tap is not "full"
    signups.cancel(user, a, now)
    signups.sign_up(other, a, now)
    assert active_signups(a) == 1


def test_another_community_cannot_sign_up(setup, make, now):
    *_, new_activity = setup
    a = new_activity()
    stranger = make.resident_user(community=make.community())
    assert refusal(lambda: signups.sign_up(stranger, a, now)) == "not_resident_of_community"


def test_an_activity_at_7_am_on_new_years_day_china_time_is_listed_on_1_january(setup, now):
    *_, user, new_activity = setup
    starts = datetime(2027, 1, 1, 7, 0, tzinfo=signups.LOCAL_TZ)  # 2026-12-31 23:00 UTC
    a = new_activity(starts_at=starts, ends_at=starts + timedelta(hours=2))
    today = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)
    days = signups.by_day(signups.upcoming(a.community_id, today), today)
    assert [d for d, _acts in days] == [datetime(2027, 1, 1).date()]
    assert a.starts_at.astimezone(UTC).day == 31


def test_the_window_is_today_and_four_weeks_in_china_time(setup, now):
    *_, new_activity = setup
    # now: 2026-11-25 10:30 China time; four weeks of days: the window ends at 2026-12-23 00:00 China time
    last_in = new_activity(title="最后一天", starts_at=datetime(2026, 12, 22, 23, 0, tzinfo=signups.LOCAL_TZ),
                           ends_at=datetime(2026, 12, 22, 23, 30, tzinfo=signups.LOCAL_TZ))
    new_activity(title="太远", starts_at=datetime(2026, 12, 23, 0, 0, tzinfo=signups.LOCAL_TZ),
                 ends_at=datetime(2026, 12, 23, 1, 0, tzinfo=signups.LOCAL_TZ))
    new_activity(title="结束了", starts_at=now - timedelta(hours=2), ends_at=now)
    running = new_activity(title="进行中", starts_at=now - timedelta(days=1), ends_at=now + timedelta(hours=1))
    listed = signups.upcoming(last_in.community_id, now)
    assert [a.title for a in listed] == ["进行中", "最后一天"]
    assert signups.day_of(running, now) == datetime(2026, 11, 25).date()
    # a week to a page: week 0 is today and the six days after it (running ones included), week 3 the last
    assert [a.title for a in signups.upcoming(last_in.community_id, now, week=0)] == ["进行中"]
    assert [a.title for a in signups.upcoming(last_in.community_id, now, week=3)] == ["最后一天"]
    assert signups.week_days(now, 3) == (datetime(2026, 12, 16).date(), datetime(2026, 12, 22).date())


def test_the_list_pages_a_week_at_a_time(setup, client, login, now):
    """A resident's phone shows one week, with links to the others; a week out of range says so."""
    *_, user, new_activity = setup
    new_activity(title="本周清理", starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=1))
    new_activity(title="下周值守", starts_at=now + timedelta(days=9), ends_at=now + timedelta(days=9, hours=1))
    _db.session.commit()
    login(client, user)
    first = client.get("/activities").get_data(as_text=True)
    assert "本周清理" in first and "下周值守" not in first
    assert 'href="/activities?week=1"' in first and 'aria-current="page"' in first
    second = client.get("/activities?week=1").get_data(as_text=True)
    assert "下周值守" in second and "本周清理" not in second
    for week in ("4", "99", "-1", "１０"):  # past the last week, negative, full-width: the first week, and why
        page = client.get(f"/activities?week={week}")
        assert page.status_code == 200 and "本周清理" in page.get_data(as_text=True)


def test_filters_by_team_and_kind(setup, make, now):
    community, team, lead, user, new_activity = setup
    new_activity(title="清理", kind="楼道广告清理")
    new_activity(title="值守", kind="安全值守")
    other_team = make.team(community, name="平安队")
    assert [a.title for a in signups.upcoming(community.id, now, kind="安全值守")] == ["值守"]
    assert [a.title for a in signups.upcoming(community.id, now, team_id=team.id)] == ["清理", "值守"]
    assert signups.upcoming(community.id, now, team_id=other_team.id) == []


def test_lead_sees_who_signed_up_and_cancellations_disappear(setup, client, login, make, now):
    community, team, lead, user, new_activity = setup
    a = new_activity(capacity=5)
    user.resident.phone = "13912345678"
    other = make.resident_user(community=community)
    signups.sign_up(user, a, now)
    signups.sign_up(other, a, now)
    signups.cancel(other, a, now)
    _db.session.commit()
    page = login(client, lead).get(f"/lead/activities/{a.id}").get_data(as_text=True)
    roster = page[page.index('id="signups"'):page.index("</section>", page.index('id="signups"'))]
    assert user.resident.name in roster and user.resident.household.address in roster and "5678" in roster
    assert "13912345678" not in page
    assert other.resident.name not in roster
    assert "1 / 5" in roster


def test_signup_and_cancel_through_the_pages(setup, client, login, now):
    *_, user, new_activity = setup
    a = new_activity(title="扶老助弱上门")
    _db.session.commit()
    login(client, user)
    page = client.get("/activities").get_data(as_text=True)
    assert "扶老助弱上门" in page and "报名" in page
    client.post(f"/activities/{a.id}/signup", data={"next": "/activities"})
    client.post(f"/activities/{a.id}/signup", data={"next": "/activities"})  # double tap
    assert active_signups(a) == 1
    page = client.get("/activities").get_data(as_text=True)
    mine = page[page.index('id="mine"'):page.index('id="ahead"')]
    assert "扶老助弱上门" in mine and "取消报名" in mine
    response = client.post(f"/activities/{a.id}/cancel", data={"next": "/activities?kind=x"})
    assert response.headers["Location"] == "/activities?kind=x"
    assert active_signups(a) == 0
    assert client.post(f"/activities/{a.id}/cancel", data={"next": "https://evil.example/"}).headers["Location"] \
        == "/activities"


def test_another_resident_cannot_cancel_someone_elses_sign_up(setup, client, login, make, now):
    community, *_, user, new_activity = setup
    a = new_activity()
    signups.sign_up(user, a, now)
    neighbour = make.resident_user(community=community)
    _db.session.commit()
    login(client, neighbour)
    response = client.post(f"/activities/{a.id}/cancel", data={"signup_id": "1", "resident_id": str(user.resident_id)})
    assert response.status_code == 302
    assert active_signups(a) == 1
    page = client.get("/activities").get_data(as_text=True)
    assert "您没有报名这个活动" in page or "没有报名" in page


def test_the_list_shows_checked_in_and_full_and_refuses_hostile_filters(setup, client, login, make, now):
    community, *_, user, new_activity = setup
    there = new_activity(title="正在进行", starts_at=now - timedelta(minutes=10), ends_at=now + timedelta(hours=1))
    checkin.check_in(user, user.resident, there, now, method="self_scan")
    full = new_activity(title="名额已满", capacity=1)
    signups.sign_up(make.resident_user(community=community), full, now)
    _db.session.commit()
    login(client, user)
    page = client.get("/activities").get_data(as_text=True)
    there_card = page[page.index("正在进行"):page.index("</article>", page.index("正在进行"))]
    assert "已签到" in there_card and "报名</button>" not in there_card
    full_card = page[page.index("名额已满"):page.index("</article>", page.index("名额已满"))]
    assert "已满" in full_card and "报名</button>" not in full_card
    for query in ("?team=100000000000000000000", "?team=%EF%BC%91", "?kind=" + "x" * 10000, "?team=abc", "?team=0&kind="):
        assert client.get("/activities" + query).status_code == 200
    assert client.post("/activities/100000000000000000000/signup").status_code in (302, 404)


def _signing_up(user_id, activity_id, now):
    def work():
        from pointsapp.accounts.models import User
        from pointsapp.volunteering.models import Activity
        return signups.sign_up(_db.session.get(User, user_id), _db.session.get(Activity, activity_id), now).id
    return work


def test_a_double_tap_at_the_same_moment_makes_one_sign_up(app, setup, now):
    *_, user, new_activity = setup
    a = new_activity()
    _db.session.commit()
    results = run_threads(app, *[_signing_up(user.id, a.id, now) for _ in range(4)], together=True)
    assert [code for code, _id in results] == ["ok"] * 4 and len({i for _c, i in results}) == 1
    assert active_signups(a) == 1


def test_the_last_place_goes_to_one_resident_only(app, setup, make, now):
    community, *_, new_activity = setup
    a = new_activity(capacity=1)
    users = [make.resident_user(community=community) for _ in range(4)]
    _db.session.commit()
    results = run_threads(app, *[_signing_up(u.id, a.id, now) for u in users], together=True)
    assert sorted(code for code, _id in results) == ["capacity_full"] * 3 + ["ok"], results
    assert active_signups(a) == 1


def test_the_lead_sets_the_cut_off_on_the_activity_form(setup, client, login, now):
    _c, team, lead, _user, new_activity = setup
    odd = new_activity(signup_closes_minutes=45)
    _db.session.commit()
    login(client, lead)
    form = client.get(f"/lead/activities/{odd.id}/edit").get_data(as_text=True)
    assert "报名截止" in form and '<option selected value="45">' in form
    data = {"title": "安全值守", "kind": "安全值守", "place": "东门", "starts_at": "2026-12-01T09:00",
            "ends_at": "2026-12-01T11:00", "rule": "fixed", "points": "10", "award_on": "check_in",
            "signup_closes_minutes": "1440"}
    response = client.post(f"/lead/teams/{team.id}/activities/new", data=data)
    assert response.status_code == 302
    made = activities.get_activity(int(response.headers["Location"].rsplit("/", 1)[1]))
    assert made.signup_closes_minutes == 1440
    assert made.signup_closes_at == datetime(2026, 11, 30, 9, 0, tzinfo=signups.LOCAL_TZ)
    refused = client.post(f"/lead/teams/{team.id}/activities/new", data={**data, "signup_closes_minutes": "-5"})
    assert refused.status_code == 200 and made.id == max(a.id for a in signups.upcoming(team.community_id, now))


def test_sign_up_and_cancel_need_the_forms_csrf_token(app, setup, client, login, now):
    *_, user, new_activity = setup
    a = new_activity()
    signups.sign_up(user, a, now)
    _db.session.commit()
    login(client, user)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"/activities/{a.id}/cancel").status_code in (302, 400)
        assert "页面打开太久或重复提交了" in client.get("/activities").get_data(as_text=True)
        other = new_activity(title="另一个")
        _db.session.commit()
        assert client.post(f"/activities/{other.id}/signup").status_code in (302, 400)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert active_signups(a) == 1 and active_signups(other) == 0


def test_a_night_activity_shows_the_day_it_ends(setup, client, login, now):
    """16:00 until 01:00 the next day reads with both days, never as if it ended before it began."""
    *_, user, new_activity = setup
    start = datetime(2026, 11, 27, 16, 0, tzinfo=signups.LOCAL_TZ)
    new_activity(title="夜间安全值守", starts_at=start, ends_at=start + timedelta(hours=9))
    new_activity(title="白天清理", starts_at=start - timedelta(hours=6), ends_at=start - timedelta(hours=4))
    _db.session.commit()
    login(client, user)
    page = client.get("/activities").get_data(as_text=True)
    assert "11月27日 16:00 – 11月28日 01:00" in page
    assert "11月27日 10:00 – 12:00" in page
