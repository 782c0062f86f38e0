"""Fixes for holes found while testing: redirects, search wildcards, stale activation codes."""
from datetime import timedelta

import pytest

from pointsapp.accounts import services as accounts
from pointsapp.core.errors import DomainError
from pointsapp.tree import services as tree


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "https://evil.example/", "/\tx"])
def test_language_switch_never_redirects_off_site(client, db, target):
    response = client.post("/lang/en", data={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_language_switch_returns_to_the_page(client, db):
    assert client.post("/lang/en", data={"next": "/login?x=1"}).headers["Location"] == "/login?x=1"


def test_percent_and_underscore_in_a_search_are_literal(make, db):
    c = make.community()
    make.resident(community=c, name="王秀英")
    make.resident(community=c, name="李_明")
    assert tree.search_residents(c.id, "%") == []
    assert [r.name for r in tree.search_residents(c.id, "_")] == ["李_明"]


def test_changing_ones_password_voids_an_outstanding_activation_code(make, db, now):
    c = make.community()
    admin = make.admin(c)
    user = make.resident_user(community=c)
    code = accounts.issue_activation_code(admin, user, now)
    accounts.change_own_password(user, "secret-pass", "new-pass-1", now)
    with pytest.raises(DomainError) as err:
        accounts.activate(user.phone, code, "hijacked-1", now + timedelta(minutes=1))
    assert err.value.code == "activation_invalid"


def test_a_disabled_account_cannot_be_activated(make, db, now):
    c = make.community()
    admin = make.admin(c)
    user = make.resident_user(community=c)
    code = accounts.issue_activation_code(admin, user, now)
    user.is_enabled = False
    with pytest.raises(DomainError) as err:
        accounts.activate(user.phone, code, "new-pass-1", now)
    assert err.value.code == "account_disabled"
