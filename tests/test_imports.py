"""Bulk import of households and residents from real XLSX and CSV files."""
import csv
import io
import json
import re
import threading
import zipfile
import zlib
from datetime import date, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from pointsapp.accounts.models import User
from pointsapp.core.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db as _db
from pointsapp.imports import services as imports
from pointsapp.imports.models import ImportJob
from pointsapp.tree import services as tree
from pointsapp.tree.models import Building, Community, Grid, Household, Resident

MAX_ROWS = 100
CJK = re.compile(r"[\u4e00-\u9fff]")
# 楼栋 first: a byte-order mark left in front of the first header would hide a required column
HEADER = ["楼栋", "单元", "房号", "姓名", "与户主关系", "手机号", "身份证后四位", "出生年份", "入住日期", "网格"]


def row(building="3号楼", unit="1", room="301", name="王秀英", relation="户主", phone=None,
        id_tail="0425", birth_year="1952", moved_in="2008-05-01", grid="第一网格"):
    """A sheet row. Without a phone each person gets their own (a phone is one person's login, and the same
    phone twice in a file is a problem): 13805351234 for 王秀英 of 3号楼1单元301, one made from the name
    and address for anyone else, the same for a row repeated whole."""
    if phone is None:
        person = (building, unit, room, name)
        phone = "13805351234" if person == ("3号楼", "1", "301", "王秀英") else \
            "139" + str(zlib.crc32("|".join(person).encode()) % 10**8).zfill(8)
    return [building, unit, room, name, relation, phone, id_tail, birth_year, moved_in, grid]


# two grids, three buildings, five households, six residents
CLEAN = [
    row(),
    row(name="李建国", relation="配偶", phone="13805351235", id_tail="1234", birth_year="1950"),
    row(unit="2", room="502", name="张丽娟", phone="13905350001", id_tail="003X", birth_year="1975",
        moved_in="2015/3/8"),
    row(building="5号楼", room="101", name="刘伟", phone="", id_tail="", birth_year="", moved_in=""),
    row(building="7号楼", unit="3", room="201", name="陈静", phone="15005350002", grid="第二网格",
        moved_in="2019年10月1日"),
    row(building="7号楼", unit="3", room="202", name="赵强", phone="+86 150 0535 0003", grid="第二网格",
        moved_in="2020.01.15"),
]


def xlsx(rows, header=HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def csv_file(rows, header=HEADER, encoding="utf-8") -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([header, *rows])
    return text.getvalue().encode(encoding)


def damaged_sheet_xlsx() -> bytes:
    """A workbook whose container opens but whose first sheet's XML is cut off half-way."""
    source = zipfile.ZipFile(io.BytesIO(xlsx(CLEAN)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            z.writestr(item, data)
    return out.getvalue()


def not_a_workbook_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "这不是表格")
    return out.getvalue()


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def errors_of(report) -> set[tuple[int, str]]:
    return {(e.row, e.column) for e in report.errors}


def message_for(report, row_number: int, column: str) -> str:
    return next(e.message for e in report.errors if (e.row, e.column) == (row_number, column))


@pytest.fixture
def community(make):
    return make.community("梨园社区")


@pytest.fixture
def admin(make, community):
    return make.admin(community)


def upload(admin, community, content, now, filename="居民.xlsx", max_rows=MAX_ROWS):
    return imports.upload(admin, community, filename, content, now, max_rows=max_rows)


# ---- reading files --------------------------------------------------------------------------

def test_a_clean_xlsx_dry_run_counts_what_it_would_create_and_writes_nothing(db, admin, community, now):
    job, report = upload(admin, community, xlsx(CLEAN), now)

    assert report.ok and report.errors == []
    assert report.summary() == {"rows": 6, "errors": 0, "grids": 2, "buildings": 3, "households": 5,
                                "residents": 6}
    assert (job.status, job.row_count, job.error_count) == ("checked", 6, 0)
    assert json.loads(job.summary)["residents"] == 6
    assert job.created_by_id == admin.id and job.created_at == now
    for model in (Grid, Building, Household, Resident):
        assert count(db, model) == 0


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"], ids=["utf8", "utf8-bom", "gbk"])
def test_csv_files_read_the_same_in_utf8_with_or_without_bom_and_in_gbk(admin, community, now, encoding):
    content = csv_file(CLEAN, encoding=encoding)
    if encoding == "gbk":
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")  # really not UTF-8, as Excel on Chinese Windows saves it

    _job, report = upload(admin, community, content, now, filename="居民.csv")

    assert report.errors == []
    assert [r.name for r in report.rows] == ["王秀英", "李建国", "张丽娟", "刘伟", "陈静", "赵强"]
    assert [r.building for r in report.rows][:1] == ["3号楼"]
    assert report.summary()["households"] == 5


def test_file_extensions_are_matched_without_regard_to_case(admin, community, now):
    _job, report = upload(admin, community, xlsx(CLEAN), now, filename="居民名单.XLSX")
    assert len(report.rows) == 6
    _job, report = upload(admin, community, csv_file(CLEAN), now, filename="居民名单.Csv")
    assert len(report.rows) == 6


def test_numeric_excel_cells_for_phone_room_unit_id_tail_and_year_are_read_as_text(db, admin, community, now):
    rows = [
        ["3号楼", 1, 301, "王秀英", "户主", 13800001111, 425, 1952, datetime(2008, 5, 1), "第一网格"],
        ["3号楼", 1.0, 302.0, "李建国", "户主", 13800002222.0, 1234.0, 1950.0, date(2010, 6, 2), "第一网格"],
    ]
    job, report = upload(admin, community, xlsx(rows), now)
    assert report.errors == []

    imports.run_import(admin, community, job, now, max_rows=MAX_ROWS)
    db.session.commit()

    residents = db.session.scalars(select(Resident).order_by(Resident.name)).all()
    got = {r.name: (r.household.unit, r.household.room, r.phone, r.id_tail, r.birth_year, r.moved_in_on)
           for r in residents}
    assert got == {
        "王秀英": ("1", "301", "13800001111", "0425", 1952, date(2008, 5, 1)),
        "李建国": ("1", "302", "13800002222", "1234", 1950, date(2010, 6, 2)),
    }


def test_a_phone_that_excel_turned_into_scientific_notation_is_reported_not_imported(admin, community, now):
    _job, report = upload(admin, community, csv_file([row(phone="1.38E+10")]), now, filename="a.csv")

    assert errors_of(report) == {(2, "手机号")}
    assert "1.38E+10" in message_for(report, 2, "手机号")


def test_english_headers_and_headers_with_stray_spaces_are_understood(admin, community, now):
    header = ["building", "unit", "room", "name", " 手机 号 "]
    _job, report = upload(admin, community, xlsx([["1号楼", "1", "101", "孙丽", "13905351111"]], header=header), now)

    assert report.errors == []
    assert (report.rows[0].building, report.rows[0].name, report.rows[0].phone) == ("1号楼", "孙丽", "13905351111")


# ---- the dry-run report ---------------------------------------------------------------------

def test_dry_run_reports_every_bad_row_with_its_row_number_and_reason(make, db, admin, community, now):
    grid_a = make.grid(community, "第一网格")
    make.grid(community, "第二网格")
    building = make.building(community, "9号楼", grid=grid_a)
    household = make.household(building=building, unit="1", room="101")
    make.resident(household, name="周建华")
    rows = [
        row(),                                                        # 2 good
        row(name="钱一", phone="1380535123"),                          # 3 phone has 10 digits
        row(name="孙二", id_tail="12345"),                             # 4 ID tail too long
        row(name=""),                                                 # 5 name missing
        row(name="李三", moved_in="2020-13-45"),                       # 6 no such date
        row(),                                                        # 7 repeats row 2
        row(building="9号楼", unit="1", room="101", name="周建华"),      # 8 already lives there
        row(building="9号楼", unit="2", room="201", name="吴四", grid="第二网格"),  # 9 building in another grid
        row(name="郑五", birth_year="1800"),                           # 10 not a plausible year
        ["", "", "", "", "", "", "", "", "", ""],                     # 11 blank: skipped, still counted
        row(building="", unit="", room="", name="冯六"),               # 12 no address
        row(name="陈七", id_tail="12A4"),                              # 13 letter inside the ID tail
        row(name="褚八", phone="abc"),                                 # 14 not a number at all
    ]

    job, report = upload(admin, community, xlsx(rows), now)

    assert errors_of(report) == {
        (3, "手机号"), (4, "身份证后四位"), (5, "姓名"), (6, "入住日期"), (7, "姓名"), (8, "姓名"), (9, "网格"),
        (10, "出生年份"), (12, "楼栋"), (12, "单元"), (12, "房号"), (13, "身份证后四位"), (14, "手机号"),
    }
    assert "1380535123" in message_for(report, 3, "手机号")
    assert "12345" in message_for(report, 4, "身份证后四位")
    assert "2020-13-45" in message_for(report, 6, "入住日期")
    assert "2" in message_for(report, 7, "姓名")  # names the row it repeats
    assert "第一网格" in message_for(report, 9, "网格")  # names the grid the building is in
    assert "1800" in message_for(report, 10, "出生年份")
    assert all(CJK.search(e.message) for e in report.errors), "row problems are explained in Chinese"
    assert [r.number for r in report.rows] == [2]
    assert not report.ok
    assert report.summary()["residents"] == 0  # nothing would be imported
    assert (job.row_count, job.error_count) == (12, 13)


def test_the_same_building_given_two_grids_in_one_file_is_reported(admin, community, now):
    rows = [row(building="8号楼", grid="第一网格"), row(building="8号楼", room="302", name="李四", grid="第二网格")]

    _job, report = upload(admin, community, xlsx(rows), now)

    assert errors_of(report) == {(3, "网格")}


def test_the_same_name_in_different_households_is_not_a_duplicate(admin, community, now):
    rows = [row(name="王伟"), row(room="302", name="王伟"), row(building="5号楼", name="王伟")]

    _job, report = upload(admin, community, xlsx(rows), now)

    assert report.errors == []
    assert report.summary()["households"] == 3


def test_existing_grids_buildings_and_households_are_reused_not_counted_again(make, admin, community, now):
    grid = make.grid(community, "第一网格")
    building = make.building(community, "3号楼", grid=grid)
    make.household(building=building, unit="1", room="301")

    _job, report = upload(admin, community, xlsx(CLEAN), now)

    assert report.summary() == {"rows": 6, "errors": 0, "grids": 1, "buildings": 2, "households": 4,
                                "residents": 6}


def test_another_communitys_tree_does_not_count_as_existing(make, admin, community, now):
    other = make.community()
    building = make.building(other, "3号楼", grid=make.grid(other, "第二网格"))
    make.resident(make.household(building=building, unit="1", room="301"), name="王秀英")

    _job, report = upload(admin, community, xlsx(CLEAN), now)

    assert report.errors == []
    assert report.summary()["buildings"] == 3


# ---- files that cannot be used --------------------------------------------------------------

@pytest.mark.parametrize(("filename", "content"), [
    ("居民.xlsx", b"this is not a zip file at all"),
    ("居民.xlsx", xlsx(CLEAN)[:500]),
    ("居民.xlsx", not_a_workbook_zip()),
    ("居民.xlsx", damaged_sheet_xlsx()),
    ("居民.xlsx", b""),
], ids=["garbage", "truncated", "zip-without-workbook", "damaged-sheet", "zero-bytes"])
def test_an_unreadable_xlsx_is_a_clear_error(db, admin, community, now, filename, content):
    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, content, now, filename=filename)

    assert exc.value.code == "unreadable_file"
    assert CJK.search(str(exc.value))
    assert count(db, ImportJob) == 0


@pytest.mark.parametrize("filename", ["居民.xls", "居民.txt", "居民", "居民.xlsx.exe", "居民.numbers"])
def test_a_file_that_is_not_xlsx_or_csv_is_refused(admin, community, now, filename):
    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, xlsx(CLEAN), now, filename=filename)

    assert exc.value.code == "unsupported_file"


def test_a_csv_in_an_encoding_that_is_neither_utf8_nor_gbk_is_unreadable(admin, community, now):
    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, b"\xff\xfe\x00\x00\x80\x80\xff", now, filename="a.csv")

    assert exc.value.code == "unreadable_file"


@pytest.mark.parametrize(("filename", "content"), [
    ("a.csv", b""),
    ("a.csv", b"\r\n\r\n,,,\r\n"),
    ("a.csv", csv_file([])),
    ("a.csv", csv_file([["", "", "", ""], ["", "", "", ""]])),
    ("a.xlsx", xlsx([], header=[])),
    ("a.xlsx", xlsx([])),
], ids=["zero-bytes", "blank-lines", "header-only", "header-and-blank-rows", "blank-workbook", "xlsx-header-only"])
def test_an_empty_file_is_a_clear_error(admin, community, now, filename, content):
    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, content, now, filename=filename)

    assert exc.value.code == "empty_file"


def test_a_header_without_the_required_columns_names_the_missing_ones(admin, community, now):
    header = ["楼栋", "单元", "手机号", "备注"]

    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, xlsx([["3号楼", "1", "13805351234", ""]], header=header), now)

    assert exc.value.code == "missing_columns"
    assert "房号" in str(exc.value) and "姓名" in str(exc.value)
    assert "楼栋" not in str(exc.value).split("：")[-1]


def test_a_sheet_without_a_header_row_is_a_missing_columns_error(admin, community, now):
    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, csv_file(CLEAN[1:], header=CLEAN[0]), now, filename="a.csv")

    assert exc.value.code == "missing_columns"


def test_more_rows_than_allowed_is_refused_before_anything_is_checked(admin, community, now):
    content = xlsx(CLEAN[:4])

    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, content, now, max_rows=3)
    assert exc.value.code == "too_many_rows"
    assert "超过 3 行" in str(exc.value)  # reading stopped one row past the limit

    _job, report = upload(admin, community, content, now, max_rows=4)
    assert len(report.rows) == 4


def test_trailing_blank_rows_do_not_count_against_the_row_limit(admin, community, now):
    rows = CLEAN[:2] + [[None] * len(HEADER)] * 5

    _job, report = upload(admin, community, xlsx(rows), now, max_rows=2)

    assert len(report.rows) == 2


# ---- importing ------------------------------------------------------------------------------

def test_import_creates_the_tree_and_residents_and_marks_the_job_imported(make, db, admin, community, now):
    grid = make.grid(community, "第一网格")
    existing = make.building(community, "3号楼", grid=grid)
    job, _report = upload(admin, community, xlsx(CLEAN), now)

    summary = imports.run_import(admin, community, job, now, max_rows=MAX_ROWS)
    db.session.commit()

    assert summary == {"rows": 6, "errors": 0, "grids": 1, "buildings": 2, "households": 5, "residents": 6}
    assert (job.status, job.imported_at) == ("imported", now)
    assert json.loads(job.summary) == summary
    assert count(db, Grid) == 2 and count(db, Building) == 3 and count(db, Household) == 5
    buildings = {b.name: b for b in db.session.scalars(select(Building))}
    assert buildings["3号楼"].id == existing.id
    assert buildings["5号楼"].grid.name == "第一网格"
    assert buildings["7号楼"].grid.name == "第二网格"
    residents = {r.name: r for r in db.session.scalars(select(Resident))}
    wang, li = residents["王秀英"], residents["李建国"]
    assert wang.household_id == li.household_id
    assert wang.household.address == "3号楼1单元301"
    assert (wang.relation, wang.phone, wang.id_tail, wang.birth_year, wang.moved_in_on, wang.created_at) == (
        "户主", "13805351234", "0425", 1952, date(2008, 5, 1), now)
    assert residents["张丽娟"].id_tail == "003X"
    assert residents["张丽娟"].moved_in_on == date(2015, 3, 8)
    assert residents["陈静"].moved_in_on == date(2019, 10, 1)
    assert (residents["赵强"].phone, residents["赵强"].moved_in_on) == ("15005350003", date(2020, 1, 15))
    assert (residents["刘伟"].phone, residents["刘伟"].birth_year, residents["刘伟"].moved_in_on) == ("", None, None)
    assert {r.community_id for r in residents.values()} == {community.id}


def test_a_sheet_with_one_bad_row_imports_nothing(db, admin, community, now):
    rows = [*CLEAN, row(name="钱一", phone="12345")]
    job, report = upload(admin, community, xlsx(rows), now)
    assert errors_of(report) == {(8, "手机号")}
    db.session.commit()

    with pytest.raises(InvalidInput) as exc:
        imports.run_import(admin, community, job, now, max_rows=MAX_ROWS)
    assert exc.value.code == "sheet_has_errors"
    db.session.rollback()  # what the web layer does with any domain error

    for model in (Grid, Building, Household, Resident):
        assert count(db, model) == 0
    assert db.session.get(ImportJob, job.id).status == "checked"


def test_import_checks_again_against_the_tree_as_it_is_now(db, make, admin, community, now):
    job, report = upload(admin, community, xlsx(CLEAN), now)
    assert report.errors == []
    # meanwhile someone adds 王秀英 by hand
    building = tree.create_building(admin, community, "3号楼", None, now)
    household = tree.create_household(admin, building, "1", "301", now)
    tree.add_resident(admin, household, tree.ResidentFields(name="王秀英"), now)
    db.session.commit()

    with pytest.raises(InvalidInput) as exc:
        imports.run_import(admin, community, job, now, max_rows=MAX_ROWS)
    assert exc.value.code == "sheet_has_errors"
    db.session.rollback()
    assert count(db, Resident) == 1


def test_a_job_cannot_be_imported_twice(db, admin, community, now):
    job, _report = upload(admin, community, xlsx(CLEAN), now)
    imports.run_import(admin, community, job, now, max_rows=MAX_ROWS)
    db.session.commit()

    with pytest.raises(Conflict) as exc:
        imports.run_import(admin, community, job, now, max_rows=MAX_ROWS)
    assert exc.value.code == "already_imported"
    db.session.rollback()
    assert count(db, Resident) == 6


def test_sheets_are_deleted_a_week_after_upload_and_cannot_be_imported_then(make, db, admin, community, now):
    old, _ = upload(admin, community, xlsx(CLEAN), now - timedelta(days=8))
    imported, _ = upload(admin, community, xlsx(CLEAN), now - timedelta(days=8))
    imports.run_import(admin, community, imported, now - timedelta(days=8), max_rows=MAX_ROWS)
    fresh, _ = upload(admin, community, xlsx(CLEAN), now - timedelta(days=6))
    elsewhere_admin = make.admin(make.community("鹤山社区"))
    elsewhere, _ = upload(elsewhere_admin, elsewhere_admin.grants[0].community, xlsx(CLEAN), now - timedelta(days=30))
    db.session.commit()
    # an upload purges its own community's old sheets
    upload(admin, community, xlsx(CLEAN), now)
    db.session.commit()
    db.session.expire_all()
    assert (old.content, imported.content) == (b"", b"") and old.purged_at == imported.purged_at == now
    assert fresh.content and fresh.purged_at is None
    assert elsewhere.content and elsewhere.purged_at is None
    assert json.loads(imported.summary)["residents"] == 6  # what was imported stays on record
    with pytest.raises(Conflict) as exc:
        imports.run_import(admin, community, old, now, max_rows=MAX_ROWS)
    assert exc.value.code == "sheet_purged"
    db.session.rollback()
    # the daily command purges every community's, and only once
    assert imports.purge_sheets(now) == 1
    assert imports.purge_sheets(now) == 0
    db.session.expire_all()
    assert elsewhere.content == b""


def test_the_purge_command_deletes_old_sheets(app, db, admin, community, now):
    job, _ = upload(admin, community, xlsx(CLEAN), now - timedelta(days=8))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["imports", "purge"])
    assert result.exit_code == 0 and "1 sheets" in result.output, result.output
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).content == b""


def test_the_page_of_a_purged_sheet_asks_for_the_file_again(web, db, admin, community, now):
    job, _ = upload(admin, community, xlsx(CLEAN), now - timedelta(days=10))
    imports.purge_sheets(now)
    db.session.commit()
    html = web.get(f"/admin/c/{community.id}/import/{job.id}").get_data(as_text=True)
    assert "请重新上传" in html and "/run" not in html
    ran = web.post(f"/admin/c/{community.id}/import/{job.id}/run", follow_redirects=True)
    assert ran.status_code == 200 and "请重新上传" in ran.get_data(as_text=True)
    assert count(db, Resident) == 0


def test_two_threads_importing_the_same_job_create_the_residents_once(app, db, admin, community, now):
    job, _report = upload(admin, community, xlsx(CLEAN), now)
    ids = (admin.id, community.id, job.id)
    db.session.commit()  # the threads must see the job; the test holds no transaction from here on
    start = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def import_in_own_context():
        with app.app_context():
            try:
                start.wait()
                actor = _db.session.get(User, ids[0])
                target = _db.session.get(Community, ids[1])
                the_job = _db.session.get(ImportJob, ids[2])
                imports.run_import(actor, target, the_job, now, max_rows=MAX_ROWS)
                _db.session.commit()
                outcomes.append("imported")
            except DomainError as exc:
                _db.session.rollback()
                outcomes.append(exc.code)
            except Exception as exc:  # noqa: BLE001 - reported through the assertion below
                _db.session.rollback()
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=import_in_own_context) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(outcomes) == ["already_imported", "imported"]
    assert count(db, Resident) == 6
    assert count(db, Household) == 5
    assert count(db, Building) == 3


def test_an_admin_of_another_community_cannot_upload_or_import(make, db, admin, community, now):
    outsider = make.admin(make.community())
    job, _report = upload(admin, community, xlsx(CLEAN), now)

    with pytest.raises(PermissionDenied):
        upload(outsider, community, xlsx(CLEAN), now)
    with pytest.raises(PermissionDenied):
        imports.run_import(outsider, community, job, now, max_rows=MAX_ROWS)
    with pytest.raises(PermissionDenied):
        imports.load_job(outsider, community, job.id)
    assert job.status == "checked"


def test_a_job_is_not_found_through_another_community(make, db, admin, community, now):
    other = make.community()
    other_admin = make.admin(other)
    job, _report = upload(admin, community, xlsx(CLEAN), now)

    with pytest.raises(NotFound):
        imports.load_job(other_admin, other, job.id)
    with pytest.raises(NotFound):
        imports.load_job(admin, community, job.id + 1000)
    assert imports.load_job(admin, community, job.id) is job


def test_the_template_workbook_is_itself_a_clean_import(admin, community, now):
    _job, report = upload(admin, community, imports.template_workbook(), now)

    assert report.errors == []
    assert [r.name for r in report.rows] == [imports.TEMPLATE_EXAMPLE[4]]


# ---- the web pages --------------------------------------------------------------------------

@pytest.fixture
def web(app, db, admin, community, login):
    """A client logged in as the community's admin."""
    client = app.test_client()
    login(client, admin)
    return client


def post_file(client, community_id, content, filename):
    return client.post(f"/admin/c/{community_id}/import/", data={"file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def flash_errors(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip()
            for m in re.findall(r'<div class="flash error"[^>]*>(.*?)</div>', html, re.S)]


def test_upload_check_and_import_through_the_pages(web, db, community):
    cid = community.id

    uploaded = post_file(web, cid, xlsx(CLEAN), "居民.xlsx")
    assert uploaded.status_code == 302
    job_url = uploaded.headers["Location"]
    job_id = int(job_url.rstrip("/").rsplit("/", 1)[-1])
    assert count(db, Resident) == 0

    page = web.get(job_url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'action="/admin/c/{cid}/import/{job_id}/run"' in html
    assert flash_errors(html) == []

    ran = web.post(f"/admin/c/{cid}/import/{job_id}/run")
    assert ran.status_code == 302
    assert count(db, Resident) == 6
    assert db.session.get(ImportJob, job_id).status == "imported"
    done = web.get(job_url).get_data(as_text=True)
    assert "/run" not in done  # no second import button

    again = web.post(f"/admin/c/{cid}/import/{job_id}/run", follow_redirects=True)
    assert again.status_code == 200
    assert count(db, Resident) == 6


def test_the_job_page_lists_each_bad_row_with_its_number_and_offers_no_import(web, db, community):
    rows = [*CLEAN, row(name="钱一", phone="12345"), row(name="孙二", moved_in="去年")]

    uploaded = post_file(web, community.id, xlsx(rows), "居民.xlsx")
    html = web.get(uploaded.headers["Location"]).get_data(as_text=True)

    cells = re.findall(r'<tr><td class="num">(\d+)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>', html)
    assert [(n, col) for n, col, _msg in cells] == [("8", "手机号"), ("9", "入住日期")]
    assert "12345" in cells[0][2] and "去年" in cells[1][2]
    assert flash_errors(html) and CJK.search(flash_errors(html)[0])
    assert "/run" not in html


def test_a_sheet_edited_after_the_check_cannot_be_forced_in_by_posting_run(web, db, community):
    rows = [*CLEAN, row(name="钱一", phone="12345")]
    uploaded = post_file(web, community.id, xlsx(rows), "居民.xlsx")
    job_id = int(uploaded.headers["Location"].rstrip("/").rsplit("/", 1)[-1])

    response = web.post(f"/admin/c/{community.id}/import/{job_id}/run", follow_redirects=True)

    assert response.status_code == 200
    assert flash_errors(response.get_data(as_text=True))
    assert count(db, Resident) == 0


@pytest.mark.parametrize(("filename", "content"), [
    ("居民.xlsx", b"PK\x03\x04 definitely not a workbook"),
    ("居民.xlsx", damaged_sheet_xlsx()),
    ("居民.xls", xlsx(CLEAN)),
    ("居民.csv", b""),
    ("居民.csv", csv_file([["3号楼", "1", "301"]], header=["楼栋", "单元", "房号"])),
], ids=["garbage", "damaged-sheet", "old-xls", "empty-csv", "missing-columns"])
def test_an_unusable_file_gives_the_upload_page_with_a_chinese_error_never_a_500(web, db, community, filename,
                                                                                 content):
    response = post_file(web, community.id, content, filename)

    assert response.status_code == 200
    errors = flash_errors(response.get_data(as_text=True))
    assert len(errors) == 1 and CJK.search(errors[0])
    assert count(db, ImportJob) == 0


def test_posting_the_upload_form_without_a_file_re_renders_it(web, db, community):
    response = web.post(f"/admin/c/{community.id}/import/", data={}, content_type="multipart/form-data")

    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert count(db, ImportJob) == 0


def test_the_import_pages_of_another_community_are_closed(make, web, db, community, now):
    other = make.community()
    other_job, _report = upload(make.admin(other), other, xlsx(CLEAN), now)
    own_job, _report = upload(make.admin(community), community, xlsx(CLEAN), now)
    db.session.commit()

    assert web.get(f"/admin/c/{other.id}/import/").status_code == 403
    assert web.get(f"/admin/c/{other.id}/import/{other_job.id}").status_code == 403
    assert web.post(f"/admin/c/{other.id}/import/{other_job.id}/run").status_code == 403
    # another community's job through our own community's URL
    assert web.get(f"/admin/c/{community.id}/import/{other_job.id}").status_code == 404
    assert web.post(f"/admin/c/{community.id}/import/{other_job.id}/run").status_code == 404
    assert db.session.get(ImportJob, other_job.id).status == "checked"
    assert web.get(f"/admin/c/{community.id}/import/{own_job.id}").status_code == 200


def test_the_template_download_is_an_xlsx_that_imports_cleanly(web, db, admin, community, now):
    response = web.get(f"/admin/c/{community.id}/import/template.xlsx")

    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    _job, report = upload(admin, community, response.data, now)
    assert report.errors == []


# ---- big sheets: checked and imported in the background, with progress ------------------------------

def big_sheet(n: int, bad_row: int | None = None) -> list[list]:
    """n residents, two to a household, over ten buildings of one grid."""
    rows = []
    for i in range(n):
        rows.append(row(building=f"{i % 10 + 1}号楼", unit=str(i // 1000 + 1), room=str(1000 + i // 20),
                        name=f"居民{i:05d}", relation="户主" if i % 20 < 10 else "配偶", phone="", id_tail="",
                        birth_year="1960", moved_in="2010-01-01", grid="第一网格"))
    if bad_row is not None:
        rows[bad_row][7] = "一九六〇"
    return rows


def job_row(db, job_id) -> ImportJob:
    db.session.expire_all()
    return db.session.get(ImportJob, job_id)


def test_a_big_sheet_is_queued_shows_its_progress_and_is_checked_then_imported_by_the_runner(
        app, web, db, community):
    from pointsapp.imports.cli import run_job

    cid, n = community.id, 2400
    uploaded = post_file(web, cid, xlsx(big_sheet(n)), "居民.xlsx")
    assert uploaded.status_code == 302
    job = db.session.scalar(select(ImportJob))
    assert (job.status, job.task) == ("queued", "check") and count(db, Resident) == 0

    page = web.get(f"/admin/c/{cid}/import/{job.id}").get_data(as_text=True)
    assert 'id="import-progress"' in page and "js/import_progress.js" in page and "<script>" not in page
    assert "正在检查" in page
    assert web.get(f"/admin/c/{cid}/import/{job.id}/progress").get_json() == {
        "status": "queued", "task": "check", "progress": 0, "total": None, "waiting": True}

    # the runner commits its count as it goes: what another request polling the page sees
    seen = []
    from sqlalchemy import event

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE import_job SET progress"):
            seen.append(parameters[0] if isinstance(parameters, (list, tuple)) else parameters)
    event.listen(_db.engine, "after_cursor_execute", watch)
    try:
        db.session.commit()
        assert run_job(job.id) == "checked"
    finally:
        event.remove(_db.engine, "after_cursor_execute", watch)
    assert len(seen) >= 4  # every 500 rows
    job = job_row(db, job.id)
    assert (job.status, job.row_count, job.error_count, job.progress) == ("checked", n, 0, n)
    assert json.loads(job.summary) == {"rows": n, "errors": 0, "grids": 1, "buildings": 10,
                                       "households": n // 2, "residents": n}
    assert run_job(job.id) == "skipped"  # idempotent: a second runner finds nothing to do

    ran = web.post(f"/admin/c/{cid}/import/{job.id}/run", follow_redirects=True)
    assert "正在导入" in ran.get_data(as_text=True)
    assert job_row(db, job.id).status == "queued" and count(db, Resident) == 0
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["imports", "run"])
    assert result.exit_code == 0 and f"job {job.id}: imported" in result.output, result.output
    assert count(db, Resident) == n and count(db, Household) == n // 2 and count(db, Building) == 10
    done = web.get(f"/admin/c/{cid}/import/{job.id}").get_data(as_text=True)
    assert f"已导入：居民{n}位" in re.sub(r"\s+", "", done), done
    assert "import-progress" not in done


def test_a_background_check_lists_the_bad_rows_on_the_jobs_page(web, db, community):
    from pointsapp.imports.cli import run_job

    post_file(web, community.id, xlsx(big_sheet(2100, bad_row=2050)), "居民.xlsx")
    job = db.session.scalar(select(ImportJob))
    db.session.commit()
    assert run_job(job.id) == "checked"
    page = web.get(f"/admin/c/{community.id}/import/{job.id}").get_data(as_text=True)
    assert "2052" in page and "一九六〇" in page and "/run" not in page


def test_an_import_that_crashes_midway_leaves_nothing_half_imported(app, admin, community, db, now):
    """A failure while the residents are written (here: the database refusing the third batch) rolls back
    every grid, building, household and resident; the job says it failed."""
    from sqlalchemy import event

    from pointsapp.imports.cli import run_job

    job, _report = imports.upload(admin, community, "居民.xlsx", xlsx(big_sheet(2500)), now, max_rows=20000,
                                  sync_rows=100)
    db.session.commit()
    assert run_job(job.id) == "checked"
    assert imports.start_import(admin, community, job_row(db, job.id), now, max_rows=20000, sync_rows=100) is None
    db.session.commit()
    batches = []

    def fail_third_batch(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO resident"):
            batches.append(1)
            if len(batches) == 3:
                raise RuntimeError("the disk is full")
    event.listen(_db.engine, "before_cursor_execute", fail_third_batch)
    try:
        assert run_job(job.id) == "failed"
    finally:
        event.remove(_db.engine, "before_cursor_execute", fail_third_batch)
    assert len(batches) == 3
    assert (count(db, Resident), count(db, Household), count(db, Building), count(db, Grid)) == (0, 0, 0, 0)
    job = job_row(db, job.id)
    assert job.status == "failed" and job.message
    page_text = job.message
    assert "Traceback" not in page_text and "disk" not in page_text  # the office reads a message, not the error


def test_a_queued_job_goes_onto_the_job_queue_only_after_the_upload_commits(app, web, db, community):
    """The upload hands the job to the job queue (the task imports.run_job) after its commit; in huey's
    immediate mode the task runs there and then, with its own app context and session. A real worker
    process running it: tests/test_jobs.py."""
    from pointsapp.core.queue import queue

    huey = queue(app)
    app.config["IMPORT_SYNC_ROWS"] = 100
    huey.immediate = True
    try:
        post_file(web, community.id, xlsx(big_sheet(300)), "居民.xlsx")
    finally:
        huey.immediate = False
        app.config.pop("IMPORT_SYNC_ROWS")
    job = job_row(db, db.session.scalar(select(ImportJob.id)))
    assert (job.status, job.row_count) == ("checked", 300)


# ---- phones: one phone is one person's login (issue 12, item 6) ------------------------------------

@pytest.fixture
def phone_owner(make, community):
    """王秀英 of 3号楼1单元301 already lives in the community with 13800000001 (as the demo's resident)."""
    building = make.building(community, "3号楼", grid=make.grid(community, "第一网格"))
    return make.resident(make.household(building=building, unit="1", room="301"), name="王秀英",
                         phone="13800000001")


# the same two numbers written as offices write them: spaces, dashes, full-width digits, +86
PHONES_AS_WRITTEN = [
    ("13800000001", "15005350009"),
    ("138 0000 0001", "150-0535-0009"),
    ("１３８００００００01", "+86 150 0535 0009"),
    ("+86-138-0000-0001", "８６15005350009"),
]


def phone_sheet(taken: str, repeated: str) -> list[list[str]]:
    return [
        row(name="李建国", phone="15005350009"),                           # 2
        row(room="302", name="张丽娟", phone="13905350001"),               # 3
        row(building="5号楼", room="101", name="刘伟", phone=""),          # 4 no phone: never a conflict
        row(building="5号楼", room="102", name="陈静", phone=taken),       # 5 王秀英's phone
        row(building="5号楼", room="103", name="赵强", phone=""),          # 6
        row(building="5号楼", room="104", name="孙丽", phone=repeated),    # 7 the phone of row 2
        row(building="5号楼", room="105", name="周敏", phone="13905350002"),  # 8
    ]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
@pytest.mark.parametrize(("taken", "repeated"), PHONES_AS_WRITTEN, ids=["plain", "spaces-dashes", "fullwidth-86",
                                                                       "mixed"])
def test_dry_run_reports_a_phone_that_belongs_to_a_resident_or_repeats_in_the_file(
        phone_owner, admin, community, now, kind, taken, repeated):
    content = xlsx(phone_sheet(taken, repeated)) if kind == "xlsx" else csv_file(phone_sheet(taken, repeated))

    job, report = upload(admin, community, content, now, filename=f"居民.{kind}")

    assert errors_of(report) == {(5, "手机号"), (7, "手机号")}
    assert message_for(report, 5, "手机号") == "13800000001 已属于 王**（3号楼1单元301）"
    assert message_for(report, 7, "手机号") == "手机号与第 2 行重复"
    assert [e.row for e in report.errors] == [5, 7]
    assert not report.ok and report.summary()["residents"] == 0
    assert (job.row_count, job.error_count) == (7, 2)


def test_import_refuses_a_phone_given_to_a_resident_after_the_dry_run(make, db, admin, community, now):
    job, report = upload(admin, community, xlsx(phone_sheet("13800000001", "15005350008")), now)
    assert report.ok  # nobody has 13800000001 yet
    building = make.building(community, "9号楼")
    make.resident(make.household(building=building, unit="2", room="201"), name="周建华", phone="13800000001")
    db.session.commit()

    with pytest.raises(InvalidInput) as refused:
        imports.run_import(admin, community, job, now, max_rows=MAX_ROWS)

    assert refused.value.code == "sheet_has_errors"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Resident).where(Resident.phone == "13800000001")) == 1


def test_the_login_phone_of_another_communitys_resident_is_reported_without_their_name(make, admin, community, now):
    other = make.community()
    make.user(resident=make.resident(make.household(community=other), name="王秀英", phone="13800000001"))

    _job, report = upload(admin, community, xlsx([row(phone="138-0000-0001")]), now)

    message = message_for(report, 2, "手机号")
    assert "13800000001" in message and "另一个社区" in message
    assert "王" not in message


def test_a_row_repeated_whole_is_reported_once_as_a_repeat_not_also_for_its_phone(admin, community, now):
    _job, report = upload(admin, community, xlsx([row(), row()]), now)

    assert errors_of(report) == {(3, "姓名")}


def test_the_job_page_names_the_phone_conflicts_and_the_import_button_is_gone(web, db, community, phone_owner):
    uploaded = post_file(web, community.id, xlsx(phone_sheet("13800000001", "15005350009")), "居民.xlsx")
    html = web.get(uploaded.headers["Location"]).get_data(as_text=True)

    cells = re.findall(r'<tr><td class="num">(\d+)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>', html)
    assert cells == [("5", "手机号", "13800000001 已属于 王**（3号楼1单元301）"), ("7", "手机号", "手机号与第 2 行重复")]
    assert "没有发现问题" not in html and "/run" not in html
    assert count(db, Resident) == 1


def test_a_finished_import_shows_one_banner_not_two(web, db, community):
    uploaded = post_file(web, community.id, xlsx(CLEAN), "居民.xlsx")
    job_id = int(uploaded.headers["Location"].rstrip("/").rsplit("/", 1)[-1])

    html = web.post(f"/admin/c/{community.id}/import/{job_id}/run", follow_redirects=True).get_data(as_text=True)

    banners = re.findall(r'<div class="flash success"[^>]*>(.*?)</div>', html, re.S)
    assert len(banners) == 1, banners
    assert "6" in banners[0]


def test_a_row_with_another_problem_reports_its_taken_phone_too(phone_owner, admin, community, now):
    rows = [row(name="李建国", phone="15005350009"), row(building="5号楼", room="101", name="陈静",
                                                       phone="138 0000 0001", moved_in="去年")]

    _job, report = upload(admin, community, xlsx(rows), now)

    assert errors_of(report) == {(3, "入住日期"), (3, "手机号")}  # both at once: the office fixes the row once
    assert "王**" in message_for(report, 3, "手机号")
