"""One rule per thing: the office's form and the import clean residents the same way; a household's
address is written in one place, in the reader's language; star evaluations and honour lists share one
notice workflow."""
import pytest
from flask_babel import force_locale

from pointsapp.core.errors import DomainError
from pointsapp.imports import services as imports
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import honours, notice, objections, stars
from pointsapp.tree import services as tree
from pointsapp.tree.models import household_address

from .test_imports import row, xlsx

# (field, value the office types, import column, code the form raises)
BAD = [
    ("phone", "1380535123", "手机号", "invalid_phone"),
    ("id_tail", "12345", "身份证后四位", "invalid_id_tail"),
    ("birth_year", 1800, "出生年份", "invalid_birth_year"),
    ("name", "王" * 41, "姓名", "name_too_long"),
]


@pytest.mark.parametrize(("field", "value", "column", "code"), BAD)
def test_the_form_and_the_import_refuse_the_same_resident_fields(make, db, now, field, value, column, code):
    community = make.community("梨园社区")
    admin = make.admin(community)
    household = make.household(building=make.building(community, "3号楼"), unit="1", room="301")
    fields = tree.ResidentFields(name="王秀英", phone="13805351234", id_tail="0425", birth_year=1952)
    setattr(fields, field, value)
    with pytest.raises(DomainError) as err:
        tree.add_resident(admin, household, fields, now)
    assert err.value.code == code
    sheet = row(**{{"birth_year": "birth_year"}.get(field, field): str(value)})
    report = imports.check_sheet(community, "居民.xlsx", xlsx([sheet]), max_rows=100)
    assert [(e.row, e.column) for e in report.errors] == [(2, column)]
    assert str(value) in report.errors[0].message


def test_the_form_and_the_import_clean_a_phone_the_same_way(make, db, now):
    community = make.community("梨园社区")
    admin = make.admin(community)
    household = make.household(building=make.building(community, "3号楼"), unit="1", room="301")
    typed = "+86 138-0535-1234"
    # the sheet is checked first: once the form has given the phone to 王秀英, the import refuses it for another
    report = imports.check_sheet(community, "居民.xlsx", xlsx([row(name="李建国", phone=typed, relation="户主" * 20)]),
                                 max_rows=100)
    resident = tree.add_resident(admin, household, tree.ResidentFields(name="王秀英", phone=typed, relation="户主" * 20),
                                 now)
    assert report.errors == []
    assert (resident.phone, resident.relation) == (report.rows[0].phone, report.rows[0].relation) == (
        "13805351234", "户主" * 10)


def test_an_address_is_written_one_way_in_the_readers_language(app, make, db):
    household = make.household(building=make.building(make.community(), "3号楼"), unit="1", room="301")
    with app.test_request_context():
        with force_locale("zh"):
            assert household.address == household_address("3号楼", "1", "301") == "3号楼1单元301"
        with force_locale("en"):
            assert household.address == "3号楼, unit 1, room 301"


def test_evaluations_and_honour_lists_follow_one_notice_workflow(make, db, now):
    from datetime import timedelta

    community = make.community()
    admin = make.admin(community)
    resident = make.resident(community=community)
    voter = make.user(resident=resident)
    rules = stars.create_rule_set(admin, community, "年度星级", [10, 20, 40, 80, 100], 0, now)
    evaluation = stars.create_evaluation(admin, community, rules, "2026年度", period_keys(now)[2], 7, now)
    honour = honours.create_list(admin, community, "volunteer", "十一月优秀志愿者", period_keys(now)[0], "top", 10, 7, now)
    for subject, start, publish in ((evaluation, stars.start_notice, stars.publish),
                                    (honour, honours.start_notice, honours.publish)):
        start(admin, subject, now)
        assert subject.status == notice.NOTICE and subject.notice_ends_at == now + timedelta(days=7)
        with pytest.raises(DomainError) as err:
            start(admin, subject, now)  # only a draft goes on notice
        assert err.value.code == "wrong_status"
        objection = objections.lodge(voter, subject, "有遗漏", now)
        for when, code in ((now + timedelta(days=3), "notice_running"), (now + timedelta(days=8), "objections_open")):
            with pytest.raises(DomainError) as err:
                publish(admin, subject, when)
            assert err.value.code == code
        objections.answer(admin, objection, "已核实", now + timedelta(days=1))
        publish(admin, subject, now + timedelta(days=8))
        assert (subject.status, subject.published_at) == (notice.PUBLISHED, now + timedelta(days=8))
        with pytest.raises(DomainError) as err:
            objections.answer(admin, objection, "改答复", now + timedelta(days=9))
        assert err.value.code == "already_published"
    with pytest.raises(DomainError) as err:
        stars.veto(admin, evaluation, resident.household, "违规", now)
    assert err.value.code == "already_published"


def test_every_spreadsheet_is_written_by_core_spreadsheets():
    """Only core/spreadsheets.py writes CSV or XLSX: there every text cell is made safe from formulas
    (issue 11, finding 4). Reading sheets (the import) is fine anywhere."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "pointsapp"
    writers = {("openpyxl", "Workbook"), ("csv", "writer"), ("csv", "DictWriter")}
    found = []
    for path in sorted(package.rglob("*.py")):
        if path == package / "core" / "spreadsheets.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found += [f"{path.relative_to(package)}:{node.lineno}" for alias in node.names
                          if (node.module.split(".")[0], alias.name) in writers]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and (node.value.id, node.attr) in writers:
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    assert found == [], "write spreadsheets through pointsapp.core.spreadsheets: " + ", ".join(found)




def test_every_form_is_built_on_the_base_form_that_normalises_text():
    """core.forms.Form trims and normalises text (codes and phones in ASCII, names NFC) before validators
    run (issue 11, finding 5): a form built on FlaskForm directly would skip that."""
    import importlib

    from flask_wtf import FlaskForm

    from pointsapp.core.forms import Form
    from pointsapp.features import FEATURES

    skipped = []
    for feature in ("core", *FEATURES):
        name = f"pointsapp.{feature}.forms"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, FlaskForm) and value is not Form \
                    and value.__module__ == name and not issubclass(value, Form):
                skipped.append(f"{name}.{value.__name__}")
    assert sorted(skipped) == []
