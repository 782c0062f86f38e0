"""The resident's activities ahead (sign up → 我的报名 → cancel) and the shelf (我能换什么), on a 360 px phone,
reached from her home page, with axe."""
import pytest
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import RESIDENT_PHONE, assert_chinese_ui, log_in, screenshot, small_text, sticking_out

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 760}


def narrow(context):
    page = context.new_page()
    page.set_viewport_size(NARROW)
    return page


def assert_fits(page) -> None:
    overflow = sticking_out(page)
    assert not overflow, f"wider than 360 px: {overflow}"
    tiny = small_text(page, 16, "main")
    assert not tiny, f"text smaller than 16px: {tiny}"


def test_sign_up_shows_under_my_sign_ups_and_cancel_removes_it(new_context):
    page = narrow(new_context("phone"))
    log_in(page, RESIDENT_PHONE)
    page.get_by_role("link", name="志愿活动").click()
    expect(page.locator("main h1")).to_have_text("志愿活动")
    assert_chinese_ui(page, "My sign-ups", "Sign up", "Cancel sign-up", "Sign-up closes")
    card = page.locator("#ahead article").filter(has=page.get_by_role("button", name="报名", exact=True)).first
    title = card.locator("h4").inner_text()
    mine = page.locator("#mine")
    expect(mine).not_to_contain_text(title)
    card.get_by_role("button", name="报名", exact=True).click()
    expect(page.locator(".flash.success")).to_contain_text(title)
    expect(mine).to_contain_text(title)
    expect(mine.locator("article", has_text=title).get_by_role("button", name="取消报名")).to_be_visible()
    assert_fits(page)
    assert_accessible(page, "the activities list with a sign-up")
    screenshot(page, "resident-activities-360")

    mine.locator("article", has_text=title).get_by_role("button", name="取消报名").click()
    expect(page.locator(".flash.success")).to_contain_text("已取消")
    expect(mine).not_to_contain_text(title)
    expect(page.locator("#ahead article", has_text=title).first.get_by_role("button", name="报名", exact=True)) \
        .to_be_visible()


def test_filters_work_without_javascript(new_context):
    page = narrow(new_context("phone", java_script_enabled=False))
    log_in(page, RESIDENT_PHONE)
    page.goto("/activities")
    page.locator("#f-kind").select_option("安全值守")
    page.get_by_role("button", name="显示", exact=True).click()
    assert "kind=" in page.url
    kinds = page.locator("#ahead article").all_inner_texts()
    assert kinds and all("安全值守" in text for text in kinds)


def test_the_shelf_from_her_home_at_360_px(new_context):
    page = narrow(new_context("phone"))
    log_in(page, RESIDENT_PHONE)
    page.get_by_role("link", name="我能换什么").click()
    expect(page.locator("main h1")).to_have_text("我能换什么")
    assert_chinese_ui(page, "My points", "In stock", "Your points are enough")
    expect(page.locator(".shelf-balance .value")).to_have_text(page.locator(".shelf-balance .value").inner_text())
    expect(page.locator("ul.shelf li").first).to_contain_text("积分")
    assert_fits(page)
    assert_accessible(page, "the shelf")
    screenshot(page, "resident-shelf-360")
