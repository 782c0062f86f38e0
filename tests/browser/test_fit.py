"""Every resident and team-lead page fits a 360 px phone, and resident pages still fit at 200 % zoom
(issue 12, item 4).

"Fits" means two things a person notices at once:
- no sideways scrolling: document.documentElement.scrollWidth <= clientWidth;
- no text squeezed into a column one character wide (状态 reading 已/认/可 down the page): a text of two
  or more characters laid out on two or more lines none of which is wider than one character.

200 % browser zoom on a 360 px phone is a layout viewport of 180 CSS px at device scale 2.

To add a page, add a (who, path) line to PAGES. A path may name {placeholders}; FIND says how each is
found by following links in the demo data as a person would (the first link on a page whose href matches),
so the list holds no database ids. Screenshots go to test-artifacts/screenshots/fit-*.png.
"""
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from .pages import RESIDENT_PHONE, log_in, screenshot

pytestmark = pytest.mark.browser

LEAD_PHONE = "13800000002"  # 张建国, 梨园便民服务队 队长 (pointsapp/demo/seed.py); also a resident
WHO = {"resident": RESIDENT_PHONE, "lead": LEAD_PHONE, "visitor": None}  # a visitor: not logged in (yet)

# (who, path): every page a resident or a team lead opens on a phone
PAGES = [
    ("visitor", "/login"),
    ("visitor", "/activate"),
    ("visitor", "/"),
    ("visitor", "/forgot-password"),
    ("resident", "/"),
    ("resident", "/me/points"),  # 我的积分 (rewritten by another engineer: paged by month)
    ("resident", "/me/code"),
    ("resident", "/me/service-record"),
    ("resident", "/rankings"),
    ("resident", "/activities"),
    ("resident", "/activities?week=1"),
    ("resident", "/store/shelf"),  # 我能换什么
    ("resident", "/me/queries"),  # 我的疑问
    ("resident", "/me/queries/new"),
    ("resident", "/me/claims/new"),  # 申报积分 (issue 14)
    ("resident", "/me/claims"),  # 我的申报
    ("resident", "/me/witness"),  # 作证
    ("resident", "/stars/{evaluation}"),
    ("resident", "/honours/{honour}"),
    ("resident", "/c/{checkin_code}"),  # the check-in confirm page (it redirects to /c/confirm)
    ("resident", "{checkin_done}"),  # what 确认签到 on that page leads to: /c/done/<attendance>
    ("resident", "/account/sessions"),
    ("resident", "/password"),
    ("resident", "/privacy"),
    ("lead", "/"),
    ("lead", "/me/points"),
    ("lead", "/me/service-record"),
    ("lead", "/lead/"),
    ("lead", "/lead/teams/{team}"),
    ("lead", "/lead/teams/{team}/activities/new"),
    ("lead", "/lead/activities/{activity}"),
    ("lead", "/lead/activities/{activity}/attendances"),
    ("lead", "/lead/activities/{activity}/edit"),
    ("lead", "/lead/activities/{activity}/screen"),
    ("lead", "/lead/activities/{past_activity}"),  # one that is over, with its attendance approved
    ("lead", "/lead/activities/{poster_activity}/poster"),
    ("lead", "/lead/queries"),
    ("visitor", "/communities/{community}/catalogue"),  # 积分细则 in plain words (public)
    ("visitor", "/communities/{community}/catalogue/print"),  # its A4 notice
    ("lead", "/claims/review"),  # 待审核的申报 (issue 14)
]

# placeholder: (who, page to look on, href pattern whose group 1 is the value, which match: 0 the first,
# -1 the last); the page may name other placeholders. Two are found in Finder.value: "checkin_code", made by
# the app's own code service (what the rotating QR of {activity} shows now), and "checkin_done", where
# tapping 确认签到 on its confirm page leads.
FIND = {
    "team": ("lead", "/lead/", r"^/lead/teams/(\d+)$", 0),
    "activity": ("lead", "/lead/", r"^/lead/activities/(\d+)$", 0),  # happening now
    "past_activity": ("lead", "/lead/teams/{team}", r"^/lead/activities/(\d+)$", -1),  # the team's oldest
    "poster_activity": ("lead", "/lead/activities/{past_activity}", r"^/lead/activities/(\d+)/poster$", 0),
    "evaluation": ("resident", "/rankings", r"^/stars/(\d+)$", 0),
    "honour": ("resident", "/rankings", r"^/honours/(\d+)$", 0),
    "community": ("resident", "/", r"^/communities/(\d+)/catalogue$", 0),  # the resident's own community
}

PHONE_360 = {"width": 360, "height": 780}
ZOOM_200 = {"width": 180, "height": 390}  # 360 px at 200 % zoom

# What sticks out, and which texts stand one character per line (at most 8 of each).
MEASURE = """() => {
  const doc = document.documentElement, width = doc.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const wide = [...document.body.querySelectorAll('*')]
      .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > width + 1)
      .map(el => name(el) + ' right=' + Math.round(el.getBoundingClientRect().right)).slice(0, 8);
  const squeezed = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if ([...text].length < 2 || !node.parentElement) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    const lines = new Set(rects.map(r => Math.round(r.top))).size;
    const em = parseFloat(getComputedStyle(node.parentElement).fontSize);
    if (lines >= 2 && Math.max(...rects.map(r => r.width)) < 1.6 * em)
      squeezed.push(name(node.parentElement) + ': ' + text.slice(0, 20) + ' (' + lines + ' lines)');
  }
  return {overflow: doc.scrollWidth - doc.clientWidth, wide, squeezed: squeezed.slice(0, 8)};
}"""


def _phone(new_context, size: dict):
    """A page in a fresh phone context (device scale 2, touch) with this CSS viewport."""
    page = new_context("phone").new_page()
    page.set_viewport_size(size)
    return page


def _checkin_code(live_server, activity_id: int) -> str:
    """The code the activity's rotating QR shows now (what the resident's camera reads)."""
    from pointsapp.core.extensions import db
    from pointsapp.volunteering.models import Activity
    from pointsapp.volunteering.services import codes

    with live_server.app.app_context():
        activity = db.session.get(Activity, activity_id)
        code = codes.checkin_code(live_server.app.secret_key, activity,
                                  codes.step_of(datetime.now(UTC), activity.code_seconds))
        db.session.remove()
    return code


class Finder:
    """Resolves a path's {placeholders} by following links as the demo people; remembers what it found."""

    def __init__(self, new_context, live_server):
        self.new_context, self.live_server, self.found, self.pages = new_context, live_server, {}, {}

    def page_of(self, who: str):
        if who not in self.pages:
            page = _phone(self.new_context, PHONE_360)
            if WHO[who]:
                log_in(page, WHO[who])
            self.pages[who] = page
        return self.pages[who]

    def value(self, key: str) -> str:
        if key == "checkin_code":  # never remembered: the QR rotates, and the suite may reach it minutes later
            return _checkin_code(self.live_server, int(self.value("activity")))
        if key not in self.found:
            if key == "checkin_done":  # the resident scans and taps 确认签到 (a second time is harmless)
                page = self.page_of("resident")
                page.goto(self.path("/c/{checkin_code}"))
                with page.expect_navigation():
                    page.locator("main form button[type=submit]").first.click()
                self.found[key] = urlsplit(page.url).path
                assert re.fullmatch(r"/c/done/\d+", self.found[key]), page.url
            else:
                who, where, pattern, which = FIND[key]
                page = self.page_of(who)
                page.goto(self.path(where))
                hrefs = page.eval_on_selector_all("main a[href]", "links => links.map(a => a.getAttribute('href'))")
                values = [m.group(1) for h in hrefs if (m := re.match(pattern, urlsplit(h).path))]
                assert values, f"no link matching {pattern} on {where} as the demo {who}"
                self.found[key] = values[which]
        return self.found[key]

    def path(self, template: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: self.value(m.group(1)), template)


# the demo's past activities (pointsapp/demo/seed.py PAST_PLANS): kind, place, hours
PAST = (("楼道广告清理", "各楼楼道", 2), ("环境整治", "小区绿地", 2), ("楼道广告清理", "3号楼至8号楼楼道", 3))
SERVED = "梨园便民服务队服务记录"  # marks the activities made here, so a second module run adds none


@pytest.fixture(scope="module")
def history(live_server):
    """The demo resident and lead served at three past activities of the lead's team (hours counted, as
    the full demo's months of history): the service record and the lead's past activity pages get rows.
    The browser tests' demo has no history (build_history would write hundreds of entries)."""
    from sqlalchemy import select

    from pointsapp.accounts.models import Role, RoleGrant, User
    from pointsapp.core.extensions import db
    from pointsapp.volunteering.models import Activity, Team
    from pointsapp.volunteering.services import activities, checkin

    with live_server.app.app_context():
        now = datetime.now(UTC)
        if not db.session.scalar(select(Activity.id).where(Activity.description == SERVED)):
            lead = db.session.scalar(select(User).where(User.phone == LEAD_PHONE))
            team = db.session.get(Team, next(g.team_id for g in lead.grants if g.team_id))
            admin = db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
                RoleGrant.role == Role.COMMUNITY_ADMIN, RoleGrant.community_id == team.community_id))
            resident = db.session.scalar(select(User).where(User.phone == RESIDENT_PHONE)).resident
            for days, (kind, place, hours) in zip((20, 13, 6), PAST, strict=True):
                starts = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
                activity = activities.create_activity(admin, team, activities.ActivityFields(
                    title=f"{team.name[:2]}{kind}", kind=kind, place=place, starts_at=starts,
                    ends_at=starts + timedelta(hours=hours), rule="hourly", points=5, hourly_cap=20,
                    award_on="check_out", allow_poster=days == 20, description=SERVED), now)
                for person in (resident, lead.resident):
                    checkin.check_in(admin, person, activity, now, method="lead_scan",
                                     scanned_at=starts + timedelta(minutes=5))
                    checkin.check_in(admin, person, activity, now, method="lead_scan",
                                     scanned_at=starts + timedelta(hours=hours, minutes=-10))
            db.session.commit()
        db.session.remove()


@pytest.fixture(scope="module")
def notices(live_server):
    """A star evaluation and an honour list on public notice in the demo resident's community (as the full
    demo has), so their notice pages are linked from the rankings page; kept if an earlier test made them."""
    from sqlalchemy import select

    from pointsapp.core.extensions import db
    from pointsapp.demo import seed as demo
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.recognition.models import Evaluation, HonourList
    from pointsapp.tree.models import Resident

    with live_server.app.app_context():
        now = datetime.now(UTC)
        if not db.session.scalar(select(Evaluation.id)):
            # households with points, so the star notice lists some (the full demo has months of history)
            heads = db.session.scalars(select(Resident).where(Resident.relation == "户主").order_by(Resident.id)
                                       .limit(12)).all()
            for i, person in enumerate(heads):
                ledger.post(ledger.Posting(person, 20 + 15 * i, EntryKind.AWARD, "demo", f"fit-{person.id}",
                                           "环境整治", "环境整治"), None, now - timedelta(days=20))
            demo.build_stars(now)
        if not db.session.scalar(select(HonourList.id)):
            demo.build_notices(now)
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="module")
def catalogue(live_server):
    """The model catalogue (积分细则) in the demo resident's community, unless it has one already."""
    from sqlalchemy import select

    from pointsapp.accounts.models import Role, RoleGrant, User
    from pointsapp.catalogue.services import items, rules
    from pointsapp.core.extensions import db

    with live_server.app.app_context():
        community = db.session.scalar(select(User).where(User.phone == RESIDENT_PHONE)).resident.community
        if not rules.current_items(community.id):
            admin = db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
                RoleGrant.role == Role.COMMUNITY_ADMIN, RoleGrant.community_id == community.id))
            items.adopt_model_catalogue(admin, community, datetime.now(UTC))
            db.session.commit()
        db.session.remove()


@pytest.fixture
def finder(new_context, live_server, history, notices, catalogue):
    return Finder(new_context, live_server)


def _measure(page, path: str) -> dict:
    response = page.goto(path)
    assert response is not None and response.status == 200, f"GET {path} -> {response and response.status}"
    page.wait_for_load_state("load")
    return page.evaluate(MEASURE)


def _problems(found: dict, width: int) -> list[str]:
    problems = []
    if found["overflow"] > 0:
        problems.append(f"scrolls sideways {found['overflow']} px at {width} px: {found['wide']}")
    if found["squeezed"]:
        problems.append(f"text one character per line at {width} px: {found['squeezed']}")
    return problems


def _slug(who: str, path: str) -> str:
    return f"fit-{who}-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home")


def _check(new_context, finder, who: str, path: str, size: dict, tag: str, said: str) -> None:
    real = finder.path(path)
    page = _phone(new_context, size)
    if WHO[who]:
        log_in(page, WHO[who])
    found = _measure(page, real)
    screenshot(page, _slug(who, path) + tag)
    problems = _problems(found, size["width"])
    assert not problems, f"{who} {real}{said}: " + "; ".join(problems)


@pytest.mark.parametrize(("who", "path"), PAGES, ids=[f"{w}:{p}" for w, p in PAGES])
def test_page_fits_a_360px_phone(new_context, finder, who, path):
    _check(new_context, finder, who, path, PHONE_360, "-360", "")


RESIDENT_PAGES = [(w, p) for w, p in PAGES if w in ("resident", "visitor")]


@pytest.mark.parametrize(("who", "path"), RESIDENT_PAGES, ids=[f"{w}:{p}" for w, p in RESIDENT_PAGES])
def test_resident_page_fits_at_200_percent_zoom(new_context, finder, who, path):
    _check(new_context, finder, who, path, ZOOM_200, "-zoom200", " at 200 % zoom")
