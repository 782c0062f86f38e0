"""The community tree: grids, buildings, households, residents; search; community isolation."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from pointsapp.accounts.models import Role, User
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.permissions import has_role
from pointsapp.tree import services as tree
from pointsapp.tree.models import Building, Grid, Household, Resident
from pointsapp.tree.services import ResidentFields

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def community(make):
    return make.community("梨园社区")


@pytest.fixture
def admin(make, community):
    return make.admin(community)


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# ---- creating the tree ----------------------------------------------------------------------

def test_an_admin_builds_grid_building_household_and_resident(db, admin, community, now):
    grid = tree.create_grid(admin, community, " 第一网格 ", "王网格员", "138 0535 1234", now)
    building = tree.create_building(admin, community, "3号楼", grid.id, now)
    household = tree.create_household(admin, building, "1", "301", now)
    resident = tree.add_resident(admin, household, ResidentFields(
        name=" 王秀英 ", relation="户主", phone="+86 13805351234", id_tail="042x", birth_year=1952,
        moved_in_on=date(2008, 5, 1)), now)
    db.session.commit()

    assert (grid.name, grid.worker_phone, grid.community_id) == ("第一网格", "13805351234", community.id)
    assert (building.grid_id, building.community_id) == (grid.id, community.id)
    assert household.address == "3号楼1单元301"
    assert household.community_id == community.id
    assert (resident.name, resident.phone, resident.id_tail, resident.birth_year, resident.created_at) == (
        "王秀英", "13805351234", "042X", 1952, now)
    assert resident.community_id == community.id and resident.moved_out_on is None
    assert tree.community_counts(community.id) == {"grids": 1, "buildings": 1, "households": 1, "residents": 1}


def test_numeric_looking_unit_and_room_from_a_spreadsheet_are_stored_plainly(db, admin, community, now):
    building = tree.create_building(admin, community, "3号楼", None, now)

    household = tree.create_household(admin, building, 1.0, "301.0", now)

    assert (household.unit, household.room) == ("1", "301")


@pytest.mark.parametrize(("unit", "room"), [("", "301"), ("1", ""), ("  ", "301"), ("1", "12345678901")])
def test_a_household_needs_a_unit_and_a_room_of_sensible_length(admin, community, now, unit, room):
    building = tree.create_building(admin, community, "3号楼", None, now)

    with pytest.raises(InvalidInput) as exc:
        tree.create_household(admin, building, unit, room, now)
    assert exc.value.code == "address_missing"


@pytest.mark.parametrize(("name", "code"), [("", "name_missing"), ("   ", "name_missing"),
                                            ("楼" * 41, "name_too_long")])
def test_a_building_needs_a_sensible_name(db, admin, community, now, name, code):
    with pytest.raises(InvalidInput) as exc:
        tree.create_building(admin, community, name, None, now)
    assert exc.value.code == code
    assert count(db, Building) == 0


def test_a_grid_workers_phone_must_be_a_mobile_number(admin, community, now):
    with pytest.raises(InvalidInput) as exc:
        tree.create_grid(admin, community, "第一网格", "王网格员", "0535-1234", now)
    assert exc.value.code == "invalid_phone"
    assert tree.create_grid(admin, community, "第一网格", "王网格员", "", now).worker_phone == ""


def test_a_building_cannot_be_put_in_another_communitys_grid(make, db, admin, community, now):
    foreign_grid = make.grid(make.community())

    with pytest.raises(NotFound):
        tree.create_building(admin, community, "3号楼", foreign_grid.id, now)
    assert count(db, Building) == 0


@pytest.mark.parametrize(("fields", "code"), [
    (ResidentFields(name=""), "name_missing"),
    (ResidentFields(name="王" * 41), "name_too_long"),
    (ResidentFields(name="王秀英", phone="abc"), "invalid_phone"),
    (ResidentFields(name="王秀英", phone="1380535123"), "invalid_phone"),
    (ResidentFields(name="王秀英", phone="23805351234"), "invalid_phone"),
    (ResidentFields(name="王秀英", id_tail="12345"), "invalid_id_tail"),
    (ResidentFields(name="王秀英", id_tail="X123"), "invalid_id_tail"),
    (ResidentFields(name="王秀英", birth_year=1800), "invalid_birth_year"),
    (ResidentFields(name="王秀英", birth_year=2200), "invalid_birth_year"),
], ids=["no-name", "long-name", "phone-letters", "phone-10-digits", "phone-not-mobile", "id-5-chars",
        "id-x-first", "born-1800", "born-2200"])
def test_bad_resident_details_are_refused_with_a_code(make, db, admin, community, now, fields, code):
    household = make.household(community)

    with pytest.raises(InvalidInput) as exc:
        tree.add_resident(admin, household, fields, now)
    assert exc.value.code == code
    assert count(db, Resident) == 0


# ---- duplicates -----------------------------------------------------------------------------

def test_a_second_grid_with_the_same_name_is_a_conflict_and_the_transaction_survives(db, admin, community, now):
    tree.create_grid(admin, community, "第一网格", "", "", now)

    with pytest.raises(Conflict) as exc:
        tree.create_grid(admin, community, "第一网格", "", "", now)
    assert exc.value.code == "already_exists"

    tree.create_grid(admin, community, "第二网格", "", "", now)
    db.session.commit()
    assert sorted(db.session.scalars(select(Grid.name))) == ["第一网格", "第二网格"]


def test_a_second_building_with_the_same_name_is_a_conflict_but_another_community_may_use_it(
        make, db, admin, community, now):
    other = make.community()
    tree.create_building(admin, community, "3号楼", None, now)

    with pytest.raises(Conflict) as exc:
        tree.create_building(admin, community, " 3号楼 ", None, now)
    assert exc.value.code == "already_exists"

    tree.create_building(make.admin(other), other, "3号楼", None, now)
    db.session.commit()
    assert count(db, Building) == 2


def test_the_same_household_twice_is_a_conflict(db, admin, community, now):
    building = tree.create_building(admin, community, "3号楼", None, now)
    tree.create_household(admin, building, "1", "301", now)

    with pytest.raises(Conflict) as exc:
        tree.create_household(admin, building, "1", "301.0", now)
    assert exc.value.code == "already_exists"

    tree.create_household(admin, building, "2", "301", now)
    db.session.commit()
    assert count(db, Household) == 2


def test_the_same_name_twice_in_one_household_is_a_conflict_but_fine_next_door(make, db, admin, community, now):
    building = make.building(community)
    home, next_door = make.household(building=building, room="301"), make.household(building=building, room="302")
    tree.add_resident(admin, home, ResidentFields(name="王伟"), now)

    with pytest.raises(Conflict) as exc:
        tree.add_resident(admin, home, ResidentFields(name="王伟", phone="13805351234"), now)
    assert exc.value.code == "already_exists"

    tree.add_resident(admin, next_door, ResidentFields(name="王伟"), now)
    db.session.commit()
    assert count(db, Resident) == 2


def test_renaming_a_resident_to_a_housemates_name_is_a_conflict_and_changes_nothing(make, db, admin, community,
                                                                                   now):
    household = make.household(community)
    make.resident(household, name="王伟")
    li = make.resident(household, name="李娜")
    db.session.commit()

    with pytest.raises(Conflict) as exc:
        tree.update_resident(admin, li, ResidentFields(name="王伟", phone="13805351234"), now)
    assert exc.value.code == "already_exists"
    db.session.rollback()  # what the web layer does with a domain error

    stored = db.session.get(Resident, li.id)
    assert (stored.name, stored.phone) == ("李娜", "")


def test_update_resident_cleans_and_saves_the_details(make, db, admin, community, now):
    resident = make.resident(make.household(community), name="李娜")

    tree.update_resident(admin, resident, ResidentFields(name="李 娜", relation="配偶", phone="86 139 0535 0001",
                                                         id_tail="7", birth_year=1980,
                                                         moved_in_on=date(2012, 1, 1)), now)
    db.session.commit()

    stored = db.session.get(Resident, resident.id)
    assert (stored.name, stored.relation, stored.phone, stored.id_tail, stored.birth_year, stored.moved_in_on) == (
        "李 娜", "配偶", "13905350001", "0007", 1980, date(2012, 1, 1))


def test_duplicates_become_conflicts_not_integrity_errors_for_subdistricts_and_communities(make, db, now):
    city = make.city_admin()
    sub = tree.create_subdistrict(city, "城厢街道", "莱阳市", now)
    tree.create_community(city, sub, "梨园社区", "", now)

    with pytest.raises(Conflict):
        tree.create_subdistrict(city, "城厢街道", "莱阳市", now)
    with pytest.raises(Conflict):
        tree.create_community(city, sub, "梨园社区", "", now)
    db.session.commit()


# ---- moving out -----------------------------------------------------------------------------

def test_moving_out_keeps_the_record_and_refuses_a_second_time(make, db, admin, community, now):
    resident = make.resident(make.household(community), name="王秀英", phone="13805351234")
    db.session.commit()

    tree.move_out(admin, resident, date(2026, 11, 1), now)
    db.session.commit()

    stored = db.session.get(Resident, resident.id)
    assert stored is not None and stored.moved_out_on == date(2026, 11, 1)
    assert not stored.is_active
    with pytest.raises(Conflict) as exc:
        tree.move_out(admin, resident, date(2026, 11, 20), now)
    assert exc.value.code == "already_moved_out"
    assert db.session.get(Resident, resident.id).moved_out_on == date(2026, 11, 1)


def test_moving_out_before_moving_in_is_refused(make, db, admin, community, now):
    resident = make.resident(make.household(community))
    resident.moved_in_on = date(2020, 5, 1)

    with pytest.raises(InvalidInput) as exc:
        tree.move_out(admin, resident, date(2020, 4, 30), now)
    assert exc.value.code == "invalid_date"
    assert resident.moved_out_on is None
    tree.move_out(admin, resident, date(2020, 5, 1), now)  # the same day is fine


def test_a_moved_out_resident_drops_out_of_search_counts_and_the_resident_role(make, db, admin, community, now):
    user = make.resident_user(community)
    resident, user_id = user.resident, user.id
    assert has_role(user, Role.RESIDENT, community.id)

    tree.move_out(admin, resident, date(2026, 11, 1), now)
    db.session.commit()

    assert tree.search_residents(community.id, resident.name) == []
    assert tree.search_residents(community.id, resident.name, include_moved_out=True) == [resident]
    assert tree.community_counts(community.id)["residents"] == 0
    db.session.expunge_all()  # as the next request would load it
    assert not has_role(db.session.get(User, user_id), Role.RESIDENT)


def test_a_moved_out_resident_cannot_become_building_leader(make, db, admin, community, now):
    building = make.building(community)
    resident = make.resident(make.household(building=building))
    tree.move_out(admin, resident, date(2026, 11, 1), now)

    with pytest.raises(InvalidInput) as exc:
        tree.set_building_leader(admin, building, resident.id, now)
    assert exc.value.code == "resident_moved_out"
    assert building.leader_id is None


def test_a_building_leader_must_be_a_resident_of_the_same_community(make, db, admin, community, now):
    building = make.building(community)
    outsider = make.resident(community=make.community())
    neighbour = make.resident(make.household(building=building))

    with pytest.raises(NotFound):
        tree.set_building_leader(admin, building, outsider.id, now)
    tree.set_building_leader(admin, building, neighbour.id, now)
    assert building.leader_id == neighbour.id
    tree.set_building_leader(admin, building, None, now)
    assert building.leader_id is None


# ---- search ---------------------------------------------------------------------------------

@pytest.fixture
def people(make, community):
    """Three residents in 梨园社区 and a namesake in another community."""
    b3, b5 = make.building(community, "3号楼"), make.building(community, "5号楼")
    wang = make.resident(make.household(building=b3, unit="1", room="301"), name="王秀英", phone="13805351234")
    li = make.resident(make.household(building=b3, unit="2", room="502"), name="李建国", phone="13905350001")
    zhang = make.resident(make.household(building=b5, unit="1", room="301"), name="张秀兰", phone="")
    elsewhere = make.resident(community=make.community(), name="王秀英", phone="13805351234")
    return {"wang": wang, "li": li, "zhang": zhang, "elsewhere": elsewhere}


@pytest.mark.parametrize(("query", "expected"), [
    ("王秀英", ["wang"]),
    ("秀", ["wang", "zhang"]),
    ("建国", ["li"]),
    ("13805351234", ["wang"]),
    ("0535", ["wang", "li"]),
    ("301", ["wang", "zhang"]),
    ("3号楼1-301", ["wang"]),
    ("502", ["li"]),
    (" 李建国 ", ["li"]),
    ("", ["wang", "li", "zhang"]),
    ("赵", []),
])
def test_search_finds_residents_by_name_phone_or_room_within_the_community(people, community, query, expected):
    found = tree.search_residents(community.id, query)

    assert [r.id for r in found] == [people[key].id for key in expected]


def test_search_is_limited(people, community):
    assert len(tree.search_residents(community.id, "", limit=2)) == 2


def test_search_never_returns_another_communitys_residents(make, people, community):
    elsewhere = people["elsewhere"]
    make.resident(elsewhere.household, name="刘伟")

    assert [r.id for r in tree.search_residents(elsewhere.community_id, "王秀英")] == [elsewhere.id]
    assert {r.community_id for r in tree.search_residents(elsewhere.community_id, "")} == {elsewhere.community_id}
    assert tree.search_residents(community.id, "刘伟") == []


# ---- who may change the tree ----------------------------------------------------------------

@pytest.mark.parametrize("who", ["other_admin", "resident", "team_lead", "clerk"])
def test_only_the_communitys_admins_may_change_its_tree(make, db, community, now, who):
    household = make.household(community)
    resident = make.resident(household)
    actor = {
        "other_admin": lambda: make.admin(make.community()),
        "resident": lambda: make.resident_user(community),
        "team_lead": lambda: make.team_lead(community),
        "clerk": lambda: make.clerk(community),
    }[who]()
    attempts = [
        lambda: tree.create_grid(actor, community, "第九网格", "", "", now),
        lambda: tree.create_building(actor, community, "9号楼", None, now),
        lambda: tree.create_household(actor, household.building, "9", "909", now),
        lambda: tree.add_resident(actor, household, ResidentFields(name="外人"), now),
        lambda: tree.update_resident(actor, resident, ResidentFields(name="改名"), now),
        lambda: tree.move_out(actor, resident, date(2026, 11, 1), now),
        lambda: tree.set_building_leader(actor, household.building, resident.id, now),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert resident.moved_out_on is None and resident.name != "改名"
    assert count(db, Grid) == 0


def test_a_city_admin_may_change_any_communitys_tree(make, db, community, now):
    city = make.city_admin()

    building = tree.create_building(city, community, "9号楼", None, now)

    assert building.community_id == community.id


def test_only_city_admins_create_subdistricts_and_communities(make, admin, community, now):
    with pytest.raises(PermissionDenied):
        tree.create_subdistrict(admin, "新街道", "", now)
    with pytest.raises(PermissionDenied):
        tree.create_community(admin, community.subdistrict, "新社区", "", now)


def test_get_in_community_never_hands_out_another_communitys_row(make, community):
    other = make.community()
    foreign = make.resident(community=other)

    with pytest.raises(NotFound):
        tree.get_in_community(Resident, community.id, foreign.id)
    with pytest.raises(NotFound):
        tree.get_in_community(Household, community.id, foreign.household_id)
    with pytest.raises(NotFound):
        tree.get_in_community(Resident, community.id, 987654)
    assert tree.get_in_community(Resident, other.id, foreign.id) is foreign


# ---- web: isolation and forms ---------------------------------------------------------------

@pytest.fixture
def web(app, db, login):
    """web(user): a client logged in as user."""

    def client_for(user):
        client = app.test_client()
        if user is not None:
            login(client, user)
        return client

    return client_for


@pytest.fixture
def two_communities(make, community):
    """Our community with its admin, and another community with a building, household and resident."""
    other = make.community("凤凰社区")
    building = make.building(other, "8号楼")
    household = make.household(building=building, unit="1", room="801")
    resident = make.resident(household, name="赵凤兰", phone="13705358888")
    return {"other": other, "building": building, "household": household, "resident": resident}


def flash_errors(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m).strip()
            for m in re.findall(r'<div class="flash error"[^>]*>(.*?)</div>', html, re.S)]


def field_errors(html: str) -> list[str]:
    return [m.strip() for m in re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)]


def test_an_admin_gets_403_on_another_communitys_pages(web, admin, two_communities):
    b = two_communities
    oid = b["other"].id
    client = web(admin)

    for url in (f"/admin/c/{oid}/", f"/admin/c/{oid}/grids", f"/admin/c/{oid}/buildings",
                f"/admin/c/{oid}/buildings/{b['building'].id}", f"/admin/c/{oid}/households/{b['household'].id}",
                f"/admin/c/{oid}/residents", f"/admin/c/{oid}/residents/{b['resident'].id}",
                f"/admin/c/{oid}/staff", f"/admin/c/{oid}/import/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/c/{oid}/residents/{b['resident'].id}/move-out",
                       data={"moved_out_on": "2026-11-01"}).status_code == 403


def test_another_communitys_rows_are_404_through_ones_own_community_urls(make, db, web, admin, community,
                                                                         two_communities):
    b = two_communities
    cid, rid = community.id, b["resident"].id
    client = web(admin)

    for url in (f"/admin/c/{cid}/buildings/{b['building'].id}", f"/admin/c/{cid}/households/{b['household'].id}",
                f"/admin/c/{cid}/residents/{rid}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "赵凤兰" not in response.get_data(as_text=True)
    for url, data in ((f"/admin/c/{cid}/residents/{rid}", {"name": "改名"}),
                      (f"/admin/c/{cid}/residents/{rid}/move-out", {"moved_out_on": "2026-11-01"}),
                      (f"/admin/c/{cid}/residents/{rid}/password", {"password": "taken-over-1"}),
                      (f"/admin/c/{cid}/residents/{rid}/activation", {}),
                      (f"/admin/c/{cid}/households/{b['household'].id}", {"name": "外人"}),
                      (f"/admin/c/{cid}/buildings/{b['building'].id}", {"unit": "9", "room": "909"})):
        assert client.post(url, data=data).status_code == 404, url

    stored = db.session.get(Resident, rid)
    assert (stored.name, stored.moved_out_on) == ("赵凤兰", None)
    assert db.session.scalar(select(User).where(User.resident_id == rid)) is None
    assert count(db, Resident) == 1 and count(db, Household) == 1
    namesake = make.resident(make.household(community), name="赵凤兰")
    listing = client.get(f"/admin/c/{cid}/residents?q=赵凤兰").get_data(as_text=True)
    assert f"/admin/c/{cid}/residents/{namesake.id}" in listing
    assert f"/residents/{rid}\"" not in listing


def test_a_resident_cannot_open_the_admin_pages(make, web, community):
    user = make.resident_user(community)
    cid = community.id
    client = web(user)

    for url in ("/admin/", f"/admin/c/{cid}/", f"/admin/c/{cid}/buildings", f"/admin/c/{cid}/residents",
                f"/admin/c/{cid}/residents/{user.resident_id}", f"/admin/c/{cid}/households/{user.resident.household_id}",
                f"/admin/c/{cid}/import/", "/city/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/c/{cid}/grids", data={"name": "第九网格"}).status_code == 403


@pytest.mark.parametrize("role", ["team_lead", "clerk"])
def test_leads_and_clerks_cannot_open_the_community_admin_pages(make, web, community, role):
    client = web(getattr(make, role)(community))

    assert client.get(f"/admin/c/{community.id}/").status_code == 403
    assert client.get(f"/admin/c/{community.id}/residents").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(web, community):
    response = web(None).get(f"/admin/c/{community.id}/residents")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_an_admin_builds_the_tree_through_the_pages(db, web, admin, community):
    client = web(admin)
    cid = community.id

    assert client.post(f"/admin/c/{cid}/grids", data={"name": "第一网格", "worker_name": "",
                                                      "worker_phone": ""}).status_code == 302
    grid_id = db.session.scalar(select(Grid.id))
    added = client.post(f"/admin/c/{cid}/buildings", data={"name": "3号楼", "grid_id": str(grid_id)})
    assert added.status_code == 302
    building = db.session.scalar(select(Building))
    assert building.grid_id == grid_id
    assert client.post(added.headers["Location"], data={"unit": "1", "room": "301"}).status_code == 302
    household = db.session.scalar(select(Household))
    response = client.post(f"/admin/c/{cid}/households/{household.id}",
                           data={"name": "王秀英", "relation": "户主", "phone": "13805351234", "id_tail": "0425",
                                 "birth_year": "1952", "moved_in_on": "2008-05-01"})
    assert response.status_code == 302
    resident = db.session.scalar(select(Resident))
    assert (resident.name, resident.phone, resident.birth_year, resident.moved_in_on) == (
        "王秀英", "13805351234", 1952, date(2008, 5, 1))
    page = client.get(f"/admin/c/{cid}/residents?q=301").get_data(as_text=True)
    assert "王秀英" in page


@pytest.mark.parametrize(("data", "field_error"), [
    ({"name": "王秀英", "phone": "abc"}, False),
    ({"name": "王秀英", "phone": "1380535123"}, False),
    ({"name": "王秀英", "id_tail": "12A4"}, False),
    ({"name": "王秀英", "birth_year": "1800"}, True),
    ({"name": "王秀英", "birth_year": "abc"}, True),
    ({"name": "王秀英", "moved_in_on": "2020-13-45"}, True),
    ({"name": ""}, True),
    ({"name": "王" * 41}, True),
], ids=["phone-letters", "phone-short", "id-tail", "born-1800", "year-letters", "bad-date", "no-name", "long-name"])
def test_bad_resident_input_re_renders_the_form_with_an_error(make, db, web, admin, community, data, field_error):
    household = make.household(community)
    client = web(admin)

    response = client.post(f"/admin/c/{community.id}/households/{household.id}", data=data)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    errors = field_errors(html) if field_error else flash_errors(html)
    assert errors and all(CJK.search(e) for e in errors), errors
    assert count(db, Resident) == 0


def test_bad_input_when_editing_a_resident_re_renders_and_changes_nothing(make, db, web, admin, community):
    resident = make.resident(make.household(community), name="王秀英", phone="13805351234")
    client = web(admin)

    for data in ({"name": "王秀英", "phone": "abc"}, {"name": "王秀英", "birth_year": "1800"}):
        response = client.post(f"/admin/c/{community.id}/residents/{resident.id}", data=data)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert flash_errors(html) or field_errors(html)

    db.session.expire_all()
    stored = db.session.get(Resident, resident.id)
    assert (stored.phone, stored.birth_year) == ("13805351234", None)


def test_duplicates_through_the_pages_are_shown_as_errors_not_500s(make, db, web, admin, community):
    building = make.building(community, "3号楼")
    make.grid(community, "第一网格")
    household = make.household(building=building, unit="1", room="301")
    make.resident(household, name="王秀英")
    client = web(admin)
    cid = community.id

    for url, data in ((f"/admin/c/{cid}/grids", {"name": "第一网格"}),
                      (f"/admin/c/{cid}/buildings", {"name": "3号楼", "grid_id": "0"}),
                      (f"/admin/c/{cid}/buildings/{building.id}", {"unit": "1", "room": "301"}),
                      (f"/admin/c/{cid}/households/{household.id}", {"name": "王秀英"})):
        response = client.post(url, data=data)
        assert response.status_code == 200, url
        errors = flash_errors(response.get_data(as_text=True))
        assert len(errors) == 1 and CJK.search(errors[0]), url
    assert (count(db, Grid), count(db, Building), count(db, Household), count(db, Resident)) == (1, 1, 1, 1)


def test_moving_out_through_the_page_twice_shows_an_error_the_second_time(make, db, web, admin, community):
    resident = make.resident(make.household(community), name="王秀英")
    client = web(admin)
    url = f"/admin/c/{community.id}/residents/{resident.id}/move-out"

    first = client.post(url, data={"moved_out_on": "2026-11-01"}, follow_redirects=True)
    second = client.post(url, data={"moved_out_on": "2026-11-20"}, follow_redirects=True)
    garbage = client.post(url, data={"moved_out_on": "not-a-date"}, follow_redirects=True)

    assert first.status_code == second.status_code == garbage.status_code == 200
    assert flash_errors(first.get_data(as_text=True)) == []
    assert flash_errors(second.get_data(as_text=True))
    assert flash_errors(garbage.get_data(as_text=True))
    db.session.expire_all()
    assert db.session.get(Resident, resident.id).moved_out_on == date(2026, 11, 1)


def test_another_communitys_grid_cannot_be_chosen_for_a_building_through_the_form(make, db, web, admin,
                                                                                  community):
    foreign_grid = make.grid(make.community(), "外网格")
    client = web(admin)

    response = client.post(f"/admin/c/{community.id}/buildings", data={"name": "3号楼",
                                                                      "grid_id": str(foreign_grid.id)})

    assert response.status_code == 200
    assert count(db, Building) == 0
