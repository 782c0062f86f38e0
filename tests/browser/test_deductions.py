"""负向扣分 on a phone (issue 14): a resident is told of a deduction on her home page, the notice fits a 360 px
phone and 200 % zoom and is axe-clean, and 有异议？ leads to the query form, which sends her objection.

The deduction is made in a community of its own (the demo's people and boards stay as the other browser tests
expect them), against a new resident with no points: nothing is taken, all of it is owed."""
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import DEMO_PASSWORD, log_in, open_page, screenshot

pytestmark = pytest.mark.browser

PHONE = "13955550014"


@pytest.fixture(scope="module")
def deducted(live_server):
    """A resident of a community of her own, with one deduction of 10 points she cannot cover."""
    from pointsapp.accounts.models import Role, RoleGrant, User
    from pointsapp.catalogue.models import CatalogueItem
    from pointsapp.core.extensions import db
    from pointsapp.core.passwords import hash_password
    from pointsapp.deductions import services as deductions
    from pointsapp.tree.models import Building, Community, Household, Resident

    now = datetime.now(UTC)
    with live_server.app.app_context():
        first = db.session.get(Community, 1)
        c = Community(subdistrict_id=first.subdistrict_id, name="扣分测试社区", address="", phone="0535-7000000")
        db.session.add(c)
        db.session.flush()
        b = Building(community_id=c.id, name="9号楼")
        db.session.add(b)
        db.session.flush()
        home = Household(community_id=c.id, building_id=b.id, unit="2", room="502", note="")
        db.session.add(home)
        db.session.flush()
        her = Resident(community_id=c.id, household_id=home.id, name="赵桂兰", relation="户主", phone=PHONE,
                       id_tail="", created_at=now)
        db.session.add(her)
        db.session.flush()
        db.session.add(User(phone=PHONE, name=her.name, password_hash=hash_password(DEMO_PASSWORD), created_at=now,
                            resident_id=her.id))
        office = User(phone="13955550015", name="扣分测试管理员", created_at=now)
        db.session.add(office)
        db.session.flush()
        db.session.add(RoleGrant(user_id=office.id, role=Role.COMMUNITY_ADMIN, community_id=c.id, granted_at=now))
        item = CatalogueItem(community_id=c.id, lineage_id=1, kind="deduct", category="文明行为", title="高空抛物",
                             points=10, counts_against_earning=False, created_by_id=office.id, created_at=now)
        db.session.add(item)
        db.session.flush()
        deductions.record_deduction(office, item, resident=her, occurred_at=now - timedelta(hours=2),
                                    reason="从5楼扔下花盆，险些砸到楼下的老人，物业和邻居都看到了。",
                                    evidence=None, request_key="browser-deduction", now=now)
        db.session.commit()
        db.session.remove()


def _phone(new_context, width, height):
    page = new_context("phone").new_page()
    page.set_viewport_size({"width": width, "height": height})
    return page


def _fits(page, what):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{what} is {overflow} px too wide"


def test_she_sees_the_deduction_on_her_home_page_and_objects(new_context, deducted):
    page = _phone(new_context, 360, 780)
    log_in(page, PHONE)
    open_page(page, "/")
    notice = page.locator(".deduction-notice")
    expect(notice).to_contain_text("高空抛物")
    expect(notice).to_contain_text("待扣 10 分")
    assert_accessible(page, "the home page with a deduction")
    _fits(page, "the home page with a deduction")
    screenshot(page, "deduction-notice-360")
    notice.get_by_role("link", name="有异议？").click()
    page.wait_for_url(re.compile(r"/me/queries/new\?deduction=\d+"))
    expect(page.locator("main")).to_contain_text("高空抛物")
    assert_accessible(page, "the objection form")
    _fits(page, "the objection form")
    page.get_by_label("哪里有问题？").fill("那天我不在家，花盆不是我家的。")
    with page.expect_navigation():
        page.get_by_role("button", name="发送给社区").click()
    assert page.url.endswith("/me/queries")
    expect(page.locator(".query").first).to_contain_text("高空抛物")


def test_the_notice_fits_at_200_percent_zoom(new_context, deducted):
    page = _phone(new_context, 180, 390)
    log_in(page, PHONE)
    open_page(page, "/")
    expect(page.locator(".deduction-notice")).to_contain_text("高空抛物")
    _fits(page, "the home page with a deduction at 200 % zoom")
