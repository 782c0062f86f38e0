"""/api/v1/communities/<id>/evaluations: the office's star-household evaluations, and what the evaluation
page does with one (notice, publish, veto, lift), through the same services (recognition.services.stars)."""

import pytest

from pointsapp.accounts.models import Role
from pointsapp.core.extensions import db as _db
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.models import StarVeto
from pointsapp.recognition.services import stars

from .api_helpers import bearer, error_of, token_for
from .test_query_budget import community_of_volunteers


@pytest.fixture
def office(make, now, clock):
    c, admin = community_of_volunteers(make, now, 5)
    rules = stars.create_rule_set(admin, c, "年度星级", [10, 20, 40, 80, 100], 0, now)
    e = stars.create_evaluation(admin, c, rules, "2026年度星级文明户", period_keys(now)[2], 7, now)
    _db.session.commit()
    return c, admin, e, bearer(token_for(admin, c, [Role.COMMUNITY_ADMIN]))


def base(c):
    return f"/api/v1/communities/{c.id}/evaluations"


def test_the_list_is_the_communitys_evaluations(client, office):
    c, _admin, e, headers = office
    body = client.get(base(c), headers=headers).get_json()
    assert body["community_id"] == c.id
    assert [(x["id"], x["status"], x["title"]) for x in body["evaluations"]] == [(e.id, "draft", e.title)]


def test_notice_then_publish_as_the_page_does(client, office, clock):
    c, _admin, e, headers = office
    started = client.post(f"{base(c)}/{e.id}/notice", headers={**headers, "Idempotency-Key": "n1"})
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert body["evaluation"]["status"] == "notice" and body["rated"] == 5
    assert {d["stars"]: d["households"] for d in body["distribution"]} == stars.distribution(e)
    again = client.post(f"{base(c)}/{e.id}/notice", headers={**headers, "Idempotency-Key": "n1"})
    assert again.headers.get("Idempotent-Replayed") == "true"
    early = client.post(f"{base(c)}/{e.id}/publish", headers=headers)
    assert early.status_code == 409 and error_of(early)["code"] == "notice_running"
    clock.advance(days=8)
    done = client.post(f"{base(c)}/{e.id}/publish", headers=headers)
    assert done.status_code == 200 and done.get_json()["evaluation"]["status"] == "published"
    assert done.get_json()["evaluation"]["published_at"]


def test_veto_and_lift(client, office):
    c, _admin, e, headers = office
    household = stars.results(e)[0].household_id
    vetoed = client.post(f"{base(c)}/{e.id}/vetoes", json={"household_id": household, "reason": "高空抛物"},
                         headers=headers)
    assert vetoed.status_code == 200, vetoed.get_json()
    veto = _db.session.query(StarVeto).filter_by(evaluation_id=e.id).one()
    assert veto.household_id == household
    no_reason = client.post(f"{base(c)}/{e.id}/vetoes", json={"household_id": household}, headers=headers)
    assert no_reason.status_code in (409, 422) and error_of(no_reason)
    lifted = client.post(f"{base(c)}/{e.id}/vetoes/lift", json={"veto_id": veto.id}, headers=headers)
    assert lifted.status_code == 200
    bad = client.post(f"{base(c)}/{e.id}/vetoes", json={"household_id": "x"}, headers=headers)
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid_input"


def test_another_communitys_evaluation_and_office_are_refused(client, make, office):
    c, _admin, e, headers = office
    other = make.community()
    other_admin = make.admin(other)
    _db.session.commit()
    theirs = bearer(token_for(other_admin, other, [Role.COMMUNITY_ADMIN]))
    assert client.get(base(c), headers=theirs).status_code == 403
    assert client.post(f"{base(c)}/{e.id}/notice", headers=theirs).status_code == 403
    # her own community's url with another community's evaluation: not found, never run
    wrong = client.post(f"/api/v1/communities/{other.id}/evaluations/{e.id}/notice", headers=theirs)
    assert wrong.status_code == 404 and error_of(wrong)["code"] == "not_found"
    assert e.status == "draft"
    resident = make.resident_user(community=c)
    _db.session.commit()
    mine = bearer(token_for(resident, c, [Role.RESIDENT]))
    assert client.get(base(c), headers=mine).status_code == 403
    assert client.get(base(c)).status_code == 401
