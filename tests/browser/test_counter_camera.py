"""The love-points supermarket counter end to end: the clerk identifies a resident and redeems products.

The camera path uses a real camera pipeline: a separate Chromium is started with a fake video device
that plays a file (--use-file-for-fake-video-capture), so html5-qrcode reads the QR from live video
frames exactly as it would from a webcam. The file is MJPEG: JPEG frames of the resident's member
code simply concatenated. The code is built the way the app builds the phone's 会员码
(codes.member_phone_code with the live server's secret), right before the browser starts, since it
is valid for its 30 s step and the next one.

The Chinese texts below are the zh catalogue's translations (pointsapp/translations/zh/LC_MESSAGES/messages.po).
"""
import io
import os
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import qrcode
from PIL import Image
from playwright.sync_api import expect

from .a11y import assert_accessible
from .conftest import CHROMIUM
from .pages import (
    RESIDENT_PHONE,
    ROOT,
    SCREENSHOTS,
    TIMEOUT_MS,
    assert_chinese_ui,
    log_in,
    screenshot,
)

pytestmark = pytest.mark.browser

CLERK_PHONE = "13800000003"  # 李秀兰, clerk of 梨园社区爱心积分超市
STORE = 1  # 梨园社区爱心积分超市: the first store build_demo creates
STORE_NAME = "梨园社区爱心积分超市"
RESIDENT = "王秀英"
NOODLES, SOAP = "挂面", "香皂"  # 10 and 8 points (build_store's demo catalogue)
TABLET = {"width": 1280, "height": 800}  # the counter's tablet or PC
# README screenshots are refreshed only on request (UPDATE_DOC_SCREENSHOTS=1): a test run must not
# rewrite committed files.
DOCS_IMG = ROOT / "docs" / "img" if os.environ.get("UPDATE_DOC_SCREENSHOTS") else ROOT / "test-artifacts" / "docs-img"
CAMERA_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
               "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

# what the catalogue says (msgid -> msgstr)
SCAN_WITH_CAMERA = "用摄像头扫码"  # Scan with camera
SCAN_MEMBER_CODE = "扫描会员码"  # Scan the member code
BY_PHONE = "手机会员码识别"  # identified by phone member code
BY_CARD = "会员卡加密码识别"  # identified by card and PIN
BY_SEARCH = "搜索并核对身份证后四位"  # found by search, ID digits checked
TAIL_LABEL = "{name} 的身份证后四位"  # Last four characters of %(name)s's ID card
WRONG_TAIL = "身份证后四位与 {name} 的记录不符，还可以再试 {n} 次。"  # These are not the last four ... %(n)d tries left.
DEMO_ID_TAIL = "0425"  # the demo people's (pointsapp/demo/seed.py)
MASKED_PHONE = "138****0001"
NEEDS_PIN = "纸质会员卡需要输入居民的卡密码。"  # A printed card needs the resident's PIN.
CARD_PIN = "卡密码"  # Card PIN
WRONG_PIN = "卡密码错误，还可以再试 {n} 次。"  # Wrong PIN. %(n)d tries left.
LOCKED = "卡密码错误次数过多，会员卡锁定 15 分钟。"  # Too many wrong PINs. The card is locked for 15 minutes.
LOCKED_UNTIL = re.compile(r"卡密码错误次数过多，会员卡锁定到 \d\d:\d\d。")  # ... The card is locked until %(t)s.
CONFIRM = "确认兑换"  # Confirm redemption
NOT_TWICE = "这笔兑换已经完成，不会重复扣分。"  # This checkout had already gone through; nothing was charged twice.
EXPIRED = "会员码已过期，请居民刷新后再出示。"  # This member code has expired. Please ask the resident to refresh it.
INVALID = "会员码无效。"  # This member code is not valid.
ENGLISH = ("Scan the member code", "Scan with camera", "Find resident", "Card PIN", "Confirm redemption", "Total",
           "Balance after", "Next customer", "points", "Receipt", "Points used", "Quantity", "in stock",
           "identified by", "A printed card", "Wrong PIN", "Too many wrong PINs", "Check and choose", "ID last 4",
           "found by search", "tries left")


# ---- the resident's codes, as the app makes them ---------------------------------------------

def _resident(live_server):
    from sqlalchemy import select

    from pointsapp.accounts.models import User
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Resident

    with live_server.app.app_context():
        resident = db.session.scalar(select(Resident).join(User, User.resident_id == Resident.id)
                                     .where(User.phone == RESIDENT_PHONE))
        db.session.expunge(resident)
        db.session.remove()
    assert resident is not None and resident.name == RESIDENT
    return resident


def phone_code(live_server, ago: timedelta = timedelta(0)) -> str:
    """The resident's live 会员码 as the phone showed it `ago` (valid for its 30 s step and the next)."""
    from pointsapp.volunteering.services.codes import member_phone_code

    return member_phone_code(live_server.app.secret_key, _resident(live_server), datetime.now(UTC) - ago)


def card_code(live_server) -> str:
    """The static code printed on the resident's member card."""
    from pointsapp.volunteering.services.codes import member_card_code

    return member_card_code(live_server.app.secret_key, _resident(live_server))


def qr_frame(text: str) -> Image.Image:
    """A 640x480 camera frame: the QR large and sharp in the middle, on white (a phone held up to the camera).
    html5-qrcode scans a 240 px box in the middle of a ~350 px wide preview: about 440 px of the 480 px frame."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white").convert("RGB").resize((320, 320), Image.NEAREST)
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(image, ((640 - 320) // 2, (480 - 320) // 2))
    return frame


def write_mjpeg(path, frame: Image.Image, frames: int = 60):
    """An MJPEG file is JPEG frames one after another; Chromium's fake camera plays it in a loop."""
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=90)
    path.write_bytes(out.getvalue() * frames)
    return path


@pytest.fixture(scope="module")
def resident_with_points(live_server):
    """The browser tests' seed has no points history (build_history is slow), so the demo resident is
    given 100 points here, posted through the ledger service like an activity award."""
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.tree.models import Resident

    with live_server.app.app_context():
        resident = db.session.get(Resident, _resident(live_server).id)
        ledger.post(ledger.Posting(resident, 100, EntryKind.AWARD, "demo", "browser-counter-award", "楼道广告清理"),
                    None, datetime.now(UTC))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def camera(browser, live_server, tmp_path):
    """camera(text): a new context (1280x800, zh-CN) in a separate Chromium whose only camera shows a QR of text
    (or, for None, an empty counter).
    The shared browser's BrowserType launches it, so it uses the same Playwright driver."""
    launched = []

    def start(text: str | None):
        frame = qr_frame(text) if text is not None else Image.new("RGB", (640, 480), (214, 211, 209))
        video = write_mjpeg(tmp_path / "camera.mjpeg", frame)
        cam = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                          args=CAMERA_ARGS + [f"--use-file-for-fake-video-capture={video}"])
        launched.append(cam)
        context = cam.new_context(base_url=live_server.url, viewport=TABLET, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", permissions=["camera"])
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        return context

    yield start
    for cam in launched:
        cam.close()


# ---- small helpers ---------------------------------------------------------------------------------

def open_counter(page):
    """The clerk's counter; with nobody identified yet it is the identify page."""
    response = page.goto(f"/store/{STORE}/counter")
    assert response.status == 200
    expect(page.locator("main h1")).to_have_text(STORE_NAME)


def balance_of_resident(page) -> int:
    page.goto("/me/points")
    return int(page.locator("main section.balance .value").inner_text().strip())


def tile(page, name: str):
    return page.locator("li.product", has=page.locator("button.tile .pname", has_text=re.compile(f"^{name}$")))


def enter_code(page, code: str, pin: str | None = None, *, identified: bool = True):
    """What a USB scanner does: type the code into the focused field and press Enter. The page asks the API
    (POST /api/v1/stores/<id>/identify): identified, it goes on to the counter; refused (`identified=False`),
    it stays and shows the API's message."""
    if pin is None:
        expect(page.locator("#code")).to_be_focused()
        page.keyboard.type(code)
    else:
        expect(page.locator("#code")).to_have_value(code)
        expect(page.locator("#pin")).to_be_focused()
        page.keyboard.type(pin)
    with page.expect_response(lambda r: urlsplit(r.url).path == f"/api/v1/stores/{STORE}/identify") as answer:
        if identified:
            with page.expect_navigation():
                page.keyboard.press("Enter")
        else:
            page.keyboard.press("Enter")
    if identified:
        assert answer.value.status == 201
    else:
        assert answer.value.status in (400, 404, 409, 422), answer.value.status
        expect(flash(page)).to_have_count(1)


def flash(page, kind: str = "error"):
    return page.locator(f"main .flash.{kind}")


def copy_to_docs(shot, name: str):
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    target = DOCS_IMG / name
    shutil.copyfile(shot, target)
    assert target.stat().st_size < 200_000, f"{target} is {target.stat().st_size} bytes; keep docs images < 200 KB"


# ---- the tests -------------------------------------------------------------------------------------

def test_clerk_scans_the_phone_code_with_the_camera_and_redeems_once(new_context, live_server, camera,
                                                                     resident_with_points):
    resident = new_context("phone").new_page()
    log_in(resident, RESIDENT_PHONE)
    before = balance_of_resident(resident)
    assert before >= 28, f"the demo resident has only {before} points"

    context = camera(phone_code(live_server))  # computed right before the camera starts: valid 30-60 s
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(f"{m.text} ({m.location.get('url')})")
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
    log_in(page, CLERK_PHONE)
    open_counter(page)
    expect(page.locator("main h2").first).to_have_text(SCAN_MEMBER_CODE)
    assert_chinese_ui(page, *ENGLISH)
    assert_accessible(page, "the counter's identify page")
    screenshot(page, "counter-identify-tablet")

    scan = page.locator("#scan-button")
    expect(scan).to_have_text(SCAN_WITH_CAMERA)
    started = time.monotonic()
    with page.expect_navigation(timeout=30_000):  # the camera reads the code (slower on a busy machine)
        scan.click()
    seconds = time.monotonic() - started
    assert not problems, f"the browser reported errors while scanning: {problems}"
    assert urlsplit(page.url).path == f"/store/{STORE}/counter"
    expect(page.locator(".who .name")).to_have_text(RESIDENT)
    expect(page.locator("#who")).to_contain_text(BY_PHONE)
    expect(page.locator("#balance")).to_have_text(str(before))
    assert seconds < 8, f"the camera took {seconds:.1f} s to read the member code"

    for name in (NOODLES, NOODLES, SOAP):
        tile(page, name).locator("button.tile").click()
    expect(tile(page, NOODLES).locator("input.qty")).to_have_value("2")
    expect(tile(page, SOAP).locator("input.qty")).to_have_value("1")
    expect(tile(page, NOODLES)).to_have_class(re.compile(r"\bchosen\b"))
    expect(page.locator("li.product.chosen")).to_have_count(2)
    expect(page.locator("#total")).to_have_text("28")
    expect(page.locator("#after")).to_have_text(str(before - 28))
    expect(page.locator("#short")).to_be_hidden()
    confirm = page.locator("#confirm")
    expect(confirm).to_have_text(CONFIRM)
    expect(confirm).to_be_enabled()
    assert_chinese_ui(page, *ENGLISH)
    assert_accessible(page, "the counter with a resident and a cart")
    # the tablet shows the resident, the products and the confirm button without scrolling sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    expect(confirm).to_be_in_viewport()  # the checkout bar stays at the bottom of the screen
    shot = SCREENSHOTS / "counter-tablet.png"
    page.screenshot(path=str(shot))  # what the clerk sees on a 1280x800 screen
    copy_to_docs(shot, "counter.png")

    form = page.locator("#cart").evaluate("f => Object.fromEntries(new FormData(f))")  # what the button sends
    assert form["request_id"] and form["csrf_token"]
    with page.expect_navigation() as navigation:
        confirm.click()
    assert navigation.value.status == 200
    match = re.fullmatch(rf"/store/{STORE}/receipts/(\d+)", urlsplit(page.url).path)
    assert match, page.url
    receipt_url = page.url
    assert_chinese_ui(page, *ENGLISH)
    rows = page.locator("#receipt tbody tr")
    expect(rows).to_have_count(2)
    lines = {row.locator("td").nth(0).inner_text(): (row.locator("td").nth(1).inner_text(),
                                                     row.locator("td").nth(2).inner_text()) for row in rows.all()}
    assert lines == {NOODLES: ("2", "20"), SOAP: ("1", "8")}
    expect(page.locator("#receipt")).to_contain_text(RESIDENT)
    expect(page.locator("#receipt .total strong").first).to_have_text("28")
    expect(page.locator("#balance-after")).to_have_text(str(before - 28))
    assert_accessible(page, "the receipt")
    shot = screenshot(page, "receipt-tablet")
    copy_to_docs(shot, "receipt.png")
    assert balance_of_resident(resident) == before - 28

    # back to the cart: the counter has let the resident go, so the page cannot send the cart again ...
    page.go_back()
    assert urlsplit(page.url).path == f"/store/{STORE}/counter"
    expect(page.locator("#code")).to_be_visible()
    expect(page.locator("#cart")).to_have_count(0)
    # ... and the very same form sent again (a retry, a double submit) leads to the first receipt, no second charge
    response = page.request.post(f"/store/{STORE}/checkout", form=form)
    assert response.status == 200
    assert response.url == receipt_url, "the repeated checkout should lead to the first receipt"
    assert NOT_TWICE in response.text()
    assert balance_of_resident(resident) == before - 28


def test_usb_scanner_types_the_phone_code_and_presses_enter(new_context, live_server):
    page = new_context("desktop").new_page()
    page.set_viewport_size(TABLET)
    log_in(page, CLERK_PHONE)
    open_counter(page)
    enter_code(page, phone_code(live_server))
    assert urlsplit(page.url).path == f"/store/{STORE}/counter"
    expect(page.locator(".who .name")).to_have_text(RESIDENT)
    expect(page.locator("#who")).to_contain_text(BY_PHONE)
    assert_chinese_ui(page, *ENGLISH)


def test_camera_button_turns_the_camera_off_and_on_again(live_server, camera):
    context = camera(None)  # the camera sees no code
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, CLERK_PHONE)
    open_counter(page)
    scan, box = page.locator("#scan-button"), page.locator("#scanner")
    playing = "() => { const v = document.querySelector('#scanner video'); return !!v && !v.paused && v.readyState >= 3; }"
    expect(scan).to_have_text("用摄像头扫码")
    for _ in range(2):
        scan.click()
        expect(box).to_be_visible()
        page.wait_for_function(playing)
        expect(scan).to_have_text("关闭摄像头")  # the button says what it does now
        expect(scan).to_have_attribute("aria-pressed", "true")
        scan.click()  # Playwright waits until the button is enabled again: the camera is on by then
        expect(box).to_be_hidden()
        expect(scan).to_have_text("用摄像头扫码")
        page.wait_for_function("() => !document.querySelector('#scanner video')")  # the camera is released
    scan.click()
    scan.click()  # a quick second click is held until the camera is on, then stops it
    expect(box).to_be_hidden()
    assert urlsplit(page.url).path == f"/store/{STORE}/counter" and page.locator("#who").count() == 0
    assert not problems, f"the browser reported errors: {problems}"


def test_without_a_camera_the_counter_says_so_in_chinese_and_search_still_works(new_context, live_server):
    page = new_context("desktop").new_page()  # a browser with no camera at all
    page.set_viewport_size(TABLET)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(page, CLERK_PHONE)
    open_counter(page)
    scan, box = page.locator("#scan-button"), page.locator("#scanner")
    scan.click()
    expect(box).to_have_attribute("role", "alert")
    expect(box).to_contain_text("请输入号码")  # no camera, or not allowed: either way, what to do instead
    assert not any(word in box.inner_text() for word in ("Error", "Permission", "device", "NotFound")), box.inner_text()
    expect(scan).to_have_text("用摄像头扫码")
    expect(scan).to_be_enabled()
    enter_code(page, phone_code(live_server))  # the code field has the focus back: typing or a USB scanner works
    expect(page.locator(".who .name")).to_have_text(RESIDENT)
    assert not problems, f"the browser reported errors: {problems}"


@pytest.mark.parametrize("which", [
    "expired",
    "forged",
    "not-a-member-code",
])
def test_expired_or_forged_codes_are_refused_in_chinese(new_context, live_server, which):
    page = new_context("desktop").new_page()
    page.set_viewport_size(TABLET)
    log_in(page, CLERK_PHONE)
    open_counter(page)
    code = {"expired": lambda: phone_code(live_server, ago=timedelta(seconds=65)),  # two 30 s steps ago
            "forged": lambda: phone_code(live_server)[:-4] + "AAAA",
            "not-a-member-code": lambda: "hello"}[which]()
    enter_code(page, code, identified=False)
    expect(flash(page)).to_have_text(EXPIRED if which == "expired" else INVALID)
    expect(page.locator("#who")).to_have_count(0)
    expect(page.locator("#code")).to_have_value("")  # ready for the next scan
    expect(page.locator("#pin")).to_have_count(0)
    assert_chinese_ui(page, *ENGLISH)


@pytest.fixture
def unlock_card(live_server):
    """The PIN lock is the card's, kept in the database: lift it after the test, for the tests that follow."""
    yield
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Resident

    with live_server.app.app_context():
        resident = db.session.get(Resident, _resident(live_server).id)
        resident.pin_locked_until, resident.pin_failures = None, 0
        db.session.commit()
        db.session.remove()


def test_printed_card_asks_for_the_pin_and_locks_after_five_wrong_ones(new_context, live_server, unlock_card):
    from pointsapp.demo.seed import DEMO_PIN

    page = new_context("desktop").new_page()
    page.set_viewport_size(TABLET)
    log_in(page, CLERK_PHONE)
    open_counter(page)
    card = card_code(live_server)

    # the card alone: a Chinese message asks for the PIN, the code stays, the PIN field has the focus
    enter_code(page, card, identified=False)
    expect(flash(page)).to_have_text(NEEDS_PIN)
    expect(page.get_by_label(CARD_PIN, exact=True)).to_be_visible()
    expect(page.locator("#who")).to_have_count(0)
    assert_chinese_ui(page, *ENGLISH)
    assert_accessible(page, "the identify page asking for the PIN")
    screenshot(page, "counter-card-pin-tablet")

    enter_code(page, card, DEMO_PIN)
    expect(page.locator(".who .name")).to_have_text(RESIDENT)
    expect(page.locator("#who")).to_contain_text(BY_CARD)

    # the next customer shows the same card with wrong PINs: four warnings, then the card locks
    with page.expect_navigation():
        page.locator(".who form button[type=submit]").click()
    expect(page.locator("#code")).to_have_value("")
    enter_code(page, card, identified=False)
    expect(flash(page)).to_have_text(NEEDS_PIN)
    for left in (4, 3, 2, 1):
        enter_code(page, card, "1357", identified=False)
        expect(flash(page)).to_have_text(WRONG_PIN.format(n=left))
    enter_code(page, card, "1357", identified=False)
    expect(flash(page)).to_have_text(LOCKED)
    screenshot(page, "counter-card-locked-tablet")
    # now even the right PIN is refused until the lock ends
    enter_code(page, card, DEMO_PIN, identified=False)
    expect(flash(page)).to_have_text(LOCKED_UNTIL)
    expect(page.locator("#who")).to_have_count(0)
    assert_chinese_ui(page, *ENGLISH)



def test_search_asks_for_the_id_digits_checks_them_and_never_shows_them(new_context, live_server, unlock_card):
    """A resident without her phone or card: the clerk searches, asks for the last four characters of her ID
    card and types them; the server checks them (a wrong try counts towards the card's lockout)."""
    page = new_context("desktop").new_page()
    page.set_viewport_size(TABLET)
    log_in(page, CLERK_PHONE)
    open_counter(page)
    page.locator("#q").fill(RESIDENT_PHONE)
    with page.expect_navigation():
        page.locator("#q").press("Enter")
    row = page.locator("form.found", has_text=RESIDENT)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(MASKED_PHONE)
    expect(row).to_contain_text("3号楼1单元301")
    assert DEMO_ID_TAIL not in page.locator("main").inner_text()  # the list never shows the ID digits
    assert_chinese_ui(page, *ENGLISH)
    assert_accessible(page, "the counter's search list")
    screenshot(page, "counter-search-tablet")

    tail = row.get_by_label(TAIL_LABEL.format(name=RESIDENT), exact=True)
    expect(tail).to_be_focused()  # the clerk asks the resident and types
    tail.fill("1111")
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/stores/{STORE}/identify")) as answer:
        tail.press("Enter")  # the page asks the API and stays
    assert answer.value.status == 422
    expect(flash(page)).to_have_text(WRONG_TAIL.format(name=RESIDENT, n=4))
    expect(page.locator("#who")).to_have_count(0)
    # the list is back, the focus in her ID field: the clerk asks again and types
    tail = page.locator("form.found", has_text=RESIDENT).locator("input.tail")
    expect(tail).to_be_focused()
    page.keyboard.type(DEMO_ID_TAIL.lower() if DEMO_ID_TAIL[-1] == "X" else DEMO_ID_TAIL)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".who .name")).to_have_text(RESIDENT)
    expect(page.locator("#who")).to_contain_text(BY_SEARCH)
    assert_chinese_ui(page, *ENGLISH)
    with page.expect_navigation():
        page.locator(".who form button[type=submit]").click()  # next customer
    expect(page.locator("#who")).to_have_count(0)


PHONE_360 = {"width": 360, "height": 740}  # the smallest phone the counter is used on


def test_the_counter_identifies_and_prices_the_cart_through_the_api_at_360px(new_context, live_server,
                                                                            resident_with_points):
    """The counter's live parts are the JSON API's: identify (POST …/identify) and the cart's total
    (POST …/cart), called with the session cookie and the page's CSRF token; when the API refuses, its message
    is shown and the page still works."""
    page = new_context("phone").new_page()
    page.set_viewport_size(PHONE_360)
    calls, problems = [], []
    page.on("request", lambda r: calls.append((r.method, urlsplit(r.url).path, r.headers.get("x-csrftoken")))
            if urlsplit(r.url).path.startswith("/api/v1/") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    log_in(page, CLERK_PHONE)
    open_counter(page)
    enter_code(page, phone_code(live_server))
    expect(page.locator(".who .name")).to_have_text(RESIDENT)
    assert ("POST", f"/api/v1/stores/{STORE}/identify") in [(m, p) for m, p, _t in calls]
    assert all(token for _m, _p, token in calls), "every API call carries the page's CSRF token"
    before = int(page.locator("#balance").inner_text())

    def priced(action, quantities: dict):
        """The API's answer for the cart once it holds these quantities (name -> n)."""
        ids = {name: int(tile(page, name).get_attribute("data-id")) for name in quantities}
        wanted = sorted((ids[name], n) for name, n in quantities.items())

        def for_this_cart(r):
            if urlsplit(r.url).path != f"/api/v1/stores/{STORE}/cart":
                return False
            sent = r.request.post_data_json or {}
            return sorted((x["product_id"], x["quantity"]) for x in sent.get("lines", [])) == wanted

        with page.expect_response(for_this_cart) as answer:
            action()
        return answer.value

    def three_taps():  # soap: no limit and plenty in stock, whatever the tests before bought
        for _ in range(3):
            tile(page, SOAP).locator("button.tile").click()

    answer = priced(three_taps, {SOAP: 3})
    assert answer.status == 200 and answer.request.method == "POST"
    body = answer.json()
    assert body["total"] == 24 and body["balance_after"] == before - 24 and body["ok"] is True
    assert answer.request.headers.get("x-csrftoken")
    expect(page.locator("#total")).to_have_text("24")
    expect(page.locator("#after")).to_have_text(str(before - 24))
    expect(page.locator("#cart-problems")).to_be_hidden()
    expect(page.locator("#confirm")).to_be_enabled()

    # more than her points: the API says so, the page shows it and will not send the cart
    answer = priced(lambda: tile(page, SOAP).locator("input.qty").fill("30"), {SOAP: 30})
    assert answer.status == 200 and answer.json()["ok"] is False
    expect(page.locator("#total")).to_have_text(str(answer.json()["total"]))
    expect(page.locator("#short")).to_be_visible()
    expect(page.locator("#confirm")).to_be_disabled()

    # the API refuses (here: answered for it): its message is shown, the page's own total stands
    page.route(f"**/api/v1/stores/{STORE}/cart", lambda route: route.fulfill(
        status=409, content_type="application/json",
        body='{"error": {"code": "identify_again", "message": "请重新识别居民。", "details": {}}}'))
    answer = priced(lambda: tile(page, SOAP).locator("input.qty").fill("2"), {SOAP: 2})
    assert answer.status == 409
    expect(page.locator("#cart-problems")).to_have_text("请重新识别居民。")
    expect(page.locator("#total")).to_have_text("16")
    expect(page.locator("#confirm")).to_be_enabled()  # the checkout (a form post) checks everything again
    page.unroute(f"**/api/v1/stores/{STORE}/cart")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_360["width"]
    expect(page.locator("#confirm")).to_be_in_viewport()
    screenshot(page, "counter-api-360")
    assert not problems, f"the browser reported errors: {problems}"
    with page.expect_navigation():
        page.locator(".who form button[type=submit]").click()  # next customer: she is let go
    expect(page.locator("#who")).to_have_count(0)
