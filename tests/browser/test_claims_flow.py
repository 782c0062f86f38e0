"""积分申报 on a 360 px phone (issue 14): the demo resident picks a good deed, attaches a photo and sends it; the
community office opens its queue in a second browser, sees the photo and approves; her points page shows the
item's points more. The claim form, her claims and the queue are checked with axe."""
import re
from datetime import UTC, datetime

import pytest
from PIL import Image
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import ADMIN_PHONE, LIYUAN, RESIDENT_PHONE, assert_chinese_ui, log_in, open_page, screenshot

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 780}
TITLE = "帮邻居买菜取药"  # an office-reviewed item of 梨园社区 made here (the browser demo may have no catalogue)
POINTS = 6


def _item(live_server) -> int:
    """The item's id, made once per live server."""
    from sqlalchemy import select

    from pointsapp.accounts.models import Role, RoleGrant, User
    from pointsapp.catalogue.models import CatalogueItem
    from pointsapp.core.extensions import db

    with live_server.app.app_context():
        item = db.session.scalar(select(CatalogueItem).where(CatalogueItem.community_id == LIYUAN,
                                                             CatalogueItem.title == TITLE))
        if item is None:
            admin = db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
                RoleGrant.role == Role.COMMUNITY_ADMIN, RoleGrant.community_id == LIYUAN))
            item = CatalogueItem(community_id=LIYUAN, lineage_id=0, kind="earn", category="邻里互助", title=TITLE,
                                 description="给行动不便的老人买菜、取药", points=POINTS, evidence="photo",
                                 confirmer="office", claimable=True, created_by_id=admin.id, created_at=datetime.now(UTC))
            db.session.add(item)
            db.session.flush()
            item.lineage_id = item.id
            db.session.commit()
        item_id = item.id
        db.session.remove()
    return item_id


def _fits(page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{what} is {overflow} px wider than a 360 px phone"


def _balance(page) -> int:
    open_page(page, "/me/points")
    return int(page.locator(".balance .value").first.inner_text().strip())


def test_a_resident_claims_with_a_photo_the_office_approves_and_her_balance_moves(new_context, live_server, tmp_path):
    item_id = _item(live_server)
    photo = tmp_path / "买菜.jpg"  # a phone camera's photo: 4000x3000, a few MB of detail
    Image.effect_noise((4000, 3000), 80).convert("RGB").save(photo, "JPEG", quality=95)
    assert photo.stat().st_size > 2 * 1024 * 1024

    resident = new_context("phone").new_page()
    resident.set_viewport_size(NARROW)
    refused = []  # the CSP refusing a script or a style shows in the console
    resident.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(resident, RESIDENT_PHONE)
    before = _balance(resident)
    open_page(resident, "/")
    resident.get_by_role("link", name="申报积分（好人好事）").click()
    resident.wait_for_url(re.compile(r"/me/claims/new$"))
    assert_chinese_ui(resident, "Claim points", "What did you do?", "Send my claim")
    assert_accessible(resident, "the claim form")
    _fits(resident, "the claim form")
    resident.locator("label.item-choice", has_text=TITLE).click()
    expect(resident.locator(f"#item-{item_id}")).to_be_checked()
    resident.get_by_label("在哪里？").fill("3号楼1单元")
    resident.get_by_label("具体经过").fill("给502的李奶奶买了菜，送到家门口。")
    resident.locator("input[type=file][name=photos]").set_input_files(str(photo))
    screenshot(resident, "claim-form-360")
    sent = []
    resident.on("request", lambda r: sent.append(len(r.post_data_buffer or b"")) if r.method == "POST" else None)
    with resident.expect_navigation():
        resident.get_by_role("button", name="提交申报").click()
    assert sent and sent[-1] < 1024 * 1024, f"the photo went as it was ({sent} bytes): static/js/claims.js shrinks it"
    expect(resident.locator("main h1")).to_have_text("已提交")
    expect(resident.locator("main")).to_contain_text("等待社区审核")
    number = re.search(r"/claims/(\d+)", resident.url).group(1)
    open_page(resident, "/me/claims")
    expect(resident.locator(f"#claim-{number}")).to_contain_text("等待社区审核")
    assert_accessible(resident, "my claims")
    _fits(resident, "my claims")
    # withdrawing asks first: one tap opens the question, a second, labelled button withdraws; both >= 44 px tall
    ask = resident.locator(f"#claim-{number} details.withdraw > summary")
    assert ask.bounding_box()["height"] >= 44
    ask.click()
    really = resident.locator(f"#claim-{number}").get_by_role("button", name="确定撤回这条申报")
    expect(really).to_be_visible()
    assert really.bounding_box()["height"] >= 44
    assert_accessible(resident, "my claims, asked whether to withdraw")
    expect(resident.locator(f"#claim-{number}")).to_contain_text("等待社区审核")  # opening it withdrew nothing

    office = new_context("phone").new_page()
    office.set_viewport_size(NARROW)
    log_in(office, ADMIN_PHONE)
    open_page(office, f"/admin/c/{LIYUAN}/claims")
    card = office.locator(f"#claim-{number}")
    expect(card).to_contain_text("给502的李奶奶买了菜")
    image = card.locator(".claim-photos img").first
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "the reviewer cannot see the photo"
    assert_accessible(office, "the review queue")
    _fits(office, "the review queue")
    screenshot(office, "claim-queue-360")
    with office.expect_navigation():
        card.get_by_role("button", name=f"通过：+{POINTS} 分").click()
    expect(office.get_by_role("status").first).to_contain_text("已通过")
    expect(office.locator(f"#claim-{number}")).to_have_count(0)

    assert _balance(resident) == before + POINTS
    open_page(resident, "/me/claims")
    expect(resident.locator(f"#claim-{number}")).to_contain_text(f"已通过：+{POINTS} 分")
    assert refused == []
