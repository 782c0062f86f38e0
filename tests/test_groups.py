"""Organisation groups (党支部, volunteer associations, schools): members, rankings by members' earning, the
public page under the public-name rule, the office's page."""
import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from pointsapp.audit.models import AuditEvent
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.groups import services as groups
from pointsapp.groups.models import OrgGroupMember
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from tests.querycount import count_queries

_keys = count(1)
MONTH, YEAR = "M2026-11", "Y2026"


def earn(resident, points, at):
    return ledger.post(Posting(resident, points, EntryKind.AWARD, "manual", f"g{next(_keys)}", "楼道广告清理"), None, at)


def spend(resident, points, at):
    return ledger.post(Posting(resident, -points, EntryKind.REDEMPTION, "redemption", f"s{next(_keys)}"), None, at)


@pytest.fixture
def scene(make, db, now):
    """Community with four groups: totals 50, 30, 30, 10 (members 2, 1, 3, 1) and an empty fifth."""
    c = make.community()
    admin = make.admin(c)
    people = {name: make.resident(community=c, name=name, phone=make.phone())
              for name in ("张小明", "王芳", "李秀兰", "赵强", "刘洋", "陈静", "孙丽")}
    made = {}
    for name, kind, members in (("第一党支部", "party_branch", [("张小明", 20), ("王芳", 30)]),
                                ("志愿者协会", "association", [("李秀兰", 30)]),
                                ("实验小学", "school", [("赵强", 10), ("刘洋", 10), ("陈静", 10)]),
                                ("老年协会", "other", [("孙丽", 10)]),
                                ("空小组", "other", [])):
        g = groups.create_group(admin, c, name, kind, now)
        groups.add_members(admin, g, [people[n] for n, _p in members], now)
        for n, points in members:
            earn(people[n], points, now)
        made[name] = g
    db.session.commit()
    return {"c": c, "admin": admin, "people": people, "groups": made}


def board_of(scene, period=MONTH, by="total", **kw):
    return [(p.group_name, p.rank, p.members, p.total) for p in groups.group_board(scene["c"].id, period, by=by, **kw)]


def test_groups_are_ranked_by_their_members_points_and_ties_share_a_place(scene):
    assert board_of(scene) == [("第一党支部", 1, 2, 50), ("实验小学", 2, 3, 30), ("志愿者协会", 2, 1, 30),
                               ("老年协会", 4, 1, 10), ("空小组", 5, 0, 0)]


def test_groups_can_be_ranked_by_the_average_per_member_since_they_differ_in_size(scene):
    places = groups.group_board(scene["c"].id, MONTH, by="average")
    assert [(p.group_name, p.rank, p.average_shown) for p in places] == [
        ("志愿者协会", 1, "30.0"), ("第一党支部", 2, "25.0"), ("实验小学", 3, "10.0"), ("老年协会", 3, "10.0"),
        ("空小组", 5, "0.0")]


def test_spending_never_lowers_a_groups_place_but_a_reversed_award_does(scene, db, now):
    before = board_of(scene)
    spend(scene["people"]["王芳"], 25, now)
    assert board_of(scene) == before
    assert [(m.label, m.rank, m.points) for m in groups.member_board(scene["groups"]["第一党支部"], MONTH)] == [
        ("王芳", 1, 30), ("张小明", 2, 20)]
    award = earn(scene["people"]["李秀兰"], 5, now)
    ledger.reverse(None, award, "录错了", now)
    assert board_of(scene)[1:3] == [("实验小学", 2, 3, 30), ("志愿者协会", 2, 1, 30)]


def test_month_ends_at_midnight_china_time(scene, db):
    c, people = scene["c"], scene["people"]
    g = scene["groups"]["老年协会"]
    last_second = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on 30 November in China
    earn(people["孙丽"], 7, last_second)
    earn(people["孙丽"], 100, last_second + timedelta(seconds=1))  # 00:00 on 1 December in China
    totals = {p.group_name: p.total for p in groups.group_board(c.id, "M2026-11")}
    assert totals["老年协会"] == 17
    assert [(p.group_name, p.total) for p in groups.group_board(c.id, "M2026-12")][0] == ("老年协会", 100)
    assert {p.group_name: p.total for p in groups.group_board(c.id, YEAR)}["老年协会"] == 117
    assert [(m.label, m.points) for m in groups.member_board(g, "M2026-12")] == [("孙丽", 100)]


def test_member_board_shares_places_and_puts_those_without_points_last(scene, make, db, now):
    g = scene["groups"]["实验小学"]
    newcomer = make.resident(community=scene["c"], name="周梅")
    groups.add_members(scene["admin"], g, [newcomer], now)
    assert [(m.rank, m.points) for m in groups.member_board(g, MONTH)] == [(1, 10), (1, 10), (1, 10), (4, 0)]


def test_adding_twice_is_harmless_and_recorded_once(scene, db, now):
    g, people, admin = scene["groups"]["第一党支部"], scene["people"], scene["admin"]
    made = groups.add_members(admin, g, [people["张小明"], people["孙丽"], people["孙丽"]], now)
    assert [m.resident_id for m in made] == [people["孙丽"].id]
    assert groups.add_members(admin, g, [people["孙丽"]], now) == []
    assert len(groups.members_of(g)) == 3
    added = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "group_member_added",
                                                        AuditEvent.resident_id == people["孙丽"].id)).all()
    assert len(added) == 2  # her membership in 老年协会 (the scene) and this one


def test_residents_of_another_community_are_refused(scene, make, db, now):
    stranger = make.resident(community=make.community(), name="外人")
    g = scene["groups"]["空小组"]
    with pytest.raises(InvalidInput) as err:
        groups.add_members(scene["admin"], g, [scene["people"]["王芳"], stranger], now)
    assert err.value.code == "other_community"
    assert groups.members_of(g) == []


def test_moved_out_residents_are_refused(scene, db, now):
    person = scene["people"]["陈静"]
    person.moved_out_on = now.date()
    with pytest.raises(InvalidInput) as err:
        groups.add_members(scene["admin"], scene["groups"]["空小组"], [person], now)
    assert err.value.code == "resident_moved_out"


def test_only_the_communitys_office_manages_its_groups(scene, make, db, now):
    other_admin = make.admin(make.community())
    resident_user = make.resident_user(community=scene["c"])
    g = scene["groups"]["空小组"]
    for who in (other_admin, resident_user):
        with pytest.raises(PermissionDenied):
            groups.create_group(who, scene["c"], "第二党支部", "party_branch", now)
        with pytest.raises(PermissionDenied):
            groups.add_members(who, g, [scene["people"]["王芳"]], now)
        with pytest.raises(PermissionDenied):
            groups.set_published(who, g, True, now)
        with pytest.raises(PermissionDenied):
            groups.get_group(who, scene["c"].id, g.id)
    with pytest.raises(NotFound):
        groups.get_group(other_admin, other_admin.grants[0].community_id, g.id)  # not a group of hers


def test_names_are_unique_in_a_community_and_a_group_is_deleted_only_when_empty(scene, db, now):
    admin, g = scene["admin"], scene["groups"]["老年协会"]
    with pytest.raises(Conflict) as err:
        groups.create_group(admin, scene["c"], "第一党支部", "party_branch", now)
    assert err.value.code == "group_exists"
    with pytest.raises(Conflict):
        groups.rename(admin, g, "志愿者协会", now)
    with pytest.raises(InvalidInput) as err:
        groups.create_group(admin, scene["c"], "长" * 81, "other", now)
    assert err.value.code == "name_too_long"
    with pytest.raises(Conflict) as err:
        groups.delete(admin, g, now)
    assert err.value.code == "group_not_empty"
    groups.remove_member(admin, g, scene["people"]["孙丽"].id, now)
    groups.delete(admin, g, now)
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"group_created", "group_member_added", "group_member_removed", "group_deleted"} <= actions


def test_a_pasted_list_adds_who_it_names_and_reports_the_rest(scene, make, db, now):
    c, people, admin = scene["c"], scene["people"], scene["admin"]
    make.resident(community=c, name="王芳", phone=make.phone())  # a second 王芳: a name alone is ambiguous
    g = scene["groups"]["空小组"]
    pasted = "\n".join([people["张小明"].phone, "赵强", "  李秀兰 ", "王芳", "查无此人", "", "１" + people["刘洋"].phone[1:]])
    result, made = groups.add_pasted(admin, g, pasted, now)
    assert sorted(m.resident_id for m in made) == sorted(people[n].id for n in ("张小明", "赵强", "李秀兰", "刘洋"))
    assert result.missing == ["查无此人"] and result.ambiguous == ["王芳"]
    again, made = groups.add_pasted(admin, g, pasted, now)
    assert made == [] and len(again.found) == 4


# ---- the public page ----------------------------------------------------------------------------------

def public_page(client, c, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return client.get(f"/communities/{c.id}/groups?{query}")


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True).split("<main", 1)[1]))


def board_text(response) -> str:
    """The public page's table of groups, as text."""
    page = response.get_data(as_text=True)
    table = page.split('<table class="ranking group-board"', 1)[1].split("</table>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", table))


def test_only_published_groups_are_on_the_public_page(scene, client, db, now):
    c, g = scene["c"], scene["groups"]["志愿者协会"]
    page = board_text(public_page(client, c))
    assert "志愿者协会" not in page and "第一党支部" not in page
    assert public_page(client, c, group=g.id).status_code == 404
    groups.set_published(scene["admin"], g, True, now)
    db.session.commit()
    page = board_text(public_page(client, c))
    assert "1 志愿者协会" in page and "第一党支部" not in page  # ranked among the published ones only
    assert public_page(client, c, group=g.id).status_code == 200
    groups.set_published(scene["admin"], g, False, now)
    db.session.commit()
    assert "志愿者协会" not in board_text(public_page(client, c))
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == g.id,
                                                                 AuditEvent.subject_type == "org_group")).all()
    assert "group_published" in actions and "group_unpublished" in actions


def test_the_public_page_masks_names_and_leaves_out_who_keeps_hers_off_boards(scene, client, db, now):
    c, people, admin = scene["c"], scene["people"], scene["admin"]
    g = scene["groups"]["第一党支部"]
    groups.add_members(admin, g, [people["李秀兰"]], now)  # 30 points, tied with 王芳
    earn(people["李秀兰"], 50, now)  # 80: first
    people["李秀兰"].hide_from_board = True
    groups.set_published(admin, g, True, now)
    db.session.commit()
    page = text_of(public_page(client, c, group=g.id))
    assert "李秀兰" not in page and "李*兰" not in page
    assert "王芳" not in page and "张小明" not in page
    assert "2 王* 30" in page and "3 张*明 20" in page  # places kept: number 1 is not renumbered away
    assert "另有1人获得积分" in page
    assert "130" in page  # her points still count for the group: a group is many people


def test_the_public_page_shows_this_year_too(scene, client, db, now):
    c, people, admin = scene["c"], scene["people"], scene["admin"]
    g = scene["groups"]["老年协会"]
    earn(people["孙丽"], 40, datetime(2026, 3, 1, tzinfo=UTC))
    groups.set_published(admin, g, True, now)
    db.session.commit()
    assert "老年协会 其他 · 1人 · 人均10.0 10" in board_text(public_page(client, c))
    assert "老年协会 其他 · 1人 · 人均50.0 50" in board_text(public_page(client, c, period="year"))
    assert "老年协会 其他 · 1人 · 共50分 50.0" in board_text(public_page(client, c, period="year", by="average"))


def test_the_public_pages_statements_do_not_grow_with_groups_or_members(scene, client, make, db, now):
    c, admin = scene["c"], scene["admin"]
    for g in scene["groups"].values():
        groups.set_published(admin, g, True, now)
    db.session.commit()
    first = scene["groups"]["实验小学"]

    def statements():
        with count_queries() as log:
            assert public_page(client, c).status_code == 200
            assert public_page(client, c, group=first.id).status_code == 200
        return log.count

    few = statements()
    for i in range(6):
        g = groups.create_group(admin, c, f"楼栋小组{i}", "other", now)
        members = [make.resident(community=c) for _ in range(4)]
        groups.add_members(admin, g, members, now)
        groups.add_members(admin, first, members, now)
        for m in members:
            earn(m, 3, now)
        groups.set_published(admin, g, True, now)
    db.session.commit()
    assert statements() == few


def test_the_office_pages_statements_do_not_grow_with_groups_or_members(scene, client, login, make, db, now):
    c, admin = scene["c"], scene["admin"]
    first = scene["groups"]["实验小学"]
    login(client, admin)

    def statements():
        with count_queries() as log:
            assert client.get(f"/admin/c/{c.id}/groups").status_code == 200
            assert client.get(f"/admin/c/{c.id}/groups/{first.id}").status_code == 200
        return log.count

    few = statements()
    for i in range(5):
        g = groups.create_group(admin, c, f"楼栋小组{i}", "other", now)
        members = [make.resident(community=c) for _ in range(3)]
        groups.add_members(admin, g, members, now)
        groups.add_members(admin, first, members, now)
        for m in members:
            earn(m, 2, now)
    db.session.commit()
    assert statements() == few


# ---- the office's page ---------------------------------------------------------------------------------

def test_the_office_creates_a_group_adds_members_and_publishes_it(scene, client, login, db):
    c, people, admin = scene["c"], scene["people"], scene["admin"]
    login(client, admin)
    response = client.post(f"/admin/c/{c.id}/groups", data={"name": "第二党支部", "kind": "party_branch"})
    assert response.status_code == 302
    url = response.headers["Location"]
    group_id = int(url.rstrip("/").rsplit("/", 1)[1])
    found = client.get(f"{url}?q=张小明").get_data(as_text=True)
    assert "张小明" in found
    client.post(url, data={"what": "add", "resident_id": str(people["张小明"].id)})
    page = client.post(url, data={"what": "paste", "lines": f"{people['王芳'].phone}\n没这个人"},
                       follow_redirects=True).get_data(as_text=True)
    assert "没这个人" in page
    assert set(db.session.scalars(select(OrgGroupMember.resident_id).where(OrgGroupMember.group_id == group_id))) \
        == {people["张小明"].id, people["王芳"].id}
    client.post(url, data={"what": "publish"})
    assert "第二党支部" in text_of(public_page(client, c))
    office = text_of(client.get(f"/admin/c/{c.id}/groups"))
    assert "第二党支部" in office and "50" in office


def test_the_office_is_told_plainly_about_hostile_input(scene, client, login, db):
    c, admin = scene["c"], scene["admin"]
    login(client, admin)
    g = scene["groups"]["空小组"]
    for data in ({"name": "长" * 10_000, "kind": "school"}, {"name": "", "kind": "school"},
                 {"name": "学校", "kind": "church"}):
        response = client.post(f"/admin/c/{c.id}/groups", data=data, follow_redirects=True)
        assert response.status_code == 200
        assert "flash error" in response.get_data(as_text=True)
    url = f"/admin/c/{c.id}/groups/{g.id}"
    for data in ({"what": "add", "resident_id": "10" * 10}, {"what": "explode"}, {"what": "remove"},
                 {"what": "paste", "lines": ""}):
        assert client.post(url, data=data, follow_redirects=True).status_code == 200
    assert client.get(f"/admin/c/{c.id}/groups/99999999999").status_code == 404


def test_another_communitys_group_is_not_found_through_this_communitys_page(scene, client, login, make, db, now):
    other_c = make.community()
    other_admin = make.admin(other_c)
    foreign = groups.create_group(other_admin, other_c, "别的支部", "party_branch", now)
    db.session.commit()
    login(client, scene["admin"])
    assert client.get(f"/admin/c/{scene['c'].id}/groups/{foreign.id}").status_code == 404
    assert public_page(client, scene["c"], group=foreign.id).status_code == 404


def test_each_board_is_one_statement_and_the_public_member_board_two(scene, app, db):
    c, g = scene["c"], scene["groups"]["实验小学"]
    assert c.board_mask and g.id  # loaded (the commit expired them): only the boards' statements count
    with app.test_request_context():
        with count_queries() as log:
            groups.group_board(c.id, MONTH)
        assert log.count == 1, log.report()
        with count_queries() as log:
            groups.group_board(c.id, YEAR, by="average", published_only=True)
        assert log.count == 1, log.report()
        with count_queries() as log:
            groups.member_board(g, MONTH)
        assert log.count == 1, log.report()
        with count_queries() as log:
            groups.public_member_board(c, g, MONTH)
        assert log.count == 2, log.report()


def test_the_pages_read_in_english_but_the_data(scene, client, login, db, now):
    c, admin = scene["c"], scene["admin"]
    g = scene["groups"]["第一党支部"]
    groups.set_published(admin, g, True, now)
    db.session.commit()
    login(client, admin)
    client.post("/lang/en", data={"next": "/"})
    data = [c.name, *scene["people"], *scene["groups"], "王*", "张*明"]
    for path in (f"/admin/c/{c.id}/groups", f"/admin/c/{c.id}/groups/{g.id}?q=王",
                 f"/communities/{c.id}/groups?group={g.id}", f"/admin/c/{c.id}/reports"):
        text = re.sub(r"\d+栋", "", text_of(client.get(path)))  # building names (data)
        for word in sorted(data, key=len, reverse=True):
            text = text.replace(word, "")
        assert not re.search(r"[\u4e00-\u9fff]", text), f"{path}: {text}"
