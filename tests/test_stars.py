"""Star civilised households: thresholds, minimum attendances, vetoes, notice, objections, immutability."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.models import StarResult
from pointsapp.recognition.services import objections, stars


def earn(resident, n, key, when):
    ledger.post(Posting(resident, n, EntryKind.AWARD, "manual", key, "好人好事"), None, when)


@pytest.fixture
def town(make, db, now):
    c = make.community()
    admin = make.admin(c)
    b = make.building(c, "3号楼")
    homes = [make.household(building=b, unit="1", room=str(101 + i)) for i in range(4)]
    people = [make.resident(h, name=f"户主{i}") for i, h in enumerate(homes)]
    for person, pts in zip(people, (10, 25, 60, 120), strict=True):
        earn(person, pts, f"e{person.id}", now)
    rules = stars.create_rule_set(admin, c, "年度星级", [10, 20, 40, 80, 100], 0, now)
    evaluation = stars.create_evaluation(admin, c, rules, "2026年度星级文明户", period_keys(now)[2], 7, now)
    return c, admin, homes, people, rules, evaluation


def test_thresholds_give_stars(town):
    *_, evaluation = town
    assert [r.stars for r in sorted(stars.compute(evaluation), key=lambda r: r.points)] == [1, 2, 3, 5]


def test_spending_does_not_lower_stars(town, now):
    _, _, _, people, _, evaluation = town
    ledger.post(Posting(people[3], -100, EntryKind.REDEMPTION, "redemption", "spend", "兑换"), None, now)
    assert max(r.stars for r in stars.compute(evaluation)) == 5


def test_minimum_attendances_and_a_veto_take_stars_away(make, town, now):
    c, admin, homes, people, _, _ = town
    strict = stars.create_rule_set(admin, c, "需参加活动", [10, 20, 40, 80, 100], 1, now)
    evaluation = stars.create_evaluation(admin, c, strict, "严格", period_keys(now)[2], 7, now)
    assert {r.stars for r in stars.compute(evaluation)} == {0}  # manual awards are not attendances
    loose = stars.create_evaluation(admin, c, town[4], "宽松", period_keys(now)[2], 7, now)
    stars.veto(admin, loose, homes[3], "违规搭建", now)
    vetoed = next(r for r in stars.compute(loose) if r.household_id == homes[3].id)
    assert (vetoed.stars, vetoed.vetoed, vetoed.note) == (0, True, "违规搭建")


def test_notice_objection_answer_publish_and_immutability(make, town, now):
    c, admin, homes, people, _, evaluation = town
    resident_user = make.user(resident=people[0])
    stars.start_notice(admin, evaluation, now)
    objection = objections.lodge(resident_user, evaluation, "120 分里有重复登记", now, household_id=homes[3].id)
    with pytest.raises(DomainError) as err:
        stars.publish(admin, evaluation, now + timedelta(days=8))
    assert err.value.code == "objections_open"
    with pytest.raises(DomainError) as err:
        stars.publish(admin, evaluation, now + timedelta(days=3))
    assert err.value.code in ("notice_running", "objections_open")
    objections.answer(admin, objection, "已核实，予以一票否决", now + timedelta(days=1))
    stars.veto(admin, evaluation, homes[3], "重复登记", now + timedelta(days=1))
    stars.publish(admin, evaluation, now + timedelta(days=8))
    frozen = {r.household_id: r.stars for r in _db.session.scalars(
        select(StarResult).where(StarResult.evaluation_id == evaluation.id))}
    assert frozen[homes[3].id] == 0 and frozen[homes[2].id] == 3
    # a later entry changes nothing in the published evaluation
    earn(people[0], 500, "late", now + timedelta(days=9))
    assert {r.household_id: r.stars for r in stars.results(evaluation)} == frozen
    for attempt in (lambda: stars.veto(admin, evaluation, homes[0], "x", now),
                    lambda: stars.publish(admin, evaluation, now + timedelta(days=20)),
                    lambda: objections.answer(admin, objection, "改答复", now)):
        with pytest.raises(DomainError):
            attempt()


def test_objections_only_during_notice_from_residents_of_the_community(make, town, now):
    c, admin, homes, people, _, evaluation = town
    resident_user = make.user(resident=people[1])
    with pytest.raises(DomainError) as err:
        objections.lodge(resident_user, evaluation, "有意见", now)
    assert err.value.code == "not_on_notice"
    stars.start_notice(admin, evaluation, now)
    outsider = make.resident_user(community=make.community())
    with pytest.raises(DomainError) as err:
        objections.lodge(outsider, evaluation, "有意见", now)
    assert err.value.code == "not_resident_of_community"
    with pytest.raises(DomainError) as err:
        objections.lodge(resident_user, evaluation, "有意见", now + timedelta(days=8))
    assert err.value.code == "notice_over"


def test_rule_sets_need_rising_thresholds(town, now):
    c, admin, *_ = town
    with pytest.raises(DomainError) as err:
        stars.create_rule_set(admin, c, "坏规则", [10, 10, 20, 30, 40], 0, now)
    assert err.value.code == "invalid_thresholds"


def test_the_whole_flow_through_the_pages(client, login, make, town, now):
    c, admin, homes, people, rules, _ = town
    _db.session.commit()
    login(client, admin)
    page = client.post(f"/admin/c/{c.id}/stars", data={"what": "evaluation", "rule_set_id": str(rules.id),
                                                       "title": "试评", "period": period_keys(now)[2],
                                                       "notice_days": "7"})
    eid = int(page.headers["Location"].rstrip("/").split("/")[-1])
    listing = client.get(f"/admin/c/{c.id}/stars/{eid}").get_data(as_text=True)
    assert "★★★★★" in listing and "草稿" in listing
    client.post(f"/admin/c/{c.id}/stars/{eid}", data={"what": "notice"})
    resident_user = make.user(resident=people[0])
    _db.session.commit()
    login(client, resident_user)
    notice = client.get(f"/stars/{eid}").get_data(as_text=True)
    assert "公示到" in notice and "101" not in notice  # building and masked head only, no rooms
    client.post(f"/stars/{eid}", data={"text": "我家的积分算少了"})
    login(client, admin)
    page = client.get(f"/admin/c/{c.id}/stars/{eid}").get_data(as_text=True)
    assert "我家的积分算少了" in page
    refused = client.post(f"/admin/c/{c.id}/stars/{eid}", data={"what": "publish"}, follow_redirects=True)
    assert "公示到" in refused.get_data(as_text=True) or "未处理的异议" in refused.get_data(as_text=True)
    xlsx = client.get(f"/admin/c/{c.id}/stars/{eid}?format=xlsx")
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")
    certs = client.get(f"/admin/c/{c.id}/stars/{eid}/certificates").get_data(as_text=True)
    assert certs.count('class="cert"') == 4


def test_a_resident_sees_her_households_stars_on_the_rankings_page(client, login, make, town, db, now):
    c, admin, homes, people, _rules, evaluation = town
    me = make.user(name=people[2].name, resident=people[2])  # 60 points: three stars
    db.session.commit()
    login(client, me)
    assert "我家：" not in client.get("/rankings").get_data(as_text=True)  # a draft is not shown
    stars.start_notice(admin, evaluation, now)
    db.session.commit()
    page = client.get("/rankings").get_data(as_text=True)
    assert '我家：<span class="stars" role="img" aria-label="3 星">★★★</span>' in page
    stars.veto(admin, evaluation, homes[2], "违规搭建", now)
    db.session.commit()
    assert "我家：未评星" in client.get("/rankings").get_data(as_text=True)  # 一票否决: no star


def test_the_notice_end_is_said_as_the_local_date_not_the_utc_date(client, login, make, town, db, now):
    """A notice started at 02:00 China time (18:00 UTC the day before) ends on the local date."""
    c, admin, _homes, people, _rules, evaluation = town
    started = now.replace(hour=18, minute=0)  # 2026-11-25 18:00 UTC = 2026-11-26 02:00 in China
    stars.start_notice(admin, evaluation, started)  # seven days: 2026-12-02 18:00 UTC = 12-03 02:00 China
    with pytest.raises(DomainError) as err:
        stars.publish(admin, evaluation, started + timedelta(days=1))
    assert err.value.code == "notice_running" and "2026-12-03" in str(err.value)
    db.session.commit()
    login(client, make.user(name=people[0].name, resident=people[0]))
    db.session.commit()
    page = client.get("/rankings").get_data(as_text=True)
    assert "2026年12月3日" in page and "2026年12月2日" not in page
    board = client.get(f"/board/{c.id}").get_data(as_text=True)
    assert "2026年12月3日" in board and "2026年12月2日" not in board
