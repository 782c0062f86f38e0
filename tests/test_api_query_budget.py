"""No N+1 in the API's lists either: an operation's statement count must not grow with its rows.

As tests/test_query_budget.py does for pages: each list operation is called twice, over a few rows and over
many (each time in a community of its own), with a bearer token; the counts must be equal and within the
budget (what it costs today plus two). The polled ones matter most: the lead's live attendance list, the big
screen's board, the counter's products and search. The figures are in docs/performance.md."""
from datetime import timedelta

import pytest

from pointsapp.accounts.models import Role
from pointsapp.core.extensions import db as _db
from pointsapp.deductions import services as deductions
from pointsapp.ledger.services import by_hand
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import stars
from pointsapp.store.services import catalogue as store_service
from pointsapp.volunteering.services import activities, signups

from .api_helpers import bearer, token_for
from .querycount import count_queries
from .test_deductions import item as deduction_item
from .test_query_budget import (
    MANY,
    activity_with_attendances,
    community_of_volunteers,
    earn,
    lead_with_activity,
    new_resident,
    store_with_receipts,
)

FEW = 5


def api_flat(client, build, budget: int, few: int = FEW, many: int = MANY):
    """`build(n)` makes n rows and returns (url, token secret): the operation must cost the same with `few` and
    `many` rows, and no more than `budget` statements. Returns the JSON answered with `many` rows."""
    counts = []
    for n in (few, many):
        url, secret = build(n)
        _db.session.commit()
        _db.session.expire_all()
        with count_queries() as log:
            response = client.get(url, headers=bearer(secret))
        assert response.status_code == 200, (url, response.status_code, response.get_json())
        counts.append(log)
    small, large = counts
    print(f"\nQUERYCOUNT {url.split('?')[0]}: {few} rows {small.count}, {many} rows {large.count}")
    assert large.count == small.count, (f"{small.count} statements with {few} rows, {large.count} with {many}:\n"
                                        f"{large.report()}")
    assert large.count <= budget, f"{large.count} statements, over the budget of {budget}:\n{large.report()}"
    return response.get_json()


# ---- polled: the lead's live list, the big screen, the counter ----------------------------------------

def test_the_leads_live_attendance_list(client, make, now):
    def build(n):
        c, _team, lead, a = activity_with_attendances(make, now, n)
        return f"/api/v1/lead/activities/{a.id}/attendance", token_for(lead, c, [Role.TEAM_LEAD])
    shown = api_flat(client, build, budget=6)
    assert len(shown["attendances"]) == MANY


def store_of(make, now, n):
    c = make.community()
    admin = make.admin(c)
    clerk = make.clerk(c)
    store = clerk.grants[0].store
    for i in range(n):
        store_service.create_product(admin, store, store_service.ProductFields(
            name=f"商品{i}", price=5 + i, limit_per_week=2 if i % 2 else None,
            household_limit_per_month=4 if i % 3 == 0 else None), 100, now)
    return c, admin, clerk, store


@pytest.mark.parametrize("view", ["clerk", "resident"])
def test_the_stores_products(client, make, now, view):
    def build(n):
        c, _admin, clerk, store = store_of(make, now, n)
        if view == "clerk":
            return f"/api/v1/stores/{store.id}/products?view=clerk", token_for(clerk, c, [Role.CLERK], store=store)
        user = make.resident_user(community=c)
        earn(user.resident, 100, now)
        return f"/api/v1/stores/{store.id}/products", token_for(user, c, [Role.RESIDENT])
    shown = api_flat(client, build, budget={"clerk": 6, "resident": 9}[view])
    assert len(shown["items"]) == MANY
    if view == "resident":  # her allowance left, per product, from the same few statements
        assert {p["left"] for p in shown["items"]} == {None, 2, 4}


@pytest.mark.parametrize("where", ["store", "lead", "office"])
def test_resident_searches(client, make, now, where):
    def build(n):
        c, _team, lead, a = lead_with_activity(make, now)
        admin = make.admin(c)
        clerk = make.clerk(c)
        for i in range(n):
            make.resident(make.household(building=make.building(c)), name=f"王{i}")
        if where == "store":
            store = clerk.grants[0].store
            return f"/api/v1/stores/{store.id}/residents?q=王", token_for(clerk, c, [Role.CLERK], store=store)
        if where == "lead":
            return f"/api/v1/lead/activities/{a.id}/residents?q=王", token_for(lead, c, [Role.TEAM_LEAD])
        return f"/api/v1/communities/{c.id}/residents?q=王", token_for(admin, c, [Role.COMMUNITY_ADMIN])
    api_flat(client, build, budget=6, many=20)


def test_the_stores_day_report(client, make, now):
    def build(n):
        c, admin, store = store_with_receipts(make, now, n)
        return f"/api/v1/stores/{store.id}/day-report", token_for(admin, c, [Role.COMMUNITY_ADMIN])
    api_flat(client, build, budget=11)


# ---- the resident's own ----------------------------------------------------------------------------

def test_her_points_history(client, make, now):
    def build(n):
        c = make.community()
        user = make.resident_user(community=c)
        for _ in range(n):
            earn(user.resident, 1, now)
        return "/api/v1/me/history", token_for(user, c, [Role.RESIDENT])
    api_flat(client, build, budget=7)


def test_upcoming_activities(client, make, now):
    def build(n):
        c, team, lead, _a = lead_with_activity(make, now)
        user = make.resident_user(community=c)
        for i in range(n - 1):
            a = activities.create_activity(lead, team, activities.ActivityFields(
                title=f"活动{i}", kind="环境整治", place="", starts_at=now + timedelta(hours=1 + i),
                ends_at=now + timedelta(hours=2 + i), rule="fixed", points=5, award_on="check_in"), now)
            if i % 2:
                signups.sign_up(user, a, now)
        return "/api/v1/activities", token_for(user, c, [Role.RESIDENT])
    api_flat(client, build, budget=9)


# ---- the office's lists ----------------------------------------------------------------------------

def test_the_tree(client, make, now):
    def build(n):
        c = make.community()
        admin = make.admin(c)
        b = make.building(c, "3号楼")
        for _ in range(n):
            new_resident(make, c, b)
        return f"/api/v1/communities/{c.id}/tree?per_page=100", token_for(admin, c, [Role.COMMUNITY_ADMIN])
    api_flat(client, build, budget=8)


def test_deductions(client, make, now):
    def build(n):
        c = make.community()
        admin = make.admin(c)
        it = deduction_item(make, c, admin, now, title="乱堆乱放", points=5)
        for i in range(n):
            r = new_resident(make, c)
            earn(r, 20, now)
            deductions.record_deduction(admin, it, resident=r, occurred_at=now - timedelta(hours=1),
                                        reason=f"楼道乱堆杂物{i}", evidence=None, request_key=f"d-{c.id}-{i}", now=now)
        return f"/api/v1/communities/{c.id}/deductions", token_for(admin, c, [Role.COMMUNITY_ADMIN])
    api_flat(client, build, budget=6)


def test_award_requests(client, make, now):
    def build(n):
        c = make.community()
        c.award_ceiling = 10
        admin = make.admin(c)
        for i in range(n):
            by_hand.award_by_hand(admin, new_resident(make, c), 50, f"抢险{i}", f"ar-{c.id}-{i}", now)
        return f"/api/v1/communities/{c.id}/award-requests", token_for(admin, c, [Role.COMMUNITY_ADMIN])
    api_flat(client, build, budget=6)


def test_evaluations_and_honours(client, make, now):
    def build(n):
        c, admin = community_of_volunteers(make, now, n)
        rules = stars.create_rule_set(admin, c, "年度星级", [10, 20, 40, 80, 100], 0, now)
        stars.start_notice(admin, stars.create_evaluation(admin, c, rules, "星级", period_keys(now)[2], 7, now), now)
        return f"/api/v1/communities/{c.id}/evaluations", token_for(admin, c, [Role.COMMUNITY_ADMIN])
    api_flat(client, build, budget=6)


# ---- the counter's two requests ----------------------------------------------------------------------

def test_an_api_checkout_reads_what_it_shows_in_few_statements(client, make, now):
    """identify, then checkout: the answers show her address and the receipt's lines. Each once loaded lazily
    (resident, household, building: three statements each time, as the objects were already in the session)."""
    from pointsapp.core.clock import utcnow
    from pointsapp.volunteering.services import codes

    c, admin, clerk, store = store_of(make, now, 3)
    household = make.household(building=make.building(c, "3号楼"), unit="1", room="301")
    resident = make.resident(household)
    earn(resident, 100, now)
    secret = token_for(clerk, c, [Role.CLERK], store=store)
    _db.session.commit()
    product = store_service.products(store.id, active_only=True)[0]
    counts = {}
    with count_queries() as log:
        who = client.post(f"/api/v1/stores/{store.id}/identify", headers=bearer(secret),
                          json={"code": codes.member_phone_code("test-secret", resident, utcnow())})
    assert who.status_code == 201, who.get_json()
    assert who.get_json()["resident"]["address"].endswith("1单元301")
    counts["identify"] = log.count
    with count_queries() as log:
        done = client.post(f"/api/v1/stores/{store.id}/checkout", headers=bearer(secret), json={
            "identification_id": who.get_json()["identification_id"],
            "lines": [{"product_id": product.id, "quantity": 1}]})
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["resident"]["address"].endswith("1单元301") and len(done.get_json()["lines"]) == 1
    counts["checkout"] = log.count
    print(f"\nQUERYCOUNT api checkout: {counts}")
    assert counts["identify"] <= 10 and counts["checkout"] <= 23, counts  # today 9 and 22 (were 11 and 24)
