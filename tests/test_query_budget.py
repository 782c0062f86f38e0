"""No N+1 on the pages people poll or print: a page's statement count must not grow with its rows.

Each test builds the page twice, once with a few rows and once with many (each time in a community of
its own), counts the statements of one request to each (tests/querycount.py), and asserts the counts
are equal and within the page's budget: what the page costs today plus two, so a new statement per
page is allowed but a statement per row never is. The figures are in docs/performance.md
("Statements per request").
"""
import re
from datetime import timedelta
from itertools import count

import pytest

from pointsapp.accounts.models import Role
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import honours, stars
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter
from pointsapp.volunteering.services import activities, checkin

from .querycount import count_queries, query_budget

FEW, MANY = 5, 50
_keys = count(1)


def assert_flat(client, build, budget: int, few: int = FEW, many: int = MANY):
    """`build(n)` makes a page with n rows, logs the client in and returns the page's url: the page must
    cost the same with `few` and `many` rows, and no more than `budget` statements. Returns the response
    with `many` rows, for a look at what it shows."""
    counts = []
    for n in (few, many):
        url = build(n)
        _db.session.commit()
        _db.session.expire_all()
        with count_queries() as log:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        counts.append(log)
    small, large = counts
    print(f"\nQUERYCOUNT {url}: {few} rows {small.count}, {many} rows {large.count}")
    assert large.count == small.count, (f"{small.count} statements with {few} rows, {large.count} with {many}:\n"
                                        f"{large.report()}")
    assert large.count <= budget, f"{large.count} statements, over the budget of {budget}:\n{large.report()}"
    return response


def earn(resident, points, when):
    ledger.post(Posting(resident, points, EntryKind.AWARD, "manual", f"qb{next(_keys)}", "好人好事"), None, when)


def new_resident(make, community, building=None):
    """A resident in a household of her own, in a building of her own unless one is given."""
    return make.resident(make.household(building=building or make.building(community)))


# ---- the helper itself -------------------------------------------------------------------------------

def test_query_budget_counts_only_statements_inside_requests_and_lists_them(client, login, make):
    c = make.community()
    admin = make.admin(c)
    with count_queries() as log:
        make.building(c)  # the test's own work is not counted
        _db.session.commit()
    assert log.count == 0
    login(client, admin)
    with count_queries() as log:
        assert client.get(f"/admin/c/{c.id}/buildings").status_code == 200
    assert log.count > 1
    assert not any(s.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT")) for s in log.statements)
    with pytest.raises(AssertionError) as err, query_budget(1):
        client.get(f"/admin/c/{c.id}/buildings")
    assert f"{log.count} SQL statements, over the budget of 1" in str(err.value)
    assert "  1. SELECT" in str(err.value)


# ---- the lead's live attendance list, index and team page --------------------------------------------

def lead_with_activity(make, now, award_on="approval"):
    c = make.community()
    team = make.team(c)
    lead = make.user(name="队长")
    make.grant(lead, Role.TEAM_LEAD, c, team=team)
    a = activities.create_activity(lead, team, activities.ActivityFields(
        title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on=award_on), now)
    return c, team, lead, a


def activity_with_attendances(make, now, n):
    """A lead's activity with n people: every fourth recorded by hand (忘带手机), the others scanned."""
    c, team, lead, a = lead_with_activity(make, now)
    for i in range(n):
        resident = new_resident(make, c)
        if i % 4 == 3:
            checkin.record_manual(lead, resident, a, a.starts_at, a.ends_at, "忘带手机", now)
        else:
            checkin.check_in(lead, resident, a, now, method="lead_scan")
    return c, team, lead, a


@pytest.mark.parametrize("page, budget", [("", 7), ("/attendances", 6)])
def test_the_leads_attendance_list_costs_the_same_for_5_and_50_people(client, login, make, now, page, budget):
    def build(n):
        _c, _team, lead, a = activity_with_attendances(make, now, n)
        login(client, lead)
        return f"/lead/activities/{a.id}{page}"
    shown = assert_flat(client, build, budget).get_data(as_text=True)
    assert shown.count("单元") == MANY and shown.count("忘带手机") == MANY // 4  # every name's address, every reason


def test_the_leads_index_costs_the_same_for_5_and_50_activities(client, login, make, now):
    def build(n):
        c, team, lead, _a = lead_with_activity(make, now)
        for i in range(n - 1):
            activities.create_activity(lead, team, activities.ActivityFields(
                title=f"活动{i}", kind="环境整治", place="", starts_at=now + timedelta(hours=1),
                ends_at=now + timedelta(hours=2), rule="fixed", points=5, award_on="check_in"), now)
        login(client, lead)
        return "/lead/"
    assert_flat(client, build, budget=6)


def test_the_leads_team_page_costs_the_same_for_5_and_50_members(client, login, make, now):
    def build(n):
        c, team, lead, _a = lead_with_activity(make, now)
        for _ in range(n):
            activities.add_member(lead, team, new_resident(make, c), now)
        login(client, lead)
        return f"/lead/teams/{team.id}"
    assert assert_flat(client, build, budget=7).get_data(as_text=True).count("单元") == MANY


# ---- the store's day report and its export ---------------------------------------------------------

def store_with_receipts(make, now, n):
    """n checkouts by n residents, a new clerk every five, every third one voided."""
    c = make.community()
    admin = make.admin(c)
    store = make.store(c)
    noodles = store_service.create_product(admin, store, store_service.ProductFields(name="挂面", price=10), 10_000, now)
    soap = store_service.create_product(admin, store, store_service.ProductFields(name="香皂", price=8), 10_000, now)
    clerk = None
    for i in range(n):
        if i % 5 == 0:
            clerk = make.user(name=f"店员{next(_keys)}")
            make.grant(clerk, Role.CLERK, c, store=store)
        resident = new_resident(make, c)
        earn(resident, 100, now)
        done = counter.redeem(clerk, store, make.identified(clerk, store, resident).id,
                              counter.Cart({noodles.id: 1, soap.id: 2}), f"qb-{next(_keys)}", now).redemption
        if i % 3 == 2:
            counter.void(clerk, done, "拿错了", now)
    return c, admin, store


@pytest.mark.parametrize("fmt, budget", [("", 13), ("?format=csv", 11), ("?format=xlsx", 12)])
def test_the_stores_day_report_and_export_cost_the_same_for_5_and_50_receipts(client, login, make, now, fmt, budget):
    def build(n):
        _c, admin, store = store_with_receipts(make, now, n)
        login(client, admin)
        return f"/store/{store.id}/report{fmt}"
    shown = assert_flat(client, build, budget)
    if fmt == "?format=csv":
        rows = shown.get_data().decode("utf-8-sig").splitlines()
        assert len(rows) == MANY + 1 and all("挂面×1、香皂×2" in r and ",店员" in r for r in rows[1:])
    elif not fmt:
        assert len(re.findall(r"<td>居民\d+</td>", shown.get_data(as_text=True))) == MANY  # each receipt's resident


def test_the_stores_day_report_costs_the_same_for_5_and_50_stocktake_differences(client, login, make, now):
    def build(n):
        c, admin, store = store_with_receipts(make, now, 1)
        goods = [store_service.create_product(admin, store, store_service.ProductFields(name=f"商品{i}", price=3),
                                              10, now) for i in range(n)]
        shelf = store_service.products(store.id)
        for i in range(0, n, 5):  # a new clerk closes a shift for every five products, one short of each
            clerk = make.user(name=f"店员{next(_keys)}")
            make.grant(clerk, Role.CLERK, c, store=store)
            short = {p.id for p in goods[i:i + 5]}
            counted = {p.id: p.stock - (p.id in short) for p in shelf}
            counter.close_shift(clerk, store, counted, dict.fromkeys(short, "破损"), "", now)
        login(client, admin)
        return f"/store/{store.id}/report"
    assert assert_flat(client, build, budget=13).get_data(as_text=True).count("破损") == MANY


# ---- the community ledger ----------------------------------------------------------------------------

def test_the_community_ledger_costs_the_same_for_5_and_30_residents(client, login, make, now):
    def build(n):
        c = make.community()
        admin = make.admin(c)
        for _ in range(n):
            earn(new_resident(make, c), 10, now)
        login(client, admin)
        return f"/admin/c/{c.id}/ledger"
    shown = assert_flat(client, build, budget=7, many=30)  # the page shows the latest 30 entries
    assert len(re.findall(r">居民\d+</a>", shown.get_data(as_text=True))) == 30


# ---- member-card sheets ------------------------------------------------------------------------------

def test_a_buildings_member_card_sheet_costs_the_same_for_5_and_50_households(client, login, make):
    def build(n):
        c = make.community()
        admin = make.admin(c)
        b = make.building(c, "3号楼")
        for _ in range(n):
            new_resident(make, c, b)
        login(client, admin)
        return f"/admin/c/{c.id}/buildings/{b.id}/cards"
    assert assert_flat(client, build, budget=7).get_data(as_text=True).count("3号楼1单元") == MANY


# ---- a resident's points, stars, honours and the board -----------------------------------------------

@pytest.mark.parametrize("audience, budget", [("resident", 7), ("office", 11)])
def test_a_residents_points_history_costs_the_same_for_5_and_50_entries(client, login, make, now, audience, budget):
    def build(n):
        c = make.community()
        admin = make.admin(c)
        user = make.resident_user(community=c)
        for _ in range(n):
            earn(user.resident, 1, now)
        if audience == "resident":
            login(client, user)
            return "/me/points"
        login(client, admin)
        return f"/admin/c/{c.id}/residents/{user.resident.id}/points"
    assert_flat(client, build, budget)


def community_of_volunteers(make, now, n):
    """n residents, each in a building of her own that she leads, each with some points this month."""
    c = make.community()
    admin = make.admin(c)
    for i in range(n):
        b = make.building(c)
        person = new_resident(make, c, b)
        b.leader_id = person.id
        earn(person, 10 + 3 * i, now)
    return c, admin


@pytest.mark.parametrize("status, budget", [("draft", 17), ("notice", 11)])
def test_the_star_evaluation_page_costs_the_same_for_5_and_50_households(client, login, make, now, status, budget):
    def build(n):
        c, admin = community_of_volunteers(make, now, n)
        rules = stars.create_rule_set(admin, c, "年度星级", [10, 20, 40, 80, 100], 0, now)
        e = stars.create_evaluation(admin, c, rules, "2026年度星级文明户", period_keys(now)[2], 7, now)
        if status == "notice":
            stars.start_notice(admin, e, now)
        login(client, admin)
        return f"/admin/c/{c.id}/stars/{e.id}"
    assert_flat(client, build, budget)


@pytest.mark.parametrize("kind, status, budget", [("volunteer", "draft", 12), ("volunteer", "notice", 9),
                                                  ("building_leader", "draft", 12)])
def test_the_honour_list_page_costs_the_same_for_5_and_50_people(client, login, make, now, kind, status, budget):
    def build(n):
        c, admin = community_of_volunteers(make, now, n)
        h = honours.create_list(admin, c, kind, "优秀", period_keys(now)[2], "threshold", 1, 7, now)
        if status == "notice":
            honours.start_notice(admin, h, now)
        login(client, admin)
        return f"/admin/c/{c.id}/honours/{h.id}"
    assert_flat(client, build, budget)


def test_the_public_board_costs_the_same_for_5_and_50_residents(client, make, now):
    def build(n):
        c, admin = community_of_volunteers(make, now, n)
        c.board_min_ranked = 1  # (mid-month: this month alone; early in the month is the test below)
        rules = stars.create_rule_set(admin, c, "年度星级", [10, 20, 40, 80, 100], 0, now)
        stars.start_notice(admin, stars.create_evaluation(admin, c, rules, "星级", period_keys(now)[2], 7, now), now)
        honours.start_notice(admin, honours.create_list(admin, c, "volunteer", "优秀", period_keys(now)[2],
                                                        "threshold", 1, 7, now), now)
        return f"/board/{c.id}"
    assert_flat(client, build, budget=20)


def test_the_board_early_in_the_month_costs_the_same_for_5_and_50_residents(client, make, now):
    """Early in a month the board shows last month beside this month's few names (rankings.services.fallback_span): the
    three leader panels twice: 20 statements (last month's tops, labels and household heads), on the first
    days of a month only. Mid-month the board costs what it did (18 with a star notice and an honour list):
    the count of this month's names is paid for by reading the opt-outs once for every panel."""
    def build(n):
        c, admin = community_of_volunteers(make, now - timedelta(days=30), n)  # last month
        for _ in range(2):
            earn(new_resident(make, c), 5, now)  # two names this month: fewer than 10
        return f"/board/{c.id}"
    page = assert_flat(client, build, budget=22).get_data(as_text=True)
    assert page.count('class="period"') == 6, "each leader panel shows this month and last month"


# ---- lists of residents with their addresses -----------------------------------------------------------

@pytest.mark.parametrize("page, budget", [("residents", 6), ("lead search", 8), ("counter search", 6)])
def test_resident_searches_cost_the_same_for_5_and_20_matches(client, login, make, now, page, budget):
    def build(n):
        c, _team, lead, a = lead_with_activity(make, now)
        admin = make.admin(c)
        clerk = make.clerk(c)
        for i in range(n):
            make.resident(make.household(building=make.building(c)), name=f"王{i}")
        if page == "residents":
            login(client, admin)
            return f"/admin/c/{c.id}/residents?q=王"
        if page == "lead search":
            login(client, lead)
            return f"/lead/activities/{a.id}?q=王"
        login(client, clerk)
        return f"/store/{clerk.grants[0].store_id}/counter?q=王"
    assert_flat(client, build, budget, many=20)  # the lead and the counter are shown the first 20


def test_the_building_page_costs_the_same_for_5_and_50_households(client, login, make):
    def build(n):
        c = make.community()
        admin = make.admin(c)
        b = make.building(c, "3号楼")
        for _ in range(n):
            new_resident(make, c, b)
        login(client, admin)
        return f"/admin/c/{c.id}/buildings/{b.id}"
    assert_flat(client, build, budget=9)


def test_the_staff_page_costs_the_same_for_5_and_50_grants(client, login, make):
    def build(n):
        c = make.community()
        admin = make.admin(c)
        for i in range(n - 1):
            (make.team_lead if i % 2 else make.clerk)(c)
        login(client, admin)
        return f"/admin/c/{c.id}/staff"
    shown = assert_flat(client, build, budget=8).get_data(as_text=True)
    assert shown.count("店员") + shown.count("队长") >= MANY - 1
