"""Group rankings in a browser: the office makes a 党支部, pastes its members' phones and publishes it; anyone
then reads the ranking on a 360 px phone, names masked, nothing sticking out, axe clean."""
import pytest

from . import a11y
from .pages import ADMIN_PHONE, LIYUAN, log_in, open_page, screenshot, sticking_out

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 780}
ZOOMED = {"width": 180, "height": 390}  # 200 % zoom on that phone


def test_the_office_publishes_a_party_branch_and_a_phone_reads_its_ranking(new_context, two_months_of_points):
    office = new_context("desktop").new_page()
    log_in(office, ADMIN_PHONE)
    open_page(office, f"/admin/c/{LIYUAN}/groups")
    a11y.assert_accessible(office, "the office's groups page")
    office.fill("#name", "梨园社区第一党支部")
    office.select_option("#kind", "party_branch")
    office.click("form.card button[type=submit]")
    office.wait_for_url("**/groups/*")
    office.fill("#lines", "13800000001\n13800000002\n13800000003\n不存在的人")
    office.click("text=全部添加")
    office.wait_for_load_state()
    assert "不存在的人" in office.locator(".flash").inner_text()
    a11y.assert_accessible(office, "a group's page")
    office.click("text=公开排名")
    office.wait_for_load_state()
    assert "已公开" in office.locator("main").inner_text()

    office_phone = new_context("phone").new_page()
    office_phone.set_viewport_size(NARROW)
    log_in(office_phone, ADMIN_PHONE)
    for path, name in ((f"/admin/c/{LIYUAN}/groups?period=year", "groups-office-360"),
                       (office.url + "?period=year&q=王", "groups-group-360")):
        open_page(office_phone, path)
        screenshot(office_phone, name)
        # no sideways scrolling (a stacked table's visually hidden header may reach past the edge, clipped)
        assert office_phone.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), path

    phone = new_context("phone").new_page()
    phone.set_viewport_size(NARROW)
    open_page(phone, f"/communities/{LIYUAN}/groups?period=year")
    phone.click("text=梨园社区第一党支部")
    phone.wait_for_selector("#members")
    text = phone.locator("main").inner_text()
    assert "王*英" in text and "王秀英" not in text  # 王秀英, masked (she earned 37 this year)
    assert sticking_out(phone) == []
    a11y.assert_accessible(phone, "the public group rankings")
    screenshot(phone, "groups-public-360")
    phone.set_viewport_size(ZOOMED)  # the same phone at 200 % zoom
    phone.reload()
    screenshot(phone, "groups-public-200pc")
    assert sticking_out(phone) == []


def test_the_office_reads_the_catalogue_reports_and_downloads_them(new_context, two_months_of_points):
    office = new_context("desktop").new_page()
    log_in(office, ADMIN_PHONE)
    open_page(office, f"/admin/c/{LIYUAN}/reports?from=2026-10&to=2026-11")
    text = office.locator("main").inner_text()
    assert "按细则类别统计的积分" in text and "2026年10月" in text
    a11y.assert_accessible(office, "the catalogue reports")
    screenshot(office, "reports-desktop")
    with office.expect_download() as download:
        office.click("text=下载Excel表格（XLSX）")
    assert download.value.suggested_filename == f"report-{LIYUAN}-2026-10-2026-11.xlsx"
