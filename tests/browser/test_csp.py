"""Every main page passes its Content-Security-Policy in Chromium (issue 11, finding 6).

Each role opens its pages; a script installed before any page script records every
`securitypolicyviolation` event, and the console is watched for Chromium's "Refused to …" CSP errors.
Print buttons and the month select (wired in static/js/app.js, not in onclick="…") still work. The camera
scanner runs under the same policy in test_counter_camera.py, which fails on any console error."""
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from .pages import ADMIN_PHONE, LIYUAN, RESIDENT_PHONE, log_in

pytestmark = pytest.mark.browser

LEAD_PHONE = "13800000002"
CLERK_PHONE = "13800000003"
CITY_PHONE = "13800000006"
STORE = 1
CLEANUP = "梨园楼道广告清理"  # build_activities: happening now, 10 points at check-in

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


def _ids(live_server) -> dict:
    """Ids of the demo rows the pages need, read from the live server's database."""
    from sqlalchemy import select

    from pointsapp.core.extensions import db
    from pointsapp.recognition.models import Evaluation, HonourList
    from pointsapp.tree.models import Building, Resident
    from pointsapp.volunteering.models import Activity

    with live_server.app.app_context():
        activity = db.session.scalar(select(Activity).where(Activity.title == CLEANUP))
        resident = db.session.scalar(select(Resident).where(Resident.name == "王秀英", Resident.community_id == LIYUAN))
        ids = {"activity": activity.id, "team": activity.team_id, "resident": resident.id,
               "household": resident.household_id,
               "building": db.session.scalar(select(Building.id).where(Building.community_id == LIYUAN)),
               "evaluation": db.session.scalar(select(Evaluation.id).where(Evaluation.community_id == LIYUAN)),
               "honour": db.session.scalar(select(HonourList.id).where(HonourList.community_id == LIYUAN))}
        db.session.remove()
    return ids


def _codes(live_server, ids) -> dict:
    """A live check-in code of the activity and the resident's member code, as the app makes them."""
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Resident
    from pointsapp.volunteering.models import Activity
    from pointsapp.volunteering.services import codes

    now = datetime.now(UTC)
    with live_server.app.app_context():
        activity = db.session.get(Activity, ids["activity"])
        checkin = codes.checkin_code(live_server.app.secret_key, activity, codes.step_of(now, activity.code_seconds))
        member = codes.member_phone_code(live_server.app.secret_key, db.session.get(Resident, ids["resident"]), now)
        db.session.remove()
    return {"checkin": checkin, "member": member}


class Watcher:
    """Records CSP violations (events and console errors) of one page over several navigations."""

    def __init__(self, page):
        self.page, self.found = page, []
        page.add_init_script(WATCH)
        page.on("console", lambda m: self.found.append(f"console: {m.text}")
                if m.type == "error" and "Content Security Policy" in m.text else None)

    def visit(self, path: str, expect_status: int = 200):
        response = self.page.goto(path)
        assert response is not None and response.status == expect_status, f"GET {path} -> {response and response.status}"
        self.collect(path)

    def collect(self, where: str):
        self.page.wait_for_load_state("load")
        self.found += [f"{where}: {v}" for v in self.page.evaluate("window.__csp || []")]

    def assert_clean(self):
        assert self.found == [], "CSP violations:\n" + "\n".join(self.found)


def _pages(ids) -> dict[str, list[str]]:
    c, a = LIYUAN, ids["activity"]
    return {
        RESIDENT_PHONE: ["/", "/me/points", "/me/code", "/me/service-record", "/rankings", "/activities",
                         f"/stars/{ids['evaluation']}" if ids["evaluation"] else "/", "/password"],
        LEAD_PHONE: ["/lead/", f"/lead/activities/{a}", f"/lead/activities/{a}/screen", f"/lead/teams/{ids['team']}",
                     f"/lead/teams/{ids['team']}/activities/new", f"/lead/activities/{a}/edit"],
        CLERK_PHONE: [f"/store/{STORE}/counter", f"/store/{STORE}/products", f"/store/{STORE}/report",
                      f"/store/{STORE}/shift"],
        ADMIN_PHONE: ["/admin/", f"/admin/c/{c}/", f"/admin/c/{c}/buildings", f"/admin/c/{c}/buildings/{ids['building']}",
                      f"/admin/c/{c}/buildings/{ids['building']}/cards", f"/admin/c/{c}/grids",
                      f"/admin/c/{c}/households/{ids['household']}", f"/admin/c/{c}/residents",
                      f"/admin/c/{c}/residents/{ids['resident']}", f"/admin/c/{c}/residents/{ids['resident']}/points",
                      f"/admin/c/{c}/residents/{ids['resident']}/service-record", f"/admin/c/{c}/staff",
                      f"/admin/c/{c}/teams", f"/admin/c/{c}/ledger", f"/admin/c/{c}/import/", f"/admin/c/{c}/board",
                      f"/admin/c/{c}/stats", f"/admin/c/{c}/stars", f"/admin/c/{c}/honours"]
        + ([f"/admin/c/{c}/stars/{ids['evaluation']}", f"/admin/c/{c}/stars/{ids['evaluation']}/certificates"]
           if ids["evaluation"] else [])
        + ([f"/admin/c/{c}/honours/{ids['honour']}", f"/admin/c/{c}/honours/{ids['honour']}/certificates"]
           if ids["honour"] else []),
        CITY_PHONE: ["/city/", "/admin/"],
    }


def test_every_main_page_passes_the_csp_for_every_role(new_context, live_server):
    ids = _ids(live_server)
    visitor = Watcher(new_context("phone").new_page())
    visitor.visit("/login")
    visitor.visit(f"/board/{LIYUAN}")
    visitor.assert_clean()
    for phone, paths in _pages(ids).items():
        page = new_context("desktop").new_page()
        watcher = Watcher(page)
        log_in(page, phone)
        watcher.collect(f"login as {phone}")
        for path in paths:
            watcher.visit(path)
        watcher.assert_clean()


def test_check_in_confirm_counter_and_receipt_pass_the_csp(new_context, live_server):
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.tree.models import Resident

    ids = _ids(live_server)
    with live_server.app.app_context():  # points to spend (the browser seed has no history)
        ledger.post(ledger.Posting(db.session.get(Resident, ids["resident"]), 50, EntryKind.AWARD, "demo",
                                   "browser-csp-award", "楼道广告清理"), None, datetime.now(UTC))
        db.session.commit()
        db.session.remove()
    made = _codes(live_server, ids)

    resident = new_context("phone").new_page()
    watcher = Watcher(resident)
    log_in(resident, RESIDENT_PHONE)
    watcher.visit(f"/c/{made['checkin']}")  # redirects to the confirm page
    assert resident.url.endswith("/c/confirm")
    watcher.assert_clean()

    clerk = new_context("desktop").new_page()
    watcher = Watcher(clerk)
    log_in(clerk, CLERK_PHONE)
    watcher.visit(f"/store/{STORE}/counter")
    clerk.locator("#code").fill(made["member"])
    with clerk.expect_navigation():
        clerk.locator("#code").press("Enter")
    watcher.collect("the counter with a resident")
    expect(clerk.locator("li.product button.tile").first).to_be_visible()
    clerk.locator("li.product button.tile").first.click()  # counter.js adds it to the cart
    with clerk.expect_navigation():
        clerk.locator("#confirm").click()
    assert re.search(rf"/store/{STORE}/receipts/\d+$", clerk.url), clerk.url
    watcher.collect("the receipt")
    printed = clerk.evaluate("() => { window.__printed = 0; window.print = () => window.__printed++; return 1; }")
    assert printed == 1
    clerk.locator("main p.noprint button[type=button]").first.click()  # works without onclick="…"
    watcher.collect("the print button")
    watcher.assert_clean()
    assert clerk.evaluate("window.__printed") == 1


def test_the_month_select_still_sends_its_form(new_context, live_server, two_months_of_points):
    page = new_context("phone").new_page()
    watcher = Watcher(page)
    log_in(page, RESIDENT_PHONE)
    watcher.visit("/me/points")
    select = page.locator("select[data-autosubmit]")
    expect(select).to_have_count(1)  # the demo resident has months of history to choose from
    options = select.locator("option")
    value = options.nth(options.count() - 1).get_attribute("value")
    with page.expect_navigation():
        select.select_option(value)
    assert f"month={value}" in page.url
    watcher.assert_clean()
