"""No export turns a name into a formula (issue 11, finding 4: OWASP "CSV injection").

Names a resident, a clerk or an office can type (through the forms or the import) are written into
every CSV and XLSX the app hands out; each test reads the real file back (openpyxl, csv) and checks that
no cell is a formula, every dangerous text starts with an apostrophe, and numbers stay numbers."""
import csv
import io

import pytest
from openpyxl import load_workbook

from pointsapp.core.spreadsheets import FORMULA_STARTS, safe_cell
from pointsapp.imports import services as imports
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import stars
from pointsapp.store.services import catalogue, counter, identification
from pointsapp.tree.models import Resident
from pointsapp.volunteering.services import codes

from .test_imports import csv_file, row

HOSTILE = ['=HYPERLINK("http://evil.example/","点我")', "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "-2+3",
           "\t=1+1", "\r=1+1"]

SECRET = "test-secret"  # the test app's SECRET_KEY


def _xlsx_cells(data: bytes):
    wb = load_workbook(io.BytesIO(data))
    return [cell for ws in wb.worksheets for r in ws.iter_rows() for cell in r]


def _assert_inert_xlsx(data: bytes, expected: list[str]) -> list:
    cells = _xlsx_cells(data)
    formulas = [c.coordinate for c in cells if c.data_type == "f" or (isinstance(c.value, str) and c.value[:1] == "=")]
    assert formulas == [], f"formula cells: {formulas}"
    texts = [c.value for c in cells if isinstance(c.value, str)]
    assert [t for t in texts if t.startswith(FORMULA_STARTS)] == []
    for name in expected:  # (XML reads a stored "\r" back as "\n")
        assert any(("'" + name).replace("\r", "\n") in t for t in texts), name
    return cells


def _assert_inert_csv(data: bytes, expected: list[str]) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    texts = [value for r in rows for value in r]
    assert [t for t in texts if t.startswith(FORMULA_STARTS)] == []
    for name in expected:
        assert any(t == "'" + name or t.startswith("'" + name) or ("'" + name) in t for t in texts), name
    return rows


def test_safe_cell_neutralises_formula_starts_and_leaves_numbers_alone():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("@SUM(1)") == "'@SUM(1)"
    assert safe_cell("\t=1") == "'\t=1"
    assert safe_cell("王秀英") == "王秀英"
    assert safe_cell("a\x00b\x07") == "ab"  # no spreadsheet holds control characters
    assert safe_cell(-5) == -5 and safe_cell(2.5) == 2.5 and safe_cell(None) is None


@pytest.fixture
def hostile_world(make, db, now):
    c = make.community()
    admin = make.admin(c)
    building = make.building(c, "=1+1号楼")
    people = [make.resident(household=make.household(building=building), name=name) for name in HOSTILE]
    for i, person in enumerate(people):
        ledger.post(Posting(person, 50, EntryKind.AWARD, "manual", f"seed-{i}", HOSTILE[i]), admin, now)
    db.session.commit()
    return c, admin, people


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_ledger_export_holds_no_formula(client, login, hostile_world, fmt):
    c, admin, _people = hostile_world
    login(client, admin)
    response = client.get(f"/admin/c/{c.id}/ledger?start=2026-11-01&end=2026-11-30&format={fmt}")
    assert response.status_code == 200
    if fmt == "csv":
        rows = _assert_inert_csv(response.data, HOSTILE)
        assert [r[5] for r in rows[1:]] == ["50"] * len(HOSTILE)
    else:
        cells = _assert_inert_xlsx(response.data, HOSTILE)
        amounts = [cell.value for cell in cells if cell.column == 6 and cell.row > 1]
        assert amounts == [50] * len(HOSTILE)  # numbers stay numbers: the office can sum them


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_store_report_export_holds_no_formula(client, login, make, db, now, fmt):
    c = make.community()
    clerk = make.clerk(c)
    clerk.name = "-店员"
    store = clerk.grants[0].store
    admin = make.admin(c)
    product = catalogue.create_product(admin, store, catalogue.ProductFields(name="=HYPERLINK(\"x\")", price=5), 50, now)
    for i, name in enumerate(HOSTILE):
        person = make.resident(community=c, name=name)
        ledger.post(Posting(person, 50, EntryKind.AWARD, "manual", f"seed-{i}", "好人好事"), admin, now)
        who = identification.identify_by_code(clerk, store, SECRET, codes.member_phone_code(SECRET, person, now),
                                              None, now)
        counter.redeem(clerk, store, who.id, counter.Cart({product.id: 1}), f"req-{i}", now)
    db.session.commit()
    login(client, clerk)
    response = client.get(f"/store/{store.id}/report?day=2026-11-25&format={fmt}")
    assert response.status_code == 200
    expected = [*HOSTILE, "-店员"]
    if fmt == "csv":
        rows = _assert_inert_csv(response.data, expected)
        assert len(rows) == 1 + len(HOSTILE)
    else:
        cells = _assert_inert_xlsx(response.data, [*expected, '=HYPERLINK("x")'])
        assert 50 - len(HOSTILE) in [cell.value for cell in cells]  # the stock left, a number


def test_the_star_list_export_holds_no_formula(client, login, make, db, now):
    c = make.community()
    admin = make.admin(c)
    building = make.building(c, "@楼")
    for name in HOSTILE:
        make.resident(household=make.household(building=building), name=name)
    rules = stars.create_rule_set(admin, c, "年度", [10, 20, 40, 80, 100], 0, now)
    evaluation = stars.create_evaluation(admin, c, rules, "星级", period_keys(now)[2], 7, now)
    db.session.commit()
    login(client, admin)
    response = client.get(f"/admin/c/{c.id}/stars/{evaluation.id}?format=xlsx")
    assert response.status_code == 200
    _assert_inert_xlsx(response.data, HOSTILE)


def test_the_import_template_holds_no_formula(client, login, make, db):
    c = make.community()
    login(client, make.admin(c))
    response = client.get(f"/admin/c/{c.id}/import/template.xlsx")
    assert response.status_code == 200
    assert any(cell.value == "姓名" for cell in _assert_inert_xlsx(response.data, []))


def test_the_import_keeps_such_names_as_text_and_the_export_neutralises_them(client, login, make, db, now):
    c = make.community()
    admin = make.admin(c)
    # a CSV: every cell is text (an .xlsx cell the office typed as "=…" is a formula, read as its value)
    sheet = csv_file([row(room=str(301 + i), name=name, phone="", id_tail="") for i, name in enumerate(HOSTILE[:4])])
    job, report = imports.upload(admin, c, "居民.csv", sheet, now, max_rows=100)
    assert report.errors == []
    imports.run_import(admin, c, job, now, max_rows=100)
    names = sorted(r.name for r in db.session.query(Resident).filter_by(community_id=c.id))
    assert names == sorted(HOSTILE[:4])  # accepted as the names they are
    for i, person in enumerate(db.session.query(Resident).filter_by(community_id=c.id)):
        ledger.post(Posting(person, 10, EntryKind.AWARD, "manual", f"i-{i}", "导入"), admin, now)
    db.session.commit()
    login(client, admin)
    data = client.get(f"/admin/c/{c.id}/ledger?start=2026-11-01&end=2026-11-30&format=xlsx").data
    _assert_inert_xlsx(data, HOSTILE[:4])
