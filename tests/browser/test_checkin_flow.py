"""QR check-in end to end: the lead shows the code on a projector, a resident scans it with a phone.

The QR is read back from a screenshot of the screen by a real decoder (zxing-cpp), so the test
checks what a phone camera would see, not what the server meant to draw. The Chinese texts below
are the zh catalogue's translations (pointsapp/translations/zh/LC_MESSAGES/messages.po).
"""
import re
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import (
    ADMIN_PHONE,
    DEMO_PASSWORD,
    RESIDENT_PHONE,
    SCREENSHOTS,
    assert_chinese_ui,
    log_in,
    screenshot,
)

pytestmark = pytest.mark.browser

LEAD_PHONE = "13800000002"  # 张建国, lead of 梨园便民服务队
RESIDENT = "王秀英"
# build_activities: every team has an activity around the time the live server was seeded
CLEANUP = "梨园楼道广告清理"  # 梨园便民服务队: happening now, 10 points at check-in
CIVIC = "梨园文明倡导"  # 梨园乐民文艺队: happening now, 5 points at check-in

PROJECTOR = {"width": 1280, "height": 800}

# what the catalogue says (msgid -> msgstr)
CONFIRM = "确认签到"  # Confirm check-in
CHECKED_IN = "签到成功"  # Checked in
ALREADY = "您已经签到过了"  # You are already checked in
NOT_THROUGH = "签到没有成功"  # Check-in did not go through
FORGED = "这个二维码无效"  # This code is not one of ours. Please scan the code shown at the activity.
NOBODY_YET = "还没有人签到。"  # Nobody has checked in yet.
SELF_SCAN = "居民扫码"  # scanned by the resident
ENGLISH = ("Confirm check-in", "Checked in", "You are already checked in", "Check-in did not go through",
           "This code is not one of ours", "points", "My points", "See my points", "Team", "Place", "Time")


def code_url_pattern(live_server) -> re.Pattern:
    """http://127.0.0.1:PORT/c/a<activity id>.<time step>.<mac: 12 bytes, url-safe base64>"""
    return re.compile(re.escape(live_server.url) + r"/c/a(?P<id>\d+)\.(?P<step>\d+)\.(?P<mac>[A-Za-z0-9_-]{16})")


def open_screen(page, title: str) -> int:
    """From the lead's start page, open the check-in screen of the activity with this title; its id."""
    page.goto("/lead/")
    card = page.locator("main li.card", has=page.get_by_role("link", name=title, exact=True))
    expect(card).to_have_count(1)
    with page.expect_navigation() as navigation:
        card.locator("a.button").click()  # 显示签到码
    assert navigation.value.status == 200
    match = re.fullmatch(r"/lead/activities/(\d+)/screen", urlsplit(page.url).path)
    assert match, page.url
    return int(match.group(1))


def read_qr(page, name: str) -> str:
    """Screenshot the QR <img> as shown and decode it as a phone would."""
    qr = page.locator("img#qr")
    expect(qr).to_be_visible()
    page.wait_for_function("() => { const i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0; }")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    qr.screenshot(path=str(path))
    found = zxingcpp.read_barcodes(Image.open(path))
    assert len(found) == 1, f"expected one QR code in {path}, decoded {len(found)}"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def lead_scans_screen(new_context, live_server, phone: str, title: str, shot: str | None = None):
    """A lead (or admin) logs in on a projector-sized browser, opens the screen and reads its QR.
    Returns (page, activity id, decoded URL)."""
    page = new_context("desktop").new_page()
    page.set_viewport_size(PROJECTOR)
    log_in(page, phone)
    activity_id = open_screen(page, title)
    expect(page.locator("main h1")).to_have_text(title)
    url = read_qr(page, f"{shot or 'checkin'}-qr")
    match = code_url_pattern(live_server).fullmatch(url)
    assert match, f"the QR holds {url!r}, not a check-in URL of {live_server.url}"
    assert int(match["id"]) == activity_id
    return page, activity_id, url


def balance(page) -> int:
    page.goto("/me/points")
    return int(page.locator("main section.balance .value").inner_text().strip())


def attendance_row(page, name: str):
    return page.locator("#attendance-table tbody tr", has_text=name)


def confirm(page):
    """Tap the big 确认签到 button; the response of the page it leads to."""
    button = page.get_by_role("button", name=CONFIRM)
    with page.expect_navigation() as navigation:
        button.click()
    return navigation.value


def test_resident_scans_the_leads_screen_and_gets_10_points_once(new_context, live_server):
    lead, activity_id, url = lead_scans_screen(new_context, live_server, LEAD_PHONE, CLEANUP, "checkin-screen")
    lead.screenshot(path=str(SCREENSHOTS / "checkin-screen-projector.png"))  # what the room sees
    # the whole screen fits the projector: nobody has to scroll to show the code
    height = lead.evaluate("document.documentElement.scrollHeight")
    assert height <= PROJECTOR["height"], f"the check-in screen is {height}px high, more than the projector's 800"
    box = lead.locator("img#qr").bounding_box()
    assert box["width"] >= 400, f"the QR is small on a projector: {box}"
    expect(lead.locator("#left")).to_have_text(re.compile(r"^([1-9]|[12]\d|30)$"))  # the countdown runs

    resident = new_context("phone").new_page()
    log_in(resident, RESIDENT_PHONE)
    before = balance(resident)

    response = resident.goto(url)
    assert response.status == 200
    assert urlsplit(resident.url).path == "/c/confirm"
    assert_chinese_ui(resident, *ENGLISH)
    expect(resident.locator("main h1")).to_have_text(CLEANUP)
    expect(resident.locator("main")).to_contain_text("梨园便民服务队")
    expect(resident.locator("main")).to_contain_text(RESIDENT)  # 以王秀英的身份签到
    button = resident.get_by_role("button", name=CONFIRM)
    expect(button).to_be_visible()
    big = button.bounding_box()
    assert big["height"] >= 64 and big["width"] >= 300, f"the confirm button is not big: {big}"
    screenshot(resident, "checkin-confirm-phone")
    assert_accessible(resident, "the confirm page")

    # opening the link (GET) checked nobody in: a chat app's link preview must not count
    lead.goto(f"/lead/activities/{activity_id}")
    expect(lead.locator("#attendance-table tbody")).to_have_text(NOBODY_YET)
    assert balance(resident) == before

    resident.goto(url)
    response = confirm(resident)
    assert response.status == 200
    assert re.fullmatch(r"/c/done/\d+", urlsplit(resident.url).path), resident.url
    assert_chinese_ui(resident, *ENGLISH)
    expect(resident.locator("main h1")).to_have_text(CHECKED_IN)
    expect(resident.locator("main .points")).to_contain_text("+10")
    expect(resident.locator("main .balance-line strong")).to_have_text(str(before + 10))
    screenshot(resident, "checkin-done-phone")
    assert_accessible(resident, "the check-in success page")
    assert balance(resident) == before + 10

    # scanning again and confirming again gives nothing more
    resident.goto(url)
    assert urlsplit(resident.url).path == "/c/confirm"
    response = confirm(resident)
    assert response.status == 200
    expect(resident.locator("main h1")).to_have_text(ALREADY)
    expect(resident.locator("main")).not_to_contain_text("+10")
    screenshot(resident, "checkin-already-phone")
    assert balance(resident) == before + 10

    # the lead sees the resident, checked in by their own scan, with the 10 points
    lead.goto(f"/lead/activities/{activity_id}")
    rows = attendance_row(lead, RESIDENT)
    expect(rows).to_have_count(1)
    expect(rows.locator(".method")).to_have_text(SELF_SCAN)
    expect(rows.locator(".points")).to_have_text("10")
    assert_chinese_ui(lead, "Attendance", "scanned by the resident", "approved")
    screenshot(lead, "checkin-lead-activity-desktop")
    assert_accessible(lead, "the lead's activity page")


def test_scan_before_logging_in_survives_the_login(new_context, live_server):
    # the community admin may run every team's activities; here the 乐民 team's (5 points)
    admin, activity_id, url = lead_scans_screen(new_context, live_server, ADMIN_PHONE, CIVIC, "checkin-civic")

    resident = new_context("phone").new_page()
    response = resident.goto(url)
    assert response.status == 200
    assert urlsplit(resident.url).path == "/login"
    hint = resident.get_by_role("status")
    expect(hint).to_contain_text(CIVIC)  # 登录后完成“梨园文明倡导”的签到
    screenshot(resident, "checkin-login-phone")
    resident.locator("main form input[name=phone]").fill(RESIDENT_PHONE)
    resident.locator("main form input[name=password]").fill(DEMO_PASSWORD)
    with resident.expect_navigation() as navigation:
        resident.locator("main form button[type=submit]").click()
    assert navigation.value.status == 200
    assert urlsplit(resident.url).path == "/c/confirm"
    expect(resident.locator("main h1")).to_have_text(CIVIC)
    before = balance(resident)
    resident.goto("/c/confirm")  # the scan is still waiting (for five minutes)
    expect(resident.locator("main h1")).to_have_text(CIVIC)

    response = confirm(resident)
    assert response.status == 200
    expect(resident.locator("main h1")).to_have_text(CHECKED_IN)
    expect(resident.locator("main .points")).to_contain_text("+5")
    assert balance(resident) == before + 5

    admin.goto(f"/lead/activities/{activity_id}")
    row = attendance_row(admin, RESIDENT)
    expect(row).to_have_count(1)
    expect(row.locator(".method")).to_have_text(SELF_SCAN)


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "logged-in"])
def test_forged_code_shows_a_chinese_error_not_a_crash(new_context, live_server, logged_in):
    _lead, _activity_id, url = lead_scans_screen(new_context, live_server, LEAD_PHONE, CLEANUP, "checkin-forged")
    mac = code_url_pattern(live_server).fullmatch(url)["mac"]
    forged = url[:-len(mac)] + ("B" if mac[0] != "B" else "C") + mac[1:]

    resident = new_context("phone").new_page()
    if logged_in:
        log_in(resident, RESIDENT_PHONE)
        before = balance(resident)
    response = resident.goto(forged)

    assert response.status == 400
    assert urlsplit(resident.url).path == urlsplit(forged).path  # no redirect to the login or confirm page
    assert_chinese_ui(resident, *ENGLISH)
    expect(resident.locator("main h1")).to_have_text(NOT_THROUGH)
    expect(resident.locator("main .lead")).to_contain_text(FORGED)
    screenshot(resident, f"checkin-forged-{'in' if logged_in else 'out'}-phone")
    # and the forged scan left nothing behind to confirm
    response = resident.goto("/c/confirm")
    if logged_in:
        assert response.status == 400
        expect(resident.get_by_role("button", name=CONFIRM)).to_have_count(0)
        assert balance(resident) == before
    else:
        assert urlsplit(resident.url).path == "/login"


SMALL_PHONE = {"width": 360, "height": 740}
DRILL = "梨园接口签到演练"  # made by the test below: the lead's team, happening now, points after approval
WAITING = "待认可"  # waiting for approval
LEAD_SCAN = "队长扫码"  # scanned by the lead
UNKNOWN_CARD = "本社区没有卡号为"  # No member card here has the number …


def _drill(live_server):
    """A fresh activity of 张建国's team happening now, and three residents of 梨园社区 outside his household and
    other than 王秀英 (whose points the other tests count): (activity id, [(name, address, card number)])."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from pointsapp.accounts.models import User
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Resident
    from pointsapp.volunteering.services import activities, codes

    now = datetime.now(UTC)
    with live_server.app.app_context():
        lead = db.session.scalar(select(User).where(User.phone == LEAD_PHONE))
        team = next(g.team for g in lead.grants if g.team_id)
        activity = activities.create_activity(lead, team, activities.ActivityFields(
            title=DRILL, kind=activities.labels(team.community_id, "activity_kind")[0], place="社区广场",
            starts_at=now - timedelta(minutes=20), ends_at=now + timedelta(hours=2), award_on="approval"), now)
        people = db.session.scalars(select(Resident).where(
            Resident.community_id == team.community_id, Resident.moved_out_on.is_(None),
            Resident.household_id != lead.resident.household_id, Resident.name != RESIDENT).order_by(Resident.id)).all()
        names = {}
        for r in people:  # names the search tells apart: one resident each
            names.setdefault(r.name, []).append(r)
        picked = [rs[0] for rs in names.values() if len(rs) == 1][:3]
        found = [(r.id, r.name, r.household.address, codes.card_number(r)) for r in picked]
        db.session.commit()
        return activity.id, found


def _checked_in_elsewhere(live_server, activity_id: int, resident_id: int) -> None:
    """Another lead's phone checks a resident in (the page must learn of it by itself)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from pointsapp.accounts.models import User
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Resident
    from pointsapp.volunteering.models import Activity
    from pointsapp.volunteering.services import checkin

    with live_server.app.app_context():
        admin = db.session.scalar(select(User).where(User.phone == ADMIN_PHONE))
        checkin.check_in(admin, db.session.get(Resident, resident_id), db.session.get(Activity, activity_id),
                         datetime.now(UTC), method="lead_scan")
        db.session.commit()


def test_the_leads_live_attendance_works_through_the_api_on_a_small_phone(new_context, live_server):
    """At 360 px the lead checks residents in after a search and by the number on a member card: the requests go
    to /api/v1/ with the session and the CSRF header, the list updates without a reload, a refusal shows the
    error's message, and a check-in made on another device appears by the list's own polling."""
    activity_id, people = _drill(live_server)
    assert len(people) == 3, people
    (_a_id, a_name, a_address, _a_card), (_b_id, b_name, _b_address, b_card), (c_id, c_name, _c_address, _c) = people
    page = new_context("phone").new_page()
    page.set_viewport_size(SMALL_PHONE)
    calls = []
    page.on("request", lambda r: calls.append((r.method, r.url.split(live_server.url, 1)[-1], r.headers))
            if "/api/v1/" in r.url else None)
    log_in(page, LEAD_PHONE)
    page.goto(f"/lead/activities/{activity_id}")
    expect(page.locator("main h1")).to_contain_text(DRILL)
    expect(page.locator("#attendance-table tbody")).to_have_text(NOBODY_YET)
    page.evaluate("window.stayed = true")  # gone if the page reloads

    # a search, then 签到 on the one found
    page.locator("#q").fill(a_name)
    page.locator("#search-form button[type=submit]").click()
    pick = page.locator("#found form", has_text=f"{a_name} · {a_address}")
    expect(pick).to_have_count(1)
    expect(page.locator("#manual-resident option", has_text=a_name)).to_have_count(1)  # the hand record's choice
    pick.get_by_role("button").click()
    expect(page.locator("#api-message")).to_contain_text(a_name)
    row = attendance_row(page, a_name)
    expect(row).to_have_count(1)
    expect(row.locator(".method")).to_have_text(LEAD_SCAN)
    expect(row).to_contain_text(WAITING)

    # the number printed on a member card, typed
    page.locator("#code").fill(b_card)
    page.locator("#code-form button[type=submit]").click()
    expect(attendance_row(page, b_name)).to_have_count(1)
    expect(page.locator("#code")).to_have_value("")
    expect(page.locator("#attendances p.hint")).to_contain_text("2")

    # a refusal: the error's message, in Chinese, as an alert
    page.locator("#code").fill("99999-1")
    page.locator("#code-form button[type=submit]").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(UNKNOWN_CARD)
    expect(alert).to_contain_text("99999-1")

    # someone else checks a resident in: the list polls the API and shows her
    _checked_in_elsewhere(live_server, activity_id, c_id)
    expect(attendance_row(page, c_name)).to_have_count(1, timeout=15_000)
    expect(page.locator("#attendance-table tbody tr")).to_have_count(3)

    assert page.evaluate("window.stayed") is True, "the page reloaded"
    posts = [(m, u, h) for m, u, h in calls if m == "POST"]
    assert [u for _m, u, _h in posts] == [f"/api/v1/lead/activities/{activity_id}/attendance"] * 3, posts
    assert all(h.get("x-csrftoken") and "authorization" not in h for _m, _u, h in posts)  # the session + CSRF
    assert any(m == "GET" and u == f"/api/v1/lead/activities/{activity_id}/attendance" for m, u, _h in calls)
    assert any(m == "GET" and u.startswith(f"/api/v1/lead/activities/{activity_id}/residents?q=") for m, u, _h in calls)
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"], "the page scrolls sideways"
    assert_chinese_ui(page, "Attendance", "scanned by the lead", "waiting for approval", "Check in")
    screenshot(page, "lead-live-attendance-360")
    assert_accessible(page, "the lead's live attendance page")
