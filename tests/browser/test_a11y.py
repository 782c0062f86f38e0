"""Accessibility (axe-core) and layout of the main pages, on a phone and on a desktop.

Each page is also saved as a screenshot in test-artifacts/screenshots/<page>-<viewport>.png for a
person to look at: residents are often elderly and read on phones; clerks work fast on PCs.
"""
import pytest
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import (
    ADMIN_PHONE,
    LIYUAN,
    RESIDENT_PHONE,
    log_in,
    open_page,
    screenshot,
    small_text,
    sticking_out,
)

pytestmark = pytest.mark.browser

# name, who logs in (None: nobody), path
PAGES = [
    ("login", None, "/login"),
    ("resident-home", RESIDENT_PHONE, "/"),
    ("resident-devices", RESIDENT_PHONE, "/account/sessions"),
    ("admin-overview", ADMIN_PHONE, f"/admin/c/{LIYUAN}/"),
    ("admin-buildings", ADMIN_PHONE, f"/admin/c/{LIYUAN}/buildings"),
    ("admin-residents", ADMIN_PHONE, f"/admin/c/{LIYUAN}/residents?q=3号楼"),
    ("admin-staff", ADMIN_PHONE, f"/admin/c/{LIYUAN}/staff"),
    ("admin-import", ADMIN_PHONE, f"/admin/c/{LIYUAN}/import/"),
    ("admin-audit", ADMIN_PHONE, f"/admin/c/{LIYUAN}/audit"),
    ("activate", None, "/activate"),
    ("privacy-notice", None, "/privacy"),
]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize(("name", "who", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_page_is_accessible_and_fits_the_screen(new_context, name, who, path, viewport):
    page = new_context(viewport).new_page()
    if who:
        log_in(page, who)
    open_page(page, path)
    expect(page.locator("main h1")).to_be_visible()
    screenshot(page, f"{name}-{viewport}")

    assert_accessible(page, name)

    # Nothing sticks out sideways: a phone user must never have to scroll left and right.
    overflow = sticking_out(page)
    assert not overflow, f"wider than the {viewport} screen: {overflow}"
    # Text stays readable: nothing a person must read is smaller than 14 CSS px.
    tiny = small_text(page, 14)
    assert not tiny, f"text smaller than 14px: {tiny}"
