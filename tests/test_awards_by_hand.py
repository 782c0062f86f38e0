"""Awards by hand above the community's ceiling wait for a second office member (DESIGN.md invariant 10).

Before this, one office member could award any resident outside her household up to 100,000 points from the
resident's points page, alone: the one path that created points with nobody else behind it."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from pointsapp.core.errors import DomainError
from pointsapp.ledger.models import AwardRequest, LedgerEntry
from pointsapp.ledger.services import by_hand
from pointsapp.ledger.services.posting import balance_of


def code_of(work) -> str:
    with pytest.raises(DomainError) as err:
        work()
    return err.value.code


@pytest.fixture
def office(make, db):
    c = make.community()  # the ceiling is 30 points
    first, second = make.admin(c), make.admin(c)
    her = make.resident(make.household(community=c), name="王秀英")
    db.session.commit()
    return c, first, second, her


def entries(db) -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


def test_up_to_the_ceiling_posts_at_once_above_it_waits_for_another_office_member(office, db, now):
    c, first, second, her = office
    small = by_hand.award_by_hand(first, her, 30, "扫雪", "form-1", now)
    assert isinstance(small, LedgerEntry) and balance_of(her.id) == 30
    big = by_hand.award_by_hand(first, her, 200, "抢险救灾", "form-2", now)
    assert isinstance(big, AwardRequest) and big.status == "waiting" and balance_of(her.id) == 30
    assert by_hand.award_by_hand(first, her, 200, "抢险救灾", "form-2", now).id == big.id  # a retried form asks once
    assert code_of(lambda: by_hand.confirm(first, big, now)) == "second_person"
    assert balance_of(her.id) == 30
    entry = by_hand.confirm(second, big, now)
    assert (entry.amount, entry.source_type, entry.source_id, entry.actor_id) == (200, "award_request", str(big.id),
                                                                                   second.id)
    assert balance_of(her.id) == 230 and big.status == "confirmed" and big.entry_id == entry.id
    assert code_of(lambda: by_hand.confirm(second, big, now)) == "already_decided"
    assert balance_of(her.id) == 230


def test_a_refusal_needs_a_reason_and_posts_nothing(office, db, now):
    c, first, second, her = office
    big = by_hand.award_by_hand(first, her, 99, "好人好事", "form-3", now)
    assert code_of(lambda: by_hand.refuse(second, big, " ", now)) == "reason_missing"
    by_hand.refuse(second, big, "请走积分申报", now)
    assert (big.status, big.refuse_reason, balance_of(her.id)) == ("refused", "请走积分申报", 0)
    assert code_of(lambda: by_hand.confirm(second, big, now)) == "already_decided"


def test_nobody_of_her_household_confirms_and_no_one_asks_for_her_own(office, make, db, now):
    c, first, second, her = office
    spouse = make.user(resident=make.resident(her.household, name="李建国"))
    make.grant(spouse, "community_admin", c)
    db.session.commit()
    big = by_hand.award_by_hand(first, her, 100, "抢险救灾", "form-4", now)
    assert code_of(lambda: by_hand.confirm(spouse, big, now)) == "self_award"
    assert code_of(lambda: by_hand.award_by_hand(spouse, her, 100, "辛苦了", "form-5", now)) == "self_award"


def test_another_communitys_office_cannot_confirm(office, make, db, now):
    c, first, second, her = office
    outsider = make.admin(make.community())
    big = by_hand.award_by_hand(first, her, 100, "抢险救灾", "form-6", now)
    assert code_of(lambda: by_hand.confirm(outsider, big, now)) == "forbidden"


def test_the_points_page_says_it_waits_and_the_review_page_lets_the_second_confirm(office, app, login, db):
    c, first, second, her = office
    one = login(app.test_client(), first)
    url = f"/admin/c/{c.id}/residents/{her.id}/points"
    page = one.get(url).get_data(as_text=True)
    token = page.split('name="request_id"')[1].split('value="')[1].split('"')[0]
    csrf = page.split('name="csrf_token"')[1].split('value="')[1].split('"')[0]
    sent = one.post(url, data={"csrf_token": csrf, "request_id": token, "direction": "award", "amount": "１２０",
                               "reason": "抢险救灾"}, follow_redirects=True)
    assert "另一位" in sent.get_data(as_text=True) and balance_of(her.id) == 0
    [waiting] = db.session.scalars(select(AwardRequest)).all()
    review = f"/admin/c/{c.id}/awards/"
    assert "抢险救灾" in one.get(review).get_data(as_text=True)
    assert f"/by-hand/{waiting.id}" not in one.get(review).get_data(as_text=True)  # not for the one who asked
    two = login(app.test_client(), second)
    page = two.get(review).get_data(as_text=True)
    csrf = page.split('name="csrf_token"')[1].split('value="')[1].split('"')[0]
    two.post(f"/admin/c/{c.id}/awards/by-hand/{waiting.id}", data={"csrf_token": csrf, "action": "confirm"})
    db.session.expire_all()
    assert balance_of(her.id) == 120


def test_two_office_members_confirming_at_once_post_once(office, app, backend, db, now):
    if backend != "postgresql":
        pytest.skip("SQLite serialises every writing unit of work")
    c, first, second, her = office
    big = by_hand.award_by_hand(first, her, 100, "抢险救灾", "form-7", now)
    db.session.commit()
    request_id, second_id = big.id, second.id

    def confirm_once(_n):
        with app.app_context():
            from pointsapp.accounts.models import User
            from pointsapp.core.extensions import db as _db
            try:
                by_hand.confirm(_db.session.get(User, second_id), _db.session.get(AwardRequest, request_id), now)
                _db.session.commit()
                return "ok"
            except DomainError as exc:
                _db.session.rollback()
                return exc.code
            finally:
                _db.session.remove()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(confirm_once, range(4)))
    assert results.count("ok") == 1 and set(results) == {"ok", "already_decided"}, results
    db.session.expire_all()
    assert balance_of(her.id) == 100
