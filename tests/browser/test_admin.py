"""A community admin's day: walk the community tree, find people, see staff, import a sheet."""
import io
import re
from urllib.parse import urlsplit

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from .a11y import assert_accessible
from .pages import ADMIN_PHONE, LIYUAN, assert_chinese_ui, log_in, open_page, screenshot

pytestmark = pytest.mark.browser

HEADER = ["网格", "楼栋", "单元", "房号", "姓名", "与户主关系", "手机号", "身份证后四位", "出生年份", "入住日期"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def tab(page, path: str):
    """The admin tab whose link ends with path (tabs are found by where they go, not their wording)."""
    return page.locator(f'nav.tabs a[href="/admin/c/{LIYUAN}{path}"]')


def follow(page, link) -> None:
    with page.expect_navigation() as navigation:
        link.click()
    assert navigation.value.status == 200, f"{page.url} -> {navigation.value.status}"


def test_admin_walks_overview_buildings_household_residents_and_staff(page):
    log_in(page, ADMIN_PHONE)
    follow(page, page.locator(f'main a[href="/admin/c/{LIYUAN}/"]').first)  # "社区管理员 · 梨园社区" on home

    assert urlsplit(page.url).path == f"/admin/c/{LIYUAN}/"
    expect(page.locator("main h1")).to_contain_text("梨园社区")
    assert_chinese_ui(page, "Overview", "Buildings", "Residents", "Find a resident", "Office phone")
    expect(tab(page, "/")).to_have_attribute("aria-current", "page")

    follow(page, tab(page, "/buildings"))
    expect(tab(page, "/buildings")).to_have_attribute("aria-current", "page")
    building3 = page.locator("ul.tiles a", has_text="3号楼")
    expect(building3).to_contain_text("第一网格")
    follow(page, building3)

    expect(page.locator("main h1")).to_contain_text("3号楼")
    households = page.locator("main table tbody tr")
    expect(households).to_have_count(20)  # 2 units x 5 floors x 2 doors
    screenshot(page, "admin-building-phone")
    unit1 = households.filter(has=page.locator("td:first-child", has_text=re.compile(r"^1$")))
    unit1_room301 = unit1.get_by_role("link", name="301", exact=True)
    follow(page, unit1_room301)

    expect(page.locator("main h1")).to_contain_text("3号楼1单元301")
    expect(page.locator("main table")).to_contain_text("王秀英")
    screenshot(page, "admin-household-phone")

    follow(page, tab(page, "/residents"))
    search = page.get_by_role("search").locator("input[name=q]")
    expect(search).to_be_focused()  # the clerk can type straight away
    search.fill("王秀英")
    with page.expect_navigation():
        search.press("Enter")
    rows = page.locator("main table tbody tr")
    expect(rows.filter(has_text="王秀英").filter(has_text="3号楼1单元301")).to_have_count(1)
    expect(page.locator("input[name=q]")).to_have_value("王秀英")
    expect(rows.first.locator("td").nth(2)).to_have_text(re.compile(r"^(—|1\d\d\*{4}\d{4})$"))  # masked

    # her page shows masked details; the full ones are shown on purpose, and that is logged
    follow(page, rows.filter(has_text="王秀英").get_by_role("link", name="王秀英"))
    expect(page.locator("main form input[name=phone]")).to_have_count(0)
    follow(page, page.get_by_role("button", name="查看完整信息"))
    expect(page.get_by_role("status")).to_contain_text("操作日志")
    expect(page.locator("main form input[name=phone]")).to_have_count(1)
    follow(page, tab(page, "/audit"))
    expect(page.locator("main table tbody tr").first).to_contain_text("查看个人完整信息")
    expect(page.locator("main table tbody tr").first).to_contain_text("王秀英")

    follow(page, tab(page, "/staff"))
    staff = page.locator("main table tbody")
    for name, phone in (("刘红梅", ADMIN_PHONE), ("张建国", "13800000002"), ("李秀兰", "13800000003")):
        row = staff.locator("tr", has_text=name)
        expect(row).to_contain_text(phone[:3] + "****" + phone[-4:])  # staff phones are masked in the list
        expect(row).not_to_contain_text(phone)
    expect(staff).not_to_contain_text("陈立新")  # 鹤山社区's admin is not staff here

    follow(page, tab(page, "/import/"))
    expect(page.locator("main form[enctype='multipart/form-data'] input[type=file]")).to_be_attached()
    for header in ("楼栋", "单元", "房号", "姓名"):
        expect(page.locator(".columns .req", has_text=header)).to_have_count(1)


def _sheet(rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _upload(page, name: str, content: bytes) -> None:
    open_page(page, f"/admin/c/{LIYUAN}/import/")
    form = page.locator("main form[enctype='multipart/form-data']")
    form.locator("input[type=file]").set_input_files(files=[{"name": name, "mimeType": XLSX, "buffer": content}])
    follow(page, form.locator("button[type=submit]"))
    assert "/import/" in page.url and urlsplit(page.url).path.rstrip("/").split("/")[-1].isdigit(), page.url


def _find_residents(page, query: str):
    open_page(page, f"/admin/c/{LIYUAN}/residents?q={query}")
    return page.locator("main table tbody tr", has=page.locator("a"))


def test_import_reports_bad_rows_and_imports_nothing_then_imports_a_good_sheet(page):
    log_in(page, ADMIN_PHONE)

    bad = _sheet([
        ["第一网格", "9号楼", "2", "101", "欧阳晨曦", "户主", "13912345678", "0425", 1956, "2010-05-01"],
        ["第一网格", "9号楼", "2", "101", "欧阳明远", "配偶", "1391234", "", 1958, ""],      # row 3: bad phone
        ["第一网格", "9号楼", "2", "102", "", "户主", "13912345679", "", 1960, ""],          # row 4: no name
    ])
    _upload(page, "居民-有错.xlsx", bad)

    problems = page.locator("main table.errors tbody tr")
    expect(problems).to_have_count(2)
    assert [int(n) for n in problems.locator("td:first-child").all_inner_texts()] == [3, 4]
    expect(problems.nth(0)).to_contain_text("手机号")
    expect(problems.nth(0)).to_contain_text("1391234")
    expect(problems.nth(1)).to_contain_text("姓名")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("form[action$='/run']")).to_have_count(0)  # no way to import a sheet with problems
    assert_chinese_ui(page, "Problems", "Row", "Column", "is empty", "is not an 11-digit mobile number",
                      "Upload a corrected file")
    screenshot(page, "import-report-phone")
    assert_accessible(page, "import report")
    # nothing was imported: not even the good row 2
    expect(_find_residents(page, "欧阳")).to_have_count(0)

    good = _sheet([
        ["第一网格", "9号楼", "2", "101", "欧阳晨曦", "户主", "13912345678", "0425", 1956, "2010-05-01"],
        ["第一网格", "9号楼", "2", "101", "欧阳明远", "配偶", "13912345670", "", 1958, ""],
        ["第一网格", "9号楼", "2", "102", "欧阳若曦", "户主", "", "", 1960, ""],
    ])
    _upload(page, "居民.xlsx", good)

    expect(page.locator("main table.errors")).to_have_count(0)
    expect(page.locator("main .lead")).to_contain_text("3")
    follow(page, page.get_by_role("button", name="导入"))

    expect(page.locator(".flash.success").first).to_contain_text("3")
    expect(page.get_by_role("button", name="导入")).to_have_count(0)  # an imported sheet cannot be imported again
    found = _find_residents(page, "欧阳")
    expect(found).to_have_count(3)
    expect(found.filter(has_text="欧阳晨曦")).to_contain_text("9号楼2单元101")
    expect(found.filter(has_text="欧阳明远")).to_contain_text("139****5670")  # lists mask phones
    expect(found.filter(has_text="欧阳明远")).not_to_contain_text("13912345670")
    expect(found.filter(has_text="欧阳若曦")).to_contain_text("9号楼2单元102")
    # the new building appears in the tree too
    open_page(page, f"/admin/c/{LIYUAN}/buildings")
    expect(page.locator("ul.tiles a", has_text="9号楼")).to_contain_text("2")


def test_a_big_sheet_is_checked_and_imported_in_the_background_while_its_page_shows_progress(page, live_server):
    """With the threshold lowered to 5 rows, a 12-row sheet takes the big-file path: the upload only queues
    it, the job worker (a real `flask jobs worker` process beside the live server) checks it, and the page (polling
    by itself, no reload by hand) turns into the result; the import goes the same way."""
    live_server.app.config["IMPORT_SYNC_ROWS"] = 5
    try:
        log_in(page, ADMIN_PHONE)
        rows = [["第二网格", "11号楼", "1", str(100 + i // 2), f"上官{'一二三四五六七八九十甲乙'[i]}", "户主", "", "",
                 1950 + i, ""] for i in range(12)]
        _upload(page, "居民-大文件.xlsx", _sheet(rows))
        # either still in progress (the section that polls) or already done when the thread was quick
        expect(page.locator("main .lead")).to_contain_text("12", timeout=20000)  # the page updated by itself
        expect(page.locator("script:not([src])")).to_have_count(0)
        follow(page, page.get_by_role("button", name="导入"))
        expect(page.locator(".flash.success").first).to_contain_text("12", timeout=20000)
        expect(page.locator("#import-progress")).to_have_count(0)
        expect(_find_residents(page, "上官")).to_have_count(12)
    finally:
        live_server.app.config.pop("IMPORT_SYNC_ROWS")
