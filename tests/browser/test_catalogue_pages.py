"""The points catalogue (积分细则) as residents and the notice board see it: the public page on a 360 px phone in
big type, axe-clean, with a claim link by every item residents may claim; the A4 notice printed without the
site's navigation, with its QR code, on at most two sheets. Screenshots: test-artifacts/screenshots/catalogue-*."""
import re
from datetime import UTC, datetime

import pytest

from . import a11y
from .pages import LIYUAN, SCREENSHOTS, open_page, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def model_catalogue(live_server):
    """梨园社区 starts from the model catalogue, as its office would with one button (unless it has one)."""
    from sqlalchemy import select

    from pointsapp.accounts.models import Role, RoleGrant, User
    from pointsapp.catalogue.services import items, rules
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Community

    with live_server.app.app_context():
        community = db.session.get(Community, LIYUAN)
        if not rules.current_items(community.id):
            admin = db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
                RoleGrant.role == Role.COMMUNITY_ADMIN, RoleGrant.community_id == LIYUAN))
            items.adopt_model_catalogue(admin, community, datetime.now(UTC))
            db.session.commit()
        claimable = len(rules.current_items(community.id, "earn", claimable=True))
        db.session.remove()
    return claimable


def test_the_public_catalogue_reads_large_on_a_phone_with_a_claim_link_by_each_claimable_item(new_context,
                                                                                              model_catalogue):
    page = new_context("phone").new_page()
    page.set_viewport_size({"width": 360, "height": 780})
    open_page(page, f"/communities/{LIYUAN}/catalogue")
    assert page.locator("h1").inner_text() == "梨园社区积分细则"
    assert page.locator("a[href^='/me/claims/new?item_id=']").count() == model_catalogue > 0
    assert "每次 5 分" in page.locator("main").inner_text() and "一票否决" in page.locator("main").inner_text()
    too_small = page.evaluate("""() => [...document.querySelectorAll('.catalogue-item p, .catalogue-item li')]
        .filter(el => parseFloat(getComputedStyle(el).fontSize) < 20).length""")
    assert too_small == 0  # older residents read it without zooming
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    a11y.assert_accessible(page, "the public catalogue")
    screenshot(page, "catalogue-public-360")


def test_the_printed_catalogue_is_an_a4_notice_with_its_qr_code_and_no_navigation(new_context, model_catalogue):
    page = new_context("desktop").new_page()
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    open_page(page, f"/communities/{LIYUAN}/catalogue/print")
    page.emulate_media(media="print")
    assert page.locator("h1").inner_text() == "梨园社区积分细则"
    assert page.locator("figure.qr svg").is_visible()
    assert not page.locator(".noprint").first.is_visible() and page.locator("header.top").count() == 0
    screenshot(page, "catalogue-print-a4")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(format="A4", path=str(SCREENSHOTS / "catalogue-print.pdf"), prefer_css_page_size=True)
    assert 1 <= len(re.findall(rb"/Type\s*/Page\b", pdf)) <= 2  # the notice board has room for two sheets
