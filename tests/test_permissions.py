"""Every route × every role: who is let in, who is refused. Closed by default.

A route that is not in MATRIX fails test_every_route_is_in_the_matrix, so nobody can add a page
without deciding who may open it; a view without @policy is refused at runtime (see the last test).
"""
from datetime import timedelta

import pytest
from flask import current_app, url_for

from pointsapp.accounts.models import Role
from pointsapp.accounts.services import sessions
from pointsapp.catalogue.services import items as catalogue_items
from pointsapp.deductions import services as deduction_services
from pointsapp.imports.models import ImportJob
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import by_hand
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.queries import services as queries
from pointsapp.recognition.services import honours, stars
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter
from pointsapp.volunteering.services import activities, checkin

from .test_claims_pages import claim_in_world

ANON, RESIDENT, LEAD, CLERK, ADMIN, OTHER_ADMIN, CITY = (
    "anonymous", "resident", "team_lead", "clerk", "community_admin", "other_community_admin", "city_admin")
ROLES = (ANON, RESIDENT, LEAD, CLERK, ADMIN, OTHER_ADMIN, CITY)
EVERYONE = set(ROLES)
LOGGED_IN = EVERYONE - {ANON}
STAFF = {LEAD, CLERK, ADMIN, OTHER_ADMIN, CITY}
COMMUNITY_A_ADMINS = {ADMIN, CITY}
TEAM_RUNNERS = {LEAD, ADMIN, CITY}
STORE_RUNNERS = {CLERK, ADMIN, CITY}  # the clerk of this store, and its community's admins  # the lead of this activity's team, and its community's admins

# endpoint -> (HTTP method, who is allowed)
MATRIX = {
    "static": ("GET", EVERYONE),
    "home.index": ("GET", EVERYONE),
    "home.icon": ("GET", EVERYONE),
    "auth.login": ("GET", EVERYONE),
    "auth.activate": ("GET", EVERYONE),
    "auth.forgot_password": ("GET", EVERYONE),
    "people.reset_account": ("POST", COMMUNITY_A_ADMINS),
    "queries.mine": ("GET", LOGGED_IN),
    "queries.new": ("GET", LOGGED_IN),
    "queries.withdraw": ("POST", LOGGED_IN),  # somebody else's query: "no such query", never withdrawn
    "queries.queue": ("GET", COMMUNITY_A_ADMINS),
    "queries.answer": ("GET", COMMUNITY_A_ADMINS),
    "queries.second": ("POST", COMMUNITY_A_ADMINS),
    "queries.contact": ("GET", COMMUNITY_A_ADMINS),
    "queries.lead_queue": ("GET", STAFF),  # a lead's own teams only; others see an empty queue
    "queries.lead_answer": ("GET", TEAM_RUNNERS),  # the activity's lead and the office
    # ---- issue 14: one block per feature (catalogue, claims, deductions, groups, reports) ----
    # catalogue
    "catalogue.manage": ("GET", COMMUNITY_A_ADMINS),
    "catalogue.adopt": ("POST", COMMUNITY_A_ADMINS),
    "catalogue.edit": ("GET", COMMUNITY_A_ADMINS),
    "catalogue.retire": ("POST", COMMUNITY_A_ADMINS),
    "catalogue.public": ("GET", EVERYONE),
    "catalogue.printable": ("GET", EVERYONE),
    # end catalogue
    # claims
    "claims.new": ("GET", LOGGED_IN),
    "claims.mine": ("GET", LOGGED_IN),
    "claims.witness_list": ("GET", LOGGED_IN),
    "claims.review_list": ("GET", LOGGED_IN),
    "claims.queue": ("GET", COMMUNITY_A_ADMINS),
    # the claim of the world's resident: others who may not see it get 404 (never told it exists), not 403
    "claims.show": ("GET", LOGGED_IN),
    "claims.photo": ("GET", LOGGED_IN),
    "claims.withdraw": ("POST", LOGGED_IN),
    "claims.answer": ("POST", LOGGED_IN),
    "claims.witness": ("POST", LOGGED_IN),
    "claims.decide": ("POST", LOGGED_IN),  # empty form: no decision, back to the queue
    # end claims
    # deductions
    "deductions.index": ("GET", COMMUNITY_A_ADMINS),
    "deductions.withdraw": ("POST", COMMUNITY_A_ADMINS),  # no reason given: refused with a message
    "deductions.photo": ("GET", COMMUNITY_A_ADMINS),
    # end deductions
    # groups
    "groups.index": ("GET", COMMUNITY_A_ADMINS),
    "groups.public": ("GET", EVERYONE),
    "groups.group": ("GET", COMMUNITY_A_ADMINS),
    # end groups
    # reports
    "reports.index": ("GET", COMMUNITY_A_ADMINS),
    "reports.download": ("GET", COMMUNITY_A_ADMINS),
    # end reports
    # ---- issue 15: the API, one block per feature ----
    "api-docs.openapi_json": ("GET", EVERYONE),
    # api_reference
    "api_reference.docs": ("GET", EVERYONE),
    # end api_reference
    # api_me
    "api_me.whoami": ("GET", LOGGED_IN),
    "api_me.balance": ("GET", {RESIDENT}),  # a resident's own things: staff without a resident record get 403
    "api_me.ranks": ("GET", {RESIDENT}),
    "api_me.history": ("GET", {RESIDENT}),
    "api_me.member_code": ("GET", {RESIDENT}),
    "api_me.service_record": ("GET", {RESIDENT}),
    # end api_me
    # api_activities
    # a resident's own things: the staff without a resident record get 403 (the world's lead, clerk and
    # admins are not residents); the activity is the resident's community's, started (sign-up closed: 422)
    "api_activities.list_activities": ("GET", {RESIDENT}),
    "api_activities.get_activity": ("GET", {RESIDENT}),
    "api_activities.sign_up": ("POST", {RESIDENT}),
    "api_activities.cancel_signup": ("DELETE", {RESIDENT}),
    "api_activities.check_in": ("POST", {RESIDENT}),
    "api_activities.check_out": ("POST", {RESIDENT}),
    # end api_activities
    # api_lead
    "api_lead.attendance": ("GET", TEAM_RUNNERS),
    "api_lead.record": ("POST", TEAM_RUNNERS),
    "api_lead.find_residents": ("GET", TEAM_RUNNERS),
    "api_lead.record_by_hand": ("POST", TEAM_RUNNERS),
    "api_lead.approve": ("POST", TEAM_RUNNERS),
    "api_lead.reject": ("POST", TEAM_RUNNERS),
    "api_lead.approve_many": ("POST", TEAM_RUNNERS),
    "api_lead.reject_many": ("POST", TEAM_RUNNERS),
    # end api_lead
    # api_tokens
    "api_tokens.index": ("GET", LOGGED_IN),
    "api_tokens.revoke": ("POST", LOGGED_IN),  # somebody else's token: 404, never revoked
    "tokens.mine": ("GET", LOGGED_IN),
    "tokens.revoke_mine": ("POST", LOGGED_IN),
    "tokens.office": ("GET", COMMUNITY_A_ADMINS),
    "tokens.revoke_office": ("POST", COMMUNITY_A_ADMINS),
    # end api_tokens
    # api_public
    "api_public.board": ("GET", EVERYONE),
    "api_public_recognition.notices": ("GET", EVERYONE),
    "api_public_recognition.public_honours": ("GET", EVERYONE),
    "api_checkpoints.checkpoints": ("GET", EVERYONE),
    # end api_public
    # api_recognition
    "api_recognition.evaluations": ("GET", COMMUNITY_A_ADMINS),
    "api_recognition.start_notice": ("POST", COMMUNITY_A_ADMINS),  # already on notice: 409, not let in
    "api_recognition.publish": ("POST", COMMUNITY_A_ADMINS),  # the notice still runs: 409
    "api_recognition.veto": ("POST", COMMUNITY_A_ADMINS),  # no body: 422
    "api_recognition.lift_veto": ("POST", COMMUNITY_A_ADMINS),
    # end api_recognition
    # api_tree
    "api_tree.show_tree": ("GET", COMMUNITY_A_ADMINS),
    "api_tree.find_residents": ("GET", COMMUNITY_A_ADMINS),
    "api_tree.show_resident": ("GET", COMMUNITY_A_ADMINS),
    # end api_tree
    # api_office_points
    "api_office_points.award": ("POST", COMMUNITY_A_ADMINS),  # no body: refused with a message (422)
    "api_office_points.award_requests": ("GET", COMMUNITY_A_ADMINS),
    "api_office_points.confirm_award": ("POST", COMMUNITY_A_ADMINS),  # asked by another office member (world)
    "api_office_points.refuse_award": ("POST", COMMUNITY_A_ADMINS),
    "api_office_points.export": ("POST", COMMUNITY_A_ADMINS),
    "api_office_points.export_status": ("GET", COMMUNITY_A_ADMINS),
    "api_office_points.export_file": ("GET", COMMUNITY_A_ADMINS),
    # end api_office_points
    # api_deductions
    "api_deductions.list_deductions": ("GET", COMMUNITY_A_ADMINS),
    "api_deductions.record": ("POST", COMMUNITY_A_ADMINS),
    "api_deductions.withdraw": ("POST", COMMUNITY_A_ADMINS),
    "api_deductions.photo": ("GET", COMMUNITY_A_ADMINS),  # the world's deduction has no photo: 404 for the office
    # end api_deductions
    # api_imports
    "api_imports.upload": ("POST", COMMUNITY_A_ADMINS),
    "api_imports.show": ("GET", COMMUNITY_A_ADMINS),
    "api_imports.run": ("POST", COMMUNITY_A_ADMINS),
    # end api_imports
    # webhooks
    "webhooks.index": ("GET", COMMUNITY_A_ADMINS),
    "webhooks.endpoint": ("GET", COMMUNITY_A_ADMINS),
    # end webhooks
    # api_webhooks
    "api_webhooks.list_endpoints": ("GET", COMMUNITY_A_ADMINS),
    "api_webhooks.create_endpoint": ("POST", COMMUNITY_A_ADMINS),  # empty body: refused, 415/422
    "api_webhooks.get_endpoint": ("GET", COMMUNITY_A_ADMINS),
    "api_webhooks.update_endpoint": ("PATCH", COMMUNITY_A_ADMINS),  # empty body: refused, 415/422
    "api_webhooks.renew_secret": ("POST", COMMUNITY_A_ADMINS),
    "api_webhooks.list_deliveries": ("GET", COMMUNITY_A_ADMINS),
    "api_webhooks.redeliver": ("POST", COMMUNITY_A_ADMINS),
    # end api_webhooks
    # api_store
    "api_store.products": ("GET", {RESIDENT, CLERK, ADMIN, CITY}),  # the clerk's view, or a resident's of A
    "api_store.find_residents": ("GET", STORE_RUNNERS),
    "api_store.identify": ("POST", STORE_RUNNERS),
    "api_store.price_cart": ("POST", STORE_RUNNERS),
    "api_store.checkout": ("POST", STORE_RUNNERS),
    "api_store.receipt": ("GET", STORE_RUNNERS),
    "api_store.void": ("POST", STORE_RUNNERS),
    "api_store.close_shift": ("POST", STORE_RUNNERS),
    "api_store.day_report": ("GET", STORE_RUNNERS),
    # end api_store
    "auth.logout": ("POST", EVERYONE),
    "auth.change_password": ("GET", LOGGED_IN),
    "auth.devices": ("GET", LOGGED_IN),
    "auth.end_device": ("POST", LOGGED_IN),  # somebody else's device: "no longer logged in", never ended
    "auth.end_other_devices": ("POST", LOGGED_IN),
    "i18n.set_language": ("POST", EVERYONE),
    "admin.index": ("GET", STAFF),
    "admin.community": ("GET", COMMUNITY_A_ADMINS),
    "admin.grids": ("GET", COMMUNITY_A_ADMINS),
    "admin.buildings": ("GET", COMMUNITY_A_ADMINS),
    "admin.building": ("GET", COMMUNITY_A_ADMINS),
    "admin.building_leader": ("POST", COMMUNITY_A_ADMINS),
    "people.household": ("GET", COMMUNITY_A_ADMINS),
    "people.residents": ("GET", COMMUNITY_A_ADMINS),
    "people.resident": ("GET", COMMUNITY_A_ADMINS),
    "people.move_out": ("POST", COMMUNITY_A_ADMINS),
    "people.set_password": ("POST", COMMUNITY_A_ADMINS),
    "people.activation": ("POST", COMMUNITY_A_ADMINS),
    "people.end_sessions": ("POST", COMMUNITY_A_ADMINS),
    "people.staff": ("GET", COMMUNITY_A_ADMINS),
    "people.revoke": ("POST", COMMUNITY_A_ADMINS),
    "imports.upload": ("GET", COMMUNITY_A_ADMINS),
    "imports.job": ("GET", COMMUNITY_A_ADMINS),
    "imports.progress": ("GET", COMMUNITY_A_ADMINS),
    "imports.run": ("POST", COMMUNITY_A_ADMINS),
    "imports.template": ("GET", COMMUNITY_A_ADMINS),
    "points.my_points": ("GET", LOGGED_IN),
    "points.resident_points": ("GET", COMMUNITY_A_ADMINS),
    "points.reverse_entry": ("POST", COMMUNITY_A_ADMINS),
    "points.community_ledger": ("GET", COMMUNITY_A_ADMINS),
    "points.queue_export": ("POST", COMMUNITY_A_ADMINS),
    "points.export_job": ("GET", COMMUNITY_A_ADMINS),
    "points.export_progress": ("GET", COMMUNITY_A_ADMINS),
    "points.export_download": ("GET", COMMUNITY_A_ADMINS),
    "awards.review": ("GET", COMMUNITY_A_ADMINS),
    "awards.decide": ("POST", COMMUNITY_A_ADMINS),
    "awards.save_rules": ("POST", COMMUNITY_A_ADMINS),
    "awards.decide_by_hand": ("POST", COMMUNITY_A_ADMINS),
    "points.my_code": ("GET", LOGGED_IN),
    "points.my_code_svg": ("GET", LOGGED_IN),
    "points.member_cards": ("GET", COMMUNITY_A_ADMINS),
    "checkin.scan": ("GET", EVERYONE),
    "checkin.confirm": ("GET", LOGGED_IN),
    "checkin.done": ("GET", LOGGED_IN),
    "volunteer.upcoming": ("GET", LOGGED_IN),
    "volunteer.signup": ("POST", LOGGED_IN),
    "volunteer.cancel": ("POST", LOGGED_IN),
    "volunteer.teams": ("GET", COMMUNITY_A_ADMINS),
    "lead.index": ("GET", STAFF),
    "lead.team": ("GET", TEAM_RUNNERS),
    "lead.new_activity": ("GET", TEAM_RUNNERS),
    "lead.edit_activity": ("GET", TEAM_RUNNERS),
    "lead.activity": ("GET", TEAM_RUNNERS),
    "lead.attendances": ("GET", TEAM_RUNNERS),
    "lead.screen": ("GET", TEAM_RUNNERS),
    "lead.qr_svg": ("GET", TEAM_RUNNERS),
    "lead.poster": ("GET", TEAM_RUNNERS),
    "lead.renew_codes": ("POST", TEAM_RUNNERS),
    "lead.lead_checkin": ("POST", TEAM_RUNNERS),
    "lead.manual": ("POST", TEAM_RUNNERS),
    "lead.review": ("POST", TEAM_RUNNERS),
    "people.set_pin": ("POST", COMMUNITY_A_ADMINS),
    "people.reissue_card": ("POST", COMMUNITY_A_ADMINS),
    "store.index": ("GET", STAFF),
    "store.shelf": ("GET", LOGGED_IN),
    "store.counter_page": ("GET", STORE_RUNNERS),
    "store.next_customer": ("POST", STORE_RUNNERS),
    "store.checkout": ("POST", STORE_RUNNERS),
    "store.receipt": ("GET", STORE_RUNNERS),
    "store.void": ("POST", STORE_RUNNERS),
    "store.products": ("GET", STORE_RUNNERS),
    "store.product": ("GET", STORE_RUNNERS),
    "store.photo": ("GET", STORE_RUNNERS),
    "store.shift": ("GET", STORE_RUNNERS),
    "store.report": ("GET", STORE_RUNNERS),
    "rankings.page": ("GET", LOGGED_IN),
    "rankings.toggle_board": ("POST", LOGGED_IN),
    "rankings.board": ("GET", EVERYONE),
    "rankings.settings": ("GET", COMMUNITY_A_ADMINS),
    "stars.index": ("GET", COMMUNITY_A_ADMINS),
    "stars.evaluation": ("GET", COMMUNITY_A_ADMINS),
    "stars.certificates": ("GET", COMMUNITY_A_ADMINS),
    "stars.notice": ("GET", LOGGED_IN),
    "points.my_service_record": ("GET", LOGGED_IN),
    "points.service_record": ("GET", COMMUNITY_A_ADMINS),
    "stars.honours_index": ("GET", COMMUNITY_A_ADMINS),
    "stars.honour": ("GET", COMMUNITY_A_ADMINS),
    "stars.honour_notice": ("GET", LOGGED_IN),
    "stars.honour_certificates": ("GET", COMMUNITY_A_ADMINS),
    "stars.evaluation_public": ("GET", COMMUNITY_A_ADMINS),
    "stars.honour_public": ("GET", COMMUNITY_A_ADMINS),
    "rankings.stats": ("GET", COMMUNITY_A_ADMINS),
    "city.index": ("GET", {CITY}),
    "city.add_subdistrict": ("POST", {CITY}),
    "city.add_community": ("POST", {CITY}),
    "people.reveal": ("POST", COMMUNITY_A_ADMINS),
    "audit.community_log": ("GET", COMMUNITY_A_ADMINS),
    "audit.city_log": ("GET", {CITY}),
    "privacy.notice": ("GET", EVERYONE),
    "privacy.my_data": ("GET", LOGGED_IN),
}


@pytest.fixture
def world(make, db, now):
    """Community A with one of everything, community B with its own admin, and a user per role."""
    a = make.community("梨园社区")
    b = make.community("鹤山社区")
    building = make.building(a, "3号楼")
    household = make.household(building=building, unit="1", room="301")
    resident_user = make.resident_user(household=household)
    other = make.resident(household, name="王秀英", phone="13900001111")
    lead = make.team_lead(a)
    team = lead.grants[0].team
    activity = activities.create_activity(lead, team, activities.ActivityFields(
        title="楼道广告清理", kind="楼道广告清理", place="", starts_at=now, ends_at=now + timedelta(hours=1)), now)
    attendance = checkin.check_in(resident_user, resident_user.resident, activity, now).attendance
    clerk = make.clerk(a)
    admin = make.admin(a)
    other_admin = make.admin(b)
    rules = stars.create_rule_set(admin, a, "标准", [10, 20, 30, 40, 50], 0, now)
    evaluation = stars.create_evaluation(admin, a, rules, "年度评定", "Y2026", 7, now)
    stars.start_notice(admin, evaluation, now)
    honour = honours.create_list(admin, a, "volunteer", "优秀志愿者", "Y2026", "top", 10, 7, now)
    store = clerk.grants[0].store
    product = store_service.create_product(admin, store, store_service.ProductFields(name="挂面", price=5), 10, now)
    sale = counter.redeem(clerk, store, make.identified(clerk, store, resident_user.resident).id,
                          counter.Cart({product.id: 1}), "matrix-sale", now).redemption
    city = make.city_admin()
    revoked_lead = make.user(name="被撤销的队长")
    grant = make.grant(revoked_lead, Role.TEAM_LEAD, a, team=make.team(a))
    sessions.start_session(revoked_lead, now, user_agent="", ip="10.0.0.1",
                           rules=sessions.SessionRules.from_config(current_app.config))
    entry = ledger.post(Posting(other, 5, EntryKind.AWARD, "attendance", "matrix"), None, now)
    query = queries.raise_query(resident_user, "我去了，但没有积分", now, activity_id=activity.id)
    job = ImportJob(community_id=a.id, filename="x.csv", content="楼栋,单元,房号,姓名\n".encode(), status="checked",
                    created_by_id=admin.id, created_at=now)
    db.session.add(job)
    catalogue_item = catalogue_items.create_item(admin, a, catalogue_items.ItemFields(
        kind="earn", category="环境卫生", title="楼道广告清理", points=5), now)
    db.session.commit()
    deduction = deduction_services.record_deduction(  # deductions
        admin, catalogue_items.create_item(admin, a, catalogue_items.ItemFields(
            kind="deduct", category="文明行为", title="高空抛物", points=5, claimable=False), now),
        resident=other, occurred_at=now, reason="扔花盆", evidence=None, request_key="matrix", now=now)
    claim = claim_in_world(resident_user, admin, now)  # claims
    db.session.commit()
    users = {ANON: None, RESIDENT: resident_user, LEAD: lead, CLERK: clerk, ADMIN: admin,
             OTHER_ADMIN: other_admin, CITY: city}
    args = {"community_id": a.id, "building_id": building.id, "household_id": household.id,
            "resident_id": other.id, "grant_id": grant.id, "job_id": job.id, "code": "en", "entry_id": entry.id, "team_id": team.id,
            "activity_id": activity.id, "attendance_id": attendance.id, "store_id": store.id,
            "product_id": product.id, "redemption_id": sale.id, "evaluation_id": evaluation.id, "honour_id": honour.id,
            "filename": "css/app.css",
            "session_id": revoked_lead.login_session.id, "query_id": query.id,
            "item_id": catalogue_item.id, "deduction_id": deduction.id,
            "claim_id": claim.id, "photo_id": claim.photos[0].id,
            "award_request_id": by_hand.award_by_hand(admin, other, 500, "抢险救灾", "matrix-big", now).id}
    # groups
    from pointsapp.groups import services as group_service
    args["group_id"] = group_service.create_group(admin, a, "第一党支部", "party_branch", now).id
    db.session.commit()
    # end groups
    # api_tokens
    from pointsapp.integrations.services import tokens as token_service
    args["token_id"] = token_service.create(admin, user=admin, kind="personal", name="matrix", roles=["community_admin"],
                                            community_id=a.id, store_id=None, days=30, rate_per_minute=100,
                                            now=now)[0].id
    db.session.commit()
    # end api_tokens
    # api_office_points
    # an award above the ceiling asked by another office member: the community's admin may confirm it
    args["award_request_id"] = by_hand.award_by_hand(make.admin(a), other, 500, "抢险救灾", "matrix-api-big", now).id
    db.session.commit()
    # end api_office_points
    # api_webhooks
    from .test_webhooks import webhook_in_world
    endpoint, delivery = webhook_in_world(admin, a, now)
    args["endpoint_id"], args["delivery_id"] = endpoint.id, delivery.id
    db.session.commit()
    # end api_webhooks
    return users, args


def _url(app, endpoint, args):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        return url_for(endpoint, **{k: args[k] for k in rule.arguments})


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - MATRIX.keys() == set(), "add these routes to MATRIX with who may use them"
    assert MATRIX.keys() - endpoints == set(), "MATRIX names routes that no longer exist"


def test_every_view_declares_a_policy(app):
    missing = [e for e, view in app.view_functions.items() if not hasattr(view, "access_policy")]
    assert missing == []


@pytest.mark.parametrize("role", ROLES)
def test_route_matrix(app, client, login, world, role):
    users, args = world
    if users[role] is not None:
        login(client, users[role])
    wrong = []
    for endpoint, (method, allowed) in sorted(MATRIX.items()):
        url = _url(app, endpoint, args)
        response = client.open(url, method=method, data={})
        status = response.status_code
        response.close()
        went_to_login = status == 302 and "/login" in response.headers.get("Location", "") and endpoint != "auth.logout"
        if role in allowed:
            # let in: anything but a refusal, a login redirect or a crash (a 400/404/422 about the
            # request itself is the page answering)
            ok = status not in (401, 403, 500) and not went_to_login
        elif role == ANON:  # a page sends her to log in; the API answers 401
            ok = went_to_login or (status == 401 and url.startswith("/api/"))
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{method} {url} ({endpoint}) -> {status} {response.headers.get('Location', '')}")
        if endpoint == "auth.logout" and users[role] is not None:
            login(client, users[role])  # logging out is allowed for all; log back in for the next routes
    assert wrong == [], f"{role}: " + "; ".join(wrong)


def test_a_view_without_a_policy_is_refused(app, client, make, login, db):
    """Closed by default: a route added without @policy answers 403 even to a city admin."""
    from flask import Flask

    from tests.conftest import make_test_app

    fresh: Flask = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"])
    fresh.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    city = make.city_admin()
    db.session.commit()
    c = fresh.test_client()
    login(c, city)
    try:
        assert c.get("/forgotten").status_code == 403
    finally:
        with fresh.app_context():
            db.engine.dispose()  # this app's own pool: close it now, not at garbage collection


# ---- the API through bearer tokens (issue 15): the same matrix, each role's token narrowed to its roles and
# community; a city admin's token for another community is that community's office only ----

CITY_ELSEWHERE = "city_admin_token_for_community_b"


@pytest.mark.parametrize("role", [RESIDENT, LEAD, CLERK, ADMIN, OTHER_ADMIN, CITY, CITY_ELSEWHERE])
def test_api_route_matrix_with_tokens(app, client, world, role):
    from .api_helpers import bearer, token_for

    users, args = world
    a = args["community_id"]
    b = users[OTHER_ADMIN].grants[0].community_id
    user = users[CITY if role == CITY_ELSEWHERE else role]
    roles, community, store = {
        RESIDENT: (["resident"], a, None), LEAD: (["team_lead"], a, None), CLERK: (["clerk"], a, args["store_id"]),
        ADMIN: (["community_admin"], a, None), OTHER_ADMIN: (["community_admin"], b, None),
        CITY: (["community_admin"], a, None), CITY_ELSEWHERE: (["community_admin"], b, None)}[role]
    headers = bearer(token_for(user, community, roles, store=store))
    expected_as = OTHER_ADMIN if role == CITY_ELSEWHERE else role
    wrong = []
    for endpoint, (method, allowed) in sorted(MATRIX.items()):
        url = _url(app, endpoint, args)
        if not url.startswith("/api/") or endpoint.startswith("api-docs."):
            continue
        status = client.open(url, method=method, json={}, headers=headers).status_code
        ok = status not in (401, 403, 500) if expected_as in allowed else status == 403
        if not ok:
            wrong.append(f"{method} {url} ({endpoint}) -> {status}")
    assert wrong == [], f"{role}'s token: " + "; ".join(wrong)


def test_a_token_narrowed_to_the_resident_role_cannot_use_its_users_office_operations(app, client, world, make, db):
    from .api_helpers import bearer, token_for

    users, args = world
    admin = users[ADMIN]
    from pointsapp.core.permissions import forget_scopes
    from pointsapp.tree.models import Community

    resident = make.resident(community=db.session.get(Community, args["community_id"]))
    admin.resident_id = resident.id
    db.session.commit()
    db.session.expire(admin)
    forget_scopes(admin)
    headers = bearer(token_for(admin, args["community_id"], ["resident"]))
    refused = []
    for endpoint, (method, allowed) in sorted(MATRIX.items()):
        url = _url(app, endpoint, args)
        if url.startswith("/api/") and allowed <= COMMUNITY_A_ADMINS | {OTHER_ADMIN}:
            status = client.open(url, method=method, json={}, headers=headers).status_code
            if status != 403:
                refused.append(f"{method} {url} -> {status}")
    assert refused == []
