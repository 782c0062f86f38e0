"""Finding a resident by name, phone or room, as clerks and team leads type them (issue 12: "3号楼1单元301",
the address exactly as the app prints it, found nobody; "301" was cut at 20 without saying so)."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from pointsapp.accounts.models import Role
from pointsapp.core.extensions import db as _db
from pointsapp.tree import services as tree
from pointsapp.tree.services import search
from pointsapp.volunteering.services import activities

from .querycount import count_queries


@pytest.fixture
def street(make, db):
    """3号楼, 5号楼 and 13号楼 (a "3" must not find 13号楼); room 301 in four places."""
    c = make.community()
    b3, b5, b13 = make.building(c, "3号楼"), make.building(c, "5号楼"), make.building(c, "13号楼")
    people = {
        "wang": make.resident(make.household(building=b3, unit="1", room="301"), name="王秀英", phone="13805351234"),
        "wang_son": None,
        "b3u2": make.resident(make.household(building=b3, unit="2", room="301"), name="赵国强", phone="13905350002"),
        "li": make.resident(make.household(building=b3, unit="2", room="502"), name="李建国", phone="13905350001"),
        "zhang": make.resident(make.household(building=b5, unit="1", room="301"), name="张秀兰"),
        "b13": make.resident(make.household(building=b13, unit="1", room="301"), name="孙丽"),
        "wangxiu": make.resident(make.household(building=b5, unit="2", room="402"), name="王秀"),
        "liwangxiu": make.resident(make.household(building=b13, unit="2", room="101"), name="李王秀",
                                   phone="15805351234"),
    }
    people["wang_son"] = make.resident(people["wang"].household, name="王军", phone="13805351234")
    _db.session.commit()
    return c, people


def names(community, typed, **kw):
    return [r.name for r in tree.search_residents(community.id, typed, **kw)]


@pytest.mark.parametrize("typed", [
    "3号楼1单元301",  # as the app prints it
    "3号楼1单元301室", "3栋1单元301", "3幢1单元301室", "3#1-301", "3号1单元301",
    "3-1-301", "3 1 301", "3-1-301室",
    "３号楼１单元３０１", "３－１－３０１",  # a Chinese input method's full-width digits
    " 3号楼 1单元 301 ",
])
def test_a_room_written_any_usual_way_finds_its_household_only(street, typed):
    c, _ = street
    assert names(c, typed) == ["王秀英", "王军"]


@pytest.mark.parametrize(("typed", "expected"), [
    ("3号楼 301", ["王秀英", "王军", "赵国强"]),  # both units of 3号楼
    ("3栋301", ["王秀英", "王军", "赵国强"]),
    ("1单元301", ["王秀英", "王军", "张秀兰", "孙丽"]),  # unit 1 of every building, 3 before 5 before 13
    ("1-301", ["王秀英", "王军", "张秀兰", "孙丽"]),  # building 1 or unit 1
    ("301", ["王秀英", "王军", "赵国强", "张秀兰", "孙丽"]),
    ("301室", ["王秀英", "王军", "赵国强", "张秀兰", "孙丽"]),
    ("13号楼", ["孙丽", "李王秀"]),  # not 3号楼
    ("5号楼2单元402", ["王秀"]),
])
def test_part_of_an_address_finds_every_household_it_names_in_building_order(street, typed, expected):
    c, _ = street
    assert names(c, typed) == expected


def test_a_slip_in_the_building_still_shows_the_room_elsewhere_and_says_so(street, app):
    c, _ = street
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        found = search.find_residents(c.id, "7号楼1单元301")
        assert found.widened and [r.name for r in found.residents] == ["王秀英", "王军", "赵国强", "张秀兰", "孙丽"]
        assert "301" in found.note
        exact = search.find_residents(c.id, "3号楼1单元301")
        assert not exact.widened and exact.note == ""


@pytest.mark.parametrize(("typed", "expected"), [
    ("王秀", ["王秀", "王秀英", "李王秀"]),  # the full name, then names that begin with it, then the rest
    ("王", ["王秀英", "王军", "王秀", "李王秀"]),  # names that begin with it (in building order) first
    ("13805351234", ["王秀英", "王军"]),  # a whole phone (shared in a family)
    ("138 0535 1234", ["王秀英", "王军"]),
    ("138-0535-1234", ["王秀英", "王军"]),
    ("１３８０５３５１２３４", ["王秀英", "王军"]),
    ("05351234", ["王秀英", "王军", "李王秀"]),  # a whole phone first, then phones that contain it
    ("1234", ["王秀英", "王军", "李王秀"]),  # the last four digits of a phone
    ("秀英", ["王秀英"]),
])
def test_names_and_phones_come_best_match_first(street, typed, expected):
    c, _ = street
    assert names(c, typed) == expected


def test_a_whole_phone_number_finds_that_number_only_and_part_of_one_finds_every_phone_with_it(make, db):
    c = make.community()
    make.resident(community=c, name="甲", phone="13805351234")
    make.resident(community=c, name="乙", phone="13805351235")
    assert names(c, "13805351234") == ["甲"]
    assert names(c, "1380535123") == ["甲", "乙"]


@pytest.mark.parametrize("typed", ["=cmd|' /C calc'!A0", "a" * 10000, "30\x001", "%", "_", "\\", "'; DROP TABLE x",
                                   "1" * 60, "号楼单元", "-", "0", "99999999999999999999号楼1单元301"])
def test_hostile_searches_find_nobody_without_an_error(street, typed):
    c, _ = street
    assert isinstance(names(c, typed), list)


def test_a_cut_list_says_how_many_there_are_and_how_to_narrow_it(make, db, app):
    c = make.community()
    for b in range(1, 16):
        building = make.building(c, f"{b}号楼")
        for unit in ("1", "2"):
            make.resident(make.household(building=building, unit=unit, room="301"), name=f"住户{b}-{unit}")
    _db.session.commit()
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        found = search.find_residents(c.id, "301")
        assert (len(found.residents), found.total, found.is_cut) == (20, 30, True)
        assert "显示前 20 位，共 30 位" in found.note and "楼号或单元号" in found.note
        assert search.find_residents(c.id, "12号楼1单元301").total == 1


# ---- the pages: the counter and the lead's activity page use the one search -----------------------------

@pytest.fixture
def pages(make, street, now):
    c, people = street
    clerk = make.clerk(c)
    lead = make.user(name="队长")
    team = make.team(c)
    make.grant(lead, Role.TEAM_LEAD, c, team=team)
    a = activities.create_activity(lead, team, activities.ActivityFields(
        title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(minutes=30),
        ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="check_in"), now)
    _db.session.commit()
    return {"counter": (clerk, f"/store/{clerk.grants[0].store_id}/counter"),
            "lead": (lead, f"/lead/activities/{a.id}")}


def listed(page: str) -> list[str]:
    """The names in the search list, in order (the counter's rows and the lead's check-in rows)."""
    return re.findall(r'<span(?: class="person")?>([^ <·]+) ·', page)


@pytest.mark.parametrize("where", ["counter", "lead"])
@pytest.mark.parametrize("typed", ["3号楼1单元301", "3号楼 301", "1单元301", "3-1-301"])
def test_the_counter_and_the_leads_page_find_a_room_as_it_is_printed(client, login, pages, where, typed):
    user, url = pages[where]
    login(client, user)
    page = client.get(url, query_string={"q": typed}).get_data(as_text=True)
    shown = re.sub(r'data-[a-z-]+="[^"]*"', "", page)  # the page's script's words wait in data- attributes
    assert listed(page)[:2] == ["王秀英", "王军"] and "没有找到符合条件的居民" not in shown


@pytest.mark.parametrize("where", ["counter", "lead"])
def test_the_pages_say_when_the_list_is_cut(client, login, make, pages, street, where):
    c, _ = street
    for b in range(20, 45):
        make.resident(make.household(building=make.building(c, f"{b}号楼"), unit="1", room="301"), name=f"住户{b}")
    _db.session.commit()
    user, url = pages[where]
    login(client, user)
    page = client.get(url, query_string={"q": "301"}).get_data(as_text=True)
    assert "显示前 20 位，共 30 位" in page and "楼号或单元号" in page
    assert listed(page)[:2] == ["王秀英", "王军"]


@pytest.mark.parametrize("where", ["counter", "lead"])
@pytest.mark.parametrize("typed", ["=cmd|' /C calc'!A0", "x" * 10000, "３０１", "%_\\"])
def test_hostile_searches_on_the_pages_answer_a_page(client, login, pages, where, typed):
    user, url = pages[where]
    login(client, user)
    assert client.get(url, query_string={"q": typed}).status_code == 200
    assert client.get(url, query_string={"q": "30\x001"}).status_code in (200, 400)  # the edge may refuse NUL


@pytest.mark.parametrize("where", ["counter", "lead"])
def test_a_room_search_costs_the_same_statements_for_few_and_many_matches(client, login, make, pages, street, where):
    c, _ = street
    user, url = pages[where]
    login(client, user)
    with count_queries() as few:
        client.get(url, query_string={"q": "3号楼 301"})
    for b in range(20, 45):
        make.resident(make.household(building=make.building(c, f"{b}号楼"), unit="1", room="301"), name=f"住户{b}")
    _db.session.commit()
    with count_queries() as many:
        client.get(url, query_string={"q": "1单元301"})  # 28 matches, a page of 20 and a count
    assert many.count <= few.count + 1, many.report()


@pytest.mark.parametrize("typed", ["1309-1", "13091", "１３０９－１"])
def test_the_lead_checks_a_resident_in_by_the_number_printed_on_her_card(client, login, make, pages, street, typed):
    """The lead's field says 扫码或输入卡号 too: a typed card number finds the holder, as a search would."""
    from pointsapp.tree.models import Resident
    from pointsapp.volunteering.models import Attendance

    c, people = street
    holder = make._add(Resident(id=1309, community_id=c.id, household_id=people["li"].household_id, name="刘桂芳",
                                relation="配偶", phone="", id_tail="", created_at=people["li"].created_at))
    _db.session.commit()
    lead, url = pages["lead"]
    login(client, lead)
    page = client.post(f"{url}/checkin", data={"code": typed}, follow_redirects=True).get_data(as_text=True)
    assert "刘桂芳" in page and "会员码无效" not in page
    assert _db.session.scalar(select(Attendance).where(Attendance.resident_id == holder.id)) is not None
    old = client.post(f"{url}/checkin", data={"code": "1309-2"}, follow_redirects=True).get_data(as_text=True)
    assert "没有卡号" in old
