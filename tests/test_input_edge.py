"""Input is made readable once, at the edge (issue 11, finding 5).

NUL and other control characters (and undecodable bytes) in any query or form key or value, or in an
uploaded file's name, are refused with a 400 and a message in the reader's language before any view or
database sees them; phones, codes, ids, PINs and searches typed with full-width (１２３) or Arabic-Indic
(١٢٣) digits are read as ASCII; names keep their characters (NFC) and are trimmed.

The walk sends hostile values in every field any form or schema declares to every GET and POST route, as
every role, on both databases (TESTING on, FRIENDLY_500_IN_TESTS off: an exception fails the test), then
reads every text column back: nothing stored holds a control character.
"""
import importlib
import io
import re
import time

import pytest
from marshmallow import Schema
from sqlalchemy import String, Text, select
from wtforms.fields.core import UnboundField

from pointsapp.core.extensions import db as _db
from pointsapp.core.forms import Form
from pointsapp.features import FEATURES
from pointsapp.tree.models import Resident

from . import test_hostile_ids

ARG = test_hostile_ids.ARG
world = test_hostile_ids.world  # its fixture: one of every kind of row a route can name

REFUSED = "输入中含有不能识别的字符，请删除后重试。"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _text(response) -> str:
    return response.get_data(as_text=True)


# ---- single findings ----------------------------------------------------------------------------

def test_nul_in_the_login_phone_is_a_400_with_a_clear_message(client, db):
    response = client.post("/login", data={"phone": "138\x000000001", "password": "x"})
    assert response.status_code == 400
    assert REFUSED in _text(response)


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x85", "\x7f"])
def test_control_characters_anywhere_in_a_request_are_refused(client, login, make, db, bad):
    c = make.community()
    admin = make.admin(c)
    household = make.household(community=c)
    db.session.commit()
    login(client, admin)
    path = f"/admin/c/{c.id}/households/{household.id}"
    for data, query in (({"name": f"{bad}名"}, ""), ({f"na{bad}me": "名"}, ""), ({"name": "名"}, f"?q={bad}")):
        response = client.post(path + query, data=data)
        assert response.status_code == 400, (data, query)
        assert REFUSED in _text(response)
    assert client.get(f"/admin/c/{c.id}/residents?q=a{bad}b").status_code == 400
    assert _db.session.scalar(select(Resident.id).where(Resident.household_id == household.id)) is None


def test_tabs_and_line_breaks_are_kept_where_text_may_have_lines_and_spaces_elsewhere(client, login, make, db):
    c = make.community()
    admin = make.admin(c)
    household = make.household(community=c)
    db.session.commit()
    login(client, admin)
    response = client.post(f"/admin/c/{c.id}/households/{household.id}",
                           data={"name": "  王\t秀英\r\n", "phone": "１３８０５３５１２３４", "id_tail": "０４２５"})
    assert response.status_code in (200, 302)
    resident = _db.session.scalar(select(Resident).where(Resident.household_id == household.id))
    assert (resident.name, resident.phone, resident.id_tail) == ("王 秀英", "13805351234", "0425")


def test_undecodable_bytes_in_a_query_or_form_are_refused(client, db):
    assert client.get("/login?next=%FF%FE").status_code == 400
    assert client.get("/login?next=%ED%A0%80").status_code == 400  # a lone surrogate, as UTF-8
    response = client.post("/login", data=b"phone=%FF&password=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and REFUSED in _text(response)


def test_an_uploaded_file_name_with_control_characters_is_refused(client, login, make, db):
    c = make.community()
    login(client, make.admin(c))
    response = client.post(f"/admin/c/{c.id}/import/", data={"file": (io.BytesIO(b"x"), "a\x00.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and REFUSED in _text(response)


@pytest.mark.parametrize("typed", ["１３８０００００００１", "١٣٨٠٠٠٠٠٠٠١", " 138 0000 0001 "])
def test_login_with_a_full_width_or_arabic_indic_phone_works(client, make, db, typed):
    from pointsapp.accounts.models import User

    make.resident_user()
    user = _db.session.scalar(select(User))
    user.phone = "13800000001"
    _db.session.commit()
    response = client.post("/login", data={"phone": typed, "password": "secret-pass"})
    assert response.status_code == 302, _text(response)[:500]
    assert "/login" not in response.headers["Location"]


def test_the_base_form_folds_codes_to_ascii_and_keeps_names(app):
    from werkzeug.datastructures import MultiDict
    from wtforms import PasswordField, StringField, TextAreaField

    class Sample(Form):
        class Meta:
            csrf = False

        name = StringField()
        phone = StringField()
        pin = PasswordField()
        password = PasswordField()
        note = TextAreaField()

    with app.test_request_context():
        form = Sample(MultiDict({"name": "  李（小）明\t", "phone": "１３８-０５３５", "pin": "١٢٣٤",
                                 "password": " 密码 ", "note": " 第一行\r\n第二行 "}))
    assert form.name.data == "李（小）明"  # full-width brackets are part of how the name is written
    assert form.phone.data == "138-0535"
    assert form.pin.data == "1234"
    assert form.password.data == " 密码 "  # a password is what was typed
    assert form.note.data == "第一行\r\n第二行"


def test_the_search_schema_folds_digits_and_text_keeps_characters():
    from pointsapp.core.schemas import InputSchema, Search, Text

    class Sample(InputSchema):
        q = Search()
        name = Text()

    loaded = Sample().load({"q": " ٣٠١ ", "name": "ｅ家\u0065\u0301"})
    assert loaded == {"q": "301", "name": "ｅ家\u00e9"}  # NFC for names: é composed; ｅ not folded


# ---- the walk -----------------------------------------------------------------------------------

WALK_VALUES = ("\x00", "\x07", "\x1b", "x" * 10_000, "１２３", "١٢٣")
EDGE_REFUSES = {"\x00", "\x07", "\x1b"}


def _form_fields() -> set[str]:
    """Every field name any WTForms class or marshmallow schema of the app declares."""
    names: set[str] = set()
    for feature in (*FEATURES, "core"):
        for module_name in ("forms", "schemas"):
            try:
                module = importlib.import_module(f"pointsapp.{feature}.{module_name}")
            except ModuleNotFoundError:
                continue
            for value in vars(module).values():
                if not isinstance(value, type):
                    continue
                if issubclass(value, Schema):
                    names |= {f.data_key or n for n, f in value._declared_fields.items()}
                else:
                    names |= {n for n in dir(value) if isinstance(getattr(value, n, None), UnboundField)}
    return names


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule, method


@pytest.fixture
def all_roles(world, make, db):
    """world's city admin and resident, and its community's admin, lead and clerk."""
    from pointsapp.accounts.models import RoleGrant, User

    users = dict(world["users"])
    c = world["ids"]["community_id"]
    for role in ("community_admin", "team_lead", "clerk"):
        users[role] = _db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id)
                                         .where(RoleGrant.role == role, RoleGrant.community_id == c))
    return users


def test_every_route_as_every_role_takes_hostile_text_in_every_field_without_a_500(app, client, login, world,
                                                                                   all_roles):
    assert not app.config.get("FRIENDLY_500_IN_TESTS")
    fields = _form_fields()
    assert len(fields) >= 60  # the walk really covers the forms
    ids = world["ids"]
    fields |= {f"qty_{ids['product_id']}", f"count_{ids['product_id']}", f"reason_{ids['product_id']}"}
    failures, asked, refused, started = [], 0, 0, time.monotonic()
    routes = list(_routes(app))
    for role, user in all_roles.items():
        for rule, method in routes:
            path = ARG.sub(lambda m: str(ids.get(m.group(2), "x")), rule.rule)
            for value in WALK_VALUES:
                if method == "POST" or value == WALK_VALUES[0]:
                    login(client, user)  # again: a walked POST may have logged out or changed the password
                data = dict.fromkeys(fields, value)
                try:
                    if method == "GET":
                        response = client.get(path, query_string={k: value for k in ("q", "month", "day", "from",
                                                                                       "to", "next", "format")})
                    else:
                        response = client.post(path, data=data)
                except Exception as exc:  # noqa: BLE001 - every unexpected error is a finding
                    failures.append(f"{role} {method} {path} {value[:10]!r}: {exc.__class__.__name__}: {exc}"[:300])
                    continue
                asked += 1
                if response.status_code >= 500:
                    failures.append(f"{role} {method} {path} {value[:10]!r}: {response.status_code}")
                if value in EDGE_REFUSES:
                    refused += response.status_code == 400
                    if response.status_code != 400:
                        failures.append(f"{role} {method} {path} {value!r}: {response.status_code}, not refused")
    assert failures == [], "\n".join(failures[:40])
    assert refused == asked * len(EDGE_REFUSES) // len(WALK_VALUES)
    print(f"\n{asked} requests, {refused} refused at the edge, 0 5xx, {time.monotonic() - started:.0f} s")
    stored = []
    for table in _db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        for column in columns:
            for value in _db.session.scalars(select(column).where(column.is_not(None))):
                if isinstance(value, str) and CONTROL.search(value):
                    stored.append(f"{table.name}.{column.name}: {value[:40]!r}")
    assert stored == [], "\n".join(stored)
