"""A resident on a 360 px phone questions an entry of her points, the office answers from its queue, and
she reads the reply (issue 12); the login page's "keep me logged in" box and 忘记密码 page, checked with axe."""
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import ADMIN_PHONE, LIYUAN, RESIDENT_PHONE, assert_chinese_ui, log_in, open_page, screenshot

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 780}


def _narrow_phone(new_context):
    page = new_context("phone").new_page()
    page.set_viewport_size(NARROW)
    return page


def _fits(page, what: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{what} is {overflow} px wider than a 360 px phone"


def _an_entry_for_the_resident(live_server) -> None:
    """An entry in her history to question (the demo leaves it empty)."""
    from sqlalchemy import select

    from pointsapp.accounts.models import User
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import posting as ledger

    with live_server.app.app_context():
        user = db.session.scalar(select(User).where(User.phone == RESIDENT_PHONE))
        ledger.post(ledger.Posting(user.resident, 5, EntryKind.AWARD, "demo", "browser-query-entry", "楼道清扫"),
                    None, datetime.now(UTC))
        db.session.commit()
        db.session.remove()


def test_a_resident_queries_an_entry_the_office_answers_and_she_sees_the_reply(new_context, live_server):
    _an_entry_for_the_resident(live_server)
    resident = _narrow_phone(new_context)
    log_in(resident, RESIDENT_PHONE)
    open_page(resident, "/me/points")
    link = resident.locator("a.query-link").first
    expect(link).to_contain_text("有疑问")
    link.click()
    resident.wait_for_url(re.compile(r"/me/queries/new\?entry=\d+"))
    assert_chinese_ui(resident, "Raise a query", "What is wrong?")
    expect(resident.locator(".office-box")).to_contain_text("0535-")  # the office's phone, to call instead
    assert_accessible(resident, "the query form")
    _fits(resident, "the query form")
    resident.get_by_label("哪里有问题？").fill("11月29日的清扫我做了两个小时，只记了5分。")
    with resident.expect_navigation():
        resident.get_by_role("button", name="发送给社区").click()
    assert resident.url.endswith("/me/queries")
    expect(resident.locator(".query").first).to_contain_text("等待答复")
    screenshot(resident, "query-sent-360")

    office = new_context("desktop").new_page()
    log_in(office, ADMIN_PHONE)
    open_page(office, f"/admin/c/{LIYUAN}/queries")
    assert_accessible(office, "the office's queue")
    office.locator(".queue a", has_text="王秀英").first.click()
    expect(office.locator("main")).to_contain_text("只记了5分")
    assert_accessible(office, "the office's answer page")
    office.get_by_label("只答复：无需更正").check()
    office.get_by_label("给居民的答复").fill("已向队长核实：签退时间是10:00，按规则记5分。如有疑问请来社区。")
    with office.expect_navigation():
        office.get_by_role("button", name="发送答复").click()
    expect(office.get_by_role("status").first).to_contain_text("已答复")

    open_page(resident, "/me/queries")
    answered = resident.locator(".query").first
    expect(answered).to_contain_text("已答复")
    expect(answered).to_contain_text("按规则记5分")
    assert_accessible(resident, "my queries with a reply")
    _fits(resident, "my queries")
    screenshot(resident, "query-answered-360")


def test_the_login_page_keeps_residents_logged_in_and_explains_a_forgotten_password(new_context):
    page = _narrow_phone(new_context)
    open_page(page, "/login")
    keep = page.get_by_label("在这部手机上保持登录 30 天")
    expect(keep).to_be_checked()
    assert_accessible(page, "the login page")
    _fits(page, "the login page")
    page.get_by_role("link", name="忘记密码？").click()
    expect(page.locator("main h1")).to_have_text("忘记密码？")
    expect(page.locator("main")).to_contain_text("身份证")
    expect(page.locator("main")).to_contain_text("0535-")
    assert_accessible(page, "the forgotten-password page")
    _fits(page, "the forgotten-password page")
