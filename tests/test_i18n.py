"""The catalogues: every string in the sources is translated into Chinese, placeholders survive
translation, and the pages switch language.

The first two tests re-extract the messages from the sources, so a string added without running
`make messages` and translating it fails here, not in front of a resident.
"""
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "pointsapp" / "translations"
ZH_PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"

# %(name)s, %(n)d, %(x).2f, %s, %d ... (and %% for a literal percent sign)
PLACEHOLDER = re.compile(r"%(?:\((?P<name>\w+)\))?[#0\- +]*\d*(?:\.\d+)?(?P<conv>[diouxXeEfFgGcrsa%])")


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text) if m.group("conv") != "%"}


def _forms(value) -> tuple[str, ...]:
    """msgid/msgstr as a tuple of strings (plural entries have several)."""
    if value is None:
        return ("",)
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The catalogue as extracted from the current sources, the same way as `make messages`."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
        "-o", str(pot), "--no-location", "--sort-output", str(ROOT),
    ])
    with pot.open("rb") as f:
        catalog = read_po(f)
    messages = [m for m in catalog if m.id]
    assert len(messages) > 50, "extraction found almost nothing: is babel.cfg still right?"
    return messages


@pytest.fixture(scope="module")
def zh():
    with ZH_PO.open("rb") as f:
        return read_po(f, locale="zh")


def test_every_extracted_message_is_translated_into_chinese(extracted, zh):
    problems = []
    for message in extracted:
        entry = zh.get(message.id)
        if entry is None:
            problems.append(f"missing (run `make messages`): {message.id!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif message.pluralizable and len(_forms(entry.string)) < zh.num_plurals:
            problems.append(f"plural forms missing: {message.id!r}")
        elif not all(s.strip() for s in _forms(entry.string)):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, f"{len(problems)} zh catalogue problems:\n" + "\n".join(problems)


def test_chinese_translations_keep_the_placeholders(zh):
    problems = []
    for entry in zh:
        if not entry.id:
            continue
        wanted = set().union(*(_placeholders(s) for s in _forms(entry.id)))
        for text in _forms(entry.string):
            if text and _placeholders(text) != wanted:
                problems.append(f"{entry.id!r}: expects {sorted(wanted)}, got {sorted(_placeholders(text))} "
                                f"in {text!r}")
            # a lone % (not a placeholder, not %%) breaks %-formatting at render time
            if entry.python_format and "%" in PLACEHOLDER.sub("", text):
                problems.append(f"{entry.id!r}: stray % in {text!r}")
    assert not problems, "\n".join(problems)


def test_placeholder_check_notices_a_mismatch():
    assert _placeholders("Imported %(r)d residents, 100%% done") == {"%(r)d"}
    assert _placeholders("已导入 %(r)s 位居民") != _placeholders("Imported %(r)d residents")
    assert _placeholders("%(n)d 户") == _placeholders("%(n)d households")


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "登录" in html, "no Chinese on /login: are the catalogues compiled (`make translations`)?"
    assert 'lang="zh-CN"' in html
    assert "Log in" not in html

    switched = client.post("/lang/en", data={"next": "/login"})
    assert switched.status_code in (302, 303)

    html = client.get("/login").get_data(as_text=True)
    assert "Log in" in html
    assert 'lang="en"' in html
    assert "登录" not in html

    client.post("/lang/zh", data={"next": "/login"})
    assert "登录" in client.get("/login").get_data(as_text=True)


# ---- whole pages: no Chinese left in English, dates in the reader's format, the reader's colons ----------

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
CHINESE_DATE = re.compile(r"\d+\s*[年月日]")
MASKED_NAME = re.compile(r"[\u4e00-\u9fff]\*+[\u4e00-\u9fff\d]*")  # 张*明: a name on a public board


def _main_text(html: str) -> str:
    start = html.find("<main")
    body = html[start:html.find("</main>")] if start >= 0 else html
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body).replace("&nbsp;", " ")
    return " ".join(body.split())


def _data_words(scene) -> list[str]:
    """Everything on the pages that is data, not UI: names, titles, addresses, typed reasons."""
    from pointsapp.accounts.models import User
    from pointsapp.catalogue.models import CatalogueItem
    from pointsapp.claims.models import Claim
    from pointsapp.core.extensions import db
    from pointsapp.deductions.models import Deduction
    from pointsapp.groups.models import OrgGroup
    from pointsapp.store.models import Product, Store
    from pointsapp.tree.models import Building, Community, Household, Resident, Subdistrict
    from pointsapp.volunteering.models import Activity, Team
    from tests.scenes import TYPED

    words = list(TYPED)
    for model, fields in [(Subdistrict, ("name", "city")), (Community, ("name",)), (Building, ("name",)),
                          (Resident, ("name",)), (User, ("name",)), (Team, ("name",)), (Store, ("name", "address")),
                          (Product, ("name",)), (Activity, ("title", "place")),
                          (CatalogueItem, ("title", "category", "description")), (Claim, ("place", "description", "reason")),
                          (Deduction, ("reason",)), (OrgGroup, ("name",))]:
        for row in db.session.query(model):
            words += [getattr(row, f) for f in fields if getattr(row, f)]
    words += [h.address for h in db.session.query(Household)]
    return sorted(set(words), key=len, reverse=True)


def _pages(scene) -> dict[str, tuple[object, list[str]]]:
    c, r = scene.community, scene.user.resident
    return {
        "resident": (scene.user, ["/", "/me/points", "/activities", "/rankings", "/me/code", "/me/claims/new",
                                  "/me/claims", "/me/witness"]),
        "lead": (scene.lead, ["/lead/", f"/lead/teams/{scene.team.id}", f"/lead/activities/{scene.activity.id}",
                              f"/lead/teams/{scene.team.id}/activities/new"]),
        "clerk": (scene.clerk, ["/store/", f"/store/{scene.store.id}/counter", f"/store/{scene.store.id}/report"]),
        "office": (scene.admin, [f"/admin/c/{c.id}/", f"/admin/c/{c.id}/ledger", f"/admin/c/{c.id}/awards/",
                                 f"/admin/c/{c.id}/residents/{r.id}/points", f"/admin/c/{c.id}/teams",
                                 f"/admin/c/{c.id}/stars", f"/admin/c/{c.id}/honours", f"/admin/c/{c.id}/stats",
                                 f"/admin/c/{c.id}/catalogue", f"/admin/c/{c.id}/claims", "/claims/review",
                                 f"/admin/c/{c.id}/deductions", f"/admin/c/{c.id}/groups", f"/admin/c/{c.id}/reports"]),
        "board": (None, [f"/board/{c.id}", f"/communities/{c.id}/catalogue", f"/communities/{c.id}/catalogue/print",
                         f"/communities/{c.id}/groups"]),
    }


@pytest.fixture
def scene(make, db, now):
    """Every kind of ledger entry, and issue 14's parts: the model catalogue, a claim waiting for the office with a
    photo, one asked about, a deduction (partly owed) and a published group."""
    from pointsapp.catalogue.services import items as catalogue_items
    from pointsapp.catalogue.services import rules as catalogue_rules
    from pointsapp.claims import services as claims
    from pointsapp.deductions import services as deductions
    from pointsapp.groups import services as groups
    from tests.scenes import every_kind_of_entry
    from tests.test_claims_pages import jpeg

    scene = every_kind_of_entry(make, now)
    c, admin, user = scene.community, scene.admin, scene.user
    catalogue_items.adopt_model_catalogue(admin, c, now)
    items = {i.title: i for i in catalogue_rules.current_items(c.id)}
    waiting = claims.file_claim(user, user.resident, claims.ClaimFields(
        item_id=items["楼道广告清理"].id, occurred_at=now, place="3号楼", description="清理小广告", photos=(jpeg(),)), now)
    asked = claims.file_claim(user, user.resident, claims.ClaimFields(
        item_id=items["文明倡导"].id, occurred_at=now, place="广场", description="劝导", photos=(jpeg(pattern=5),)), now)
    claims.ask_more(admin, asked, "请补充照片", now)
    deductions.record_deduction(admin, items["乱堆乱放"], resident=user.resident, occurred_at=now, reason="堆放纸箱",
                                evidence=None, request_key="i18n", now=now)
    group = groups.create_group(admin, c, "第一党支部", "party_branch", now)
    groups.add_members(admin, group, [user.resident], now)
    groups.set_published(admin, group, True, now)
    db.session.commit()
    assert waiting.status == "pending"
    return scene


@pytest.mark.parametrize("role", ["resident", "lead", "clerk", "office", "board"])
def test_english_pages_show_no_chinese_but_the_data_and_no_chinese_dates(role, scene, client, login):
    data = _data_words(scene)
    user, paths = _pages(scene)[role]
    if user is not None:
        login(client, user)
    client.post("/lang/en")
    problems = []
    for path in paths:
        page = client.get(path, follow_redirects=True)
        if page.status_code == 404:
            continue  # a page this build does not have
        assert page.status_code == 200, (path, page.status_code)
        text = _main_text(page.get_data(as_text=True))
        for word in data:
            text = text.replace(word, " ")
        text = MASKED_NAME.sub(" ", text)
        if found := CHINESE_DATE.findall(text):
            problems.append(f"{path}: Chinese date {found[:3]}")
        if found := CJK.findall(text):
            at = CJK.search(text).start()
            problems.append(f"{path}: Chinese {''.join(found)[:40]!r} in …{text[max(0, at - 60):at + 40]}…")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["resident", "lead", "clerk", "office", "board"])
def test_chinese_pages_put_a_full_width_colon_after_chinese_labels(role, scene, client, login):
    user, paths = _pages(scene)[role]
    if user is not None:
        login(client, user)
    problems = []
    for path in paths:
        page = client.get(path, follow_redirects=True)
        if page.status_code == 404:
            continue
        text = _main_text(page.get_data(as_text=True))
        for m in re.finditer(r"[\u4e00-\u9fff]:(?!//)", text):
            problems.append(f"{path}: …{text[max(0, m.start() - 30):m.end() + 20]}…")
    assert not problems, "\n".join(problems)


def test_chinese_translations_use_full_width_colons_and_english_ones_ascii(zh):
    problems = []
    for entry in zh:
        if not entry.id:
            continue
        for text in _forms(entry.string):
            if re.search(r"[\u4e00-\u9fff）]:", text):
                problems.append(f"ASCII colon after Chinese in {text!r}")
        for text in _forms(entry.id):
            if re.search(r"[：（），。、]", text):
                problems.append(f"Chinese punctuation in the English source {text!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", ["November 2026", "Q4 2026", "2026", "November 2026", "Nov 30, 2026", "Dec 1, 2026 00:00", "Feb 29, 2028"]),
    ("zh", ["2026年11月", "2026年第4季度", "2026年", "2026年11月", "2026年11月30日", "2026年12月1日 00:00",
            "2028年2月29日"]),
])
def test_months_periods_and_days_are_written_the_readers_way_in_china_time(app, lang, expected):
    from datetime import UTC, date, datetime

    from flask_babel import force_locale

    from pointsapp.core.localtime import format_moment, format_month, format_period
    from pointsapp.rankings.views import period_label

    with app.test_request_context("/"), force_locale(lang):
        shown = [format_month("2026-11"), format_period("Q2026-4"), format_period("Y2026"), period_label("M2026-11"),
                 format_moment(datetime(2026, 11, 30, 15, 30, tzinfo=UTC), "day"),  # 23:30 in China
                 format_moment(datetime(2026, 11, 30, 16, 0, tzinfo=UTC), "when"),  # midnight in China
                 format_moment(date(2028, 2, 29), "day")]
    assert shown == expected
    assert "month" not in " ".join(shown)
