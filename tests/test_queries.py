"""Residents' queries (疑问/申诉, issue 12): raised on her own entry or a missed activity, answered from the
office's queue (oldest first) or the lead's, corrections only through the ledger or the attendance path."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from pointsapp.audit.models import AuditEvent
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.queries import services as queries
from pointsapp.queries.models import PointsQuery
from pointsapp.volunteering.models import Attendance
from pointsapp.volunteering.services import activities


@pytest.fixture
def here(make, db, now):
    """A community with a resident who earned 5 points, her office, and a past activity of a lead's team."""
    community = make.community()
    user = make.resident_user(community)
    entry = ledger.post(Posting(user.resident, 5, EntryKind.AWARD, "attendance", "q-entry"), None, now)
    lead = make.team_lead(community)
    activity = activities.create_activity(lead, lead.grants[0].team, activities.ActivityFields(
        title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(days=2) + timedelta(hours=2)), now - timedelta(days=3))
    return community, user, entry, make.admin(community), lead, activity


def test_a_query_on_her_entry_reaches_the_office_and_she_sees_the_reply(here, now):
    community, user, entry, admin, _lead, _a = here
    query = queries.raise_query(user, "这条积分少了", now, entry_id=entry.id)
    assert query.status == "open"
    assert queries.office_queue(admin, community) == [query]

    queries.answer(admin, query, "已核实，积分无误。", now)

    mine = queries.my_queries(user)
    assert [(q.status, q.reply, q.answered_by_id) for q in mine] == [("answered", "已核实，积分无误。", admin.id)]
    assert queries.office_queue(admin, community) == []
    assert db_events("query_answered") == [(admin.id, user.resident_id)]


def db_events(action):
    from pointsapp.core.extensions import db
    return [(e.actor_id, e.resident_id) for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == action))]


def test_the_office_queue_is_oldest_first(here, make, now):
    community, user, entry, admin, _lead, activity = here
    other = make.resident_user(community)
    first = queries.raise_query(user, "第一", now, entry_id=entry.id)
    second = queries.raise_query(other, "第二", now + timedelta(minutes=1), activity_id=activity.id)
    assert queries.office_queue(admin, community) == [first, second]


def test_she_cannot_query_another_residents_entry(here, make, now):
    community, _user, entry, *_ = here
    neighbour = make.resident_user(community)
    with pytest.raises(NotFound):
        queries.raise_query(neighbour, "不是我的", now, entry_id=entry.id)
    with pytest.raises(NotFound):
        queries.raise_query(neighbour, "id too big", now, entry_id=10**20)


def test_another_communitys_office_cannot_see_or_answer(here, make, now):
    community, user, entry, *_ = here
    query = queries.raise_query(user, "少了", now, entry_id=entry.id)
    stranger = make.admin(make.community())
    with pytest.raises(PermissionDenied):
        queries.staff_query(stranger, query.id)
    with pytest.raises(PermissionDenied):
        queries.office_queue(stranger, community)
    with pytest.raises(NotFound):
        queries.answer(stranger, query, "x", now)


def test_another_communitys_office_gets_no_page(app, here, make, login, db, now):
    community, user, entry, *_ = here
    query = queries.raise_query(user, "少了", now, entry_id=entry.id)
    other = make.community()
    stranger = make.admin(other)
    db.session.commit()
    client = login(app.test_client(), stranger)
    assert client.get(f"/admin/c/{other.id}/queries/{query.id}").status_code == 404
    assert client.get(f"/admin/c/{community.id}/queries/{query.id}").status_code == 403
    assert "少了" not in client.get(f"/admin/c/{other.id}/queries").get_data(as_text=True)


def test_she_cannot_flood_the_office(here, make, now):
    community, user, _entry, _admin, _lead, activity = here
    entries = [ledger.post(Posting(user.resident, 1, EntryKind.AWARD, "attendance", f"flood{i}"), None, now)
               for i in range(queries.MAX_OPEN)]
    for e in entries:
        queries.raise_query(user, "少了", now, entry_id=e.id)
    with pytest.raises(Conflict) as refused:
        queries.raise_query(user, "又一个", now, activity_id=activity.id)
    assert refused.value.code == "too_many_queries"


def test_one_waiting_query_per_entry_and_text_limits(here, now):
    _c, user, entry, *_ = here
    for text, code in (("", "text_missing"), ("  \n ", "text_missing"), ("字" * (queries.TEXT_MAX + 1), "text_too_long")):
        with pytest.raises(InvalidInput) as refused:
            queries.raise_query(user, text, now, entry_id=entry.id)
        assert refused.value.code == code
    queries.raise_query(user, "少了\x00", now, entry_id=entry.id)  # a NUL is dropped, never stored
    with pytest.raises(Conflict) as twice:
        queries.raise_query(user, "少了", now, entry_id=entry.id)
    assert twice.value.code == "query_exists"


def test_only_residents_raise_queries_and_only_about_recent_activities_of_their_community(here, make, now):
    community, user, _entry, admin, lead, activity = here
    with pytest.raises(PermissionDenied):
        queries.raise_query(admin, "我是工作人员", now, activity_id=activity.id)
    far = make.team_lead(make.community())
    elsewhere = activities.create_activity(far, far.grants[0].team, activities.ActivityFields(
        title="别处", kind="安全值守", place="", starts_at=now - timedelta(days=1), ends_at=now), now - timedelta(days=2))
    with pytest.raises(NotFound):
        queries.raise_query(user, "去了", now, activity_id=elsewhere.id)
    with pytest.raises(NotFound):  # not yet started
        queries.raise_query(user, "去了", now - timedelta(days=5), activity_id=activity.id)


def test_withdrawing_and_answering_twice(here, now):
    _c, user, entry, admin, *_ = here
    query = queries.raise_query(user, "少了", now, entry_id=entry.id)
    queries.withdraw(user, query.id, now)
    assert query.status == "withdrawn"
    with pytest.raises(Conflict):
        queries.answer(admin, query, "晚了", now)
    again = queries.raise_query(user, "还是少了", now, entry_id=entry.id)  # a withdrawn one no longer blocks
    queries.answer(admin, again, "已核实", now)
    with pytest.raises(Conflict) as refused:
        queries.withdraw(user, again.id, now)
    assert refused.value.code == "not_open"


def test_she_cannot_withdraw_someone_elses_query(here, make, now):
    community, user, entry, *_ = here
    query = queries.raise_query(user, "少了", now, entry_id=entry.id)
    with pytest.raises(NotFound):
        queries.withdraw(make.resident_user(community), query.id, now)


def test_a_reversal_from_the_query_is_a_ledger_entry_naming_the_query(here, now):
    _c, user, entry, admin, *_ = here
    query = queries.raise_query(user, "这条是重复的", now, entry_id=entry.id)

    queries.answer_with_reversal(admin, query, "重复记录，已冲正。", now)

    correction = query.correction
    assert (correction.kind, correction.amount, correction.reverses_id) == ("reversal", -5, entry.id)
    assert f"#{query.id}" in correction.reason
    assert ledger.balance_of(user.resident_id) == 0
    assert query.status == "answered"


def test_an_award_from_the_query_names_it_as_its_source(here, now):
    _c, user, entry, admin, *_ = here
    query = queries.raise_query(user, "少给了5分", now, entry_id=entry.id)

    queries.answer_with_award(admin, query, 5, "补发5分。", now)

    award = query.correction
    assert (award.kind, award.amount, award.source_type, award.source_id) == ("manual_award", 5, "query", str(query.id))
    assert award.actor_id == admin.id and f"#{query.id}" in award.reason
    assert ledger.balance_of(user.resident_id) == 10


def test_an_award_above_the_ceiling_needs_a_second_office_member(here, make, db, now):
    community, user, entry, admin, *_ = here
    community.award_ceiling = 10
    query = queries.raise_query(user, "整天都在", now, entry_id=entry.id)

    queries.answer_with_award(admin, query, 40, "补发40分。", now)
    assert (query.status, query.proposed_points, query.correction_entry_id) == ("second", 40, None)
    with pytest.raises(PermissionDenied) as same:
        queries.confirm_award(admin, query, now)
    assert same.value.code == "second_person"

    queries.confirm_award(make.admin(community), query, now)
    assert query.status == "answered" and query.correction.amount == 40
    assert ledger.balance_of(user.resident_id) == 45


def test_query_awards_of_a_month_count_together_against_the_ceiling(here, make, now):
    """One office member cannot pass the ceiling alone by answering query after query (raised again and
    again about the same activity): this month's query awards to the resident count together."""
    community, user, entry, admin, _lead, activity = here
    community.award_ceiling = 30
    first = queries.raise_query(user, "那天我去了", now, activity_id=activity.id)
    queries.answer_with_award(admin, first, 30, "补发。", now)
    assert first.status == "answered"
    again = queries.raise_query(user, "那天我去了", now, activity_id=activity.id)
    queries.answer_with_award(admin, again, 30, "补发。", now)
    assert (again.status, again.correction_entry_id) == ("second", None)
    assert ledger.balance_of(user.resident_id) == 35
    # next month the ceiling starts over
    later = now + timedelta(days=40)
    third = queries.raise_query(user, "又一次", later, entry_id=entry.id)
    queries.answer_with_award(admin, third, 30, "补发。", later)
    assert third.status == "answered"


def test_a_query_cannot_reverse_a_purchase_or_an_entry_already_reversed(here, make, now):
    community, user, entry, admin, *_ = here
    ledger.post(Posting(user.resident, 10, EntryKind.AWARD, "attendance", "q-more"), None, now)
    spent = ledger.post(Posting(user.resident, -3, EntryKind.REDEMPTION, "redemption", "q-spend", "兑换单 01-1"),
                        None, now)
    query = queries.raise_query(user, "我没买过", now, entry_id=spent.id)
    with pytest.raises(InvalidInput) as purchase:
        queries.answer_with_reversal(admin, query, "已冲正", now)
    assert purchase.value.code == "void_instead" and ledger.balance_of(user.resident_id) == 12
    ledger.reverse_by_admin(admin, entry.id, community.id, "重复", now)  # the office already did, from the ledger
    second = queries.raise_query(user, "这条重复了", now, entry_id=entry.id)
    with pytest.raises(Conflict) as twice:
        queries.answer_with_reversal(admin, second, "已冲正", now)
    assert twice.value.code == "already_reversed" and second.status == "open"


def test_she_cannot_withdraw_a_query_being_answered(here, now):
    """withdraw reads the query under its lock: an answer written first wins, and says so."""
    _c, user, entry, admin, *_ = here
    query = queries.raise_query(user, "少给了", now, entry_id=entry.id)
    stale = queries.own_query(user, query.id)  # what her page had read: still open
    queries.answer_with_award(admin, query, 5, "补发。", now)
    with pytest.raises(Conflict):
        queries.withdraw(user, stale.id, now)
    assert query.status == "answered"


def test_a_declined_award_goes_back_to_the_queue(here, make, now):
    community, user, entry, admin, *_ = here
    community.award_ceiling = 10
    query = queries.raise_query(user, "整天都在", now, entry_id=entry.id)
    queries.answer_with_award(admin, query, 40, "补发40分。", now)
    queries.decline_award(make.admin(community), query, now)
    assert (query.status, query.proposed_points, query.reply) == ("open", None, "")
    assert queries.office_queue(admin, community) == [query]


def test_an_office_member_cannot_answer_her_own_or_her_households_query(here, make, db, now):
    community, user, entry, *_ = here
    make.grant(user, "community_admin", community)  # she works in the office too
    query = queries.raise_query(user, "少了", now, entry_id=entry.id)
    for answer in (lambda: queries.answer(user, query, "没问题", now),
                   lambda: queries.answer_with_award(user, query, 5, "补", now)):
        with pytest.raises(PermissionDenied) as refused:
            answer()
        assert refused.value.code == "self_answer"
    spouse = make.user(name="老伴", resident=make.resident(user.resident.household, phone=make.phone()))
    make.grant(spouse, "community_admin", community)
    with pytest.raises(PermissionDenied):
        queries.answer_with_award(spouse, query, 5, "补", now)
    assert query.status == "open" and ledger.balance_of(user.resident_id) == 5


def test_the_lead_sees_a_missed_activity_and_records_it_for_approval(here, make, db, now):
    community, user, _entry, admin, lead, activity = here
    query = queries.raise_query(user, "我去了但没签上", now, activity_id=activity.id)
    assert queries.lead_queue(lead) == [query]
    assert queries.lead_queue(make.team_lead(community)) == []  # another team's lead
    with pytest.raises(PermissionDenied):
        queries.staff_query(make.team_lead(community), query.id)
    with pytest.raises(PermissionDenied) as not_office:
        queries.answer_with_award(lead, query, 5, "补", now)
    assert not_office.value.code == "not_office"

    queries.answer_with_attendance(lead, query, "已补录，等社区审核。", now)

    attendance = db.session.get(Attendance, query.attendance_id)
    assert (attendance.status, attendance.hold, attendance.method) == ("pending", "manual", "manual")
    assert f"#{query.id}" in attendance.manual_reason
    assert ledger.balance_of(user.resident_id) == 5  # no points until the office approves
    assert query.status == "answered"


def test_the_lead_cannot_see_queries_about_entries(here, now):
    _c, user, entry, _admin, lead, _a = here
    query = queries.raise_query(user, "少了", now, entry_id=entry.id)
    assert queries.lead_queue(lead) == []
    with pytest.raises(PermissionDenied):
        queries.staff_query(lead, query.id)


def test_query_rows_are_never_about_nothing(here, db):
    """The table itself refuses a query without its subject."""
    from sqlalchemy.exc import IntegrityError
    community, user, *_ = here
    db.session.add(PointsQuery(community_id=community.id, resident_id=user.resident_id, raised_by_id=user.id,
                               kind="entry", text="x", status="open", reply="", created_at=user.created_at))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# ---- the web pages -----------------------------------------------------------------------------------

def test_the_web_flow_raise_answer_and_see_the_reply(app, here, login, db, now):
    community, user, entry, admin, *_ = here
    community.phone, community.office_hours = "0535-7212345", "周一至周五 8:30-17:00"
    db.session.commit()
    resident = login(app.test_client(), user)
    history = resident.get("/me/points").get_data(as_text=True)
    assert f"/me/queries/new?entry={entry.id}" in history
    form = resident.get(f"/me/queries/new?entry={entry.id}").get_data(as_text=True)
    assert "0535-7212345" in form  # the office's phone and hours on residents' pages
    sent = resident.post("/me/queries/new", data={"entry": str(entry.id), "text": "这条积分少了"})
    assert sent.status_code == 302
    query = db.session.scalar(select(PointsQuery))

    office = login(app.test_client(), admin)
    assert "这条积分少了" in office.get(f"/admin/c/{community.id}/queries").get_data(as_text=True)
    answered = office.post(f"/admin/c/{community.id}/queries/{query.id}", data={"action": "reply", "reply": "已核实"})
    assert answered.status_code == 302

    page = resident.get("/me/queries").get_data(as_text=True)
    assert "已核实" in page


@pytest.mark.parametrize("entry", ["１", "99999999999999999999", "abc", "-1", "0"])
def test_hostile_entry_ids_get_a_page_not_a_500(app, here, login, db, entry):
    _c, user, *_ = here
    db.session.commit()
    client = login(app.test_client(), user)
    assert client.get(f"/me/queries/new?entry={entry}").status_code in (200, 404)
    assert client.post("/me/queries/new", data={"entry": entry, "text": "x" * 10_000}).status_code in (404, 422)
    # full-width "１" is activity 1, hers: that query goes through
    assert client.post("/me/queries/new", data={"activity": entry, "text": "少了"}).status_code in (302, 404, 422)


def test_the_office_sets_its_phone_and_hours(app, here, login, db):
    community, _u, _e, admin, *_ = here
    db.session.commit()
    client = login(app.test_client(), admin)
    url = f"/admin/c/{community.id}/office-contact"
    assert client.post(url, data={"phone": "０５３５－７２１２３４５", "hours": "周一至周五 8:30-17:00"}).status_code == 302
    db.session.refresh(community)
    assert (community.phone, community.office_hours) == ("0535-7212345", "周一至周五 8:30-17:00")
    assert client.post(url, data={"phone": "<script>", "hours": ""}).status_code == 422


def test_the_ledger_entry_query_source_stays_within_the_column(here, now):
    _c, user, entry, admin, *_ = here
    query = queries.raise_query(user, "长" * queries.TEXT_MAX, now, entry_id=entry.id)
    queries.answer_with_award(admin, query, 3, "补", now)
    assert len(query.correction.reason) <= 500
    assert isinstance(query.correction, LedgerEntry)


def test_the_lead_records_the_missed_attendance_from_her_queue_page(app, here, make, login, db, now):
    community, user, _entry, _admin, lead, activity = here
    query = queries.raise_query(user, "我去了但没签上", now, activity_id=activity.id)
    db.session.commit()
    client = login(app.test_client(), lead)
    assert "我去了但没签上" in client.get("/lead/queries").get_data(as_text=True)
    page = client.get(f"/lead/queries/{query.id}").get_data(as_text=True)
    assert 'value="attendance"' in page and 'value="award"' not in page  # corrections of points are the office's
    assert client.post(f"/lead/queries/{query.id}", data={"action": "attendance", "reply": "已补录"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(PointsQuery, query.id).attendance_id is not None
    # a hand-made action the page does not offer is refused by the service, and nothing changes
    other = queries.raise_query(make.resident_user(community), "我也去了", now, activity_id=activity.id)
    db.session.commit()
    client.post(f"/lead/queries/{other.id}", data={"action": "award", "points": "5", "reply": "补"})
    db.session.expire_all()
    assert db.session.get(PointsQuery, other.id).status == "open"



@pytest.mark.parametrize(("lang", "label"), [("en", "Query #%d"), ("zh", "疑问 #%d")])
def test_a_correction_from_a_query_names_it_in_the_readers_language(app, here, now, lang, label):
    from flask_babel import force_locale

    from pointsapp.ledger.services.describe import describe

    _c, user, entry, admin, *_ = here
    query = queries.raise_query(user, "少给了5分", now, entry_id=entry.id)
    queries.answer_with_award(admin, query, 5, "补发5分。", now)
    with app.test_request_context("/"), force_locale(lang):
        assert describe(query.correction).detail == label % query.id
    # her words stay with the query (erased at retention), never in the permanent ledger
    assert "少给了5分" not in query.correction.reason


def test_the_office_tab_counts_the_waiting_queries(here, make, client, login, now):
    """居民疑问 (2) on every admin tab bar: the office sees that residents wait without opening the queue."""
    from pointsapp.core.extensions import db
    community, user, entry, admin, _lead, activity = here
    login(client, admin)

    def badge() -> str | None:
        page = client.get(f"/admin/c/{community.id}/buildings").get_data(as_text=True)
        tab = page[page.index(f'/admin/c/{community.id}/queries"'):]
        tab = tab[:tab.index("</a>")]
        return tab[tab.index('class="badge">') + 14:].split("<")[0] if 'class="badge"' in tab else None

    assert badge() is None
    first = queries.raise_query(user, "这条积分少了", now, entry_id=entry.id)
    queries.raise_query(make.resident_user(community), "我去了", now, activity_id=activity.id)
    db.session.commit()
    assert badge() == "2"
    queries.answer(admin, first, "已核实。", now)
    db.session.commit()
    assert badge() == "1"
