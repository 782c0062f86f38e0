"""Outstanding volunteers and building leaders: rules, notice, publish, frozen once published."""
from datetime import timedelta

import pytest

from pointsapp.errors import DomainError
from pointsapp.models import EntryKind
from pointsapp.services import honours, ledger
from pointsapp.services.ledger import Posting
from pointsapp.services.rankings import period_keys


def earn(r, n, key, when):
    ledger.post(Posting(r, n, EntryKind.AWARD, "attendance", key, "楼道广告清理"), None, when)


@pytest.fixture
def estate(make, db, now):
    c = make.community()
    admin = make.admin(c)
    b1, b2 = make.building(c, "1号楼"), make.building(c, "2号楼")
    homes1 = [make.household(building=b1, room=str(101 + i)) for i in range(4)]
    homes2 = [make.household(building=b2, room=str(201 + i)) for i in range(4)]
    people1 = [make.resident(h, name=f"一楼{i}") for i, h in enumerate(homes1)]
    people2 = [make.resident(h, name=f"二楼{i}") for i, h in enumerate(homes2)]
    b1.leader_id, b2.leader_id = people1[0].id, people2[0].id
    for i, r in enumerate(people1[:3]):  # 3 of 4 households in 1号楼 take part
        earn(r, 10 * (i + 1), f"a{r.id}", now)
    earn(people2[0], 100, "big", now)  # 1 of 4 in 2号楼, but the top volunteer
    return c, admin, people1, people2


def test_outstanding_volunteers_top_n_with_ties_and_threshold(estate, now):
    c, admin, people1, people2 = estate
    top = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 2, 7, now)
    assert [(rank, value) for rank, _rid, value, _d in honours.entries(top)] == [(1, 100), (2, 30)]
    threshold = honours.create_list(admin, c, "volunteer", "门槛", period_keys(now)[2], "threshold", 20, 7, now)
    assert {rid for _r, rid, _v, _d in honours.entries(threshold)} == {people2[0].id, people1[2].id, people1[1].id}


def test_outstanding_building_leaders_by_share_of_households_taking_part(estate, now):
    c, admin, people1, people2 = estate
    leaders = honours.create_list(admin, c, "building_leader", "优秀楼栋长", period_keys(now)[2], "top", 5, 7, now)
    assert [(rid, value, detail) for _r, rid, value, detail in honours.entries(leaders)] == [
        (people1[0].id, 75, "1号楼"), (people2[0].id, 25, "2号楼")]


def test_published_list_does_not_change(estate, now):
    c, admin, people1, people2 = estate
    h = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 1, 3, now)
    honours.start_notice(admin, h, now)
    with pytest.raises(DomainError) as err:
        honours.publish(admin, h, now + timedelta(days=1))
    assert err.value.code == "notice_running"
    honours.publish(admin, h, now + timedelta(days=3))
    earn(people1[3], 1000, "late", now + timedelta(days=4))
    assert [rid for _r, rid, _v, _d in honours.entries(h)] == [people2[0].id]
    with pytest.raises(DomainError):
        honours.start_notice(admin, h, now)


def test_bad_rules_are_refused(estate, now):
    c, admin, *_ = estate
    for kind, rule, value in (("mayor", "top", 3), ("volunteer", "top", 0), ("building_leader", "threshold", 120)):
        with pytest.raises(DomainError):
            honours.create_list(admin, c, kind, "x", "Y2026", rule, value, 7, now)
