"""Hostile ids and parameters never reach the database as a 500.

Every route that takes an id is asked, by every method it accepts, for ids no row has (0, -1, 10^20,
a missing 999999) while its other ids are real, logged in as a city admin and as a resident; a few
pages get hostile query parameters and forms hostile ids. The app runs with TESTING on and
FRIENDLY_500_IN_TESTS off, so an unexpected exception is raised here rather than turned into a page.
"""
import re
from datetime import timedelta

import pytest
from flask import current_app

from pointsapp.accounts.services import sessions
from pointsapp.catalogue.services import items as catalogue_items
from pointsapp.core.extensions import db as _db
from pointsapp.deductions import services as deductions
from pointsapp.groups import services as groups
from pointsapp.imports.models import ImportJob
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import by_hand
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.queries import services as queries
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import honours, stars
from pointsapp.store.services import catalogue, counter
from pointsapp.volunteering.services import activities, checkin

from .test_claims_pages import claim_in_world

HOSTILE_IDS = ("0", "-1", str(10**20), "999999")
HOSTILE_VALUES = ("\x00", "a\x00b", "x" * 10_000, "１２３", "9999-12", "0000-00", "2026-02-30", "9999-12-31",
                  "0001-01-02", "-1", str(10**20), "２０２６－１１")
ARG = re.compile(r"<(?:([a-zA-Z_]+)(?:\([^)]*\))?:)?([a-zA-Z_]+)>")


@pytest.fixture
def world(make, db, now):
    """One of every kind of row a route can name, all in one community."""
    c = make.community()
    city = make.city_admin()
    admin = make.admin(c)
    building = make.building(c)
    household = make.household(building=building)
    resident_user = make.resident_user(household=household)
    resident = resident_user.resident
    lead = make.team_lead(c)
    team = lead.grants[0].team
    clerk = make.clerk(c)
    store = clerk.grants[0].store
    entry = ledger.post(Posting(resident, 100, EntryKind.AWARD, "manual", "seed", "好人好事"), None, now)
    activity = activities.create_activity(admin, team, activities.ActivityFields(
        title="楼道清理", kind=activities.labels(c.id, "activity_kind")[0], place="", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1),
        award_on="approval"), now)
    attendance = checkin.check_in(admin, resident, activity, now, method="lead_scan").attendance
    product = catalogue.create_product(admin, store, catalogue.ProductFields(name="挂面", price=10), 5, now)
    redemption = counter.redeem(clerk, store, make.identified(clerk, store, resident).id,
                                counter.Cart({product.id: 1}), "hostile", now).redemption
    rules = stars.create_rule_set(admin, c, "年度", [10, 20, 40, 80, 100], 0, now)
    evaluation = stars.create_evaluation(admin, c, rules, "星级", period_keys(now)[2], 7, now)
    stars.start_notice(admin, evaluation, now)
    honour = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 3, 7, now)
    honours.start_notice(admin, honour, now)
    job = ImportJob(community_id=c.id, filename="x.csv", content=b"", status="checked", created_by_id=admin.id,
                    created_at=now, summary="{}")
    _db.session.add(job)
    _db.session.flush()
    sessions.start_session(admin, now, user_agent="", ip="10.0.0.1",
                           rules=sessions.SessionRules.from_config(current_app.config))
    device = admin.login_session  # somebody else's logged-in device
    query = queries.raise_query(resident_user, "少了", now, entry_id=entry.id)
    catalogue_item = catalogue_items.create_item(admin, c, catalogue_items.ItemFields(
        kind="earn", category="环境卫生", title="楼道广告清理", points=5), now)
    deduction_item = catalogue_items.create_item(admin, c, catalogue_items.ItemFields(
        kind="deduct", category="文明行为", title="乱堆乱放", points=5, confirmer="office", claimable=False), now)
    deduction = deductions.record_deduction(admin, deduction_item, resident=resident, occurred_at=now,
                                            reason="楼道堆放杂物", evidence=None, request_key="hostile", now=now)
    claim = claim_in_world(resident_user, admin, now)
    group = groups.create_group(admin, c, "第一党支部", "party_branch", now)
    big = by_hand.award_by_hand(admin, resident, 500, "抢险救灾", "hostile-big", now)
    _db.session.commit()
    ids = {"community_id": c.id, "building_id": building.id, "household_id": household.id,
           "resident_id": resident.id, "team_id": team.id, "activity_id": activity.id,
           "attendance_id": attendance.id, "store_id": store.id, "product_id": product.id,
           "redemption_id": redemption.id, "entry_id": entry.id, "evaluation_id": evaluation.id,
           "honour_id": honour.id, "job_id": job.id, "grant_id": admin.grants[0].id,
           "session_id": device.id, "query_id": query.id,
           "item_id": catalogue_item.id, "deduction_id": deduction.id,
           "claim_id": claim.id, "photo_id": claim.photos[0].id, "group_id": group.id,
           "award_request_id": big.id}
    # api_tokens
    from pointsapp.integrations.services import tokens as token_service
    ids["token_id"] = token_service.create(admin, user=admin, kind="personal", name="hostile", roles=["community_admin"],
                                           community_id=c.id, store_id=None, days=30, rate_per_minute=100,
                                           now=now)[0].id
    db.session.commit()
    # end api_tokens
    return {"ids": ids, "users": {"city_admin": city, "resident": resident_user}}


def _path(rule, values: dict) -> str:
    return ARG.sub(lambda m: str(values[m.group(2)]), rule.rule)


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        names = [name for converter, name in ARG.findall(rule.rule) if converter == "int"]
        if names:
            yield rule, names, sorted(rule.methods - {"HEAD", "OPTIONS"})


def _ask(client, method: str, path: str, failures: list, **kwargs) -> int | None:
    try:
        status = client.open(path, method=method, **kwargs).status_code
    except Exception as exc:  # noqa: BLE001 - every unexpected error is a finding
        failures.append(f"{method} {path[:120]}: {exc.__class__.__name__}: {str(exc)[:200]}")
        return None
    if status >= 500:
        failures.append(f"{method} {path[:120]}: {status}")
    return status


@pytest.fixture(params=["city_admin", "resident"])
def visitor(request, app, client, login, world):
    assert not app.config.get("FRIENDLY_500_IN_TESTS"), "real exceptions must surface in this test"
    login(client, world["users"][request.param])
    return client


def test_every_route_that_takes_an_id_answers_hostile_ids_without_a_500(app, visitor, world):
    failures, asked, not_found = [], 0, 0
    routes = list(_id_routes(app))
    assert len(routes) >= 40  # the walk really covers the app
    for rule, names, methods in routes:
        assert set(names) <= set(world["ids"]), f"{rule.rule}: add a row for {set(names) - set(world['ids'])}"
        for name in names:
            for hostile in HOSTILE_IDS:
                path = _path(rule, {**world["ids"], name: hostile})
                for method in methods:
                    status = _ask(visitor, method, path, failures)
                    asked += 1
                    not_found += status in (404, 403)
    assert failures == [], "\n".join(failures)
    assert not_found >= asked * 0.9  # nearly all are "no such page" (or not yours); the rest redirect


def test_ids_the_converter_refuses_are_404_before_any_view_runs(app, client, world):
    c = world["ids"]["community_id"]
    for hostile in ("0", str(2**31), str(10**20), "9" * 5000):
        assert client.get(f"/board/{hostile}").status_code == 404
        assert client.get(f"/admin/c/{hostile}/").status_code == 404
    assert client.get(f"/board/{2**31 - 1}").status_code == 404  # the largest id: looked up, not there
    assert client.get(f"/board/{c}").status_code == 200


QUERY_PAGES = [
    ("/me/points", ("month",)),
    ("/me/service-record", ("from", "to")),
    ("/rankings", ("period", "by", "metric", "community")),
    ("/rankings?period=custom&to=2026-11", ("from",)),
    ("/rankings?period=custom&from=2026-01", ("to",)),
    ("/admin/c/{community_id}/residents", ("q", "moved")),
    ("/admin/c/{community_id}/residents/{resident_id}/points", ("month",)),
    ("/admin/c/{community_id}/residents/{resident_id}/service-record", ("from", "to")),
    ("/admin/c/{community_id}/ledger?format=csv&end=2026-11-25", ("start",)),
    ("/admin/c/{community_id}/ledger?format=xlsx&start=2026-11-01", ("end",)),
    ("/admin/c/{community_id}/ledger?format=csv&start=9999-12-30", ("end",)),
    ("/admin/c/{community_id}/ledger?format=csv&start=0001-01-01", ("end",)),
    ("/admin/c/{community_id}/stars/{evaluation_id}", ("format",)),
    ("/lead/teams/{team_id}", ("q",)),
    ("/lead/activities/{activity_id}", ("q",)),
    ("/store/{store_id}/counter", ("q",)),
    ("/store/{store_id}/report", ("day", "format")),
    ("/store/{store_id}/report?format=csv", ("day",)),
    ("/store/{store_id}/receipts/{redemption_id}", ("w",)),
    ("/login", ("next",)),
]


def test_hostile_query_parameters_get_a_page_or_a_message_never_a_500(visitor, world):
    failures = []
    for template, params in QUERY_PAGES:
        path = template.format(**world["ids"])
        for param in params:
            for hostile in HOSTILE_VALUES:
                glue = "&" if "?" in path else "?"
                _ask(visitor, "GET", f"{path}{glue}{param}={_quoted(hostile)}", failures)
    for code in ("a" + str(10**20) + ".1.x", "a-1.p.x", "m" + str(10**20) + ".c1.x", "a１２３.1.x", "\x00", "a0.p.x"):
        _ask(visitor, "GET", f"/c/{_quoted(code)}", failures)
    assert failures == [], "\n".join(failures)


def _quoted(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


FORM_POSTS = [
    ("/lead/teams/{team_id}", ("remove", "resident_id")),
    ("/lead/activities/{activity_id}/checkin", ("resident_id", "code")),
    ("/lead/activities/{activity_id}/manual", ("resident_id",)),
    ("/lead/activities/{activity_id}/review", ("ids",)),
    ("/store/{store_id}/counter", ("resident_id", "id_tail", "q", "code", "pin")),
    ("/store/{store_id}/checkout", ("request_id", "qty_{product_id}", "qty_99999999999999999999")),
    ("/store/{store_id}/shift", ("count_{product_id}", "reason_{product_id}", "note")),
    ("/store/{store_id}/receipts/{redemption_id}/void", ("reason",)),
    ("/admin/c/{community_id}/buildings/{building_id}/leader", ("leader_id",)),
    ("/admin/c/{community_id}/board", ("mask", "frozen")),
    ("/me/board", ("hide",)),
    ("/admin/c/{community_id}/stars?what=rules", ("star1", "min_attendances", "name")),
    ("/admin/c/{community_id}/stars", ("rule_set_id", "notice_days", "title", "period")),
    ("/admin/c/{community_id}/stars/{evaluation_id}?what=veto", ("household_id", "reason")),
    ("/admin/c/{community_id}/stars/{evaluation_id}?what=lift", ("veto_id",)),
    ("/admin/c/{community_id}/stars/{evaluation_id}?what=answer", ("objection_id", "answer")),
    ("/stars/{evaluation_id}", ("household_id", "text")),
    ("/honours/{honour_id}", ("text",)),
    ("/admin/c/{community_id}/honours", ("value", "notice_days", "kind", "rule", "title", "period")),
    ("/admin/c/{community_id}/honours/{honour_id}?what=remove", ("resident_id", "reason")),
    ("/admin/c/{community_id}/honours/{honour_id}?what=answer", ("objection_id", "answer")),
    ("/admin/c/{community_id}/teams", ("labels_group", "labels")),
]


def test_hostile_ids_and_text_in_forms_get_a_message_never_a_500(visitor, world):
    failures = []
    for template, names in FORM_POSTS:
        path, _sep, query = template.format(**world["ids"]).partition("?")
        base = dict(part.split("=") for part in query.split("&")) if query else {}
        for name in names:
            field = name.format(**world["ids"])
            for hostile in HOSTILE_IDS + HOSTILE_VALUES:
                _ask(visitor, "POST", path, failures, data={**base, field: hostile})
    assert failures == [], "\n".join(failures)
