"""/api/v1/me: a resident's own things as JSON, the same values her pages show (home, 我的积分, rankings,
会员码, 志愿服务证明), read through the same services; only her own; a token without the resident role
is refused; months are China-time months; a hostile month is a 422 in the one error shape."""
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import current_app
from flask_babel import force_locale

from pointsapp.accounts.models import Role
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.describe import describe
from pointsapp.ledger.services.history import month_history
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings import services as rankings
from pointsapp.volunteering.services import codes, records

from .api_helpers import bearer, error_of, token_for
from .scenes import every_kind_of_entry

RESIDENT_ONLY = ("/api/v1/me/balance", "/api/v1/me/ranks", "/api/v1/me/history", "/api/v1/me/member-code",
                 "/api/v1/me/service-record")


@pytest.fixture
def scene(make, db, now, clock):
    return every_kind_of_entry(make, now)


@pytest.fixture
def her(scene):
    """The scene's resident and her resident token."""
    user = scene.user
    return user, bearer(token_for(user, scene.community, [Role.RESIDENT]), lang="zh")


def test_profile_is_her_name_community_household_and_roles(client, her):
    user, headers = her
    got = client.get("/api/v1/me", headers=headers)
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    r = user.resident
    with force_locale("zh"):
        address = r.household.address  # as the home page writes it
    assert body["name"] == user.name and body["user_id"] == user.id and body["resident_id"] == r.id
    assert body["community"] == {"id": r.community_id, "name": r.community.name}
    assert body["household"] == address
    assert body["moved_out_on"] is None
    assert [s["role"] for s in body["roles"]] == ["resident"]


def test_profile_of_staff_without_a_resident_record(client, make, db, clock):
    c = make.community()
    admin = make.admin(c)
    db.session.commit()
    got = client.get("/api/v1/me", headers=bearer(token_for(admin, c, [Role.COMMUNITY_ADMIN])))
    assert got.status_code == 200
    body = got.get_json()
    assert body["resident_id"] is None and body["community"] is None and body["household"] is None
    assert body["roles"] == [{"role": "community_admin", "community_id": c.id, "team_id": None, "store_id": None}]


def test_balance_is_her_account_as_my_points_shows_it(client, login, her):
    user, headers = her
    body = client.get("/api/v1/me/balance", headers=headers).get_json()
    account = ledger.account_of(user.resident_id)
    assert body == {"balance": account.balance, "earned_total": account.earned_total, "owed": account.owed}
    login(client, user)
    page = client.get("/me/points").get_data(as_text=True)
    assert f'<p class="value">{account.balance}</p>' in page


def test_owed_points_are_shown(client, her):
    user, headers = her
    account = ledger.account_of(user.resident_id)
    account.owed = 7
    _db.session.commit()
    assert client.get("/api/v1/me/balance", headers=headers).get_json()["owed"] == 7


def test_balance_of_a_resident_without_entries_is_zero(client, make, db, clock):
    user = make.resident_user()
    db.session.commit()
    got = client.get("/api/v1/me/balance", headers=bearer(token_for(user, user.resident.community, [Role.RESIDENT])))
    assert got.get_json() == {"balance": 0, "earned_total": 0, "owed": 0}


def test_ranks_are_her_places_as_the_rankings_page_has_them(client, her, now):
    user, headers = her
    r = user.resident
    for metric in ("points", "minutes", "attendances"):
        body = client.get(f"/api/v1/me/ranks?metric={metric}", headers=headers).get_json()
        assert body["metric"] == metric and body["frozen"] is False and body["community_id"] == r.community_id
        assert [p["period"] for p in body["periods"]] == ["month", "quarter", "year", "all"]
        for shown, (name, key) in zip(body["periods"], rankings.current_periods(now).items(), strict=True):
            assert shown["period"] == name
            places = rankings.own_places(r.community, r, key, metric, None)
            assert shown["key"] == key
            assert shown["mine"] == (None if places.mine is None else
                                     {"rank": places.mine.rank, "value": places.mine.value})
            assert shown["household"] == (None if places.household is None else
                                          {"rank": places.household.rank, "value": places.household.value})
    points = client.get("/api/v1/me/ranks", headers=headers).get_json()
    assert points["periods"][0]["mine"]["rank"] == 1  # the only one earning in her community this month
    assert client.get("/api/v1/me/ranks?metric=bogus", headers=headers).status_code == 422


def test_a_frozen_board_hides_her_places_but_not_her_totals(client, her, scene):
    _, headers = her
    scene.community.board_frozen = True
    _db.session.commit()
    body = client.get("/api/v1/me/ranks", headers=headers).get_json()
    assert body["frozen"] is True
    month = body["periods"][0]
    assert month["mine"]["rank"] is None and month["mine"]["value"] > 0


def test_history_is_the_month_of_my_points_with_its_labels(client, her, now):
    user, headers = her
    for lang in ("zh", "en"):
        body = client.get("/api/v1/me/history?month=2026-11", headers={**headers, "Accept-Language": lang}).get_json()
        with current_app.test_request_context(), force_locale(lang):
            page = month_history(user.resident_id, "2026-11", now)
            texts = [describe(e) for e in page.entries]
        assert body["month"] == "2026-11"
        assert (body["earned"], body["spent"], body["other"], body["balance_end"]) == (
            page.earned, page.spent, page.other, page.balance_end)
        assert body["months"] == page.months and body["previous"] == page.older and body["next"] == page.newer
        assert [e["id"] for e in body["entries"]] == [e.id for e in page.entries]
        assert [(e["label"], e["detail"]) for e in body["entries"]] == [(str(t.label), str(t.detail)) for t in texts]
        assert [e["amount"] for e in body["entries"]] == [e.amount for e in page.entries]
        assert [e["balance_after"] for e in body["entries"]] == [e.balance_after for e in page.entries]
    # no month: the month of her latest entry, as the page opens
    assert client.get("/api/v1/me/history", headers=headers).get_json()["month"] == "2026-11"


def test_an_entry_at_2330_china_time_on_the_last_day_is_that_months(client, make, db, clock):
    user = make.resident_user()
    r = user.resident
    late = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 October, China time
    ledger.post(Posting(r, 2, EntryKind.AWARD, "attendance", "sept", "安全值守"), None, datetime(2026, 9, 2, tzinfo=UTC))
    ledger.post(Posting(r, 5, EntryKind.AWARD, "attendance", "late", "安全值守"), None, late)
    ledger.post(Posting(r, 3, EntryKind.AWARD, "attendance", "next", "安全值守"), None, late + timedelta(minutes=31))
    db.session.commit()
    headers = bearer(token_for(user, r.community, [Role.RESIDENT]))
    october = client.get("/api/v1/me/history?month=2026-10", headers=headers).get_json()
    november = client.get("/api/v1/me/history?month=2026-11", headers=headers).get_json()
    assert [e["amount"] for e in october["entries"]] == [5]
    assert [e["amount"] for e in november["entries"]] == [3]  # 00:01 on 1 November, China time
    assert datetime.fromisoformat(october["entries"][0]["created_at"]) == late
    assert (october["previous"], october["next"]) == ("2026-09", "2026-11")
    assert (november["previous"], november["next"]) == ("2026-10", None)
    assert october["balance_end"] == 7 and november["balance_end"] == 10
    assert client.get("/api/v1/me/history?month=2026-1", headers=headers).get_json()["month"] == "2026-01"


@pytest.mark.parametrize("month", ["9999-99", "9999-12", "2026-13", "0000-00", "x" * 500, "2026-11-01", "\x00"])
def test_a_hostile_month_is_422_in_the_error_shape(client, her, month):
    _, headers = her
    got = client.get("/api/v1/me/history", query_string={"month": month}, headers=headers)
    assert got.status_code in (400, 422), got.get_data(as_text=True)
    error = error_of(got)
    if got.status_code == 422:
        assert error["code"] == "invalid_input"


def test_9999_99_is_422(client, her):
    _, headers = her
    got = client.get("/api/v1/me/history?month=9999-99", headers=headers)
    assert got.status_code == 422
    assert error_of(got)["code"] == "invalid_input"


def test_member_code_is_hers_and_short_lived_and_never_logged(app, client, her, now, caplog):
    user, headers = her
    with caplog.at_level(logging.DEBUG):
        body = client.get("/api/v1/me/member-code", headers=headers).get_json()
    code = body["code"]
    assert code == codes.member_phone_code(app.secret_key, user.resident, now)  # what the page's QR holds
    read = codes.read_member_code(app.secret_key, code, now, lambda _id: None)
    assert read.resident_id == user.resident_id and not read.is_card
    expires = datetime.fromisoformat(body["expires_at"])
    assert now < expires <= now + timedelta(seconds=2 * codes.MEMBER_CODE_SECONDS)
    codes.read_member_code(app.secret_key, code, expires - timedelta(seconds=1), lambda _id: None)  # still good
    with pytest.raises(codes.CodeError):
        codes.read_member_code(app.secret_key, code, expires, lambda _id: None)  # the counter refuses it
    assert body["refresh_seconds"] == codes.MEMBER_CODE_SECONDS
    assert code not in caplog.text


def test_service_record_is_her_approved_attendances(client, her, now):
    user, headers = her
    body = client.get("/api/v1/me/service-record", headers=headers).get_json()
    record = records.service_record(user.resident, date(2026, 1, 1), date(2026, 11, 25))
    assert (body["start"], body["end"]) == ("2026-01-01", "2026-11-25")
    assert body["count"] == record.count >= 1 and body["minutes"] == record.minutes
    assert body["hours"] == round(record.minutes / 60, 1)
    assert body["points"] == sum(line.points for line in record.lines)
    assert [(line["activity"], line["minutes"], line["points"], line["method"]) for line in body["lines"]] == [
        (line.activity, line.minutes, line.points, line.method) for line in record.lines]
    empty = client.get("/api/v1/me/service-record?from=2025-01-01&to=2025-12-31", headers=headers).get_json()
    assert empty["count"] == 0 and empty["lines"] == []
    backwards = client.get("/api/v1/me/service-record?from=2026-12-01&to=2026-01-01", headers=headers)
    assert backwards.status_code == 422 and error_of(backwards)["code"] == "invalid_range"
    assert client.get("/api/v1/me/service-record?from=2026-02-30", headers=headers).status_code == 422


@pytest.mark.parametrize("url", RESIDENT_ONLY)
def test_a_token_without_the_resident_role_is_refused(client, make, db, clock, url):
    user = make.resident_user()
    make.grant(user, Role.COMMUNITY_ADMIN, user.resident.community)  # a resident who works in the office
    db.session.commit()
    office = bearer(token_for(user, user.resident.community, [Role.COMMUNITY_ADMIN]))
    got = client.get(url, headers=office)
    assert got.status_code == 403 and error_of(got)["code"] == "forbidden"
    assert client.get("/api/v1/me", headers=office).status_code == 200  # the profile needs a login only
    both = bearer(token_for(user, user.resident.community, [Role.RESIDENT, Role.COMMUNITY_ADMIN]))
    assert client.get(url, headers=both).status_code == 200


@pytest.mark.parametrize("url", RESIDENT_ONLY)
def test_staff_without_a_resident_record_and_anonymous_are_refused(client, make, db, clock, url):
    c = make.community()
    admin = make.admin(c)
    db.session.commit()
    got = client.get(url, headers=bearer(token_for(admin, c, [Role.COMMUNITY_ADMIN])))
    assert got.status_code == 403 and error_of(got)
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and error_of(anonymous)["code"] == "unauthenticated"


def test_another_residents_data_is_never_visible(app, client, make, her, scene, now):
    user, headers = her
    neighbour = make.resident_user(household=user.resident.household)  # the same household, even
    ledger.post(Posting(neighbour.resident, 77, EntryKind.AWARD, "attendance", "n1", "安全值守"), None, now)
    _db.session.commit()
    theirs = bearer(token_for(neighbour, scene.community, [Role.RESIDENT]))
    mine_ids = {e.id for e in ledger.history(user.resident_id, limit=1000)}
    for who, h, own in ((user, headers, mine_ids), (neighbour, theirs, None)):
        history = client.get("/api/v1/me/history?month=2026-11", headers=h).get_json()
        ids = {e["id"] for e in history["entries"]}
        if own is not None:
            assert ids <= own
        else:
            assert [e["amount"] for e in history["entries"]] == [77] and not ids & mine_ids
        balance = client.get("/api/v1/me/balance", headers=h).get_json()
        assert balance["balance"] == ledger.balance_of(who.resident_id)
        code = client.get("/api/v1/me/member-code", headers=h).get_json()["code"]
        assert codes.read_member_code(app.secret_key, code, now, lambda _id: None).resident_id == who.resident_id
        record = client.get("/api/v1/me/service-record", headers=h).get_json()
        assert record["count"] == records.service_record(who.resident, date(2026, 1, 1), date(2026, 11, 25)).count
        assert client.get("/api/v1/me", headers=h).get_json()["resident_id"] == who.resident_id
    # no operation takes a resident id: asking for another's is not even expressible
    assert client.get(f"/api/v1/me/balance?resident_id={neighbour.resident_id}", headers=headers).get_json()[
        "balance"] == ledger.balance_of(user.resident_id)


def test_the_apps_own_pages_may_call_with_the_session_cookie(client, login, her):
    user, _ = her
    login(client, user)
    assert client.get("/api/v1/me/balance").get_json()["balance"] == ledger.balance_of(user.resident_id)
