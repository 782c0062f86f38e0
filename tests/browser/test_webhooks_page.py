"""The webhooks page in a browser: the office adds an endpoint on a 360 px phone, sees its secret once, and the
list, the form with its event checkboxes and the endpoint's page fit the screen (no sideways scrolling), axe
clean; a hostile address is refused with its message."""
import pytest

from . import a11y
from .pages import ADMIN_PHONE, LIYUAN, log_in, open_page, screenshot, sticking_out

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 780}


def test_the_office_adds_a_webhook_on_a_360px_phone_and_sees_its_secret_once(new_context):
    page = new_context("phone").new_page()
    page.set_viewport_size(NARROW)
    log_in(page, ADMIN_PHONE)
    open_page(page, f"/admin/c/{LIYUAN}/webhooks")
    assert "事件推送" in page.locator("h1").inner_text()
    a11y.assert_accessible(page, "the webhooks page")

    page.fill("#url", "javascript:alert(1)")
    page.check("input[value='redemption.made']")
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    assert "https://" in page.locator(".flash").inner_text()  # refused, with the rule

    page.fill("#url", "https://hooks.example.com/pointsapp/" + "very-long-path-segment/" * 8)
    page.fill("#description", "街道平台")
    page.check("input[value='redemption.made']")
    page.check("input[value='attendance.approved']")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#secret")
    secret = page.locator("#secret").inner_text()
    assert secret.startswith("whsec_")
    assert sticking_out(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    a11y.assert_accessible(page, "a webhook endpoint's page with its secret")
    screenshot(page, "webhook-endpoint-360")

    page.click("nav.crumbs >> text=事件推送")
    page.click("main table a")  # the endpoint's own page: the secret is not shown again
    page.wait_for_selector("text=推送记录")
    assert page.locator("#secret").count() == 0 and secret not in page.content()
    page.click("text=停用")  # off again, so the other browser tests' checkouts write no deliveries
    page.wait_for_load_state()
    assert "已停用" in page.locator("h1").inner_text()

    open_page(page, f"/admin/c/{LIYUAN}/webhooks")
    assert "街道平台" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    screenshot(page, "webhooks-360")
