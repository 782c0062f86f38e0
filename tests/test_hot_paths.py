"""Statements per request on the hot paths (issue 13): the counter's checkout and the QR check-in confirm.

Every statement is a round trip and, under load, most of a request's CPU (SQLAlchemy and the driver per
statement: docs/performance.md, "Hot paths"). These budgets are what the paths cost after that work; a new
statement fails here and must be argued for. Before: 31 per checkout (of two products) and 22 per check-in
on SQLite (33 and 24 on PostgreSQL, with the lock timeout set in every transaction).
"""
from datetime import timedelta

from sqlalchemy import select

from pointsapp.accounts.models import User
from pointsapp.volunteering.services import codes

from .querycount import count_queries
from .test_checkin import setup  # noqa: F401  (fixture)
from .test_store_pages import identify, shop  # noqa: F401  (fixture)


def test_checkout_statements(app, client, login, shop):  # noqa: F811
    store, clerk, _, resident, noodles, soap = shop
    login(client, clerk)
    identify(app, client, store, resident)
    with count_queries() as log:
        done = client.post(f"/store/{store.id}/checkout",
                           data={"request_id": "r1", f"qty_{noodles.id}": "2", f"qty_{soap.id}": "1"})
    assert done.status_code in (302, 303)
    # PostgreSQL inserts the two lines in one statement and the two stock movements in another; SQLite, one
    # row at a time (SQLAlchemy's batched insert needs RETURNING in a guaranteed order); +1: the community's
    # webhook endpoints that want the checkout (integrations/services/webhooks.py, the outbox)
    budget = 19 if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") else 21
    assert log.count <= budget, log.report()


def _scanned(app, client, login, setup, now) -> None:  # noqa: F811
    """The resident logged in has scanned a running activity's code (the confirm page waits)."""
    from pointsapp.core.extensions import db
    _, _, _, user, new_activity = setup
    a = new_activity(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    code = codes.checkin_code(app.secret_key, a, codes.step_of(now, 30))
    db.session.commit()
    login(client, user)
    client.get(f"/c/{code}")


def test_checkin_confirm_statements(app, client, login, setup, now):  # noqa: F811
    _scanned(app, client, login, setup, now)
    with count_queries() as log:
        done = client.post("/c/confirm")
    assert done.status_code in (302, 303)
    # (her first entry: her points account is created too, 1 statement more than any later check-in)
    assert log.count <= 14, log.report()


def test_pages_after_the_hot_paths(app, client, login, shop):  # noqa: F811
    from pointsapp.core.extensions import db
    """What the clerk and the resident see right after: the receipt, the member code and its QR."""
    store, clerk, _, resident, noodles, soap = shop
    login(client, clerk)
    identify(app, client, store, resident)
    done = client.post(f"/store/{store.id}/checkout", data={"request_id": "r1", f"qty_{noodles.id}": "2"})
    with count_queries() as log:
        assert client.get(done.headers["Location"]).status_code == 200
    assert log.count <= 4, log.report()  # the login, the store, the receipt with its resident's address, its lines
    login(client, db.session.scalar(select(User).where(User.resident_id == resident.id)))
    # the page: the login, her address (household, building), the office's contact; the QR it refreshes every
    # few seconds: the login only (the code is her id signed with the time)
    for url, budget in (("/me/code", 4), ("/me/code.svg", 1)):
        with count_queries() as log:
            assert client.get(url).status_code == 200
        assert log.count <= budget, log.report()


def test_the_checkin_done_page(app, client, login, setup, now):  # noqa: F811
    _scanned(app, client, login, setup, now)
    done = client.post("/c/confirm")
    with count_queries() as log:
        assert client.get(done.headers["Location"]).status_code == 200
    assert log.count <= 4, log.report()  # the login, the attendance with its activity, the balance, the office


def test_the_counter_before_the_checkout(app, client, login, shop):  # noqa: F811
    """The clerk scans the member code (identify), the counter shows her with the shelf."""
    store, clerk, _, resident, *_ = shop
    login(client, clerk)
    with count_queries() as log:
        assert identify(app, client, store, resident).status_code == 302
    assert log.count <= 4, log.report()  # the login, the store, the resident, the identification's insert
    with count_queries() as log:
        assert client.get(f"/store/{store.id}/counter").status_code == 200
    # the login, the store, the identification with her and her address, the products, her balance, the office
    assert log.count <= 6, log.report()
