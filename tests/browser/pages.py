"""What the browser tests share: the demo logins, viewports and small page helpers."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
TIMEOUT_MS = 10_000  # a broken page should fail in seconds, not after Playwright's default 30 s

# build_demo's logins (password "demo1234")
DEMO_PASSWORD = "demo1234"
RESIDENT_PHONE = "13800000001"  # 王秀英, 梨园社区 3号楼1单元301
ADMIN_PHONE = "13800000004"  # 刘红梅, community admin of 梨园社区
LIYUAN = 1  # 梨园社区's id: the first community build_demo creates

CJK = re.compile(r"[\u4e00-\u9fff]")


def log_in(page, phone: str, password: str = DEMO_PASSWORD):
    """Log in through the real login form; returns the response to the form's POST."""
    page.goto("/login")
    form = page.locator("main form")
    form.locator("input[name=phone]").fill(phone)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    # Let the landing page's own requests (its favicon, a poll) finish first: a resident's session cookie is
    # sent again with every response, so one that answers after the next page's would put back the session as
    # it was and drop what that page stored (a scanned check-in code: "please scan the code first", 400).
    page.wait_for_load_state("networkidle")
    return navigation.value


def open_page(page, path: str):
    """goto() that insists on a 200: an error page with a friendly message must not pass for the real one."""
    response = page.goto(path)
    assert response is not None and response.status == 200, f"GET {path} -> {response and response.status}"
    return response


def assert_chinese_ui(page, *english: str) -> None:
    """The page is in Chinese: <html lang="zh-CN">, a Chinese main heading, and none of the given
    English source strings left untranslated."""
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    heading = page.locator("main h1").first.inner_text()
    text = page.locator("body").inner_text()
    assert CJK.search(heading), f"main heading is not Chinese: {heading!r}"
    untranslated = [s for s in english if s in text]
    assert not untranslated, f"English text on a Chinese page: {untranslated}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sticking_out(page) -> list[str]:
    """Elements reaching past the right edge of the screen (a phone user must never scroll sideways)."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        return [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')).slice(0, 5);
    }""")


def small_text(page, min_px: float, scope: str = "body") -> list[str]:
    """Visible text in `scope` set smaller than `min_px` CSS pixels."""
    return page.evaluate("""([scope, min]) => [...document.querySelectorAll(scope + ' *')]
        .filter(el => el.offsetParent !== null && [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
        .filter(el => parseFloat(getComputedStyle(el).fontSize) < min)
        .map(el => el.tagName.toLowerCase() + ': ' + el.textContent.trim().slice(0, 30)).slice(0, 5)""", [scope, min_px])
