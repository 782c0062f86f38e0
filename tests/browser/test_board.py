"""Rankings, the public honour board (红榜) on the community hall's big screen, and star households.

The browser tests' seed has no points history (demo.build_history is slow), so `seeded` below gives
梨园社区 a month of earning through the real services: a dozen heads of household get awards, nine of
them (王秀英 among them) attended two earlier activities, and each community gets demo.build_stars'
rule set and draft evaluation. The Chinese texts are the zh catalogue's translations.

The live server is shared by the whole session: tests that change the board settings or the
resident's opt-out put them back (through the UI, and again from the database if the test failed).
"""
import os
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import ADMIN_PHONE, LIYUAN, RESIDENT_PHONE, ROOT, log_in, open_page, screenshot

pytestmark = pytest.mark.browser

BIG_SCREEN = {"width": 1920, "height": 1080}
# README screenshots are refreshed only on request (UPDATE_DOC_SCREENSHOTS=1): a test run must not
# rewrite committed files.
DOCS_IMG = ROOT / "docs" / "img" if os.environ.get("UPDATE_DOC_SCREENSHOTS") else ROOT / "test-artifacts" / "docs-img"
DOC_LIMIT = 200_000  # bytes: screenshots committed to docs/ stay small

COMMUNITY = "梨园社区"
RESIDENT = "王秀英"  # head of a one-person household, 3号楼1单元301
# what the catalogue says (msgid -> msgstr)
HONOUR_BOARD = "红榜"
MY_PLACE = "我的名次"
THIS_YEAR = "本年"  # This year
BUILDINGS = "楼栋"  # Buildings
OPT_OUT = "不在公开红榜上显示我的名字"  # Keep my name off public boards
OPT_IN = "重新显示我的名字"  # Show my name again
OPTED_OUT = "您的名字没有显示在公开红榜上。"  # Your name is not shown on public boards.
CLOSED = "红榜暂停更新，等待公布。"  # The board is closed until the announcement.
PLACES_HIDDEN = "公布前暂不显示名次。"  # Places are hidden until the announcement. …
SETTINGS_SAVED = "红榜设置已保存。"  # Board settings saved.
HOUSEHOLD = "住户"  # household (a household whose head opted out)
PUT_ON_NOTICE = "开始公示"  # Put on public notice
ON_NOTICE = "公示中"  # on public notice
OBJECTION_SENT = "您的异议已提交，社区会给您答复。"
NOT_ANSWERED = "尚未答复"  # not answered yet
ANSWER_SAVED = "答复已保存。"  # Answer saved.

PHONE_NUMBER = re.compile(r"1\d{10}")
HEX64 = re.compile(r"[0-9a-f]{64}")


# ---- the seed ---------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def seeded(live_server):
    """Points earned this month in 梨园社区 (so every panel has ten rows), a checkpoint, star rules and drafts."""
    from sqlalchemy import select

    from pointsapp.accounts.models import Role, RoleGrant, User
    from pointsapp.core.extensions import db
    from pointsapp.demo import seed as demo
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import audit as ledger_audit
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.recognition.models import Evaluation
    from pointsapp.tree.models import Resident
    from pointsapp.volunteering.models import Team
    from pointsapp.volunteering.services import activities, checkin

    with live_server.app.app_context():
        now = _now()
        admin = db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
            RoleGrant.role == Role.COMMUNITY_ADMIN, RoleGrant.community_id == LIYUAN))
        resident = _resident_row(db)
        heads = db.session.scalars(select(Resident).where(
            Resident.community_id == LIYUAN, Resident.relation == "户主", Resident.moved_out_on.is_(None),
            Resident.id != resident.id).order_by(Resident.id).limit(12)).all()
        amounts = (200, 180, 160, 150, 130, 110, 100, 90, 80, 70, 60, 50)
        for person, amount in [*zip(heads, amounts, strict=True), (resident, 120)]:
            ledger.post(ledger.Posting(person, amount, EntryKind.AWARD, "demo", f"browser-board-{person.id}",
                                       "环境整治", "环境整治"), None, now)
        # two activities earlier this week; attendances count for the star rules (at least two)
        team = db.session.scalar(select(Team).where(Team.community_id == LIYUAN, Team.category == "便民"))
        for days in (3, 2):
            starts = now - timedelta(days=days)
            activity = activities.create_activity(admin, team, activities.ActivityFields(
                title=f"梨园楼道清扫（{days}天前）", kind="楼道广告清理", place="1号楼", starts_at=starts,
                ends_at=starts + timedelta(hours=2), points=10), now)
            for person in [*heads[:8], resident]:
                checkin.check_in(admin, person, activity, now, method="lead_scan",
                                 scanned_at=starts + timedelta(minutes=5))
        ledger_audit.checkpoint(LIYUAN, now)
        if not db.session.scalar(select(Evaluation.id).where(Evaluation.community_id == LIYUAN)):
            demo.build_stars(now)
        db.session.commit()
        db.session.remove()


def _resident_row(db):
    from sqlalchemy import select

    from pointsapp.accounts.models import User
    from pointsapp.tree.models import Resident
    return db.session.scalar(select(Resident).join(User, User.resident_id == Resident.id)
                             .where(User.phone == RESIDENT_PHONE))


def _month() -> str:
    from pointsapp.rankings.services import current_periods
    return current_periods(_now())["month"]


def db_top_residents(live_server, limit: int = 10) -> list[tuple[int, str, str]]:
    """(rank, full name, phone) of this month's top residents not opted out, from the database."""
    from sqlalchemy import select

    from pointsapp.core.extensions import db
    from pointsapp.rankings.services import leaderboard
    from pointsapp.tree.models import Resident

    with live_server.app.app_context():
        try:
            places = leaderboard(LIYUAN, _month(), "resident", limit=500)
            people = {r.id: r for r in db.session.scalars(select(Resident).where(
                Resident.id.in_([p.subject_id for p in places] or [-1])))}
            shown = [p for p in places if not people[p.subject_id].hide_from_board][:limit]
            return [(p.rank, people[p.subject_id].name, people[p.subject_id].phone) for p in shown]
        finally:
            db.session.remove()


def db_place(live_server, period: str = "month", what: str = "rank") -> int | None:
    """王秀英's place (or her points: what="value") among residents by points earned in the period."""
    from pointsapp.core.extensions import db
    from pointsapp.rankings.services import current_periods, rank_of

    with live_server.app.app_context():
        try:
            place = rank_of(LIYUAN, current_periods(_now())[period], "resident", _resident_row(db).id)
            return getattr(place, what) if place else None
        finally:
            db.session.remove()


def db_state(live_server) -> tuple[str, bool, bool]:
    """(board mask, board frozen, resident opted out)."""
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Community

    with live_server.app.app_context():
        try:
            community = db.session.get(Community, LIYUAN)
            return community.board_mask, community.board_frozen, _resident_row(db).hide_from_board
        finally:
            db.session.remove()


def restore_board(live_server) -> None:
    """What every other test expects: an open board, 张*明 masking, the resident on it."""
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Community

    with live_server.app.app_context():
        community = db.session.get(Community, LIYUAN)
        community.board_mask, community.board_frozen = "middle", False
        _resident_row(db).hide_from_board = False
        db.session.commit()
        db.session.remove()


@pytest.fixture
def board_restored(live_server, seeded):
    assert db_state(live_server) == ("middle", False, False), "an earlier test left the board settings changed"
    yield
    state = db_state(live_server)
    restore_board(live_server)
    assert state == ("middle", False, False), f"the test did not put the board settings back: {state}"


def evaluation_id(live_server, status: str) -> int:
    """梨园社区's latest evaluation with this status; a draft is created (like build_stars) when none is left."""
    from sqlalchemy import select

    from pointsapp.accounts.models import Role, RoleGrant
    from pointsapp.core.extensions import db
    from pointsapp.rankings.services import current_periods
    from pointsapp.recognition.models import Evaluation, StarRuleSet
    from pointsapp.recognition.services import stars
    from pointsapp.tree.models import Community

    with live_server.app.app_context():
        try:
            found = db.session.scalar(select(Evaluation.id).where(
                Evaluation.community_id == LIYUAN, Evaluation.status == status).order_by(Evaluation.id.desc()))
            if found is not None:
                return found
            admin = db.session.scalar(select(RoleGrant).where(RoleGrant.role == Role.COMMUNITY_ADMIN,
                                                              RoleGrant.community_id == LIYUAN)).user
            rules = db.session.scalar(select(StarRuleSet).where(StarRuleSet.community_id == LIYUAN))
            year = current_periods(_now())["year"]
            e = stars.create_evaluation(admin, db.session.get(Community, LIYUAN), rules, f"{year[1:]}年度星级文明户评定", year, 7, _now())
            if status == "notice":
                stars.start_notice(admin, e, _now())
            db.session.commit()
            return e.id
        finally:
            db.session.remove()


def star_heads(live_server, evaluation: int) -> list[str]:
    """Full names of the heads of households with at least one star."""
    from pointsapp.core.extensions import db
    from pointsapp.recognition.models import Evaluation
    from pointsapp.recognition.services import stars

    with live_server.app.app_context():
        try:
            return [r.head for r in stars.results(db.session.get(Evaluation, evaluation), min_stars=1)]
        finally:
            db.session.remove()


# ---- page helpers -------------------------------------------------------------------------------

def masked_middle(name: str) -> str:
    return name[0] + "*" if len(name) == 2 else name[0] + "*" * (len(name) - 2) + name[-1]


def masked_given(name: str) -> str:
    return name[0] + "*" * (len(name) - 1)


def follow(page, link) -> None:
    with page.expect_navigation() as navigation:
        link.click()
    assert navigation.value.status == 200, f"{page.url} -> {navigation.value.status}"


def big_screen(new_context):
    """The community hall's screen: nobody logged in, 1920x1080, timers under the test's control."""
    page = new_context("desktop").new_page()
    page.set_viewport_size(BIG_SCREEN)
    start = _now()
    page.clock.install(time=start)
    page.clock.pause_at(start + timedelta(seconds=1))  # time stands still until the test runs it on
    return page


def board_column(page, panel: int, column: str = "who") -> list[str]:
    """The texts of one column (rank | who | pts) of a board panel, shown or not."""
    return [t.strip() for t in page.locator(f"body.board section.panel:nth-of-type({panel}) ol.leaders .{column}")
            .all_text_contents()]


def shown_panel(page) -> str:
    shown = page.locator("body.board section.panel.shown")
    expect(shown).to_have_count(1)
    expect(shown).to_be_visible()
    expect(page.locator("body.board section.panel:not(.shown)").first).to_be_hidden()
    return shown.locator("h2").inner_text()


def assert_fits(page, what: str) -> None:
    """Everything on the big screen is visible without scrolling: the ten rows and the footer."""
    sizes = page.evaluate("""() => {
        const shown = document.querySelector('section.panel.shown');
        const rows = shown ? [...shown.querySelectorAll('ol.leaders li')] : [];
        const footer = document.querySelector('footer.proof');
        return {inner: window.innerHeight, scroll: document.documentElement.scrollHeight, rows: rows.length,
                last: rows.length ? rows[rows.length - 1].getBoundingClientRect().bottom : 0,
                footer: footer ? footer.getBoundingClientRect().bottom : 0};
    }""")
    assert sizes["scroll"] <= sizes["inner"], f"{what}: the board scrolls on a 1080p screen: {sizes}"
    assert sizes["last"] <= sizes["inner"] and sizes["footer"] <= sizes["inner"], f"{what}: cut off: {sizes}"


def my_place(page) -> str:
    card = page.locator("main section.card.balance", has_text=MY_PLACE)
    expect(card).to_have_count(1)
    return card.locator(".value").inner_text().strip()


def period_tab(page, label: str):
    return page.locator("main nav.tabs a", has_text=re.compile("^" + re.escape(label) + "$"))


# ---- 1. the big screen --------------------------------------------------------------------------

def test_board_on_the_big_screen_cycles_masked_leaders_with_the_ledger_root(new_context, live_server, seeded,
                                                                            board_restored):
    page = big_screen(new_context)
    open_page(page, f"/board/{LIYUAN}")

    heading = page.locator("main h1")
    expect(heading).to_contain_text(COMMUNITY)
    expect(heading).to_contain_text(HONOUR_BOARD)
    assert page.locator("body.board section.panel").count() >= 3  # volunteers, households, buildings, …
    assert page.locator('meta[http-equiv="refresh"]').count() == 0
    assert len(board_column(page, 1)) == len(board_column(page, 2)) == 10, "the seed fills the top ten"
    buildings = board_column(page, 3)
    assert buildings and all(re.fullmatch(r"\d+号楼", b) for b in buildings), buildings

    # names are masked 张*明 and come in the order of the database; no full name, phone or room anywhere
    top = db_top_residents(live_server)
    assert len(top) == 10
    assert board_column(page, 1) == [masked_middle(name) for _rank, name, _phone in top]
    assert board_column(page, 1, "rank") == [str(rank) for rank, _name, _phone in top]
    html = page.content()
    leaked = [name for _rank, name, _phone in top if name in html] + [p for *_, p in top if p and p in html]
    assert not leaked, f"the public board shows full names or phone numbers: {leaked}"
    households = board_column(page, 2)
    assert all(re.fullmatch(r"\d+号楼 (.\*+.?家|住户)", h) for h in households), households
    code = page.locator("footer.proof code")
    text = page.locator("body").inner_text()
    public_text = text.replace(code.inner_text(), "")
    assert not PHONE_NUMBER.search(public_text), PHONE_NUMBER.search(public_text)
    assert "单元" not in text and "室" not in text, "the board shows room numbers"

    # the ledger's latest checkpoint root, for anyone to compare with their receipt
    from pointsapp.ledger.services.audit import latest_checkpoint
    with live_server.app.app_context():
        root = latest_checkpoint(LIYUAN).root
    assert HEX64.fullmatch(root)
    expect(code).to_have_text(root)

    # one panel at a time, the next one every 12 seconds, round and round; each fits the screen
    # (the first three are this month's leaders; a star notice and honour lists may follow)
    count = page.locator("body.board section.panel").count()
    titles = []
    for n in range(count + 1):
        titles.append(shown_panel(page))
        assert_fits(page, titles[-1])
        screenshot(page, "board" if n == 0 else f"board-panel{n + 1}")
        if n == 0:
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(DOCS_IMG / "board.png"))
            assert (DOCS_IMG / "board.png").stat().st_size < DOC_LIMIT
        page.clock.run_for(11_000)
        assert shown_panel(page) == titles[-1], "the panel changed before 12 seconds"
        page.clock.run_for(1_000)
    assert titles[:3] == ["本月志愿者榜", "本月住户榜", "本月楼栋榜"], titles
    assert len(set(titles)) == count and titles[-1] == titles[0], titles

    # fresh numbers every five minutes, without a <meta> refresh
    page.evaluate("() => { window.stale = true; }")
    with page.expect_navigation():
        page.clock.run_for(300_000)
    assert page.evaluate("() => window.stale") is None
    expect(page.locator("body.board section.panel.shown")).to_have_count(1)


# ---- 2. the resident's rankings and opting out --------------------------------------------------

def test_resident_sees_her_place_switches_periods_and_opts_out_of_the_board(new_context, live_server, seeded,
                                                                          board_restored):
    page = new_context("phone").new_page()
    log_in(page, RESIDENT_PHONE)
    open_page(page, "/rankings")
    place = db_place(live_server)
    assert place is not None and my_place(page) == str(place)
    me = page.locator("main table.ranking tr.me")
    expect(me).to_have_count(1)
    expect(me).to_contain_text(masked_middle(RESIDENT))
    expect(me.locator("td").first).to_have_text(str(place))
    colours = page.evaluate("""() => [...document.querySelectorAll('main table.ranking tbody tr')]
        .map(tr => [tr.classList.contains('me'), getComputedStyle(tr.cells[1]).backgroundColor])""")
    mine = {c for me, c in colours if me}
    assert len(colours) > 1 and not mine & {c for me, c in colours if not me}, f"her row is not highlighted: {colours}"
    screenshot(page, "rankings-phone")

    follow(page, period_tab(page, THIS_YEAR))
    assert parse_qs(urlsplit(page.url).query)["period"] == ["year"]
    expect(period_tab(page, THIS_YEAR)).to_have_attribute("aria-current", "page")
    assert my_place(page) == str(db_place(live_server, "year"))
    follow(page, period_tab(page, BUILDINGS))
    query = parse_qs(urlsplit(page.url).query)
    assert query["by"] == ["building"] and query["period"] == ["year"]
    expect(period_tab(page, BUILDINGS)).to_have_attribute("aria-current", "page")
    names = page.locator("main table.ranking tbody td:nth-child(2)").all_text_contents()
    assert names and all(re.fullmatch(r"\d+号楼", n) for n in names), names

    board = big_screen(new_context)
    open_page(board, f"/board/{LIYUAN}")
    assert masked_middle(RESIDENT) in board_column(board, 1), "the seed put her in this month's top ten"
    assert f"3号楼 {masked_middle(RESIDENT)}家" in board_column(board, 2)

    # she keeps her name off the board
    button = page.get_by_role("button", name=OPT_OUT)
    follow(page, button)
    expect(page.locator("main")).to_contain_text(OPTED_OUT)
    expect(page.get_by_role("button", name=OPT_IN)).to_be_visible()
    assert db_state(live_server)[2] is True

    board.reload()
    others = [masked_middle(name) for _rank, name, _phone in db_top_residents(live_server)]
    assert board_column(board, 1) == others
    assert others.count(masked_middle(RESIDENT)) == 0
    assert f"3号楼 {masked_middle(RESIDENT)}家" not in board_column(board, 2)
    # her household is left off the households' list too (its points beside the volunteers' would name her)
    assert f"3号楼 {HOUSEHOLD}" not in board_column(board, 2), "her household is not shown by its building either"

    # she still sees her own place, though her row is no longer on the public list
    open_page(page, "/rankings")
    assert my_place(page) == str(place)
    expect(page.locator("main table.ranking tr.me")).to_have_count(0)
    expect(page.locator("main table.ranking")).not_to_contain_text(masked_middle(RESIDENT))

    # and puts it back
    follow(page, page.get_by_role("button", name=OPT_IN))
    expect(page.get_by_role("button", name=OPT_OUT)).to_be_visible()
    expect(page.locator("main table.ranking tr.me")).to_have_count(1)
    board.reload()
    assert masked_middle(RESIDENT) in board_column(board, 1)


# ---- 3. the admin's board settings ---------------------------------------------------------------

def test_admin_masks_given_names_and_freezes_the_board(new_context, live_server, seeded, board_restored):
    admin = new_context("desktop").new_page()
    log_in(admin, ADMIN_PHONE)
    open_page(admin, f"/admin/c/{LIYUAN}/board")
    expect(admin.locator("main h1")).to_contain_text(HONOUR_BOARD)
    form = admin.locator("main form.card")
    expect(form.locator("input[name=mask][value=middle]")).to_be_checked()
    expect(form.locator("input[name=frozen]")).not_to_be_checked()

    form.get_by_label("张**").check()
    follow(admin, form.locator("button[type=submit]"))
    expect(admin.locator("main")).to_contain_text(SETTINGS_SAVED)
    expect(admin.locator("main form.card input[name=mask][value=given]")).to_be_checked()

    board = big_screen(new_context)
    open_page(board, f"/board/{LIYUAN}")
    top = db_top_residents(live_server)
    assert board_column(board, 1) == [masked_given(name) for _rank, name, _phone in top]
    assert all(re.fullmatch(r"\d+号楼 (.\*+家|住户)", h) for h in board_column(board, 2)), board_column(board, 2)

    form = admin.locator("main form.card")
    form.locator("input[name=frozen]").check()
    follow(admin, form.locator("button[type=submit]"))
    expect(admin.locator("main form.card input[name=frozen]")).to_be_checked()
    expect(admin.locator("main form.card input[name=mask][value=given]")).to_be_checked()
    assert db_state(live_server)[:2] == ("given", True)

    board.reload()
    expect(board.locator("main")).to_contain_text(CLOSED)
    expect(board.locator("section.panel")).to_have_count(0)
    expect(board.locator("main h1")).to_contain_text(COMMUNITY)
    screenshot(board, "board-frozen")

    resident = new_context("phone").new_page()
    log_in(resident, RESIDENT_PHONE)
    open_page(resident, "/rankings")
    assert my_place(resident) == "—"
    expect(resident.locator("main")).to_contain_text(PLACES_HIDDEN)
    expect(resident.locator("main")).to_contain_text(f"获得积分：{db_place(live_server, what='value')}")  # her points, not her place
    expect(resident.locator("main")).to_contain_text(CLOSED)
    expect(resident.locator("main table.ranking")).to_have_count(0)

    # the admin opens the board again, with the usual masking
    form = admin.locator("main form.card")
    form.get_by_label("张*明").check()
    form.locator("input[name=frozen]").uncheck()
    follow(admin, form.locator("button[type=submit]"))
    assert db_state(live_server)[:2] == ("middle", False)
    board.reload()
    expect(board.locator("section.panel")).to_have_count(3)
    resident.reload()
    assert my_place(resident) == str(db_place(live_server))


# ---- 4. star households: notice, objection, answer ---------------------------------------------

def test_star_evaluation_goes_on_notice_and_an_objection_is_answered(new_context, live_server, seeded):
    draft = evaluation_id(live_server, "draft")
    admin = new_context("desktop").new_page()
    log_in(admin, ADMIN_PHONE)
    open_page(admin, f"/admin/c/{LIYUAN}/stars")
    link = admin.locator(f'main table a[href="/admin/c/{LIYUAN}/stars/{draft}"]')
    expect(link).to_contain_text("星级文明户评定")
    follow(admin, link)
    heading = admin.locator("main h1")
    expect(heading).to_contain_text("草稿")  # draft
    heads = star_heads(live_server, draft)
    assert len(heads) >= 5, "the seed gives several households stars"
    expect(admin.locator("main table tbody tr").filter(has_text="★★★★★")).not_to_have_count(0)

    follow(admin, admin.get_by_role("button", name=PUT_ON_NOTICE))
    expect(heading).to_contain_text(ON_NOTICE)
    expect(admin.get_by_role("button", name=PUT_ON_NOTICE)).to_have_count(0)

    # the hall's screen shows the notice after the three leader panels, names masked, fitting the screen
    board = big_screen(new_context)
    open_page(board, f"/board/{LIYUAN}")
    board.clock.run_for(3 * 12_000)
    assert shown_panel(board).startswith("公示：")  # Public notice: <title>
    starred = board_column(board, 4)
    assert len(starred) == min(len(heads), 12), starred
    assert all(re.fullmatch(r"\d+号楼 .\*+.?家", s) for s in starred), starred
    assert not [h for h in heads if h in board.content()], "the board names starred households in full"
    assert_fits(board, "star notice")
    screenshot(board, "board-notice")

    # the resident finds the notice on her rankings page
    resident = new_context("phone").new_page()
    log_in(resident, RESIDENT_PHONE)
    open_page(resident, "/rankings")
    follow(resident, resident.locator(f'main a[href="/stars/{draft}"]'))
    expect(resident.locator("main h1")).to_contain_text("星级文明户评定")
    rows = resident.locator("main table tbody tr")
    expect(rows).to_have_count(len(heads))
    html = resident.locator("main").inner_html()  # (the header shows her own name: she is logged in)
    assert not [h for h in heads if h in html], "the public notice shows the heads' full names"
    expect(rows.filter(has_text=f"{masked_middle(RESIDENT)}家")).to_have_count(1)
    assert "单元" not in resident.locator("main table").inner_text()

    objection = "我家参加了两次楼道清扫，请核对积分。"
    resident.locator("main form textarea[name=text]").fill(objection)
    follow(resident, resident.locator("main form button[type=submit]"))
    expect(resident.locator("main")).to_contain_text(OBJECTION_SENT)
    mine = resident.locator("main section.card", has_text=objection)
    expect(mine).to_contain_text(NOT_ANSWERED)

    # the admin sees it and answers it
    admin.reload()
    card = admin.locator("main section.card", has_text=objection)
    expect(card).to_contain_text(RESIDENT)
    answer = "已核对：两次签到均已计入，积分无误。"
    card.locator("input[name=answer]").fill(answer)
    follow(admin, card.get_by_role("button"))
    expect(admin.locator("main")).to_contain_text(ANSWER_SAVED)
    card = admin.locator("main section.card", has_text=objection)
    expect(card).to_contain_text(answer)
    expect(card.locator("input[name=answer]")).to_have_count(0)

    admin.set_viewport_size({"width": 1280, "height": 900})
    admin.evaluate("() => window.scrollTo(0, 0)")
    screenshot(admin, "stars-evaluation")
    admin.screenshot(path=str(DOCS_IMG / "stars.png"))
    assert (DOCS_IMG / "stars.png").stat().st_size < DOC_LIMIT

    resident.reload()
    mine = resident.locator("main section.card", has_text=objection)
    expect(mine).to_contain_text(answer)
    expect(mine).not_to_contain_text(NOT_ANSWERED)


# ---- 5. accessibility ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rankings", "board", "stars-admin", "stars-notice"])
def test_rankings_board_and_stars_pages_are_accessible(new_context, live_server, seeded, board_restored, name):
    notice = evaluation_id(live_server, "notice")
    who, path, viewport = {
        "rankings": (RESIDENT_PHONE, "/rankings", "phone"),
        "board": (None, f"/board/{LIYUAN}", "desktop"),
        "stars-admin": (ADMIN_PHONE, f"/admin/c/{LIYUAN}/stars/{notice}", "desktop"),
        "stars-notice": (RESIDENT_PHONE, f"/stars/{notice}", "phone"),
    }[name]
    page = new_context(viewport).new_page()
    if who:
        log_in(page, who)
    open_page(page, path)
    expect(page.locator("main h1")).to_be_visible()
    assert_accessible(page, name)
    if name == "board":  # every panel, not only the first: each is checked while it is shown
        for panel in (2, 3):
            page.evaluate("""n => document.querySelectorAll('section.panel').forEach(
                (p, i) => p.classList.toggle('shown', i === n - 1))""", panel)
            assert_accessible(page, f"board panel {panel}")


def test_opted_out_head_is_not_named_on_the_boards_star_notice(new_context, live_server, seeded, board_restored):
    notice = evaluation_id(live_server, "notice")
    assert masked_middle(RESIDENT) in [mask for mask in map(masked_middle, star_heads(live_server, notice))]
    from pointsapp.core.extensions import db
    with live_server.app.app_context():
        _resident_row(db).hide_from_board = True
        db.session.commit()
        db.session.remove()
    try:
        board = big_screen(new_context)
        open_page(board, f"/board/{LIYUAN}")
        notice_panel = board.locator("section.panel", has=board.locator("h2", has_text="公示："))
        expect(notice_panel).to_have_count(1)
        assert f"3号楼 {masked_middle(RESIDENT)}家" not in notice_panel.text_content()
    finally:
        restore_board(live_server)


# ---- 6. outstanding volunteers: notice, objection, a name taken off, certificates -----------------

def test_honour_list_goes_on_notice_takes_an_objection_and_prints_certificates(new_context, live_server, seeded):
    admin = new_context("desktop").new_page()
    log_in(admin, ADMIN_PHONE)
    open_page(admin, f"/admin/c/{LIYUAN}/honours")
    form = admin.locator("main form.card")
    form.locator("select[name=period]").select_option(label="本月")  # This month
    form.locator("input[name=title]").fill("本月优秀志愿者（浏览器测试）")
    form.locator("input[name=value]").fill("5")
    follow(admin, form.get_by_role("button", name="创建草稿"))  # Create draft
    expect(admin.locator("main h1")).to_contain_text("草稿")
    top = [name for _rank, name, _value in db_top_residents(live_server, 5)]
    names = admin.locator("main table tbody tr td:nth-child(2)")
    expect(names).to_have_text(top)
    follow(admin, admin.get_by_role("button", name=PUT_ON_NOTICE))
    expect(admin.locator("main h1")).to_contain_text(ON_NOTICE)
    assert_accessible(admin, "honour list (admin)")
    list_url = admin.url

    # the resident finds it on her rankings page, sees masked names, and objects
    resident = new_context("phone").new_page()
    log_in(resident, RESIDENT_PHONE)
    open_page(resident, "/rankings")
    follow(resident, resident.locator("main a", has_text="本月优秀志愿者（浏览器测试）"))
    table = resident.locator("main table").inner_text()
    assert not [n for n in top if n in table], "the notice names people in full"
    assert masked_middle(top[0]) in table
    assert_accessible(resident, "honour list notice")
    objection = f"{masked_middle(top[0])}本月有一次是重复登记。"
    resident.locator("main form textarea[name=text]").fill(objection)
    follow(resident, resident.locator("main form button[type=submit]"))
    expect(resident.locator("main")).to_contain_text(OBJECTION_SENT)

    # publishing waits for the answer; the admin takes the name off, with the reason, and answers
    admin.goto(list_url)
    card = admin.locator("main section.card", has_text=objection)
    expect(card).to_contain_text(RESIDENT)
    row = admin.locator("main table tbody tr", has_text=top[0])
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("核实为重复登记")
    follow(admin, row.get_by_role("button", name="移除"))
    expect(admin.locator("main")).to_contain_text("核实为重复登记")
    expect(names).to_have_text(top[1:])
    card = admin.locator("main section.card", has_text=objection)
    card.locator("input[name=answer]").fill("已核实，已从名单中移除。")
    follow(admin, card.get_by_role("button"))
    expect(admin.locator("main")).to_contain_text(ANSWER_SAVED)

    # certificates: one per name left on the list
    with admin.expect_navigation():
        admin.get_by_role("link", name="打印荣誉证书").click()
    expect(admin.locator("section.cert")).to_have_count(len(top) - 1)
    expect(admin.locator("main")).not_to_contain_text(top[0])
    assert_accessible(admin, "honour certificates")

    resident.reload()
    expect(resident.locator("main section.card", has_text=objection)).to_contain_text("已核实，已从名单中移除。")
    assert top[0] not in resident.locator("main table").inner_text()
