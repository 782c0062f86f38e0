"""Personal information (个人信息保护法, DESIGN.md invariant 11): the audit log of staff actions, masked
phones and ID digits in staff lists with the full values shown only on purpose (and logged), a resident's
own data as a download, the retention rule for residents who moved out, and consent at activation."""
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from pointsapp.accounts import services as accounts
from pointsapp.accounts.models import Role, User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AppendOnly, AuditEvent
from pointsapp.core.errors import DomainError, PermissionDenied
from pointsapp.core.extensions import db as _db
from pointsapp.imports import services as imports
from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.privacy import services as privacy
from pointsapp.recognition.services import stars
from pointsapp.store.services import catalogue, counter, identification
from pointsapp.tree.models import Resident
from pointsapp.volunteering.services import activities, checkin, codes

SECRET = "test-secret"  # the test app's SECRET_KEY


def _identified(clerk, store, resident, now) -> int:
    """The resident identified at the counter by her phone's member code: the identification's id."""
    return identification.identify_by_code(clerk, store, SECRET, codes.member_phone_code(SECRET, resident, now),
                                           None, now).id

PHONE = "13805351234"
ID_TAIL = "042X"
MASKED = "138****1234"


def events(action=None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return _db.session.scalars(stmt).all()


@pytest.fixture
def town(make, db, now):
    """A community with an admin, a resident with a phone, ID tail and birth year, and a login for her."""
    c = make.community("梨园社区")
    building = make.building(c, "3号楼")
    household = make.household(building=building, unit="2", room="301")
    wang = make.resident(household, name="王秀英", phone=PHONE)
    wang.id_tail, wang.birth_year = ID_TAIL, 1952
    admin = make.admin(c)
    user = make.user(name="王秀英", resident=wang)
    db.session.commit()
    return c, wang, admin, user


# ---- the audit log ---------------------------------------------------------------------------

def test_record_appends_one_event_naming_actor_action_subject_and_community(db, town, now):
    c, wang, admin, _user = town
    event = audit.record(admin, "personal_data_viewed", wang, now, fields=["phone"])
    db.session.commit()
    stored = db.session.get(AuditEvent, event.id)
    assert (stored.community_id, stored.actor_id, stored.action, stored.subject_type, stored.subject_id,
            stored.resident_id, stored.at) == (c.id, admin.id, "personal_data_viewed", "resident", wang.id, wang.id, now)
    assert json.loads(stored.details) == {"fields": ["phone"]}
    with pytest.raises(ValueError):
        audit.record(admin, "no_such_action", wang, now)


def test_the_audit_log_refuses_updates_and_deletes(db, town, now, backend):
    c, wang, admin, _user = town
    event = audit.record(admin, "personal_data_viewed", wang, now)
    db.session.commit()
    event.action = "points_awarded"
    with pytest.raises(AppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event.id))
    with pytest.raises(AppendOnly):
        db.session.flush()
    db.session.rollback()
    if backend == "postgresql":  # the database itself refuses, whoever writes the SQL
        for sql in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(Exception, match="append-only"):
                db.session.execute(text(sql))
            db.session.rollback()
    assert [e.action for e in events()] == ["personal_data_viewed"]


def test_manual_awards_deductions_and_corrections_are_logged_once_even_when_retried(db, town, now):
    c, wang, admin, _user = town
    for _ in range(2):  # a double click: one entry, one event
        award = ledger.manual(admin, wang, 30, "扫雪", "manual:a", now)
    deduction = ledger.manual(admin, wang, -10, "多记", "manual:b", now)
    for _ in range(2):
        correction = ledger.reverse_by_admin(admin, deduction.id, c.id, "扣错了", now)
    assert [(e.action, e.subject_type, e.subject_id, e.resident_id) for e in events()] == [
        ("points_awarded", "ledger_entry", award.id, wang.id),
        ("points_deducted", "ledger_entry", deduction.id, wang.id),
        ("entry_reversed", "ledger_entry", deduction.id, wang.id)]
    assert json.loads(events()[2].details) == {"amount": 10, "correction_id": correction.id}


def test_a_refused_award_leaves_no_event(db, town, now):
    c, wang, admin, _user = town
    with pytest.raises(DomainError):
        ledger.manual(admin, wang, -10, "扣分", "manual:c", now)  # she has no points
    db.session.rollback()
    assert events() == []


def test_voids_imports_role_changes_passwords_and_activation_codes_are_logged(make, db, town, now):
    c, wang, admin, user = town
    clerk = make.clerk(c)
    store = clerk.grants[0].store
    ledger.post(Posting(wang, 50, EntryKind.AWARD, "attendance", "seed"), None, now)
    product = catalogue.create_product(admin, store, catalogue.ProductFields(name="挂面", price=5), 10, now)
    sale = counter.redeem(clerk, store, _identified(clerk, store, wang, now), counter.Cart({product.id: 1}), "r1",
                          now).redemption
    counter.void(clerk, sale, "拿错了", now)
    job, _report = imports.upload(admin, c, "a.csv", "楼栋,单元,房号,姓名\n5号楼,1,101,刘伟\n".encode(), now,
                                  max_rows=100)
    imports.run_import(admin, c, job, now, max_rows=100)
    staff = accounts.staff_user(admin, c, "13900000009", "李队长", now)
    grant = accounts.grant_role(admin, staff, Role.TEAM_LEAD, c, now, team=make.team(c))
    accounts.revoke_role(admin, grant.id, now)
    accounts.issue_activation_code(admin, user, now)
    accounts.set_password(admin, user, "new-pass-77", now)

    logged = [(e.action, e.subject_type, e.community_id) for e in events()]
    assert logged == [("redemption_voided", "redemption", c.id), ("residents_imported", "import_job", c.id),
                      ("role_granted", "role_grant", c.id), ("role_revoked", "role_grant", c.id),
                      ("activation_code_issued", "user", c.id), ("password_set", "user", c.id)]
    assert all(e.actor_id in (clerk.id, admin.id) for e in events())
    assert json.loads(events("residents_imported")[0].details)["residents"] == 1
    assert events("activation_code_issued")[0].resident_id == wang.id
    assert not any(PHONE in e.details or "new-pass-77" in e.details for e in events())


def test_a_city_admin_role_is_a_city_wide_event(make, db, now):
    city = make.city_admin()
    other = make.user(name="新市级管理员")
    accounts.grant_role(city, other, Role.CITY_ADMIN, None, now)
    assert [(e.action, e.community_id) for e in events()] == [("role_granted", None)]


def test_each_export_is_logged(make, db, web_as, town, now):
    c, wang, admin, _user = town
    clerk = make.clerk(c)
    store = clerk.grants[0].store
    rules = stars.create_rule_set(admin, c, "标准", [10, 20, 30, 40, 50], 0, now)
    evaluation = stars.create_evaluation(admin, c, rules, "年度评定", "Y2026", 7, now)
    db.session.commit()
    client = web_as(admin)
    assert client.get(f"/admin/c/{c.id}/ledger?start=2026-11-01&end=2026-11-25&format=csv").status_code == 200
    assert client.get(f"/store/{store.id}/report?day=2026-11-25&format=csv").status_code == 200
    assert client.get(f"/admin/c/{c.id}/stars/{evaluation.id}?format=xlsx").status_code == 200
    db.session.expire_all()
    assert [json.loads(e.details)["what"] for e in events("data_exported")] == ["ledger", "store_report",
                                                                              "star_ratings"]
    assert {e.community_id for e in events()} == {c.id}


@pytest.fixture
def web_as(app, client, login):
    def as_user(user):
        return login(client, user)
    return as_user


def test_the_office_reads_its_own_communitys_log_newest_first_filtered_and_paged(make, db, web_as, town, now,
                                                                                 monkeypatch):
    c, wang, admin, _user = town
    other = make.community("鹤山社区")
    other_admin = make.admin(other)
    stranger = make.resident(make.household(other), name="外社区居民")
    for _ in range(3):
        audit.record(admin, "personal_data_viewed", wang, now)
    audit.record(admin, "data_exported", c, now, what="ledger")
    audit.record(other_admin, "personal_data_viewed", stranger, now)
    db.session.commit()
    client = web_as(admin)

    def rows(url):  # the table of events (the filter's options name every action too)
        return client.get(url).get_data(as_text=True).split("<tbody>")[-1]

    page = rows(f"/admin/c/{c.id}/audit")
    assert page.count("查看个人完整信息") == 3 and "外社区居民" not in page
    assert page.index("导出数据") < page.index("查看个人完整信息")  # newest first
    only_exports = rows(f"/admin/c/{c.id}/audit?action=data_exported")
    assert "导出数据" in only_exports and "查看个人完整信息" not in only_exports
    about_her = rows(f"/admin/c/{c.id}/audit?resident_id={wang.id}")
    assert about_her.count("王秀英 #") == 3 and "导出数据" not in about_her
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    first = client.get(f"/admin/c/{c.id}/audit").get_data(as_text=True)
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    second = rows(older)
    assert second.count("查看个人完整信息") == 2 and "导出数据" not in second
    assert client.get(f"/admin/c/{other.id}/audit").status_code == 403


def test_the_city_reads_every_community_and_exports_the_log_as_csv(make, db, web_as, town, now):
    c, wang, admin, _user = town
    city = make.city_admin()
    other = make.community("鹤山社区")
    audit.record(admin, "personal_data_viewed", wang, now)
    audit.record(city, "data_exported", other, now, what="ledger")
    db.session.commit()
    client = web_as(city)
    page = client.get("/city/audit").get_data(as_text=True)
    assert "查看个人完整信息" in page and "导出数据" in page
    response = client.get(f"/city/audit?community_id={c.id}&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data().decode("utf-8-sig")
    lines = body.splitlines()
    assert len(lines) == 2 and "personal_data_viewed" in lines[1] and "社区管理员" in lines[1]  # only community c
    db.session.expire_all()
    assert json.loads(events("data_exported")[-1].details)["what"] == "audit"
    with pytest.raises(PermissionDenied):
        audit.page(admin, audit.Filters(community_id=None))


# ---- masked lists and the reveal ---------------------------------------------------------------

def test_staff_lists_never_show_a_full_phone_or_the_id_digits(make, db, web_as, town, now):
    c, wang, admin, user = town
    lead = make.team_lead(c)
    staff = accounts.staff_user(admin, c, "13900000009", "李队长", now)
    accounts.grant_role(admin, staff, Role.COMMUNITY_ADMIN, c, now)
    db.session.commit()
    client = web_as(admin)
    pages = {
        "residents": client.get(f"/admin/c/{c.id}/residents?q=王"),
        "search by phone": client.get(f"/admin/c/{c.id}/residents?q={PHONE}"),  # (also in the language form)
        "household": client.get(f"/admin/c/{c.id}/households/{wang.household_id}"),
        "resident": client.get(f"/admin/c/{c.id}/residents/{wang.id}"),
        "staff": client.get(f"/admin/c/{c.id}/staff"),
    }
    web_as(lead)
    team = lead.grants[0].team
    pages["lead's search"] = client.get(f"/lead/teams/{team.id}?q=王")
    for name, response in pages.items():
        # the search box and the language form carry what was typed: not stored data
        html = response.get_data(as_text=True).replace(f'value="{PHONE}"', "").replace(f"q={PHONE}", "")
        assert response.status_code == 200, name
        assert PHONE not in html and ID_TAIL not in html and "1952" not in html, name
        assert "13900000009" not in html, name
    assert MASKED in pages["residents"].get_data(as_text=True)
    assert MASKED in pages["search by phone"].get_data(as_text=True)  # found by the full number, shown masked
    assert "139****0009" in pages["staff"].get_data(as_text=True)


def test_show_full_details_reveals_them_for_that_response_and_logs_one_event(app, db, web_as, town):
    c, wang, admin, _user = town
    client = web_as(admin)
    response = client.post(f"/admin/c/{c.id}/residents/{wang.id}/reveal")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert PHONE in html and ID_TAIL in html and "1952" in html
    db.session.expire_all()
    viewed = events("personal_data_viewed")
    assert [(e.actor_id, e.resident_id) for e in viewed] == [(admin.id, wang.id)]
    assert PHONE not in viewed[0].details and ID_TAIL not in viewed[0].details
    assert PHONE not in client.get(f"/admin/c/{c.id}/residents/{wang.id}").get_data(as_text=True)


def test_show_full_details_needs_the_forms_csrf_token(app, db, web_as, town):
    c, wang, admin, _user = town
    client = web_as(admin)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(f"/admin/c/{c.id}/residents/{wang.id}/reveal")
    assert response.status_code in (302, 400)
    assert PHONE not in response.get_data(as_text=True)
    db.session.expire_all()
    assert events() == []


def test_editing_a_resident_after_the_reveal_still_works(db, web_as, town):
    c, wang, admin, _user = town
    client = web_as(admin)
    response = client.post(f"/admin/c/{c.id}/residents/{wang.id}",
                           data={"name": "王秀英", "phone": "13900001111", "id_tail": "1234", "birth_year": "1953"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (db.session.get(Resident, wang.id).phone, db.session.get(Resident, wang.id).birth_year) == (
        "13900001111", 1953)


# ---- her own data ------------------------------------------------------------------------------

def test_a_resident_downloads_her_profile_entries_attendances_and_redemptions(make, db, web_as, town, now):
    c, wang, admin, user = town
    clerk = make.clerk(c)
    store = clerk.grants[0].store
    lead = make.team_lead(c)
    activity = activities.create_activity(lead, lead.grants[0].team, activities.ActivityFields(
        title="楼道广告清理", kind="楼道广告清理", place="", starts_at=now, ends_at=now + timedelta(hours=1)), now)
    checkin.check_in(user, wang, activity, now)
    product = catalogue.create_product(admin, store, catalogue.ProductFields(name="挂面", price=1), 10, now)
    counter.redeem(clerk, store, _identified(clerk, store, wang, now), counter.Cart({product.id: 1}), "r1", now)
    db.session.commit()

    response = web_as(user).get("/me/data")

    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert (data["profile"]["name"], data["profile"]["phone"], data["profile"]["id_tail"],
            data["profile"]["birth_year"]) == ("王秀英", PHONE, ID_TAIL, 1952)
    assert data["profile"]["address"].startswith("3号楼")
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.resident_id == wang.id)
                                 .order_by(LedgerEntry.seq)).all()
    assert [(e["amount"], e["hash"]) for e in data["ledger_entries"]] == [(e.amount, e.hash) for e in entries]
    assert [a["activity"] for a in data["attendances"]] == ["楼道广告清理"]
    assert [r["lines"][0]["name"] for r in data["redemptions"]] == ["挂面"]
    assert data["account"]["phone"] == PHONE


def test_the_download_is_only_ever_her_own(make, db, web_as, town):
    c, wang, admin, _user = town
    neighbour = make.resident_user(community=c)
    db.session.commit()
    client = web_as(neighbour)
    for url in ("/me/data", f"/me/data?resident_id={wang.id}", f"/me/data/{wang.id}"):
        response = client.get(url)
        assert PHONE not in response.get_data(as_text=True) and "王秀英" not in response.get_data(as_text=True)
    data = json.loads(client.get(f"/me/data?resident_id={wang.id}").get_data(as_text=True))
    assert data["profile"]["id"] == neighbour.resident_id
    with pytest.raises(PermissionDenied):
        privacy.resident_data(neighbour, wang)


# ---- retention -----------------------------------------------------------------------------------

def _moved_out(make, community, on: date, name: str, now):
    """A resident who earned 40 points years ago, then moved out on `on`."""
    r = make.resident(make.household(community), name=name, phone=make.phone())
    r.id_tail, r.birth_year = "1234", 1960
    ledger.post(Posting(r, 40, EntryKind.AWARD, "attendance", f"a{r.id}", "扫雪"), None, now - timedelta(days=3000))
    r.moved_out_on = on
    return r


def test_retention_erases_on_the_anniversary_not_the_day_before_and_the_ledger_still_verifies(make, db, town,
                                                                                               now):
    c, wang, admin, user = town
    today = date(2026, 11, 25)  # `now` in China time
    due = _moved_out(make, c, date(2023, 11, 25), "到期居民", now)  # exactly 3 years ago
    not_yet = _moved_out(make, c, date(2023, 11, 26), "未到期居民", now)
    leap = _moved_out(make, c, date(2020, 2, 29), "闰日居民", now)
    login = make.user(name="到期居民", resident=due)
    ledger_audit.checkpoint(c.id, now)
    db.session.commit()
    assert ledger_audit.verify().ok
    assert [r.id for r in privacy.due_for_erasure(now)] == [due.id, leap.id]
    assert privacy.due_for_erasure(now - timedelta(days=1)) == [leap]  # the day before the anniversary

    privacy.apply_retention(now)
    db.session.commit()

    db.session.expire_all()
    erased = db.session.get(Resident, due.id)
    assert (erased.name, erased.phone, erased.id_tail, erased.birth_year, erased.pin_hash) == (
        f"已迁出居民#{due.id}", "", "", None, None)
    assert erased.erased_at == now and erased.hide_from_board
    kept = db.session.get(Resident, not_yet.id)
    assert (kept.name, kept.birth_year) == ("未到期居民", 1960)
    assert db.session.get(Resident, wang.id).phone == PHONE
    account = db.session.get(User, login.id)
    assert not account.is_enabled and account.password_hash is None and account.phone.startswith("erased-")
    assert ledger_audit.verify().ok  # the chains and the checkpoint hold: the ledger names her by id only
    assert len(db.session.scalars(select(LedgerEntry).where(LedgerEntry.resident_id == due.id)).all()) == 1
    assert [(e.action, e.actor_id, e.resident_id) for e in events()] == [
        ("personal_data_erased", None, due.id), ("personal_data_erased", None, leap.id)]
    assert privacy.due_for_erasure(now) == []  # done once
    assert local_is(today, now)


def local_is(day: date, now) -> bool:
    from pointsapp.core.localtime import local_date
    return local_date(now) == day


def test_the_leap_day_anniversary_falls_on_the_first_of_march(make, db, now):
    feb_28 = datetime(2021, 2, 28, 4, 0, tzinfo=UTC)  # noon in China
    c = make.community()
    leap = _moved_out(make, c, date(2020, 2, 29), "闰日居民", feb_28)
    c.retention_years = 1
    db.session.flush()
    assert privacy.due_for_erasure(feb_28) == []
    assert privacy.due_for_erasure(feb_28 + timedelta(days=1)) == [leap]


def test_the_retention_command_has_a_dry_run_and_verify_passes_after_it(app, make, db, town, now):
    c, wang, admin, user = town
    gone = _moved_out(make, c, date(2020, 1, 1), "早已迁出", now)
    db.session.commit()
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["tree", "retention", "--dry-run"])
    assert dry.exit_code == 0 and "1 residents would" in dry.output
    db.session.expire_all()
    assert db.session.get(Resident, gone.id).name == "早已迁出"
    done = runner.invoke(args=["tree", "retention"])
    assert done.exit_code == 0 and "1 residents had" in done.output, done.output
    db.session.expire_all()
    assert db.session.get(Resident, gone.id).name == f"已迁出居民#{gone.id}"
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0 and "OK" in verify.output


def test_a_staff_member_who_moved_out_keeps_her_staff_login(make, db, town, now):
    c, wang, admin, user = town
    leader = _moved_out(make, c, date(2020, 1, 1), "老队长", now)
    login = make.user(name="老队长", resident=leader)
    make.grant(login, Role.TEAM_LEAD, c, team=make.team(c))
    privacy.apply_retention(now)
    db.session.flush()
    assert login.is_enabled and login.resident_id is None and login.phone != ""


# ---- consent at activation ------------------------------------------------------------------------

def _activation(make, db, town, now):
    c, wang, admin, user = town
    code = accounts.issue_activation_code(admin, user, now)
    db.session.commit()
    return user, code


def test_activation_without_the_tick_is_refused_with_a_clear_message(app, client, make, db, town, now):
    user, code = _activation(make, db, town, now)
    page = client.get("/activate").get_data(as_text=True)
    assert "个人信息" in page and "/privacy" in page
    response = client.post("/activate", data={"phone": user.phone, "code": code, "password": "chosen-pass-3"})
    assert response.status_code == 422
    assert "请勾选" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).consent_at is None
    assert db.session.get(User, user.id).activation_code_hash is not None  # the code still works


def test_activation_with_the_tick_records_when_and_which_notice(app, client, make, db, town, now):
    user, code = _activation(make, db, town, now)
    response = client.post("/activate", data={"phone": user.phone, "code": code, "password": "chosen-pass-3",
                                              "consent": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert (stored.consent_at, stored.consent_version) == (now, privacy.NOTICE_VERSION)


def test_the_privacy_notice_is_public(client):
    page = client.get("/privacy").get_data(as_text=True)
    assert "隐私" in page or "个人信息" in page
    assert func  # (imported for symmetry with the other tests' counts)


@pytest.mark.parametrize("query", ["before=100000000000000000000", "actor_id=-1", "resident_id=%00", "action=%00x",
                                   "action=" + "x" * 5000, "format=pdf", "community_id=１２３", "before=0"])
def test_hostile_filters_on_the_audit_log_get_a_message_not_a_500(make, db, web_as, town, query):
    """A NUL is refused at the edge for every page (400, core.input_edge); the rest reach the page."""
    c, wang, admin, _user = town
    city = make.city_admin()
    db.session.commit()
    expected = 400 if "%00" in query else 200
    client = web_as(admin)
    assert client.get(f"/admin/c/{c.id}/audit?{query}").status_code == expected
    web_as(city)
    assert client.get(f"/city/audit?{query}").status_code == expected
