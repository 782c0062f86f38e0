"""The big-screen board on the 2nd of a month (rankings.services.fallback_span): this month's few names and last month's
final standings side by side on the hall's 1920x1080 screen, one under the other on a 360 px phone.

The app's clock is fixed (core.clock.FixedClock on the live server's app) to 2 December 2030, 09:00 China
time, and 鹤山社区 (the demo's second community, which no other browser test ranks) is given points in
November and on 1 December 2030 through the ledger's service; the clock is put back afterwards."""
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from pointsapp.core.periods import CHINA

from .a11y import assert_accessible
from .pages import open_page, screenshot

pytestmark = pytest.mark.browser

HESHAN = 2  # 鹤山社区
THIS_MONTH = "本月（12月1日至今）"
LAST_MONTH = "上月最终排名（2030年11月）"


def china(*parts) -> datetime:
    return datetime(*parts, tzinfo=CHINA).astimezone(UTC)


@pytest.fixture
def second_of_december(live_server):
    from sqlalchemy import select

    from pointsapp.core.clock import FixedClock, install
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind, LedgerEntry
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.tree.models import Resident

    app = live_server.app
    with app.app_context():
        people = db.session.scalars(select(Resident).where(
            Resident.community_id == HESHAN, Resident.moved_out_on.is_(None), Resident.relation == "户主")
            .order_by(Resident.id).limit(15)).all()
        assert len(people) == 15, "the demo has heads of household in 鹤山社区"
        keys = [f"browser-periods-{p.id}" for p in people]
        if not db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == keys[0])):
            for i, person in enumerate(people):
                when = china(2030, 11, 5 + i, 10, 0) if i < 12 else china(2030, 12, 1, 9, 0)
                ledger.post(ledger.Posting(person, 100 - 5 * i, EntryKind.AWARD, "demo", keys[i], "环境整治"),
                            None, when)
            db.session.commit()
        db.session.remove()
    previous = install(app, FixedClock(china(2030, 12, 2, 9, 0)))
    try:
        yield
    finally:
        install(app, previous)


def panel_columns(page):
    """(caption, names) of each column of the panel shown."""
    shown = page.locator("body.board section.panel.shown")
    expect(shown).to_have_count(1)
    out = []
    for i in range(shown.locator("div.period").count()):
        column = shown.locator("div.period").nth(i)
        out.append((column.locator(".period-caption").inner_text(),
                    [t.strip() for t in column.locator("ol.leaders .who").all_text_contents()]))
    return out


@pytest.mark.parametrize("width, height", [(1920, 1080), (360, 780)])
def test_the_board_on_the_2nd_shows_this_month_and_last_month(new_context, live_server, second_of_december,
                                                              width, height):
    page = new_context("desktop" if width > 1000 else "phone").new_page()
    page.set_viewport_size({"width": width, "height": height})
    open_page(page, f"/board/{HESHAN}")
    columns = panel_columns(page)
    assert [caption for caption, _names in columns] == [THIS_MONTH, LAST_MONTH], columns
    (_, now), (_, last) = columns
    assert len(now) == 3 and len(last) == 10, columns  # three names so far; last month's top ten
    assert not set(now) & set(last)
    shown = page.locator("body.board section.panel.shown")
    for i in range(2):
        column = shown.locator("div.period").nth(i)
        column.scroll_into_view_if_needed()
        expect(column.locator(".period-caption")).to_be_visible()
        expect(column.locator("ol.leaders li").last).to_be_visible()
    sizes = page.evaluate("""() => {
        const cols = [...document.querySelectorAll('section.panel.shown div.period')].map(c => c.getBoundingClientRect());
        return {scrollW: document.documentElement.scrollWidth, scrollH: document.documentElement.scrollHeight,
                inner: window.innerHeight, tops: cols.map(r => Math.round(r.top)), lefts: cols.map(r => Math.round(r.left))};
    }""")
    assert sizes["scrollW"] <= width, f"the board overflows {width} px: {sizes}"
    if width > 1000:  # side by side, and the whole panel on the hall's screen without scrolling
        assert sizes["tops"][0] == sizes["tops"][1] and sizes["lefts"][0] < sizes["lefts"][1], sizes
        assert sizes["scrollH"] <= sizes["inner"], f"the board scrolls on a 1080p screen: {sizes}"
    else:  # one under the other
        assert sizes["tops"][1] > sizes["tops"][0], sizes
    screenshot(page, f"board-2nd-of-month-{width}")
    assert_accessible(page, f"board on the 2nd at {width} px")
