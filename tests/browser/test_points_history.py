"""我的积分 on a 360 px phone and at 200 % zoom: one month at a time, nothing wider than the screen, axe-clean,
and the month links work without JavaScript."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import RESIDENT_PHONE, log_in, open_page, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _history(two_months_of_points):
    """The demo resident's entries in October and November (tests/browser/conftest.py)."""


SIDEWAYS = """() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')].filter(el => el.getBoundingClientRect().right > width + 1)
        .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')).slice(0, 5);
    return [document.documentElement.scrollWidth - width, wide];
}"""


# 200 % zoom on a 360 px phone is a 180 px wide viewport at device scale 2
@pytest.mark.parametrize(("width", "scale", "name"), [(360, 1, "100"), (180, 2, "200")])
def test_my_points_fits_the_phone_and_pages_by_month(browser, live_server, width, scale, name):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 720},
                                  device_scale_factor=scale, is_mobile=True, has_touch=True, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, RESIDENT_PHONE)
    open_page(page, "/me/points")
    expect(page.locator("main h1")).to_be_visible()
    heading = page.locator("#month-title").inner_text()
    assert "月" in heading  # the month is named in Chinese: 积分明细 · 2026年11月
    assert page.locator("ol.entries > li").count() >= 1
    overflow, wide = page.evaluate(SIDEWAYS)
    screenshot(page, f"my-points-{name}")
    assert overflow <= 0 and not wide, f"sideways scroll of {overflow}px at {name}%: {wide}"
    if scale == 1:
        assert_accessible(page, "my points")
        # one month, not the whole history: every entry falls in one China-time month, and the page is as long
        # as its entries and no longer (other browser tests add entries to this resident's month: claims)
        stamps = page.locator("ol.entries > li time").evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
        months = {datetime.fromisoformat(s).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m") for s in stamps}
        assert len(months) == 1, months
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 1500 + 160 * len(stamps), f"one month of {len(stamps)} entries is {height}px long"
        # an older month through the link (plain navigation, no script needed)
        older = page.locator("a[rel=prev]")
        expect(older).to_be_visible()
        label = older.inner_text().strip("‹ ").strip()
        older.click()
        expect(page.locator("#month-title")).to_contain_text(label)
        assert_accessible(page, "my points, an older month")
    context.close()


def test_my_points_month_picker_works_without_javascript(new_context):
    page = new_context("phone", java_script_enabled=False).new_page()
    log_in(page, RESIDENT_PHONE)
    open_page(page, "/me/points")
    options = page.locator("#month option")
    last = options.nth(options.count() - 1)
    value, label = last.get_attribute("value"), last.inner_text()
    page.select_option("#month", value)
    with page.expect_navigation():
        page.locator(".month-pick button[type=submit]").click()
    expect(page.locator("#month-title")).to_contain_text(label)
