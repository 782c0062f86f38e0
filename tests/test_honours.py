"""Outstanding volunteers and building leaders: rules, notice, publish, frozen once published."""
from datetime import timedelta

import pytest

from pointsapp.core.errors import DomainError
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import honours, objections


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


def test_objections_must_be_answered_before_a_list_is_published(estate, make, now):
    c, admin, people1, people2 = estate
    h = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 3, 3, now)
    objector = make.resident_user(household=people1[3].household)
    with pytest.raises(DomainError) as err:  # a draft takes no objections
        objections.lodge(objector, h, "有意见", now)
    assert err.value.code == "not_on_notice"
    honours.start_notice(admin, h, now)
    objection = objections.lodge(objector, h, "二楼0 的 100 分是重复登记", now + timedelta(hours=1))
    assert objection.honour_list_id == h.id and objection.evaluation_id is None
    with pytest.raises(DomainError) as err:
        honours.publish(admin, h, now + timedelta(days=3))
    assert err.value.code == "objections_open"
    # the office upholds it: takes the name off, with the reason, and answers
    honours.remove_entry(admin, h, people2[0].id, "核实为重复登记", now + timedelta(days=1))
    with pytest.raises(DomainError) as err:
        honours.remove_entry(admin, h, people2[0].id, "again", now + timedelta(days=1))
    assert err.value.code == "already_removed"
    objections.answer(admin, objection, "已核实，已从名单中移除", now + timedelta(days=1))
    honours.publish(admin, h, now + timedelta(days=3))
    # the list as noticed, less the name taken off (nobody moves up into a list residents have not seen)
    assert [rid for _r, rid, _v, _d in honours.entries(h)] == [people1[2].id, people1[1].id]
    assert [(e.resident_id, e.removed_reason) for e in honours.removed(h)] == [(people2[0].id, "核实为重复登记")]
    # published: nothing changes any more
    for attempt in (lambda: objections.lodge(objector, h, "再提", now + timedelta(days=2)),
                    lambda: objections.answer(admin, objection, "改答复", now + timedelta(days=4)),
                    lambda: honours.remove_entry(admin, h, people1[0].id, "x", now + timedelta(days=4))):
        with pytest.raises(DomainError):
            attempt()


def test_objections_only_from_residents_of_the_community_and_during_the_notice(estate, make, now):
    c, admin, people1, _people2 = estate
    h = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 3, 3, now)
    honours.start_notice(admin, h, now)
    outsider = make.resident_user(household=make.household(building=make.building(make.community("鹤山社区"))))
    objector = make.resident_user(household=people1[3].household)
    for user, text, when, code in ((outsider, "有意见", now, "not_resident_of_community"),
                                   (objector, "   ", now, "text_missing"),
                                   (objector, "有意见", now + timedelta(days=4), "notice_over")):
        with pytest.raises(DomainError) as err:
            objections.lodge(user, h, text, when)
        assert err.value.code == code


def test_resident_objects_on_the_notice_page_and_the_office_answers(client, login, estate, make, db, now):
    c, admin, people1, people2 = estate
    h = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 3, 3, now)
    objector = make.resident_user(household=people1[3].household)
    c.board_mask = "middle"
    db.session.commit()
    login(client, admin)
    client.post(f"/admin/c/{c.id}/honours/{h.id}", data={"what": "notice"})  # on the real clock, as people do
    login(client, objector)
    page = client.get("/rankings").get_data(as_text=True)
    assert f"/honours/{h.id}" in page  # residents find the list from their rankings page
    page = client.get(f"/honours/{h.id}").get_data(as_text=True)
    assert "二*0" in page and "二楼0" not in page  # names masked as on the board
    r = client.post(f"/honours/{h.id}", data={"text": "二楼0 的分数有问题"}, follow_redirects=True)
    assert r.status_code == 200 and "二楼0 的分数有问题" in r.get_data(as_text=True)
    r = client.post(f"/honours/{h.id}", data={"text": " "}, follow_redirects=True)
    assert r.status_code == 200 and "请写明" in r.get_data(as_text=True)  # a clear message, nothing stored
    assert len(objections.of(h)) == 1
    login(client, admin)
    refused = client.post(f"/admin/c/{c.id}/honours/{h.id}", data={"what": "publish"}, follow_redirects=True)
    assert refused.status_code == 200 and "二楼0 的分数有问题" in refused.get_data(as_text=True)
    objection = objections.of(h)[0]
    client.post(f"/admin/c/{c.id}/honours/{h.id}", data={"what": "remove", "resident_id": people2[0].id,
                                                         "reason": "重复登记"})
    client.post(f"/admin/c/{c.id}/honours/{h.id}", data={"what": "answer", "objection_id": objection.id,
                                                         "answer": "已移除"})
    db.session.refresh(objection)
    db.session.refresh(h)
    assert objection.answer == "已移除" and h.status == "notice"
    assert people2[0].id not in [rid for _r, rid, _v, _d in honours.entries(h)]
    login(client, objector)
    assert "已移除" in client.get(f"/honours/{h.id}").get_data(as_text=True)


def test_certificates_are_printed_for_everyone_left_on_the_list(client, login, estate, db, now):
    c, admin, people1, people2 = estate
    h = honours.create_list(admin, c, "building_leader", "优秀楼栋长", period_keys(now)[2], "top", 5, 3, now)
    honours.start_notice(admin, h, now)
    honours.remove_entry(admin, h, people2[0].id, "另有安排", now)
    db.session.commit()
    login(client, admin)
    page = client.get(f"/admin/c/{c.id}/honours/{h.id}/certificates").get_data(as_text=True)
    assert page.count('class="cert"') == 1
    assert "一楼0" in page and "1号楼" in page and "二楼0" not in page
    assert "优秀楼栋长" in page and "尚未正式公布" in page  # not published yet: marked as drafts
