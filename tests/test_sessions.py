"""Login sessions end on the server (issue 11, finding 3): a cookie saved before logging out, before a
password change on another device, or before the office's button, opens nothing afterwards."""

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import event, select

from pointsapp.accounts import services as accounts
from pointsapp.accounts.models import LoginSession, User
from pointsapp.accounts.services import sessions
from pointsapp.audit.models import AuditEvent
from pointsapp.core.errors import PermissionDenied

from .factories import PASSWORD
from .test_accounts import post_login, session_cookie

ANDROID = "Mozilla/5.0 (Linux; Android 14; V2307A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
WECHAT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148 MicroMessenger/8.0.44 NetType/WIFI Language/zh_CN")


def _device(app, agent=ANDROID, address="10.0.0.7"):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": agent, "REMOTE_ADDR": address})
    return client


def _replay(app, cookie, agent=ANDROID, address="10.0.0.7"):
    """A second browser that only has the saved cookie."""
    other = _device(app, agent, address)
    other.set_cookie("session", cookie)
    return other


def _assert_logged_out(response):
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_cookie_saved_before_logout_opens_nothing_afterwards(app, make, db):
    user = make.resident_user(make.community())
    db.session.commit()
    browser = _device(app)
    assert post_login(browser, user.phone).status_code == 302
    saved = session_cookie(browser)
    assert browser.get("/me/points").status_code == 200

    assert browser.post("/logout").status_code == 302

    _assert_logged_out(_replay(app, saved).get("/me/points"))
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    assert row.revoked_at is not None and row.revoked_reason == "logout"


def test_changing_the_password_logs_out_a_saved_cookie_of_another_device(app, make, db):
    user = make.user()
    db.session.commit()
    phone, laptop = _device(app), _device(app, WECHAT, "10.0.0.8")
    post_login(phone, user.phone)
    post_login(laptop, user.phone)
    saved = session_cookie(laptop)

    assert phone.post("/password", data={"old": PASSWORD, "new": "我家门前有棵枣树"}).status_code == 302

    assert phone.get("/password").status_code == 200  # the device that changed it stays in
    _assert_logged_out(_replay(app, saved, WECHAT, "10.0.0.8").get("/password"))


def test_the_offices_button_logs_the_resident_out_everywhere(app, make, login, db):
    community = make.community()
    admin = make.admin(community)
    user = make.resident_user(community)
    db.session.commit()
    resident = _device(app)
    post_login(resident, user.phone)
    saved = session_cookie(resident)
    office = login(app.test_client(), admin)
    page = office.get(f"/admin/c/{community.id}/residents/{user.resident_id}").get_data(as_text=True)
    assert f"/residents/{user.resident_id}/end-sessions" in page

    response = office.post(f"/admin/c/{community.id}/residents/{user.resident_id}/end-sessions")

    assert response.status_code == 302
    _assert_logged_out(_replay(app, saved).get("/me/points"))
    _assert_logged_out(resident.get("/me/points"))
    assert office.get("/password").status_code == 200  # the office itself stays in


def test_an_admin_of_another_community_cannot_log_a_resident_out(app, make, db, now):
    community, other = make.community(), make.community()
    user = make.resident_user(community)
    token = sessions.start_session(user, now, user_agent=ANDROID, ip="10.0.0.7",
                                   rules=sessions.SessionRules.from_config(app.config))

    with pytest.raises(PermissionDenied):
        accounts.office_end_sessions(make.admin(other), user, now)
    assert sessions.find_session(token, now) is user


def test_the_office_button_on_another_communitys_resident_is_refused(app, make, login, db):
    community, other = make.community(), make.community()
    user = make.resident_user(community)
    outsider = login(app.test_client(), make.admin(other))
    db.session.commit()
    resident = _device(app)
    post_login(resident, user.phone)

    response = outsider.post(f"/admin/c/{community.id}/residents/{user.resident_id}/end-sessions")

    assert response.status_code in (403, 404)
    assert resident.get("/me/points").status_code == 200


def test_an_admin_setting_the_password_logs_out_every_device(app, make, login, db):
    community = make.community()
    admin = make.admin(community)
    user = make.resident_user(community)
    db.session.commit()
    resident = _device(app)
    post_login(resident, user.phone)

    office = login(app.test_client(), admin)
    office.post(f"/admin/c/{community.id}/residents/{user.resident_id}/password", data={"password": "fresh-pass-9"})

    _assert_logged_out(resident.get("/me/points"))


def test_the_device_list_shows_two_devices_and_ending_one_logs_it_out(app, make, db):
    user = make.resident_user(make.community())
    db.session.commit()
    phone, wechat = _device(app), _device(app, WECHAT, "10.0.0.8")
    post_login(phone, user.phone)
    post_login(wechat, user.phone)

    page = phone.get("/account/sessions").get_data(as_text=True)

    assert "Android 上的 Chrome" in page and "iPhone 上的 微信" in page  # in the reader's language
    assert page.count("本机") == 1 or page.count("This device") == 1
    assert "2026年11月25日 10:30" in page  # last used, in China time (the clock stands at 02:30 UTC)
    other = db.session.scalar(select(LoginSession).where(LoginSession.device == "WeChat on iPhone"))
    assert phone.post(f"/account/sessions/{other.id}/end").status_code == 302

    _assert_logged_out(wechat.get("/me/points"))
    assert phone.get("/me/points").status_code == 200
    assert "WeChat on iPhone" not in phone.get("/account/sessions").get_data(as_text=True)


def test_log_out_all_other_devices_keeps_this_one(app, make, db):
    user = make.user()
    db.session.commit()
    devices = [_device(app, ANDROID, f"10.0.0.{i}") for i in range(1, 4)]
    for device in devices:
        post_login(device, user.phone)

    assert devices[0].post("/account/sessions/end-others").status_code == 302

    assert devices[0].get("/password").status_code == 200
    for device in devices[1:]:
        _assert_logged_out(device.get("/password"))


def test_nobody_can_end_another_persons_session(app, make, db):
    victim, other = make.user(), make.user()
    db.session.commit()
    victims_phone, attacker = _device(app), _device(app, WECHAT, "10.9.9.9")
    post_login(victims_phone, victim.phone)
    post_login(attacker, other.phone)
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == victim.id))

    attacker.post(f"/account/sessions/{row.id}/end")
    attacker.post("/account/sessions/end-others")

    assert victims_phone.get("/password").status_code == 200


def test_a_resident_session_ends_after_30_idle_days_and_lives_on_with_use(app, make, db, clock):
    user = make.resident_user(make.community())
    db.session.commit()
    kept, idle = _device(app), _device(app, WECHAT, "10.0.0.8")
    post_login(kept, user.phone)
    post_login(idle, user.phone)

    for _month in range(4):  # used every 29 days: four months later it still works
        clock.advance(days=29)
        assert kept.get("/me/points").status_code == 200

    _assert_logged_out(idle.get("/me/points"))


def test_a_resident_is_still_logged_in_after_29_days_and_not_after_31(app, make, db, clock):
    user = make.resident_user(make.community())
    db.session.commit()
    at_29, at_31 = _device(app), _device(app, WECHAT, "10.0.0.8")
    post_login(at_29, user.phone)
    post_login(at_31, user.phone)

    clock.advance(days=29)
    assert at_29.get("/me/points").status_code == 200
    clock.advance(days=2)  # 31 days after at_31 was last used
    _assert_logged_out(at_31.get("/me/points"))


def test_a_session_ends_at_its_absolute_limit_however_often_it_is_used(app, make, db, clock, monkeypatch):
    monkeypatch.setitem(app.config, "RESIDENT_SESSION_MAX_DAYS", 100)
    user = make.resident_user(make.community())
    db.session.commit()
    browser = _device(app)
    post_login(browser, user.phone)

    for _ in range(4):
        clock.advance(days=24)
        assert browser.get("/me/points").status_code == 200
    clock.advance(days=5)
    _assert_logged_out(browser.get("/me/points"))


def test_staff_sessions_end_after_12_idle_hours(app, make, db, clock):
    community = make.community()
    clerk = make.clerk(community)
    db.session.commit()
    counter = _device(app)
    post_login(counter, clerk.phone)

    clock.advance(hours=11, minutes=59)
    assert counter.get("/password").status_code == 200
    clock.advance(hours=11, minutes=59)
    assert counter.get("/password").status_code == 200  # last used 11:59 ago: still in
    clock.advance(hours=12, seconds=1)
    _assert_logged_out(counter.get("/password"))


def test_only_the_tokens_hash_is_stored(app, make, db):
    user = make.user()
    db.session.commit()
    browser = _device(app)
    post_login(browser, user.phone)
    with browser.session_transaction() as sess:
        token = sess["_user_id"]

    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    assert token not in row.token_hash and row.token_hash == sessions.hash_token(token)
    assert (row.device, row.ip) == ("Chrome on Android", "10.0.0.7")


def test_a_page_costs_one_query_for_the_session_and_writes_only_every_few_minutes(app, make, db, clock):
    user = make.user()
    db.session.commit()
    browser = _device(app)
    post_login(browser, user.phone)
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if "login_session" in statement:
            statements.append(statement.split()[0])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            clock.advance(seconds=30)
            assert browser.get("/password").status_code == 200
        assert statements == ["SELECT"] * 3
        statements.clear()
        clock.advance(minutes=5)
        browser.get("/password")
        assert statements == ["SELECT", "UPDATE"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    db.session.refresh(row)
    assert row.last_seen_at == clock.now()


def test_the_cookie_goes_out_when_the_session_changed_or_its_use_is_recorded_not_with_every_page(app, make, db,
                                                                                                   clock):
    """A cookie sent with every response lets a slow answer put back the session as it was before a faster one
    changed it: a late favicon after her login dropped the check-in code she had just scanned. It goes out when
    the session changed, and when the login session's use is recorded (every 5 minutes of use), its expiry then
    moved on as the server's row is (so a resident in daily use is never logged out by her cookie)."""
    user = make.resident_user(make.community())
    db.session.commit()
    browser = _device(app)
    post_login(browser, user.phone)
    browser.get("/password")  # the first form of the session stores its CSRF token: the cookie goes out
    for _ in range(3):
        clock.advance(seconds=30)
        page = browser.get("/password")
        assert page.status_code == 200 and "Set-Cookie" not in page.headers
    clock.advance(minutes=5)
    touched = browser.get("/password")
    assert "Expires=" in touched.headers["Set-Cookie"]
    assert "Set-Cookie" not in browser.get("/password").headers
    # a change to the session still goes out at once (here the language; a scanned code likewise)
    switched = browser.post("/lang/en")
    assert "session=" in switched.headers.get("Set-Cookie", "")


def test_a_disabled_account_is_out_on_every_device(app, make, db):
    user = make.user()
    db.session.commit()
    browser = _device(app)
    post_login(browser, user.phone)

    db.session.get(User, user.id).is_enabled = False
    db.session.commit()

    assert browser.get("/password").status_code == 302


@pytest.mark.parametrize(("agent", "expected"), [
    (ANDROID, "Chrome on Android"),
    (WECHAT, "WeChat on iPhone"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 "
     "Edg/120.0", "Edge on Windows"),
    ("Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HuaweiBrowser/14.0 Mobile Safari/537.36", "Huawei Browser on HarmonyOS"),
    ("", "?"),
    ("x" * 500, "x" * 60),
])
def test_devices_are_described_in_a_few_words(agent, expected):
    assert sessions.describe_device(agent) == expected


def test_sessions_that_ended_a_month_ago_are_deleted_at_the_next_login(app, make, db, now, clock):
    user = make.user()
    rules = sessions.SessionRules.from_config(app.config)
    old = sessions.start_session(user, now, user_agent=ANDROID, ip="10.0.0.7", rules=rules)
    recent = sessions.start_session(user, now, user_agent=ANDROID, ip="10.0.0.8", rules=rules)
    sessions.end_session(user, sessions.find_session(old, now).login_session.id, now, "logout")
    later = now + timedelta(days=31)
    sessions.end_session(user, sessions.find_session(recent, now).login_session.id, later - timedelta(days=1))

    sessions.start_session(user, later, user_agent=ANDROID, ip="10.0.0.9", rules=rules)

    kept = db.session.scalars(select(LoginSession.ip).where(LoginSession.user_id == user.id)).all()
    assert sorted(kept) == ["10.0.0.8", "10.0.0.9"]


def test_a_resident_given_a_staff_role_gets_the_short_staff_session_within_minutes(app, make, db, clock):
    community = make.community()
    user = make.resident_user(community)
    db.session.commit()
    browser = _device(app)
    post_login(browser, user.phone)
    make.grant(db.session.get(User, user.id), "clerk", community, store=make.store(community))
    db.session.commit()

    clock.advance(minutes=6)
    assert browser.get("/password").status_code == 200  # the next use applies the rule of the roles held now
    clock.advance(hours=12, minutes=1)
    _assert_logged_out(browser.get("/password"))


def test_a_residents_cookie_outlives_the_browser_and_a_staff_cookie_does_not(app, make, db):
    community = make.community()
    resident, clerk = make.resident_user(community), make.clerk(community)
    db.session.commit()

    kept = post_login(_device(app), resident.phone).headers["Set-Cookie"]
    closed = post_login(_device(app), clerk.phone).headers["Set-Cookie"]

    assert "Expires=" in kept and "Expires=" not in closed


def test_a_residents_cookie_lives_30_days(app, make, db, now):
    user = make.resident_user(make.community())
    db.session.commit()
    cookie = post_login(_device(app), user.phone).headers["Set-Cookie"]
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    # the cookie's clock is the real one (Flask stamps it), the session's the fixed one: compare the length
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30, minutes=1)


def test_an_unticked_keep_me_logged_in_ends_with_the_browser_and_after_12_idle_hours(app, make, db, clock):
    user = make.resident_user(make.community())
    db.session.commit()
    browser = _device(app)
    cookie = post_login(browser, user.phone, keep=False).headers["Set-Cookie"]
    assert "Expires=" not in cookie
    clock.advance(hours=11)
    assert browser.get("/me/points").status_code == 200
    clock.advance(hours=12, minutes=1)  # the touch above kept the short rule, not the resident's 30 days
    _assert_logged_out(browser.get("/me/points"))


def test_the_login_page_offers_keep_me_logged_in_ticked_and_a_forgotten_password_link(client):
    page = client.get("/login").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="remember"[^>]*>', page)
    assert box and "checked" in box.group(0)
    assert "30" in page and "/forgot-password" in page


def test_the_forgotten_password_page_shows_the_offices_phone_and_hours(client, make, db):
    community = make.community()
    community.phone, community.office_hours = "0535-7212345", "周一至周五 8:30-17:00"
    db.session.commit()
    page = client.get("/forgot-password").get_data(as_text=True)
    assert "0535-7212345" in page and "周一至周五 8:30-17:00" in page and "/activate" in page


# ---- 忘记密码: the office's one-button reset ---------------------------------------------------------

def test_the_offices_reset_ends_her_logins_stops_the_old_password_and_prints_a_new_slip(app, make, login, db):
    community = make.community()
    admin = make.admin(community)
    user = make.resident_user(community)
    db.session.commit()
    phone = _device(app)
    post_login(phone, user.phone)
    office = login(app.test_client(), admin)
    page = office.get(f"/admin/c/{community.id}/residents/{user.resident_id}").get_data(as_text=True)
    assert f"/residents/{user.resident_id}/reset" in page

    slip = office.post(f"/admin/c/{community.id}/residents/{user.resident_id}/reset")

    assert slip.status_code == 200
    code = re.search(r'class="code">(\d{4}) (\d{4})<', slip.get_data(as_text=True))
    assert code, "the slip shows the new activation code"
    _assert_logged_out(phone.get("/me/points"))
    assert post_login(_device(app), user.phone).status_code == 422  # the old password no longer works
    # at the office's computer the box is unticked: a login that ends with the browser, not 30 days
    activated = _device(app).post("/activate", data={"phone": user.phone, "code": "".join(code.groups()),
                                                     "password": "新的密码很长123", "consent": "y"})
    assert activated.status_code == 302 and "Expires=" not in activated.headers["Set-Cookie"]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account_reset")).all()
    assert [(e.actor_id, e.resident_id) for e in events] == [(admin.id, user.resident_id)]


def test_nobody_resets_their_own_account(app, make, db, now):
    community = make.community()
    admin = make.resident_user(community)  # an office member who is also a resident here
    make.grant(admin, "community_admin", community)

    with pytest.raises(PermissionDenied) as refused:
        accounts.reset_by_office(admin, admin, now)
    assert refused.value.code == "self_reset"
    assert admin.password_hash is not None


def test_a_clerk_and_another_communitys_office_cannot_reset(app, make, login, db, now):
    community, other = make.community(), make.community()
    user = make.resident_user(community)
    clerk = make.clerk(community)
    for outsider in (clerk, make.admin(other)):
        with pytest.raises(PermissionDenied):
            accounts.reset_by_office(outsider, user, now)
    db.session.commit()
    client = login(app.test_client(), clerk)
    assert client.post(f"/admin/c/{community.id}/residents/{user.resident_id}/reset").status_code == 403
