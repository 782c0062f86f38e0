"""Schemas at the edge: input read through marshmallow (no hand parsing left in the views), refusals as
clear messages, and people data shown per audience (public / resident / office)."""
import ast
import re
from datetime import date
from pathlib import Path

import pytest
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

from pointsapp.core.errors import InvalidInput
from pointsapp.core.extensions import db as _db
from pointsapp.core.lookup import MAX_ID
from pointsapp.core.schemas import Day, Id, IdList, InputSchema, Month, Text, Whole, load_or_error
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.schemas import CreateEvaluationSchema, CreateRuleSetSchema
from pointsapp.recognition.services import honours, stars
from pointsapp.store.schemas import CloseShiftSchema, RedeemCartSchema
from pointsapp.tree.schemas import ResidentSchema, audience, mask_phone
from pointsapp.volunteering.schemas import ReviewAttendancesSchema, SetLabelsSchema

PACKAGE = Path(__file__).resolve().parent.parent / "pointsapp"


# ---- no hand parsing in the views ----------------------------------------------------------------

def _is_request(node) -> bool:
    """request.form, request.args, request.values, request.json … (any attribute of `request`)."""
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "request"


def _hand_parsing(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("int", "float") \
                and any(_is_request(n) for arg in node.args for n in ast.walk(arg)):
            yield node.lineno, f"{node.func.id}(request.…)"
        if isinstance(node, ast.Subscript) and _is_request(node.value):
            yield node.lineno, f"request.{node.value.attr}[…]"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_request(node.func.value) \
                and any(k.arg == "type" for k in node.keywords):
            yield node.lineno, f"request.{node.func.value.attr}.{node.func.attr}(type=…)"


def _views():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) >= 2 and (parts[1] in ("views.py", "views", "i18n.py", "api.py", "api")):
            yield path


def test_views_read_no_number_or_field_by_hand():
    """int(request.form[...]) and its kin raise ValueError (a 500) or pass ids the database cannot
    hold: every number, id and field a view reads goes through its feature's schema."""
    views = list(_views())
    assert len(views) >= 12
    found = [f"{path.relative_to(PACKAGE)}:{line}: {what}" for path in views
             for line, what in _hand_parsing(ast.parse(path.read_text(), str(path)))]
    assert found == []


def test_the_walk_finds_hand_parsing():
    sample = ast.parse("a = int(request.form['x'])\nb = request.args.get('n', type=int)\nc = int(request.args.get('y'))")
    assert sorted(what for _line, what in _hand_parsing(sample)) == [
        "int(request.…)", "int(request.…)", "request.args.get(type=…)", "request.form[…]"]


def test_every_feature_with_hand_inputs_has_its_schemas_module():
    for feature in ("store", "ledger", "rankings", "tree", "volunteering", "recognition"):
        assert (PACKAGE / feature / "schemas.py").is_file()
    classes = [node for path in PACKAGE.rglob("schemas.py") if path.parent.name != "core"
               for node in ast.parse(path.read_text()).body if isinstance(node, ast.ClassDef)]
    # output schemas (<Noun>Schema: ResidentSchema, PlaceSchema, CustomerSchema: an OutputSchema, or a plain
    # marshmallow Schema the API answers with) are named for what they show
    outputs = {node.name for node in classes
               if any(getattr(base, "id", "") in ("OutputSchema", "Schema") for base in node.bases)}
    inputs = [node.name for node in classes if node.name.endswith("Schema") and node.name not in outputs]
    assert inputs and all(re.fullmatch(r"[A-Z][a-z]+[A-Z]\w*Schema", n) for n in inputs)  # <Verb><Noun>Schema


# ---- the shared fields ------------------------------------------------------------------------------

class Sample(InputSchema):
    resident_id = Id(required=True, metadata={"label": "居民"})
    ids = IdList(max=3)
    q = Text(truncate=5)
    reason = Text(multiline=True, max_length=10)
    month = Month(load_default=None)
    day = Day(load_default=None)
    n = Whole(min=1, max=999, load_default=None)


def _load(app, data, lang="zh"):
    with app.test_request_context(), force_locale(lang):
        try:
            return load_or_error(Sample, data)
        except InvalidInput as exc:
            return exc.code, str(exc)


@pytest.mark.parametrize("raw, expected", [("123", 123), ("１２３", 123), ("١٢٣", 123), (" 7 ", 7), (str(MAX_ID), MAX_ID)])
def test_an_id_is_read_from_ascii_or_full_width_digits(app, raw, expected):
    assert _load(app, {"resident_id": raw})["resident_id"] == expected


@pytest.mark.parametrize("raw", ["0", "-1", str(MAX_ID + 1), str(10**20), "9" * 5000, "1.0", "1e3", "+5", "a\x00b",
                                 "٣٣" * 7, "0x10"])
def test_an_id_no_row_can_have_is_refused_with_a_message(app, raw):
    assert _load(app, {"resident_id": raw}) == ("invalid_id", "居民：没有这一项，请从列表中选择。")


def test_a_missing_id_is_asked_for_in_the_readers_language(app):
    assert _load(app, {"resident_id": ""}) == ("invalid_id", "居民：请填写此项。")
    assert _load(app, {}, "en") == ("invalid_id", "居民: Please fill this in.")


def test_text_loses_nul_and_control_characters_and_is_cut_or_refused_by_length(app):
    loaded = _load(app, {"resident_id": "1", "q": "\x00ab\x07cdefgh", "reason": "第一行\n\x1b第二行"})
    assert (loaded["q"], loaded["reason"]) == ("abcde", "第一行\n第二行")
    assert _load(app, {"resident_id": "1", "reason": "x" * 11}, "en") == (
        "invalid_input", "Please keep this to 10 characters.")


@pytest.mark.parametrize("raw, expected", [("2026-11", "2026-11"), ("2026-1", "2026-01"), ("２０２６－１１", "2026-11"),
                                           ("2100-12", "2100-12")])
def test_a_month_is_read_as_people_type_it(app, raw, expected):
    assert _load(app, {"resident_id": "1", "month": raw})["month"] == expected


@pytest.mark.parametrize("raw", ["9999-12", "0000-00", "2026-13", "2026-00", "1899-12", "2026/11", "2026-11-01"])
def test_a_month_out_of_the_calendar_is_refused(app, raw):
    assert _load(app, {"resident_id": "1", "month": raw}, "en") == ("invalid_month", "Choose a month like 2026-11.")


def test_a_day_must_exist(app):
    assert _load(app, {"resident_id": "1", "day": "2028-02-29"})["day"] == date(2028, 2, 29)
    for raw in ("2026-02-30", "2027-02-29", "9999-12-31", "0001-01-01", "2026-1-5"):
        assert _load(app, {"resident_id": "1", "day": raw}, "en") == ("invalid_day", "Choose a date like 2026-11-25.")


def test_ticked_ids_come_once_each_and_not_too_many(app):
    form = MultiDict([("resident_id", "1"), ("ids", "3"), ("ids", "２"), ("ids", "3"), ("ids", "")])
    assert _load(app, form)["ids"] == [3, 2]
    many = MultiDict([("resident_id", "1")] + [("ids", str(i)) for i in range(1, 5)])
    assert _load(app, many, "en") == ("invalid_id", "Choose at most 3 at a time.")
    assert _load(app, MultiDict([("resident_id", "1"), ("ids", str(10**20))]))[0] == "invalid_id"


def test_a_bounded_number_names_its_bounds(app):
    assert _load(app, {"resident_id": "1", "n": "1000"}, "en") == ("invalid_number",
                                                                   "Enter a whole number from 1 to 999.")


# ---- feature schemas --------------------------------------------------------------------------------

def test_the_cart_gathers_quantities_per_product(app):
    with app.test_request_context():
        form = MultiDict([("request_id", "r1"), ("qty_12", "２"), ("qty_7", ""), ("qty_9", "0"), ("csrf_token", "x")])
        assert load_or_error(RedeemCartSchema, form) == {"request_id": "r1", "lines": {12: 2, 9: 0}}
        for bad in ({"qty_12": "1.5"}, {"qty_12": "1000"}, {f"qty_{10**20}": "1"}, {"qty_abc": "1"}):
            with pytest.raises(InvalidInput, match="1 到 999"):
                load_or_error(RedeemCartSchema, {"request_id": "r1", **bad})


def test_a_shift_count_is_zero_or_more(app):
    with app.test_request_context():
        shelf = load_or_error(CloseShiftSchema, {"count_3": "0", "count_4": " ", "reason_3": "破损\x00", "note": "ok"})
        assert shelf == {"counts": {3: 0}, "reasons": {3: "破损"}, "note": "ok"}
        with pytest.raises(InvalidInput, match="不能小于 0"):
            load_or_error(CloseShiftSchema, {"count_3": "-1"})


def test_labels_are_split_at_either_comma(app):
    with app.test_request_context():
        words = load_or_error(SetLabelsSchema, {"labels_group": "activity_kind", "labels": "环境，助老、 文体,,"})
        assert words == {"group": "activity_kind", "names": ["环境", "助老", " 文体"]}


def test_star_rules_and_evaluations_are_read_with_the_services_messages(app):
    with app.test_request_context(), force_locale("en"):
        rules = load_or_error(CreateRuleSetSchema, {f"star{i}": str(10 * i) for i in range(1, 6)} | {
            "name": "年度", "min_attendances": "0"})
        assert rules == {"name": "年度", "min_attendances": 0, "thresholds": [10, 20, 30, 40, 50]}
        with pytest.raises(InvalidInput, match="five rising point thresholds"):
            load_or_error(CreateRuleSetSchema, {"star1": "x", "min_attendances": "0"})
        for period in ("Y2026x", "Y" + "2" * 10_000, "M2026-13", ""):
            with pytest.raises(InvalidInput, match="year, quarter or month"):
                load_or_error(CreateEvaluationSchema, {"rule_set_id": "1", "period": period, "notice_days": "7"})
        assert load_or_error(CreateEvaluationSchema, {"rule_set_id": "1", "period": "Q2026-4",
                                                      "notice_days": "7"})["period"] == "Q2026-4"


def test_a_review_is_an_approval_unless_it_says_reject(app):
    with app.test_request_context():
        assert load_or_error(ReviewAttendancesSchema, MultiDict([("ids", "1")]))["action"] == "approve"
        with pytest.raises(InvalidInput):
            load_or_error(ReviewAttendancesSchema, {"action": "delete"})


# ---- through the pages ------------------------------------------------------------------------------

def test_full_width_quantities_check_out_and_bad_ones_get_the_message(app, client, login, make, db, now):
    from pointsapp.store.services import catalogue, counter
    from pointsapp.volunteering.services import codes

    c = make.community()
    clerk = make.clerk(c)
    store = clerk.grants[0].store
    resident = make.resident_user(community=c).resident
    ledger.post(Posting(resident, 100, EntryKind.AWARD, "manual", "seed", "好人好事"), None, now)
    noodles = catalogue.create_product(make.admin(c), store, catalogue.ProductFields(name="挂面", price=10), 5, now)
    db.session.commit()
    login(client, clerk)
    client.post(f"/store/{store.id}/counter", data={"code": codes.member_phone_code(app.secret_key, resident, now)})
    refused = client.post(f"/store/{store.id}/checkout", data={"request_id": "a", f"qty_{10**20}": "1"},
                          follow_redirects=True).get_data(as_text=True)
    assert "数量必须是 1 到 999 的整数" in refused
    done = client.post(f"/store/{store.id}/checkout", data={"request_id": "b", f"qty_{noodles.id}": "２"})
    assert done.status_code == 302 and "/receipts/" in done.headers["Location"]
    assert ledger.balance_of(resident.id) == 80 and counter.find_by_request(store, "b").total_points == 20


def test_a_month_past_the_calendar_shows_every_month_with_a_message(client, login, make, db, now):
    user = make.resident_user()
    ledger.post(Posting(user.resident, 15, EntryKind.AWARD, "manual", "a1", "安全值守"), None, now)
    db.session.commit()
    login(client, user)
    for month in ("9999-12", "0000-00", "2026-13"):
        page = client.get(f"/me/points?month={month}")
        assert page.status_code == 200
        assert "安全值守" in page.get_data(as_text=True) and "格式如 2026-11" in page.get_data(as_text=True)


def test_a_day_that_does_not_exist_opens_today_with_a_message(client, login, make, db):
    clerk = make.clerk(make.community())
    db.session.commit()
    login(client, clerk)
    page = client.get(f"/store/{clerk.grants[0].store_id}/report?day=2026-02-30")
    assert page.status_code == 200 and "2026-11-25" in page.get_data(as_text=True)
    assert "请选择日期，格式如 2026-11-25。" in page.get_data(as_text=True)


def test_a_lead_ticking_an_id_too_large_gets_a_message(client, login, make, db, now):
    from datetime import timedelta

    from pointsapp.volunteering.services import activities

    c = make.community()
    lead = make.team_lead(c)
    a = activities.create_activity(lead, lead.grants[0].team, activities.ActivityFields(
        title="清理", kind=activities.labels(c.id, "activity_kind")[0], place="", starts_at=now,
        ends_at=now + timedelta(hours=1)), now)
    db.session.commit()
    login(client, lead)
    page = client.post(f"/lead/activities/{a.id}/review", data={"ids": str(10**20)}, follow_redirects=True)
    assert page.status_code == 200 and "没有这一项" in page.get_data(as_text=True)


# ---- people per audience ----------------------------------------------------------------------------

PHONE, ID_TAIL, ROOM = "13912345678", "857X", "9817"


@pytest.fixture
def people(make, db, now):
    c = make.community()
    b = make.building(c, "3号楼")
    home = make.household(building=b, unit="2", room=ROOM)
    star = make.resident(home, name="张小明", phone=PHONE)
    star.id_tail = ID_TAIL
    me = make.resident_user(community=c)
    admin = make.admin(c)
    for r, n in ((star, 120), (me.resident, 30)):
        ledger.post(Posting(r, n, EntryKind.AWARD, "manual", f"k{r.id}", "好人好事"), None, now)
    _db.session.commit()
    return c, star, me, admin


def test_phone_and_id_digits_never_reach_the_public_or_another_resident(make, people):
    c, star, me, admin = people
    outsider = make.admin(make.community())
    for viewer in (None, me, outsider):
        view = audience(viewer, star)
        assert view == "public"
        shown = ResidentSchema(view, balances={star.id: 120}).dump(star)
        assert shown == {"masked_name": "张*明"}
        assert not {PHONE, ID_TAIL, ROOM, "120"} & {str(v) for v in shown.values()}


def test_a_resident_sees_her_own_record_and_the_office_all_of_it(make, people):
    c, star, me, admin = people
    own = ResidentSchema(audience(me, me.resident), balances={me.resident.id: 30}).dump(me.resident)
    assert audience(me, me.resident) == "resident"
    assert own["phone"] == me.resident.phone and own["balance"] == 30 and "birth_year" not in own
    office = ResidentSchema(audience(admin, star)).dump(star)
    assert audience(admin, star) == "office"
    assert (office["phone"], office["id_tail"], office["address"]) == (PHONE, ID_TAIL, f"3号楼2单元{ROOM}")


def test_in_the_offices_lists_the_phone_is_masked_and_the_id_digits_left_out(people):
    c, star, me, admin = people
    row = ResidentSchema(audience(admin, star, listing=True)).dump(star)
    assert row["phone"] == "139****5678" and "id_tail" not in row and PHONE not in str(row)
    assert (mask_phone(""), mask_phone("12345"), mask_phone("13912345678")) == ("", "*****", "139****5678")


def test_an_output_schema_needs_an_audience():
    with pytest.raises(ValueError, match="no view"):
        ResidentSchema("everyone")
    with pytest.raises(TypeError):
        ResidentSchema()


def test_own_places_are_for_residents_of_the_community_and_a_frozen_board_closes_only_to_them(make, people, now):
    from pointsapp.rankings import services as rankings

    c, star, me, admin = people
    elsewhere = make.resident_user(community=make.community()).resident
    month = rankings.current_periods(now)["month"]
    assert rankings.own_resident(me.resident, c) is me.resident
    assert rankings.own_resident(elsewhere, c) is None and rankings.own_resident(None, c) is None
    assert rankings.own_places(c, None, month, "points", None) == rankings.OwnPlaces()
    mine = rankings.own_places(c, me.resident, month, "points", None)
    assert (mine.mine.rank, mine.mine.value, mine.range_totals) == (2, 30, None)
    over_range = rankings.own_places(c, me.resident, month, "points", rankings.month_keys("2026-10", "2026-11"))
    assert (over_range.mine, over_range.range_totals) == (None, (30, 30))
    c.board_frozen = True
    assert rankings.board_closed(c, me.resident) and not rankings.board_closed(c, None)


def _visible(page: str) -> str:
    page = re.sub(r"<code>[0-9a-f]{64}</code>", "", page)  # the ledger checkpoint's root
    return re.sub(r"<[^>]+>", " ", page)


def test_the_board_shows_masked_names_only_in_every_panel(client, people, now):
    c, star, me, admin = people
    rules = stars.create_rule_set(admin, c, "年度", [10, 20, 40, 80, 100], 0, now)
    evaluation = stars.create_evaluation(admin, c, rules, "星级", period_keys(now)[2], 7, now)
    stars.start_notice(admin, evaluation, now)
    honour = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 3, 7, now)
    honours.start_notice(admin, honour, now)
    _db.session.commit()
    page = _visible(client.get(f"/board/{c.id}").get_data(as_text=True))
    assert page.count("张*明") >= 3  # the volunteers' panel, the star notice (as 张*明家) and the honour list
    assert "3号楼 张*明家" in page
    for secret in ("张小明", PHONE, ID_TAIL, ROOM, me.resident.name, me.resident.phone):
        assert secret not in page


def test_the_rankings_page_shows_another_resident_masked_and_never_her_phone(client, login, people):
    c, star, me, admin = people
    login(client, me)
    page = _visible(client.get("/rankings").get_data(as_text=True))
    assert "张*明" in page
    for secret in ("张小明", PHONE, ID_TAIL, ROOM):
        assert secret not in page


def test_an_unknown_tab_goes_back_to_the_rankings_with_a_message(client, login, people):
    login(client, people[2])
    response = client.get("/rankings?period=decade", follow_redirects=True)
    assert response.request.path == "/rankings" and "请从给出的选项中选择" in response.get_data(as_text=True)
