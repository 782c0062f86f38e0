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
