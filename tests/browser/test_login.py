"""Logging in through the real form, as a resident on a phone would, and choosing the language."""
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from .pages import CJK, RESIDENT_PHONE, assert_chinese_ui, log_in, screenshot

pytestmark = pytest.mark.browser


def test_resident_logs_in_and_sees_their_household_in_chinese(page):
    page.goto("/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    # each field is named by its visible label, so a screen reader reads the same words
    for name in ("phone", "password"):
        label = page.locator(f"label[for={name}]").inner_text().strip()
        assert CJK.search(label), f"the {name} label is not Chinese: {label!r}"
        expect(page.locator(f"input[name={name}]")).to_have_accessible_name(label)

    response = log_in(page, RESIDENT_PHONE)

    assert response.status == 200
    assert urlsplit(page.url).path == "/"
    assert_chinese_ui(page, "Hello,", "My household", "Community", "Address", "Log out", "Change password")
    expect(page.locator("main h1")).to_contain_text("王秀英")
    household = page.locator("main .card", has=page.locator("dl.facts"))
    expect(household).to_contain_text("梨园社区")
    expect(household).to_contain_text("3号楼1单元301")
    expect(page.locator("header .who")).to_have_text("王秀英")


def test_wrong_password_shows_a_chinese_error_and_stays_on_the_login_page(page):
    response = log_in(page, RESIDENT_PHONE, "not-the-password")

    assert response.status == 422
    assert urlsplit(page.url).path == "/login"
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    message = alert.inner_text()
    assert CJK.search(message), f"the error is not Chinese: {message!r}"
    assert_chinese_ui(page, "Phone number or password is wrong.", "Log in", "Mobile number", "Password")
    # the phone number is kept, so an older resident only retypes the password
    expect(page.locator("input[name=phone]")).to_have_value(RESIDENT_PHONE)
    expect(page.locator("input[name=password]")).to_have_value("")
    # and nobody is logged in
    expect(page.locator("header .who")).to_have_count(0)
    page.goto("/")
    expect(page.locator("main")).not_to_contain_text("3号楼1单元301")


def test_switching_to_english_shows_english_text_and_back(page):
    log_in(page, RESIDENT_PHONE)

    with page.expect_navigation():
        page.get_by_role("button", name="English").click()

    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator("main h1")).to_have_text("Hello, 王秀英")
    expect(page.locator("main")).to_contain_text("My household")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot(page, "resident-home-en-phone")
    # the choice sticks to the session: the next page is English too
    page.goto("/password")
    expect(page.locator("main h1")).to_have_text("Change password")

    with page.expect_navigation():
        page.get_by_role("button", name="中文").click()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert_chinese_ui(page, "Change password", "Current password", "New password")
