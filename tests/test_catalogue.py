"""The points catalogue (积分细则): versions that never rewrite what was awarded, clear refusals, who may keep
it, the residents' and the notice board's pages, and activities that take an item's rule."""
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from pointsapp.audit.models import AuditAction, AuditEvent
from pointsapp.catalogue.models import CatalogueItem, Confirmer, Evidence, ItemKind, LimitPeriod
from pointsapp.catalogue.services import items as catalogue
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.claims.models import Claim, ClaimStatus
from pointsapp.core.errors import Conflict, InvalidInput, PermissionDenied
from pointsapp.volunteering.models import Activity
from pointsapp.volunteering.services import activities

from .concurrency import run_threads

HALLWAY = catalogue.ItemFields(kind=ItemKind.EARN, category="环境卫生", title="楼道广告清理", points=5,
                               evidence=Evidence.PHOTO, confirmer=Confirmer.BUILDING_LEADER, limit_count=4,
                               limit_period=LimitPeriod.MONTH)
WATCH = catalogue.ItemFields(kind=ItemKind.EARN, category="平安守护", title="安全值守", points=4, per_hour=True,
                             hourly_cap=12, evidence=Evidence.WITNESS, confirmer=Confirmer.GRID_WORKER)
THROWING = catalogue.ItemFields(kind=ItemKind.DEDUCT, category="负向扣分", title="高空抛物", points=20,
                                claimable=False, is_veto=True)


@pytest.fixture
def office(make):
    community = make.community("梨园社区")
    return community, make.admin(community)


def _row(db, item_id):
    """The stored row as the database holds it (every column)."""
    return dict(db.session.execute(text("SELECT * FROM catalogue_item WHERE id = :id"), {"id": item_id}).mappings()
                .one())


def _claim(db, resident, item, user, now):
    claim = Claim(community_id=item.community_id, resident_id=resident.id, item_id=item.id, lineage_id=item.lineage_id,
                  filed_by_id=user.id, occurred_at=now, points=catalogue_rules.points_for(item, None),
                  status=ClaimStatus.APPROVED, submitted_at=now, created_at=now)
    db.session.add(claim)
    db.session.flush()
    return claim


# ---- versions ----------------------------------------------------------------------------------------

def test_a_new_item_is_version_one_of_its_own_lineage(db, office, now):
    community, admin = office
    item = catalogue.create_item(admin, community, HALLWAY, now)
    assert (item.lineage_id, item.version, item.is_current) == (item.id, 1, True)
    assert catalogue_rules.current_items(community.id) == [item]


def test_revising_writes_a_new_row_and_leaves_the_old_one_as_it_was_but_for_its_superseded_stamp(db, make, office,
                                                                                                    now):
    community, admin = office
    v1 = catalogue.create_item(admin, community, HALLWAY, now)
    resident_user = make.resident_user(community)
    claim = _claim(db, resident_user.resident, v1, resident_user, now)
    db.session.commit()
    before = _row(db, v1.id)

    v2 = catalogue.revise_item(admin, v1, replace(HALLWAY, points=8), "加分提高", now + timedelta(days=1))
    db.session.commit()

    after = _row(db, v1.id)
    assert after.pop("superseded_at") is not None and before.pop("superseded_at") is None
    assert after == before  # every other column exactly as stored
    assert (v2.lineage_id, v2.version, v2.points, v2.note) == (v1.id, 2, 8, "加分提高")
    assert catalogue_rules.current_items(community.id) == [v2]
    db.session.expire_all()
    claim = db.session.get(Claim, claim.id)
    assert (claim.item_id, claim.item.points, claim.points) == (v1.id, 5, 5)  # still v1's, with v1's points
    assert [v.version for v in catalogue.versions(v2)] == [2, 1]


def test_an_earlier_version_cannot_be_revised_or_retired(db, office, now):
    community, admin = office
    v1 = catalogue.create_item(admin, community, HALLWAY, now)
    catalogue.revise_item(admin, v1, replace(HALLWAY, points=6), "改为6分", now)
    for attempt in (lambda: catalogue.revise_item(admin, v1, replace(HALLWAY, points=7), "再改", now),
                    lambda: catalogue.retire_item(admin, v1, "", now)):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.code == "item_changed"


def test_retiring_takes_the_item_out_of_the_catalogue_and_keeps_its_rows(db, office, now):
    community, admin = office
    item = catalogue.create_item(admin, community, HALLWAY, now)
    catalogue.retire_item(admin, item, "不再开展", now)
    assert catalogue_rules.current_items(community.id) == []
    assert item.retired_at == now and catalogue.retired_items(community.id) == [item]


def test_every_change_is_in_the_audit_log(db, office, now):
    community, admin = office
    v1 = catalogue.create_item(admin, community, HALLWAY, now)
    v2 = catalogue.revise_item(admin, v1, replace(HALLWAY, points=6), "改为6分", now)
    catalogue.retire_item(admin, v2, "", now)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.community_id == community.id)
                                .order_by(AuditEvent.id)).all()
    assert [(e.action, e.subject_id) for e in events] == [
        (AuditAction.CATALOGUE_ITEM_CREATED, v1.id), (AuditAction.CATALOGUE_ITEM_REVISED, v2.id),
        (AuditAction.CATALOGUE_ITEM_RETIRED, v2.id)]
    assert '"points"' in events[1].details  # what changed


def test_two_revisions_at_once_give_one_new_version_and_one_conflict(app, db, office, now, backend):
    if backend != "postgresql":
        pytest.skip("on SQLite a writing unit of work holds the one write lock: the revisions cannot overlap")
    community, admin = office
    item_id = catalogue.create_item(admin, community, HALLWAY, now).id
    admin_id = community.id, admin.id
    db.session.commit()

    def revise(points):
        def work():
            from pointsapp.accounts.models import User
            user = db.session.get(User, admin_id[1])
            return catalogue.revise_item(user, db.session.get(CatalogueItem, item_id), replace(HALLWAY, points=points),
                                         f"改为{points}分", now).id
        return work

    results = run_threads(app, revise(6), revise(7), together=True)
    assert sorted(code for code, _value in results) == ["item_changed", "ok"]
    rows = db.session.scalars(select(CatalogueItem).where(CatalogueItem.lineage_id == item_id)).all()
    assert sorted(r.version for r in rows) == [1, 2]


# ---- refusals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, code", [
    ({"title": "  "}, "title_missing"),
    ({"title": "楼" * 81}, "title_too_long"),
    ({"title": "x" * 10000}, "title_too_long"),
    ({"category": ""}, "category_missing"),
    ({"category": "类" * 41}, "category_too_long"),
    ({"points": 0}, "invalid_points"),
    ({"points": 1001}, "invalid_points"),
    ({"points": True}, "invalid_points"),
    ({"per_hour": True, "points": 4, "hourly_cap": 3}, "invalid_cap"),
    ({"limit_count": 3, "limit_period": None}, "limit_incomplete"),
    ({"limit_count": None, "limit_period": LimitPeriod.DAY}, "limit_incomplete"),
    ({"limit_period": "fortnight"}, "invalid_limit"),
    ({"evidence": "video"}, "invalid_evidence"),
    ({"confirmer": "mayor"}, "invalid_confirmer"),
    ({"confirmer": Confirmer.TEAM_LEAD, "team_id": None}, "invalid_team"),
    ({"active_from": date(2027, 2, 1), "active_until": date(2027, 1, 31)}, "invalid_dates"),
    ({"active_from": date(1, 1, 1)}, "invalid_dates"),
    ({"is_veto": True}, "veto_only_deductions"),
    ({"kind": "bonus"}, "invalid_kind"),
])
def test_an_earning_item_with_wrong_fields_is_refused_with_a_code(db, office, now, change, code):
    community, admin = office
    with pytest.raises(InvalidInput) as refused:
        catalogue.create_item(admin, community, replace(HALLWAY, **change), now)
    assert refused.value.code == code and str(refused.value)


@pytest.mark.parametrize("change, code", [
    ({"claimable": True}, "deduction_not_claimable"),
    ({"per_hour": True}, "invalid_rule"),
    ({"confirmer": Confirmer.BUILDING_LEADER}, "deduction_confirmer"),
    ({"limit_count": 1, "limit_period": LimitPeriod.MONTH}, "invalid_limit"),
])
def test_a_deduction_is_fixed_points_recorded_by_the_office_and_never_claimable(db, office, now, change, code):
    community, admin = office
    with pytest.raises(InvalidInput) as refused:
        catalogue.create_item(admin, community, replace(THROWING, **change), now)
    assert refused.value.code == code
    item = catalogue.create_item(admin, community, THROWING, now)
    assert (item.kind, item.is_veto, item.claimable, item.confirmer) == ("deduct", True, False, "office")


def test_a_team_lead_confirmer_needs_a_team_of_the_same_community(db, make, office, now):
    community, admin = office
    other_team = make.team(make.community())
    with pytest.raises(InvalidInput) as refused:
        catalogue.create_item(admin, community, replace(HALLWAY, confirmer=Confirmer.TEAM_LEAD, team_id=other_team.id),
                              now)
    assert refused.value.code == "invalid_team"
    team = make.team(community)
    item = catalogue.create_item(admin, community, replace(HALLWAY, confirmer=Confirmer.TEAM_LEAD, team_id=team.id), now)
    assert item.team_id == team.id


def test_a_revision_needs_a_note_and_keeps_its_kind(db, office, now):
    community, admin = office
    item = catalogue.create_item(admin, community, HALLWAY, now)
    with pytest.raises(InvalidInput) as refused:
        catalogue.revise_item(admin, item, HALLWAY, " ", now)
    assert refused.value.code == "note_missing"
    with pytest.raises(InvalidInput) as refused:
        catalogue.revise_item(admin, item, replace(THROWING, title="x"), "改成扣分", now)
    assert refused.value.code == "kind_fixed"
    assert item.is_current


def test_only_the_communitys_office_keeps_its_catalogue(db, make, office, now):
    community, admin = office
    other_admin = make.admin(make.community())
    resident_user = make.resident_user(community)
    lead = make.team_lead(community)
    item = catalogue.create_item(admin, community, HALLWAY, now)
    for user in (other_admin, resident_user, lead):
        for attempt in (lambda u=user: catalogue.create_item(u, community, WATCH, now),
                        lambda u=user: catalogue.revise_item(u, item, replace(HALLWAY, points=9), "x", now),
                        lambda u=user: catalogue.retire_item(u, item, "", now),
                        lambda u=user: catalogue.adopt_model_catalogue(u, community, now)):
            with pytest.raises(PermissionDenied):
                attempt()
    assert catalogue.create_item(make.city_admin(), community, WATCH, now).community_id == community.id


# ---- the model catalogue -------------------------------------------------------------------------------

def test_the_model_catalogue_fills_an_empty_catalogue_once(db, office, now):
    community, admin = office
    added = catalogue.adopt_model_catalogue(admin, community, now)
    titles = {i.title for i in added}
    assert {"楼道广告清理", "安全值守", "垃圾分类督导", "扶老助弱", "高空抛物", "乱堆乱放"} <= titles
    assert len(added) == len(catalogue.MODEL_CATALOGUE)
    throwing = next(i for i in added if i.title == "高空抛物")
    assert (throwing.kind, throwing.is_veto, throwing.claimable) == ("deduct", True, False)
    assert all(i.version == 1 and i.lineage_id == i.id for i in added)
    with pytest.raises(Conflict) as refused:
        catalogue.adopt_model_catalogue(admin, community, now)
    assert refused.value.code == "catalogue_not_empty"


# ---- plain words -------------------------------------------------------------------------------------

def test_the_terms_read_as_plain_chinese_words(app, db, office, now):
    community, admin = office
    hallway = catalogue.create_item(admin, community, replace(HALLWAY, active_from=date(2027, 1, 1)), now)
    watch = catalogue.create_item(admin, community, WATCH, now)
    throwing = catalogue.create_item(admin, community, THROWING, now)
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert catalogue.describe(hallway) == ["每次 5 分", "每月最多 4 次", "需要照片", "由楼栋长确认", "2027年1月1日起"]
        assert catalogue.describe(watch)[:3] == ["每小时 4 分，每次最多 12 分", "需要一位邻居作证", "由网格员确认"]
        assert "一票否决" in "".join(catalogue.describe(throwing))


def test_the_terms_read_in_english_for_an_english_reader(app, db, office, now, client):
    community, admin = office
    catalogue.create_item(admin, community, HALLWAY, now)
    client.post("/lang/en")
    page = client.get(f"/communities/{community.id}/catalogue").get_data(as_text=True)
    assert "5 points each time" in page and "At most 4 times a month" in page


# ---- pages -------------------------------------------------------------------------------------------

def test_the_public_page_shows_the_catalogue_in_plain_words_without_a_login(db, client, office, now):
    community, admin = office
    catalogue.create_item(admin, community, HALLWAY, now)
    catalogue.create_item(admin, community, THROWING, now)
    gone = catalogue.create_item(admin, community, replace(WATCH, title="旧的值守", active_until=date(2026, 1, 31)), now)
    response = client.get(f"/communities/{community.id}/catalogue")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "楼道广告清理" in page and "每次 5 分" in page and "由楼栋长确认" in page
    assert page.index("楼道广告清理") < page.index("高空抛物")  # good deeds first, then deductions
    assert "/me/claims/new?item_id=" in page and gone.title not in page  # past its last day


def test_the_printable_page_is_an_a4_notice_with_a_qr_code_and_no_navigation(db, client, office, now):
    community, admin = office
    catalogue.create_item(admin, community, HALLWAY, now)
    page = client.get(f"/communities/{community.id}/catalogue/print").get_data(as_text=True)
    assert "梨园社区积分细则" in page and "<svg" in page and "2026年11月25日" in page
    assert 'class="top"' not in page and "每次 5 分" in page
    css = (Path(__file__).resolve().parent.parent / "static/css/app.css").read_text()
    assert "size: A4" in css[css.index("/* catalogue"):]


def test_the_version_date_is_the_last_change_a_retirement_included(db, office, now):
    community, admin = office
    assert catalogue.latest_change(community.id) is None
    item = catalogue.create_item(admin, community, HALLWAY, now)
    catalogue.create_item(admin, community, WATCH, now + timedelta(days=1))
    assert catalogue.latest_change(community.id) == now + timedelta(days=1)
    catalogue.retire_item(admin, item, "", now + timedelta(days=3))
    assert catalogue.latest_change(community.id) == now + timedelta(days=3)


def test_a_formula_looking_or_markup_title_is_shown_as_text(db, client, office, now):
    community, admin = office
    catalogue.create_item(admin, community, replace(HALLWAY, title='=HYPERLINK("x")<b>粗</b>'), now)
    page = client.get(f"/communities/{community.id}/catalogue").get_data(as_text=True)
    assert "=HYPERLINK(&#34;x&#34;)&lt;b&gt;粗&lt;/b&gt;" in page and "<b>粗</b>" not in page


def _form(**change):
    data = {"kind": "earn", "category": "环境卫生", "title": "楼道广告清理", "points": "5", "evidence": "photo",
            "confirmer": "building_leader", "team_id": "0", "claimable": "y", "limit_count": "", "limit_period": "",
            "counts_against_earning": "y", "note": ""}
    data.update(change)
    return data


def test_the_office_adds_an_item_with_full_width_digits(db, client, login, office):
    community, admin = office
    login(client, admin)
    response = client.post(f"/admin/c/{community.id}/catalogue", data=_form(points="１２", limit_count="４",
                                                                                       limit_period="month"),
                           follow_redirects=True)
    assert response.status_code == 200
    [item] = catalogue_rules.current_items(community.id)
    assert (item.points, item.limit_count) == (12, 4)


@pytest.mark.parametrize("change", [{"title": "x" * 10000}, {"points": "十二"}, {"points": "0"},
                                    {"limit_count": "3"}])
def test_hostile_input_in_the_office_form_gets_a_message_and_adds_nothing(db, client, login, office, change):
    community, admin = office
    login(client, admin)
    response = client.post(f"/admin/c/{community.id}/catalogue", data=_form(**change))
    assert response.status_code == 200 and ('class="error"' in response.get_data(as_text=True)
                                            or 'class="flash error"' in response.get_data(as_text=True))
    assert catalogue_rules.current_items(community.id) == []


def test_a_nul_in_the_title_is_refused_before_the_form(db, client, login, office):
    community, admin = office
    login(client, admin)
    response = client.post(f"/admin/c/{community.id}/catalogue", data=_form(title="楼道\x00清理"))
    assert response.status_code == 400 and catalogue_rules.current_items(community.id) == []


def test_the_office_edits_an_item_as_a_new_version_and_sees_the_versions(db, client, login, office, now):
    community, admin = office
    v1 = catalogue.create_item(admin, community, HALLWAY, now)
    login(client, admin)
    response = client.post(f"/admin/c/{community.id}/catalogue/{v1.id}",
                           data=_form(points="6", note="改为6分", kind="deduct"), follow_redirects=True)
    page = response.get_data(as_text=True)
    [v2] = catalogue_rules.current_items(community.id)
    assert (v2.version, v2.points, v2.kind) == (2, 6, "earn") and "改为6分" in page
    assert 'name="note" type="text" value=""' in page  # the next change's note starts empty
    stale = client.post(f"/admin/c/{community.id}/catalogue/{v1.id}", data=_form(points="7", note="x"))
    assert stale.status_code == 200 and catalogue_rules.current_items(community.id) == [v2]


def test_the_office_starts_from_the_model_catalogue_with_one_button(db, client, login, office):
    community, admin = office
    login(client, admin)
    assert "/catalogue/model" in client.get(f"/admin/c/{community.id}/catalogue").get_data(as_text=True)
    client.post(f"/admin/c/{community.id}/catalogue/model")
    assert len(catalogue_rules.current_items(community.id)) == len(catalogue.MODEL_CATALOGUE)


def test_another_communitys_admin_and_a_resident_cannot_open_or_post_the_office_pages(db, client, login, make, office,
                                                                                        now):
    community, admin = office
    item = catalogue.create_item(admin, community, HALLWAY, now)
    for user in (make.admin(make.community()), make.resident_user(community)):
        login(client, user)
        assert client.get(f"/admin/c/{community.id}/catalogue").status_code == 403
        assert client.post(f"/admin/c/{community.id}/catalogue/{item.id}/retire").status_code == 403
    assert item.is_current


def test_an_item_of_another_community_is_not_found_under_this_one(db, client, login, make, office, now):
    community, admin = office
    other = make.community()
    foreign = catalogue.create_item(make.admin(other), other, HALLWAY, now)
    login(client, admin)
    assert client.get(f"/admin/c/{community.id}/catalogue/{foreign.id}").status_code == 404


# ---- activities take an item's rule --------------------------------------------------------------------

def _activity_fields(now, **change):
    return replace(activities.ActivityFields(title="周末安全值守", kind="安全值守", place="", starts_at=now,
                                             ends_at=now + timedelta(hours=3), award_on="check_out"), **change)


def test_an_activity_that_picks_an_item_copies_its_rule_and_keeps_it_after_a_revision(db, make, office, now):
    community, admin = office
    lead = make.team_lead(community)
    v1 = catalogue.create_item(admin, community, WATCH, now)
    activity = activities.create_activity(lead, lead.grants[0].team, _activity_fields(now, catalogue_item_id=v1.id,
                                                                                         points=99), now)
    assert (activity.catalogue_item_id, activity.rule, activity.points, activity.hourly_cap) == (v1.id, "hourly", 4, 12)
    catalogue.revise_item(admin, v1, replace(WATCH, points=6, hourly_cap=18), "提高", now)
    activities.update_activity(lead, activity, _activity_fields(now, title="改了标题", catalogue_item_id=v1.id), now)
    assert (activity.catalogue_item_id, activity.points, activity.hourly_cap) == (v1.id, 4, 12)  # still v1


def test_an_activity_without_an_item_keeps_its_own_rule(db, make, office, now):
    community, admin = office
    lead = make.team_lead(community)
    catalogue.create_item(admin, community, WATCH, now)
    activity = activities.create_activity(lead, lead.grants[0].team, _activity_fields(now, points=7), now)
    assert (activity.catalogue_item_id, activity.rule, activity.points) == (None, "fixed", 7)


def test_an_activity_cannot_pick_a_deduction_an_old_version_or_another_communitys_item(db, make, office, now):
    community, admin = office
    lead = make.team_lead(community)
    other = make.community()
    throwing = catalogue.create_item(admin, community, THROWING, now)
    foreign = catalogue.create_item(make.admin(other), other, WATCH, now)
    old = catalogue.create_item(admin, community, WATCH, now)
    catalogue.revise_item(admin, old, replace(WATCH, points=5), "x", now)
    for item in (throwing, foreign, old):
        with pytest.raises(InvalidInput) as refused:
            activities.create_activity(lead, lead.grants[0].team, _activity_fields(now, catalogue_item_id=item.id), now)
        assert refused.value.code == "invalid_catalogue_item"


def test_the_lead_picks_a_catalogue_item_in_the_activity_form_and_sees_it_on_the_activity(db, client, login, make,
                                                                                           office, now):
    community, admin = office
    lead = make.team_lead(community)
    item = catalogue.create_item(admin, community, WATCH, now)
    team = lead.grants[0].team
    login(client, lead)
    form = client.get(f"/lead/teams/{team.id}/activities/new").get_data(as_text=True)
    assert "安全值守" in form
    response = client.post(f"/lead/teams/{team.id}/activities/new", data={
        "title": "周末值守", "kind": "安全值守", "place": "", "starts_at": "2026-11-28T09:00",
        "ends_at": "2026-11-28T12:00", "rule": "fixed", "points": "10", "award_on": "check_out",
        "signup_closes_minutes": "120", "description": "", "catalogue_item_id": str(item.id)}, follow_redirects=True)
    activity = db.session.scalars(select(Activity).where(Activity.title == "周末值守")).one()
    assert (activity.catalogue_item_id, activity.rule, activity.points) == (item.id, "hourly", 4)
    assert "平安守护 · 安全值守" in response.get_data(as_text=True)


def test_an_activity_cannot_take_an_item_outside_its_active_dates(db, make, office, now):
    """An item open only in the winter holidays does not lend its points to a November activity."""
    community, admin = office
    lead = make.team_lead(community)
    winter = catalogue.create_item(admin, community, replace(WATCH, active_from=date(2026, 1, 20),
                                                             active_until=date(2026, 2, 10)), now)
    with pytest.raises(InvalidInput) as refused:
        activities.create_activity(lead, lead.grants[0].team, _activity_fields(now, catalogue_item_id=winter.id), now)
    assert refused.value.code == "invalid_catalogue_item"
    ending = catalogue.create_item(admin, community, replace(WATCH, title="值守到今天", active_until=now.date()), now)
    late = _activity_fields(now, catalogue_item_id=ending.id, starts_at=now + timedelta(days=2),
                            ends_at=now + timedelta(days=2, hours=3))
    with pytest.raises(InvalidInput):
        activities.create_activity(lead, lead.grants[0].team, late, now)
    assert activities.create_activity(lead, lead.grants[0].team, _activity_fields(now, catalogue_item_id=ending.id),
                                      now).catalogue_item_id == ending.id
