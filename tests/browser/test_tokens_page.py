"""The token pages in a browser, at 360 px and at 200 % zoom on a 1280 px screen (640 CSS px): a resident makes
a token and sees it once; the list of tokens (seven columns) becomes cards, with no sideways scrolling and no
梨/园/社/区 squeezed down a column (it was, at 640 px, before the list stacked up to 48rem)."""
import pytest

from . import a11y
from .pages import RESIDENT_PHONE, log_in, open_page, screenshot
from .test_fit import MEASURE

pytestmark = pytest.mark.browser

SIZES = {"360": {"width": 360, "height": 780}, "zoom200": {"width": 640, "height": 400}}


@pytest.mark.parametrize("size", list(SIZES))
def test_a_resident_makes_a_token_and_her_list_fits(new_context, size):
    page = new_context("phone").new_page()
    page.set_viewport_size(SIZES[size])
    log_in(page, RESIDENT_PHONE)
    open_page(page, "/me/tokens")
    page.fill("#name", f"我的志愿服务小程序 {size}")
    page.locator("input[name=roles]").first.check()
    page.click("main form.card button[type=submit]")
    page.wait_for_load_state()
    shown = page.locator("main").inner_text()
    assert "只显示一次" in shown and f"我的志愿服务小程序 {size}" in shown
    secret = page.locator("#new-token").input_value()
    assert secret.startswith("pa_")
    measured = page.evaluate(MEASURE)
    assert measured["overflow"] <= 0, measured  # (the stacked table's clipped head may lie past the edge, unseen)
    assert not measured["squeezed"], measured
    a11y.assert_accessible(page, "the token page with a new token")
    screenshot(page, f"tokens-{size}")
    # shown once: the page opened again lists the token by its prefix, never the secret
    open_page(page, "/me/tokens")
    assert secret not in page.content() and secret[:10] in page.locator("main").inner_text()
    page.locator("main table button.danger").first.click()  # revoked again: the other tests see no token
    page.wait_for_load_state()
    assert "已吊销" in page.locator("main").inner_text()
