"""Printed certificates of a list not yet published carry a visible draft mark on every page (issue 12, item 5).

The admin opens the print view of the star certificates and of the honour lists, as the demo has them (the
star evaluation and the building leaders on public notice, last month's volunteers published): with print
media emulated, each certificate's diagonal mark is visible, dark enough for a photocopier, inside its
certificate; Chromium's PDF has one page per certificate, so every page carries it. A published list prints
clean. Screenshots: test-artifacts/screenshots/certificate-*.png, PDFs beside them.
"""
import re
from datetime import UTC, datetime

import pytest

from .pages import ADMIN_PHONE, LIYUAN, SCREENSHOTS, log_in, open_page

pytestmark = pytest.mark.browser

# each certificate: is its mark visible, how many of its repeats stand on the page, and how dark (alpha of its text colour)
MARKS = """() => [...document.querySelectorAll('section.cert')].map(cert => {
  const mark = cert.querySelector('.draft-mark span');
  if (!mark) return null;
  const c = cert.getBoundingClientRect(), m = mark.getBoundingClientRect(), style = getComputedStyle(mark);
  const rgba = style.color.match(/[\\d.]+/g).map(Number);
  return {visible: style.visibility === 'visible' && style.display !== 'none' && m.width > 0 && m.height > 0,
          inside: [...cert.querySelectorAll('.draft-mark span')].filter(span => {  // its middle on the page
            const r = span.getBoundingClientRect(), y = (r.top + r.bottom) / 2, x = (r.left + r.right) / 2;
            return y > c.top && y < c.bottom && x > c.left && x < c.right; }).length,
          alpha: rgba.length > 3 ? rgba[3] : 1, text: mark.textContent.trim(),
          header: (cert.querySelector('.cert-draft') || {}).textContent || ''};
})"""


@pytest.fixture(scope="module")
def lists(live_server):
    """In 梨园社区: six households earn points this month, then a star evaluation and a volunteers' list go on
    public notice and another volunteers' list (noticed three weeks ago) is published, as the demo does."""
    from datetime import timedelta

    from sqlalchemy import select

    from pointsapp.accounts.models import Role, RoleGrant, User
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.rankings.services import period_keys
    from pointsapp.recognition.models import HonourList
    from pointsapp.recognition.services import honours, stars
    from pointsapp.tree.models import Community, Resident

    with live_server.app.app_context():
        now = datetime.now(UTC)
        if not db.session.scalar(select(HonourList.id).where(HonourList.title == "打印检查 优秀志愿者（公示）")):
            community = db.session.get(Community, LIYUAN)
            admin = db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
                RoleGrant.role == Role.COMMUNITY_ADMIN, RoleGrant.community_id == LIYUAN))
            heads = db.session.scalars(select(Resident).where(
                Resident.community_id == LIYUAN, Resident.relation == "户主", Resident.moved_out_on.is_(None))
                .order_by(Resident.id).limit(6)).all()
            for i, person in enumerate(heads):
                ledger.post(ledger.Posting(person, 40 + 30 * i, EntryKind.AWARD, "demo", f"print-check-{person.id}",
                                           "环境整治", "环境整治"), None, now - timedelta(days=25))
            year = period_keys(now)[2]
            rules = stars.create_rule_set(admin, community, "打印检查 星级标准", [30, 60, 100, 150, 200], 0, now)
            evaluation = stars.create_evaluation(admin, community, rules, "打印检查 星级文明户", year, 7, now)
            stars.start_notice(admin, evaluation, now)
            earlier = now - timedelta(days=20)
            done = honours.create_list(admin, community, "volunteer", "打印检查 优秀志愿者（已发布）", year, "top", 3, 3,
                                       earlier)
            honours.start_notice(admin, done, earlier)
            honours.publish(admin, done, earlier + timedelta(days=4))
            on_notice = honours.create_list(admin, community, "volunteer", "打印检查 优秀志愿者（公示）", year, "top",
                                            3, 7, now)
            honours.start_notice(admin, on_notice, now)
            db.session.commit()
        db.session.remove()


def _links(page, path: str, pattern: str) -> list[str]:
    open_page(page, path)
    hrefs = page.eval_on_selector_all("main a[href]", "links => links.map(a => a.getAttribute('href'))")
    return list(dict.fromkeys(h for h in hrefs if re.fullmatch(pattern, h)))


def _print(page, path: str, name: str):
    """Open the print view with print media; (per-certificate marks, PDF page count)."""
    open_page(page, path)
    page.emulate_media(media="print")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(format="A4", path=str(SCREENSHOTS / f"{name}.pdf"))
    if page.locator("section.cert").count():
        page.locator("section.cert").first.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    marks = page.evaluate(MARKS)
    page.emulate_media(media="screen")
    return marks, len(re.findall(rb"/Type\s*/Page\b", pdf))


def _status(live_server, url: str) -> str:
    """draft / notice / published, as stored, of the evaluation or honour list at this admin URL."""
    from pointsapp.core.extensions import db
    from pointsapp.recognition.models import Evaluation, HonourList

    kind, item_id = re.search(r"/(stars|honours)/(\d+)$", url).groups()
    with live_server.app.app_context():
        status = db.session.get(Evaluation if kind == "stars" else HonourList, int(item_id)).status
        db.session.remove()
    return status


def test_certificates_printed_on_notice_carry_the_mark_on_every_page_and_published_ones_none(new_context, live_server,
                                                                                            lists):
    page = new_context("desktop").new_page()
    log_in(page, ADMIN_PHONE)
    checked = {"marked": 0, "clean": 0}
    evaluations = _links(page, f"/admin/c/{LIYUAN}/stars", rf"/admin/c/{LIYUAN}/stars/\d+")
    honour_lists = _links(page, f"/admin/c/{LIYUAN}/honours", rf"/admin/c/{LIYUAN}/honours/\d+")
    assert evaluations and honour_lists
    for url in evaluations + honour_lists:
        published = _status(live_server, url) == "published"
        name = "certificate-" + url.strip("/").replace("/", "-")
        marks, pages = _print(page, url + "/certificates", name)
        if not marks:
            continue  # nobody on this list
        assert pages == len(marks), f"{url}: {pages} PDF pages for {len(marks)} certificates"
        if published:
            assert marks == [None] * len(marks), f"{url}: a published certificate is marked as a draft"
            checked["clean"] += 1
            continue
        for i, mark in enumerate(marks, 1):
            assert mark is not None, f"{url}: certificate {i} of {len(marks)} has no draft mark"
            assert mark["visible"] and mark["inside"] >= 3, f"{url} certificate {i}: {mark}"
            assert mark["alpha"] >= 0.45, f"{url} certificate {i}: the mark is too light for a photocopy: {mark}"
            assert "草稿" in mark["text"] and "草稿" in mark["header"], mark
        checked["marked"] += 1
    assert checked["marked"] >= 2 and checked["clean"] >= 1, checked  # star notice + leaders; volunteers published
