"""/api/v1/public: what the public board, the star notice and the honour lists show, as JSON, with no login.

The same services and the same public-name rule as the pages (tests/test_public_names.py's scene): masked
names, opted-out residents left out, households by building, never a room, a phone or a full name; a
community that does not exist is a 404 in the one error shape; the board, which the hall's screen polls,
costs the same statements for 5 and 50 residents and no more than the board page."""
import json
from datetime import timedelta

import pytest

from pointsapp.core.extensions import db as _db
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.rankings import services as rankings
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import honours, stars

from .api_helpers import error_of
from .querycount import count_queries
from .test_public_names import SHY, SHY_MASKED, STAR, STAR_MASKED, scene  # noqa: F401 (fixture)
from .test_query_budget import assert_flat, community_of_volunteers, earn

PHONE = "13912345678"
KINDS = ("board", "notices", "honours", "checkpoints")


def url(community_id, kind):
    return f"/api/v1/public/communities/{community_id}/{kind}"


@pytest.fixture
def public(scene, make, now, clock):  # noqa: F811
    """test_public_names' scene, with phones on everyone, a published honour list and a ledger checkpoint."""
    for person in (scene["shy"], scene["star"], scene["viewer"].resident):
        person.phone = PHONE
    admin, c = scene["admin"], scene["c"]
    published = honours.create_list(admin, c, "volunteer", "年度优秀志愿者", period_keys(now)[2], "top", 5, 7,
                                    now - timedelta(days=10))
    honours.start_notice(admin, published, now - timedelta(days=10))
    honours.publish(admin, published, now)
    ledger_audit.checkpoint(c.id, now)
    _db.session.commit()
    scene["published"] = published
    return scene


def test_no_login_is_needed_and_nothing_personal_is_in_any_answer(client, public):
    c = public["c"]
    for kind in KINDS:
        got = client.get(url(c.id, kind))
        assert got.status_code == 200, (kind, got.get_data(as_text=True))
        text = json.dumps(got.get_json(), ensure_ascii=False)
        assert PHONE not in text, kind
        for full in (SHY, STAR, public["viewer"].name):
            assert full not in text, (kind, full)
        assert SHY_MASKED not in text, kind  # she keeps her name off public boards
        assert "301" not in text and "502" not in text, kind  # rooms
        assert "resident_id" not in text and "subject_id" not in text and "household_id" not in text


def test_the_board_is_the_board_pages_data(client, public, now):
    c = public["c"]
    body = client.get(url(c.id, "board")).get_json()
    assert body["community_id"] == c.id and body["frozen"] is False and body["month"] == period_keys(now)[0]
    assert [p["subject"] for p in body["panels"]] == ["resident", "household", "building"]
    page = client.get(f"/board/{c.id}").get_data(as_text=True)
    volunteers = body["panels"][0]["columns"][0]
    assert volunteers["span"] == "month"
    expected = rankings.public_board(c, period_keys(now)[0], "resident", limit=10)
    assert [(p["rank"], p["label"], p["value"]) for p in volunteers["places"]] == [
        (p.rank, p.label, p.value) for p in expected]
    assert [p["rank"] for p in volunteers["places"]][:1] == [2]  # number 1 kept off, not renumbered
    assert STAR_MASKED in [p["label"] for p in volunteers["places"]]
    for panel in body["panels"]:
        for column in panel["columns"]:
            for place in column["places"]:
                assert place["label"] in page
    assert body["notice"]["id"] == public["evaluation"].id
    assert f"3号楼 {STAR_MASKED}家" in [h["label"] for h in body["notice"]["households"]]
    assert [h["id"] for h in body["honours"]] == [x.id for x in honours.on_notice_or_published(c.id, limit=2)]
    shown = {h["id"]: h for h in body["honours"]}
    assert shown[public["honour"].id]["unnamed"] == 1 and shown[public["honour"].id]["status"] == "notice"
    assert body["checkpoint"]["root"] == ledger_audit.latest_checkpoint(c.id).root
    assert body["checkpoint"]["root"] in page


def test_a_frozen_board_shows_nothing(client, public):
    c = public["c"]
    c.board_frozen = True
    _db.session.commit()
    body = client.get(url(c.id, "board")).get_json()
    assert body["frozen"] is True and body["panels"] == [] and body["notice"] is None and body["honours"] == []
    assert client.get(url(c.id, "notices")).get_json()["notices"] == []
    assert client.get(url(c.id, "honours")).get_json()["honours"] == []


def test_notices_are_the_evaluations_on_notice_masked(client, public, now):
    c, admin = public["c"], public["admin"]
    draft = stars.create_evaluation(admin, c, public["evaluation"].rule_set, "草稿", period_keys(now)[2], 7, now)
    _db.session.commit()
    body = client.get(url(c.id, "notices")).get_json()
    assert [n["id"] for n in body["notices"]] == [public["evaluation"].id]  # not the draft
    assert draft.id not in [n["id"] for n in body["notices"]]
    notice = body["notices"][0]
    assert [(h["label"], h["stars"]) for h in notice["households"]] == rankings.starred_households(
        c, stars.results(public["evaluation"], min_stars=1))
    assert "5号楼 住户" in [h["label"] for h in notice["households"]]  # her household: by building only
    assert notice["more"] is False


def test_honours_are_the_published_lists_only(client, public):
    c = public["c"]
    body = client.get(url(c.id, "honours")).get_json()
    assert [h["id"] for h in body["honours"]] == [public["published"].id]  # not the list on notice
    rows = body["honours"][0]["rows"]
    assert STAR_MASKED in [r["name"] for r in rows] and body["honours"][0]["unnamed"] == 1
    expected, _unnamed = rankings.public_rows(c, honours.entries(public["published"]))
    assert [(r["rank"], r["name"], r["detail"]) for r in rows] == [(a, b, d) for a, b, _v, d in expected]


def test_checkpoints_are_the_roots(client, public, now):
    c = public["c"]
    later = ledger_audit.checkpoint(c.id, now + timedelta(days=1))
    _db.session.commit()
    body = client.get(url(c.id, "checkpoints")).get_json()
    assert [cp["root"] for cp in body["checkpoints"]][0] == later.root
    first = body["checkpoints"][0]
    assert first["day"] == "2026-11-26" and first["entry_count"] == later.entry_count
    assert first["resident_count"] == later.resident_count == 3


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("community_id", [999999, 2**31 - 1])
def test_a_community_that_does_not_exist_is_404(client, db, kind, community_id):
    got = client.get(url(community_id, kind))
    assert got.status_code == 404
    assert error_of(got)["code"] == "not_found"


@pytest.mark.parametrize("kind", KINDS)
def test_ids_no_row_can_have_are_404_too(client, db, kind):
    for bad in ("0", "-1", str(10**20), "abc"):
        got = client.get(f"/api/v1/public/communities/{bad}/{kind}")
        assert got.status_code == 404 and error_of(got)


def test_the_board_json_costs_the_same_for_5_and_50_residents(client, make, now, clock):
    def build(n):
        c, admin = community_of_volunteers(make, now, n)
        c.board_min_ranked = 1
        rules = stars.create_rule_set(admin, c, "年度星级", [10, 20, 40, 80, 100], 0, now)
        stars.start_notice(admin, stars.create_evaluation(admin, c, rules, "星级", period_keys(now)[2], 7, now), now)
        honours.start_notice(admin, honours.create_list(admin, c, "volunteer", "优秀", period_keys(now)[2],
                                                        "threshold", 1, 7, now), now)
        ledger_audit.checkpoint(c.id, now)
        return url(c.id, "board")
    body = assert_flat(client, build, budget=20).get_json()
    assert len(body["panels"]) == 3 and body["notice"] and body["honours"] and body["checkpoint"]


def test_the_board_json_early_in_the_month_stays_in_budget(client, make, now, clock):
    def build(n):
        c, _admin = community_of_volunteers(make, now - timedelta(days=30), n)
        for _ in range(2):
            from .test_query_budget import new_resident
            earn(new_resident(make, c), 5, now)
        return url(c.id, "board")
    body = assert_flat(client, build, budget=22).get_json()
    assert all(len(p["columns"]) == 2 for p in body["panels"])


def test_the_board_json_costs_no_more_than_the_board_page(client, public):
    c = public["c"]
    counts = []
    for path in (f"/board/{c.id}", url(c.id, "board")):
        _db.session.expire_all()
        with count_queries() as log:
            assert client.get(path).status_code == 200
        counts.append(log.count)
    assert counts[1] <= counts[0], counts
