"""/api/v1/activities, /api/v1/checkin and /api/v1/lead: the volunteering pages' operations as JSON.

What this proves: every operation answers through the same services as the pages (the same rules, the
same refusals in the one error shape); one attendance per activity and resident whatever is retried (the same
code twice, the same Idempotency-Key twice); points only through checkin's rules (a lead never decides her own
household's points, the office's holds stay the office's); who may call what (another team's lead, a
resident's token, a lead's token that carries only the resident role: 403); hostile input is a 4xx in the
error shape, never a 500.
"""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.volunteering.models import Attendance, Signup
from pointsapp.volunteering.services import activities, checkin, codes

from .api_helpers import bearer, error_of, token_for

SECRET = "test-secret"  # the test app's SECRET_KEY
API = "/api/v1"


@pytest.fixture
def w(make, db, now):
    """A community with a team, its lead (a resident too), another team's lead, the office, two residents (one
    in the lead's household), activities happening now (fixed points on check-in; hourly; on approval) and
    one next week; and a second community."""
    from types import SimpleNamespace

    c = make.community()
    team, other_team = make.team(c), make.team(c)
    lead_home = make.household(c)
    lead = make.user(name="队长", resident=make.resident(lead_home, phone=make.phone()))
    make.grant(lead, "team_lead", c, team=team)
    other_lead = make.user(name="别队队长")
    make.grant(other_lead, "team_lead", c, team=other_team)
    office = make.admin(c)
    resident_user = make.resident_user(community=c)
    neighbour = make.resident(resident_user.resident.household, name="邻居李四", phone=make.phone())
    family = make.resident(lead_home, name="队长家属", phone=make.phone())
    far = make.community()
    far_user = make.resident_user(community=far)
    far_team = make.team(far)
    far_lead = make.user(name="外社区队长")
    make.grant(far_lead, "team_lead", far, team=far_team)
    kind = activities.labels(c.id, "activity_kind")[0]

    def new(t=team, by=lead, **overrides):
        fields = dict(title="楼道广告清理", kind=kind, place="3号楼", starts_at=now - timedelta(minutes=30),
                      ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="check_in")
        fields.update(overrides)
        return activities.create_activity(by, t, activities.ActivityFields(**fields), now)

    ns = SimpleNamespace(
        c=c, team=team, lead=lead, other_lead=other_lead, office=office, resident_user=resident_user,
        resident=resident_user.resident, neighbour=neighbour, family=family, far_user=far_user, far_lead=far_lead,
        new=new,
        fixed=new(), hourly=new(title="安全值守", rule="hourly", points=6, hourly_cap=30, award_on="check_out"),
        approval=new(title="扶老助弱", award_on="approval"),
        later=new(title="下周清理", starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=7, hours=2),
                  capacity=5),
        far_activity=new(t=far_team, by=far_lead, kind=activities.labels(far.id, "activity_kind")[0]),
    )
    db.session.commit()
    return ns


def code_of(activity, now, poster=False):
    return codes.checkin_code(SECRET, activity, None if poster else codes.step_of(now, activity.code_seconds))


def count(model, **where):
    _db.session.expire_all()
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return _db.session.scalar(stmt)


def resident_token(w, user=None):
    user = user or w.resident_user
    return bearer(token_for(user, user.resident.community_id, ["resident"]))


def lead_token(w, user=None, roles=("team_lead",)):
    return bearer(token_for(user or w.lead, w.c, list(roles)))


def attendance_path(w, activity=None, tail=""):
    return f"{API}/lead/activities/{(activity or w.fixed).id}/attendance{tail}"


# ---- residents: activities and sign-ups ------------------------------------------------------------------


def test_residents_list_the_coming_activities_as_the_page_does(client, w):
    headers = resident_token(w)
    body = client.get(f"{API}/activities", headers=headers).get_json()
    titles = [a["title"] for a in body["activities"]]
    assert titles[:3] == ["楼道广告清理", "安全值守", "扶老助弱"] and "下周清理" not in titles  # this week's page
    assert body["week"] == 0 and body["my_signups"] == []
    first = body["activities"][0]
    assert first["team_id"] == w.team.id and first["points"] == 10 and first["rule_text"]
    assert first["signed_up"] is False and first["can_sign_up"] is False  # started: sign-up closed
    next_week = client.get(f"{API}/activities?week=1", headers=headers).get_json()["activities"]
    assert [a["title"] for a in next_week] == ["下周清理"] and next_week[0]["can_sign_up"] is True
    assert client.get(f"{API}/activities?team_id={w.team.id + 1}", headers=headers).get_json()["activities"] == []
    assert client.get(f"{API}/activities?kind=nothing", headers=headers).get_json()["activities"] == []
    assert len(client.get(f"{API}/activities?team_id=0&kind={w.fixed.kind}", headers=headers)
               .get_json()["activities"]) == 3
    # another community's activities are not hers to see
    assert "far" not in str(body) and all(a["id"] != w.far_activity.id for a in body["activities"])
    assert error_of(client.get(f"{API}/activities/{w.far_activity.id}", headers=headers))["code"] == "not_found"


def test_sign_up_and_cancel_through_the_signup_service(client, w):
    headers = resident_token(w)
    url = f"{API}/activities/{w.later.id}/signup"
    first = client.post(url, headers=headers)
    assert first.status_code == 200 and first.get_json()["signed_up"] is True and first.get_json()["taken"] == 1
    assert client.post(url, headers=headers).get_json()["taken"] == 1  # again: nothing changes
    assert count(Signup, activity_id=w.later.id) == 1
    listed = client.get(f"{API}/activities", headers=headers).get_json()
    assert [a["id"] for a in listed["my_signups"]] == [w.later.id]
    assert client.get(f"{API}/activities/{w.later.id}", headers=headers).get_json()["can_cancel"] is True
    cancelled = client.delete(url, headers=headers)
    assert cancelled.status_code == 200 and cancelled.get_json()["signed_up"] is False
    assert client.delete(url, headers=headers).status_code == 200  # cancelling again changes nothing
    # the service's refusals, in the error shape: the activity has started
    refused = client.post(f"{API}/activities/{w.fixed.id}/signup", headers=headers)
    assert refused.status_code == 422 and error_of(refused)["code"] == "already_over"
    never = client.delete(f"{API}/activities/{w.fixed.id}/signup", headers=headers)
    assert never.status_code == 404 and error_of(never)["code"] == "not_signed_up"


# ---- residents: check-in and check-out -----------------------------------------------------------------


def test_check_in_with_the_code_twice_makes_one_attendance_and_one_award(client, w, now):
    headers = resident_token(w)
    first = client.post(f"{API}/checkin", json={"code": code_of(w.fixed, now)}, headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["action"] == "checked_in" and body["points"] == 10 and body["pending_approval"] is False
    assert body["attendance"]["status"] == "approved" and body["attendance"]["method"] == "self_scan"
    assert "resident_name" not in body["attendance"]  # her own view
    again = client.post(f"{API}/checkin", json={"code": code_of(w.fixed, now)}, headers=headers)
    assert again.status_code == 200 and again.get_json()["action"] == "already" and again.get_json()["points"] == 0
    assert again.get_json()["attendance"]["id"] == body["attendance"]["id"]
    assert count(Attendance, activity_id=w.fixed.id) == 1
    assert ledger.balance_of(w.resident.id) == 10
    # the link a scanner app hands over works as the code alone
    link = client.post(f"{API}/checkin", json={"code": f"https://jifen.example.cn/c/{code_of(w.fixed, now)}"},
                       headers=headers)
    assert link.get_json()["action"] == "already"


def test_one_idempotency_key_twice_gives_the_same_answer_and_one_row(client, w, now):
    secret = token_for(w.resident_user, w.c, ["resident"])
    code = code_of(w.fixed, now)
    first = client.post(f"{API}/checkin", json={"code": code}, headers=bearer(secret, key="scan-1"))
    second = client.post(f"{API}/checkin", json={"code": code}, headers=bearer(secret, key="scan-1"))
    assert first.status_code == second.status_code == 201
    assert first.get_data() == second.get_data() and second.headers.get("Idempotent-Replayed") == "true"
    assert count(Attendance, activity_id=w.fixed.id) == 1
    # the lead's check-in too
    headers = lead_token(w)
    body = {"resident_id": w.neighbour.id}
    one = client.post(attendance_path(w), json=body, headers={**headers, "Idempotency-Key": "lead-1"})
    two = client.post(attendance_path(w), json=body, headers={**headers, "Idempotency-Key": "lead-1"})
    assert one.status_code == two.status_code == 201 and one.get_data() == two.get_data()
    assert count(Attendance, activity_id=w.fixed.id) == 2
    # the same key with another request is refused
    other = client.post(attendance_path(w), json={"resident_id": w.resident.id},
                        headers={**headers, "Idempotency-Key": "lead-1"})
    assert other.status_code == 422 and error_of(other)["code"] == "idempotency_key_reused"


def test_check_out_counts_the_hours_of_an_hourly_activity(client, w, now, clock):
    headers = resident_token(w)
    url = f"{API}/activities/{w.hourly.id}/checkout"
    early = client.post(url, json={"code": code_of(w.hourly, now)}, headers=headers)
    assert early.status_code == 409 and error_of(early)["code"] == "not_checked_in"
    assert client.post(f"{API}/checkin", json={"code": code_of(w.hourly, now)}, headers=headers).status_code == 201
    clock.advance(minutes=90)
    later = clock.now()
    wrong = client.post(url, json={"code": code_of(w.fixed, later)}, headers=headers)  # another activity's code
    assert wrong.status_code == 422 and error_of(wrong)["code"] == "forged_code"
    out = client.post(url, json={"code": code_of(w.hourly, later)}, headers=headers)
    assert out.status_code == 200, out.get_json()
    body = out.get_json()
    assert body["action"] == "checked_out" and body["attendance"]["service_minutes"] == 90
    assert body["points"] == 9 == ledger.balance_of(w.resident.id)  # 6 points an hour, rounded down
    again = client.post(url, json={"code": code_of(w.hourly, later)}, headers=headers)
    assert again.get_json()["action"] == "already" and ledger.balance_of(w.resident.id) == 9


@pytest.mark.parametrize("mangle, status, code", [
    (lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"), 400, "forged_code"),
    (lambda c: "garbage", 400, "forged_code"),
    (lambda c: "", 400, "forged_code"),
    (lambda c: "a" + str(10**20) + ".1.x", 400, "forged_code"),
    (lambda c: "a１２３.1.x", 400, "forged_code"),
    (lambda c: "x" * 10_000, 422, "invalid_input"),
    (lambda c: "a\x00b", 400, "unreadable_input"),
    (lambda c: 12345, 422, "invalid_input"),
    (lambda c: None, 422, "invalid_input"),
])
def test_forged_and_hostile_codes_are_refused_in_the_error_shape(client, w, now, mangle, status, code):
    answer = client.post(f"{API}/checkin", json={"code": mangle(code_of(w.fixed, now))}, headers=resident_token(w))
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    assert error_of(answer)["code"] == code
    assert count(Attendance) == 0


def test_an_expired_code_and_a_code_for_another_community_are_refused(client, w, now):
    headers = resident_token(w)
    stale = codes.checkin_code(SECRET, w.fixed, codes.step_of(now, 30) - 2)
    assert error_of(client.post(f"{API}/checkin", json={"code": stale}, headers=headers))["code"] == "code_expired"
    far = client.post(f"{API}/checkin", json={"code": code_of(w.far_activity, now)}, headers=headers)
    assert far.status_code == 422 and error_of(far)["code"] == "not_resident_of_community"
    assert count(Attendance) == 0


# ---- leads: the live list, check-in by card or search, records by hand ------------------------------------


def test_the_lead_checks_residents_in_by_search_and_by_card_and_sees_the_live_list(client, w, now):
    headers = lead_token(w)
    empty = client.get(attendance_path(w), headers=headers).get_json()
    assert empty == {"activity_id": w.fixed.id, "capacity": None, "count": 0, "pending": 0, "attendances": []}
    found = client.get(f"{API}/lead/activities/{w.fixed.id}/residents?q=邻居", headers=headers).get_json()
    assert [r["id"] for r in found["residents"]] == [w.neighbour.id] and found["total"] == 1
    assert set(found["residents"][0]) == {"id", "name", "address"}  # no phone, no ID digits
    assert client.get(f"{API}/lead/activities/{w.fixed.id}/residents", headers=headers).get_json()["residents"] == []
    by_search = client.post(attendance_path(w), json={"resident_id": w.neighbour.id}, headers=headers)
    assert by_search.status_code == 201, by_search.get_json()
    assert by_search.get_json()["attendance"]["method"] == "lead_scan"
    assert "邻居李四" in by_search.get_json()["message"] and by_search.get_json()["points"] == 10
    # the number printed on the card, typed with full-width digits and a Chinese dash
    typed = codes.card_number(w.resident).translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    by_number = client.post(attendance_path(w), json={"code": typed}, headers=headers)
    assert by_number.status_code == 201 and by_number.get_json()["attendance"]["resident_id"] == w.resident.id
    again = client.post(attendance_path(w), json={"code": codes.member_card_code(SECRET, w.resident)}, headers=headers)
    assert again.status_code == 200 and again.get_json()["action"] == "already"
    listed = client.get(attendance_path(w), headers=headers).get_json()
    assert listed["count"] == 2 and {a["resident_name"] for a in listed["attendances"]} == {"邻居李四", w.resident.name}
    assert count(Attendance, activity_id=w.fixed.id) == 2
    unknown = client.post(attendance_path(w), json={"code": "99999-1"}, headers=headers)
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "unknown_card"
    far = client.post(attendance_path(w), json={"resident_id": w.far_user.resident.id}, headers=headers)
    assert far.status_code == 422 and error_of(far)["code"] == "not_resident_of_community"


def test_a_record_by_hand_waits_for_the_office(client, w, login):
    headers = lead_token(w)
    url = attendance_path(w, w.hourly, "/manual")
    body = {"resident_id": w.neighbour.id, "checked_in_at": "2026-11-25T10:00", "checked_out_at": "2026-11-25T11:30",
            "reason": "手机没电"}
    made = client.post(url, json=body, headers=headers)
    assert made.status_code == 201, made.get_json()
    got = made.get_json()["attendance"]
    assert got["method"] == "manual" and got["status"] == "pending" and got["hold"] == "manual"
    assert got["checked_in_at"].startswith("2026-11-25T02:00") and got["service_minutes"] == 90  # China time read
    assert error_of(client.post(url, json=body, headers=headers))["code"] == "already_checked_in"
    # the lead may not lift the office's hold; the office's own page does
    refused = client.post(attendance_path(w, w.hourly, f"/{got['id']}/approve"), headers=headers)
    assert refused.status_code == 409 and error_of(refused)["code"] == "office_review"
    assert ledger.balance_of(w.neighbour.id) == 0
    for wrong, code in [({**body, "reason": " "}, "reason_missing"),
                        ({**body, "resident_id": w.resident.id, "checked_out_at": None}, "invalid_times"),
                        ({**body, "checked_in_at": "9999-11-25T10:00"}, "invalid_input"),
                        ({**body, "checked_in_at": "tomorrow"}, "invalid_input"),
                        ({**body, "reason": "x" * 301}, "invalid_input")]:
        answer = client.post(url, json=wrong, headers=headers)
        assert 400 <= answer.status_code < 500 and error_of(answer)["code"] == code, (wrong, answer.get_json())


def test_approve_and_reject_one_and_several(client, w, now):
    for user in (w.resident_user,):
        client.post(f"{API}/checkin", json={"code": code_of(w.approval, now)}, headers=resident_token(w, user))
    headers = lead_token(w)
    client.post(attendance_path(w, w.approval), json={"resident_id": w.neighbour.id}, headers=headers)
    rows = client.get(attendance_path(w, w.approval), headers=headers).get_json()
    assert rows["pending"] == 2
    mine = next(a for a in rows["attendances"] if a["resident_id"] == w.resident.id)
    approved = client.post(attendance_path(w, w.approval, f"/{mine['id']}/approve"), headers=headers)
    assert approved.status_code == 200 and approved.get_json()["approved"] == 1 and approved.get_json()["points"] == 10
    assert approved.get_json()["attendances"][0]["status"] == "approved"
    assert ledger.balance_of(w.resident.id) == 10
    twice = client.post(attendance_path(w, w.approval, f"/{mine['id']}/approve"), headers=headers)
    assert twice.get_json()["approved"] == 0 and ledger.balance_of(w.resident.id) == 10
    no_reason = client.post(attendance_path(w, w.approval, f"/{mine['id']}/reject"), json={}, headers=headers)
    assert error_of(no_reason)["code"] == "reason_missing"
    rejected = client.post(attendance_path(w, w.approval, f"/{mine['id']}/reject"), json={"reason": "没来"},
                           headers=headers)
    assert rejected.status_code == 200 and rejected.get_json()["rejected"] == 1
    assert rejected.get_json()["attendances"][0]["reject_reason"] == "没来"
    assert ledger.balance_of(w.resident.id) == 0  # taken back
    # the batch: approve the rest at once; ids of another activity are not found
    other = next(a for a in rows["attendances"] if a["resident_id"] == w.neighbour.id)
    batch = client.post(attendance_path(w, w.approval, "/approve"), json={"ids": [other["id"]]}, headers=headers)
    assert batch.status_code == 200 and batch.get_json()["approved"] == 1
    assert error_of(client.post(attendance_path(w, w.approval, "/approve"), json={"ids": []},
                                headers=headers))["code"] == "nothing_chosen"
    elsewhere = client.post(attendance_path(w, w.fixed, "/approve"), json={"ids": [other["id"]]}, headers=headers)
    assert elsewhere.status_code == 404 and error_of(elsewhere)["code"] == "not_found"
    assert client.post(attendance_path(w, w.fixed, f"/{other['id']}/approve"), headers=headers).status_code == 404
    many = client.post(attendance_path(w, w.approval, "/reject"), json={"ids": [other["id"]], "reason": "重复"},
                       headers=headers)
    assert many.status_code == 200 and many.get_json()["rejected"] == 1


def test_a_lead_never_decides_her_own_households_points(client, w, now):
    """What the service refuses, the API refuses: her own check-in and her family's wait for another lead or
    the office, and approving them is self_award."""
    headers = lead_token(w)
    for resident in (w.lead.resident, w.family):
        made = client.post(attendance_path(w), json={"resident_id": resident.id}, headers=headers)
        assert made.status_code == 201
        got = made.get_json()
        assert got["pending_approval"] is True and got["points"] == 0 and got["attendance"]["hold"] == "self"
        one = client.post(attendance_path(w, tail=f"/{got['attendance']['id']}/approve"), headers=headers)
        assert one.status_code == 403 and error_of(one)["code"] == "self_award"
        batch = client.post(attendance_path(w, tail="/approve"), json={"ids": [got["attendance"]["id"]]},
                            headers=headers)
        assert batch.status_code == 403 and error_of(batch)["code"] == "self_award"
        assert ledger.balance_of(resident.id) == 0
    # her own scan of her own activity's code waits too
    own = client.post(f"{API}/checkin", json={"code": code_of(w.approval, now)}, headers=lead_token(w, roles=["resident"]))
    assert own.status_code == 201 and own.get_json()["attendance"]["status"] == "pending"
    assert count(LedgerEntry) == 0
    # the office approves them (its own review page; the API's lead path accepts the office as well)
    office = bearer(token_for(w.office, w.c, ["community_admin"]))
    ids = [a["id"] for a in client.get(attendance_path(w), headers=office).get_json()["attendances"]]
    assert client.post(attendance_path(w, tail="/approve"), json={"ids": ids}, headers=office).get_json()["approved"] == 2


# ---- who may call what ----------------------------------------------------------------------------------


def _lead_calls(w, attendance_id):
    a = w.fixed.id
    return [("get", f"{API}/lead/activities/{a}/attendance", None),
            ("post", f"{API}/lead/activities/{a}/attendance", {"resident_id": w.neighbour.id}),
            ("get", f"{API}/lead/activities/{a}/residents?q=邻居", None),
            ("post", f"{API}/lead/activities/{a}/attendance/manual",
             {"resident_id": w.neighbour.id, "checked_in_at": "2026-11-25T10:00", "reason": "补录"}),
            ("post", f"{API}/lead/activities/{a}/attendance/{attendance_id}/approve", None),
            ("post", f"{API}/lead/activities/{a}/attendance/{attendance_id}/reject", {"reason": "不认可"}),
            ("post", f"{API}/lead/activities/{a}/attendance/approve", {"ids": [attendance_id]}),
            ("post", f"{API}/lead/activities/{a}/attendance/reject", {"ids": [attendance_id], "reason": "不认可"})]


@pytest.mark.parametrize("who", ["other_team_lead", "resident_token", "lead_as_resident", "lead_other_community",
                                 "resident_session", "anonymous"])
def test_lead_operations_are_refused_to_everyone_else(client, w, now, login, who):
    attendance = checkin.check_in(w.lead, w.resident, w.approval, now, method="lead_scan").attendance
    _db.session.commit()
    headers, expected = {}, 403
    if who == "other_team_lead":  # a lead of another team of the same community
        headers = lead_token(w, w.other_lead)
    elif who == "resident_token":
        headers = resident_token(w)
    elif who == "lead_as_resident":  # the lead's own token, limited to the resident role
        headers = lead_token(w, roles=["resident"])
    elif who == "lead_other_community":  # a team lead of another community
        headers = bearer(token_for(w.far_lead, w.far_activity.community_id, ["team_lead"]))
    elif who == "resident_session":
        login(client, w.resident_user)
    else:
        expected = 401
    for method, url, body in _lead_calls(w, attendance.id):
        url = url.replace(f"/activities/{w.fixed.id}/", f"/activities/{w.approval.id}/")
        answer = client.open(url, method=method.upper(), json=body, headers=headers)
        assert answer.status_code == expected, (who, method, url, answer.get_json())
        assert error_of(answer)["code"] in ("forbidden", "unauthenticated")
    assert count(Attendance) == 1 and count(LedgerEntry) == 0


def test_the_leads_own_token_with_the_team_lead_role_may(client, w, now):
    headers = lead_token(w)
    assert client.get(attendance_path(w), headers=headers).status_code == 200
    office = bearer(token_for(w.office, w.c, ["community_admin"]))
    assert client.get(attendance_path(w), headers=office).status_code == 200


def test_resident_operations_need_the_resident_role(client, w, now):
    staff_only = bearer(token_for(w.lead, w.c, ["team_lead"]))  # her token carries no resident role
    for method, url in [("get", f"{API}/activities"), ("get", f"{API}/activities/{w.later.id}"),
                        ("post", f"{API}/activities/{w.later.id}/signup"),
                        ("delete", f"{API}/activities/{w.later.id}/signup")]:
        answer = client.open(url, method=method.upper(), headers=staff_only)
        assert answer.status_code == 403 and error_of(answer)["code"] == "forbidden"
    answer = client.post(f"{API}/checkin", json={"code": code_of(w.fixed, now)}, headers=staff_only)
    assert answer.status_code == 403
    office = bearer(token_for(w.office, w.c, ["community_admin"]))  # the office, not a resident
    assert client.get(f"{API}/activities", headers=office).status_code == 403
    assert client.get(f"{API}/activities").status_code == 401


def test_the_pages_session_needs_the_csrf_header(app, client, w, login, now):
    login(client, w.lead)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = client.post(attendance_path(w), json={"resident_id": w.neighbour.id})
        assert refused.status_code == 400 and error_of(refused)["code"] == "csrf_failed"
        page = client.get(f"/lead/activities/{w.fixed.id}")
        import re
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"',
                          page.get_data(as_text=True))
        csrf = next(g for g in token.groups() if g)
        made = client.post(attendance_path(w), json={"resident_id": w.neighbour.id}, headers={"X-CSRFToken": csrf})
        assert made.status_code == 201
        assert client.get(attendance_path(w)).get_json()["count"] == 1  # a GET needs no token
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


# ---- hostile input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"resident_id": 10**20}, {"resident_id": -1}, {"resident_id": 0}, {"resident_id": "１２３"},
    {"resident_id": "12\x003"}, {"resident_id": "x" * 10_000}, {"resident_id": True}, {"resident_id": 1.5},
    {"code": "x" * 10_000}, {"code": "\x00"}, {"code": ["a"]}, {}, [], "text", None,
])
def test_hostile_bodies_for_the_lead_are_4xx_in_the_error_shape(client, w, body):
    answer = client.post(attendance_path(w), json=body, headers=lead_token(w))
    assert 400 <= answer.status_code < 500, (body, answer.status_code, answer.get_data(as_text=True)[:300])
    error_of(answer)
    assert count(Attendance) == 0


@pytest.mark.parametrize("tail, body", [
    ("/approve", {"ids": [10**20]}), ("/approve", {"ids": ["１２３"]}), ("/approve", {"ids": list(range(1, 1002))}),
    ("/approve", {"ids": "1"}), ("/reject", {"ids": [1], "reason": "\x00"}), ("/reject", {"ids": [-1], "reason": "x"}),
    ("/manual", {"resident_id": 10**20, "checked_in_at": "2026-11-25T10:00", "reason": "x"}),
    ("/manual", {"resident_id": 1, "checked_in_at": "x" * 10_000, "reason": "x"}),
    ("/manual", {"resident_id": 1, "checked_in_at": "０００１-01-01T00:00", "reason": "x"}),
    ("/manual", {"resident_id": 1, "checked_in_at": "2026-11-25T10:00+14:00", "checked_out_at": "0001-01-01T00:00Z",
                 "reason": "x"}),
    ("/manual", {"resident_id": 1, "checked_in_at": "2026-11-25T10:00", "reason": "x" * 10_000}),
])
def test_hostile_ids_and_strings_in_the_other_bodies_are_4xx(client, w, tail, body):
    answer = client.post(attendance_path(w, tail=tail), json=body, headers=lead_token(w))
    assert 400 <= answer.status_code < 500, (tail, body, answer.status_code, answer.get_data(as_text=True)[:300])
    error_of(answer)


@pytest.mark.parametrize("query", ["team_id=" + str(10**20), "team_id=-1", "team_id=%00", "week=9", "week=１",
                                   "kind=" + "x" * 10_000, "team_id=１２３"])
def test_hostile_queries_are_4xx_or_an_answer(client, w, query):
    answer = client.get(f"{API}/activities?{query}", headers=resident_token(w))
    assert answer.status_code < 500
    if answer.status_code >= 400:
        error_of(answer)
    found = client.get(f"{API}/lead/activities/{w.fixed.id}/residents?q=" + query, headers=lead_token(w))
    assert found.status_code < 500


@pytest.mark.parametrize("path", [f"{API}/activities/{10**20}", f"{API}/activities/0/signup",
                                  f"{API}/lead/activities/{10**20}/attendance", f"{API}/lead/activities/99999/attendance",
                                  f"{API}/lead/activities/1/attendance/{10**20}/approve"])
def test_hostile_path_ids_are_404(client, w, path):
    answer = client.post(path, headers=lead_token(w)) if path.endswith(("signup", "approve")) else \
        client.get(path, headers=lead_token(w))
    assert answer.status_code == 404
    error_of(answer)


def test_a_leads_own_check_in_waits_even_with_a_resident_only_token(client, w, now):
    """Review: "does she run this activity?" was asked of the token's roles, so her phone's resident-only token
    made her own check-in at an office-made activity of her team approved at once (+10), with nobody else."""
    from pointsapp.core.extensions import db
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.volunteering.models import Attendance
    from pointsapp.volunteering.services import activities

    kind = activities.labels(w.c.id, "activity_kind")[0]
    made = activities.create_activity(w.office, w.team, activities.ActivityFields(
        title="办公室发布的活动", kind=kind, place="3号楼", starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="check_in"), now)
    db.session.commit()
    response = client.post("/api/v1/checkin", json={"code": code_of(made, now)},
                           headers=lead_token(w, roles=["resident"]))
    assert response.status_code == 201
    row = db.session.query(Attendance).filter_by(activity_id=made.id).one()
    assert row.status == "pending" and row.hold == "self"
    assert ledger.balance_of(w.lead.resident.id) == 0
