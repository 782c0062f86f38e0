"""Accounts: passwords, activation codes, staff roles, and the login page around them."""
import re
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash

from pointsapp.accounts import services as accounts
from pointsapp.accounts.models import LoginSession, Role, RoleGrant, User
from pointsapp.accounts.services import sessions
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db as _db
from pointsapp.core.permissions import Action, can
from pointsapp.tree.models import Grid

from .factories import PASSWORD

CJK = re.compile(r"[\u4e00-\u9fff]")
HASH_PREFIXES = ("scrypt:", "pbkdf2:")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def error_messages(html: str) -> list[str]:
    """The texts of the error flashes and of the error page's message."""
    found = re.findall(r'<div class="flash error"[^>]*>(.*?)</div>', html, re.S)
    found += re.findall(r'<p class="lead">(.*?)</p>', html, re.S)
    return [_text(m).strip() for m in found]


def assert_chinese_error(html: str, english: str) -> None:
    messages = error_messages(html)
    assert messages, "no error message on the page"
    assert any(CJK.search(m) for m in messages), f"error message is not in Chinese: {messages}"
    assert english not in html


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def logged_in_user_id(client) -> str | None:
    with client.session_transaction() as sess:
        return sess.get("_user_id")


def session_owner(client) -> int | None:
    """The id of the user whose live login session the client's cookie carries."""
    token = logged_in_user_id(client)
    if token is None:
        return None
    return _db.session.scalar(select(LoginSession.user_id).where(LoginSession.token_hash == sessions.hash_token(token),
                                                                 LoginSession.revoked_at.is_(None)))


def _session(user, now) -> str:
    return sessions.start_session(user, now, user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/120.0",
                                  ip="10.0.0.1", rules=sessions.SessionRules.from_config(current_app.config))


def post_login(client, phone, password=PASSWORD, next_=None, keep=True, **kwargs):
    data = {"phone": phone, "password": password}
    if keep:  # the box "keep me logged in on this phone" is ticked by default
        data["remember"] = "y"
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data, **kwargs)


# ---- authenticate ---------------------------------------------------------------------------

def test_authenticate_returns_the_user_for_the_right_password_and_records_the_login_time(make, now):
    user = make.user()
    assert user.last_login_at is None

    assert accounts.authenticate(user.phone, PASSWORD, now) is user
    assert user.last_login_at == now


@pytest.mark.parametrize("typed", [
    lambda p: f"+86 {p}",
    lambda p: f"86{p}",
    lambda p: f"{p[:3]} {p[3:7]} {p[7:]}",
    lambda p: f"{p[:3]}-{p[3:7]}-{p[7:]}",
    lambda p: f" {p} ",
], ids=["country-code", "86-prefix", "spaces", "dashes", "padded"])
def test_authenticate_accepts_the_phone_as_people_type_it(make, now, typed):
    user = make.user()

    assert accounts.authenticate(typed(user.phone), PASSWORD, now) is user


def test_authenticate_refuses_a_wrong_password(make, now):
    user = make.user()

    with pytest.raises(InvalidInput) as exc:
        accounts.authenticate(user.phone, "not-the-password", now)
    assert exc.value.code == "invalid_credentials"
    assert user.last_login_at is None


def test_authenticate_gives_an_unknown_phone_the_same_answer_as_a_wrong_password(make, now):
    user = make.user()
    with pytest.raises(InvalidInput) as wrong:
        accounts.authenticate(user.phone, "not-the-password", now)
    with pytest.raises(InvalidInput) as unknown:
        accounts.authenticate("13000000000", PASSWORD, now)

    assert unknown.value.code == wrong.value.code == "invalid_credentials"
    assert str(unknown.value) == str(wrong.value)


def test_authenticate_refuses_an_account_that_has_no_password_yet(make, now):
    user = make.user(password=False)

    with pytest.raises(InvalidInput) as exc:
        accounts.authenticate(user.phone, "", now)
    assert exc.value.code == "invalid_credentials"


def test_authenticate_refuses_a_disabled_account_even_with_the_right_password(make, now):
    user = make.user()
    user.is_enabled = False

    with pytest.raises(InvalidInput) as exc:
        accounts.authenticate(user.phone, PASSWORD, now)
    assert exc.value.code == "account_disabled"
    assert user.last_login_at is None


# ---- activation codes -----------------------------------------------------------------------

def _resident_account(make, community, now, admin=None):
    admin = admin or make.admin(community)
    resident = make.resident(make.household(community), phone=make.phone())
    return admin, accounts.account_for_resident(admin, resident, now)


def test_activation_code_is_eight_digits_and_only_its_hash_is_stored(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)

    code = accounts.issue_activation_code(admin, user, now)

    assert re.fullmatch(r"\d{8}", code)
    assert code not in user.activation_code_hash
    assert user.activation_code_hash.startswith(HASH_PREFIXES)
    assert user.activation_expires_at == now + timedelta(days=accounts.ACTIVATION_DAYS)


def test_activation_code_sets_the_password_and_works_only_once(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    code = accounts.issue_activation_code(admin, user, now)

    assert accounts.activate(user.phone, code, "new-pass-1", now) is user
    assert accounts.authenticate(user.phone, "new-pass-1", now) is user

    with pytest.raises(InvalidInput) as exc:
        accounts.activate(user.phone, code, "another-pass-2", now)
    assert exc.value.code == "activation_invalid"
    assert accounts.authenticate(user.phone, "new-pass-1", now) is user


def test_activation_code_accepts_spaces_typed_between_digits(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    code = accounts.issue_activation_code(admin, user, now)

    accounts.activate(user.phone, f" {code[:4]} {code[4:]} ", "new-pass-1", now)

    assert accounts.authenticate(user.phone, "new-pass-1", now) is user


def test_activation_code_expires(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    code = accounts.issue_activation_code(admin, user, now)
    expiry = now + timedelta(days=accounts.ACTIVATION_DAYS)

    with pytest.raises(InvalidInput) as exc:
        accounts.activate(user.phone, code, "new-pass-1", expiry)
    assert exc.value.code == "activation_invalid"
    assert user.password_hash is None

    accounts.activate(user.phone, code, "new-pass-1", expiry - timedelta(seconds=1))
    assert user.password_hash is not None


def test_a_wrong_activation_code_is_refused_and_the_right_one_still_works(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    code = accounts.issue_activation_code(admin, user, now)
    wrong = f"{(int(code) + 1) % 10**8:08d}"

    with pytest.raises(InvalidInput) as exc:
        accounts.activate(user.phone, wrong, "new-pass-1", now)
    assert exc.value.code == "activation_invalid"
    assert user.password_hash is None

    accounts.activate(user.phone, code, "new-pass-1", now)
    assert accounts.authenticate(user.phone, "new-pass-1", now) is user


def test_an_activation_code_only_works_for_the_phone_it_was_issued_to(make, now):
    community = make.community()
    admin, first = _resident_account(make, community, now)
    _admin, second = _resident_account(make, community, now, admin=admin)
    code = accounts.issue_activation_code(admin, first, now)

    with pytest.raises(InvalidInput) as exc:
        accounts.activate(second.phone, code, "new-pass-1", now)
    assert exc.value.code == "activation_invalid"
    assert second.password_hash is None


def test_a_new_activation_code_replaces_the_old_one(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    old = accounts.issue_activation_code(admin, user, now)
    new = accounts.issue_activation_code(admin, user, now)
    if old == new:  # one chance in 10^8
        pytest.skip("the two random codes happen to be equal")

    with pytest.raises(InvalidInput):
        accounts.activate(user.phone, old, "new-pass-1", now)
    accounts.activate(user.phone, new, "new-pass-1", now)


def test_activation_refuses_a_too_short_password(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    code = accounts.issue_activation_code(admin, user, now)

    with pytest.raises(InvalidInput) as exc:
        accounts.activate(user.phone, code, "12345", now)
    assert exc.value.code == "password_too_short"
    assert user.password_hash is None


def test_an_admin_of_another_community_cannot_issue_an_activation_code(make, now):
    community, other = make.community(), make.community()
    _admin, user = _resident_account(make, community, now)

    with pytest.raises(PermissionDenied):
        accounts.issue_activation_code(make.admin(other), user, now)
    assert user.activation_code_hash is None


# ---- set_password / change_own_password -----------------------------------------------------

def test_admin_set_password_ends_every_session_and_cancels_an_activation_code(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    code = accounts.issue_activation_code(admin, user, now)
    token = _session(user, now)

    accounts.set_password(admin, user, "fresh-pass-9", now)

    assert sessions.find_session(token, now) is None
    assert accounts.authenticate(user.phone, "fresh-pass-9", now) is user
    with pytest.raises(InvalidInput) as exc:
        accounts.activate(user.phone, code, "other-pass-9", now)
    assert exc.value.code == "activation_invalid"


@pytest.mark.parametrize(("password", "code"), [("", "password_too_short"), ("12345", "password_too_short"),
                                                  ("aaaaaaaa", "password_too_weak")])
def test_set_password_refuses_a_weak_password(make, now, password, code):
    community = make.community()
    admin, user = _resident_account(make, community, now)

    with pytest.raises(InvalidInput) as exc:
        accounts.set_password(admin, user, password, now)
    assert exc.value.code == code
    assert user.password_hash is None


def test_an_admin_of_another_community_cannot_set_a_residents_password(make, now):
    community, other = make.community(), make.community()
    _admin, user = _resident_account(make, community, now)

    with pytest.raises(PermissionDenied) as exc:
        accounts.set_password(make.admin(other), user, "fresh-pass-9", now)
    assert exc.value.code == "forbidden"
    assert user.password_hash is None


def test_a_resident_cannot_set_another_residents_password(make, now):
    community = make.community()
    _admin, user = _resident_account(make, community, now)
    neighbour = make.resident_user(community)

    with pytest.raises(PermissionDenied):
        accounts.set_password(neighbour, user, "fresh-pass-9", now)


def test_a_community_admin_cannot_set_the_password_of_a_city_admin_who_also_runs_the_community(make, now):
    community = make.community()
    admin = make.admin(community)
    city = make.city_admin()
    make.grant(city, Role.COMMUNITY_ADMIN, community)
    old_hash = city.password_hash

    with pytest.raises(PermissionDenied):
        accounts.set_password(admin, city, "taken-over-1", now)
    with pytest.raises(PermissionDenied):
        accounts.issue_activation_code(admin, city, now)
    assert city.password_hash == old_hash
    assert city.activation_code_hash is None


def test_an_admin_cannot_take_over_the_account_of_another_communitys_admin_who_lives_here(make, now):
    home, work = make.community(), make.community()
    home_admin = make.admin(home)
    # the admin of `work` lives in `home`: a resident there with a linked login
    work_admin = make.resident_user(home)
    make.grant(work_admin, Role.COMMUNITY_ADMIN, work)
    old_hash = work_admin.password_hash

    with pytest.raises(PermissionDenied):
        accounts.set_password(home_admin, work_admin, "taken-over-1", now)
    with pytest.raises(PermissionDenied):
        accounts.issue_activation_code(home_admin, work_admin, now)
    assert work_admin.password_hash == old_hash

    # an admin of both communities still can
    accounts.grant_role(make.city_admin(), home_admin, Role.COMMUNITY_ADMIN, work, now)
    accounts.set_password(home_admin, work_admin, "reset-by-both-1", now)
    assert accounts.authenticate(work_admin.phone, "reset-by-both-1", now) is work_admin


def test_a_city_admin_can_set_anyones_password(make, now):
    community = make.community()
    _admin, user = _resident_account(make, community, now)

    accounts.set_password(make.city_admin(), user, "fresh-pass-9", now)

    assert accounts.authenticate(user.phone, "fresh-pass-9", now) is user


def test_change_own_password_needs_the_current_password(make, now):
    user = make.user()
    token = _session(user, now)

    with pytest.raises(InvalidInput) as exc:
        accounts.change_own_password(user, "wrong-current", "brand-new-1", now)
    assert exc.value.code == "invalid_credentials"
    assert sessions.find_session(token, now) is user
    assert accounts.authenticate(user.phone, PASSWORD, now) is user


def test_change_own_password_replaces_the_password_and_ends_the_other_sessions(make, now):
    user = make.user()
    other = _session(user, now)
    this = _session(user, now)  # the device the change is made on

    accounts.change_own_password(user, PASSWORD, "brand-new-1", now)

    assert sessions.find_session(other, now) is None
    assert sessions.find_session(this, now) is user
    assert accounts.authenticate(user.phone, "brand-new-1", now) is user
    with pytest.raises(InvalidInput):
        accounts.authenticate(user.phone, PASSWORD, now)


def test_change_own_password_refuses_a_too_short_new_password(make, now):
    user = make.user()

    with pytest.raises(InvalidInput) as exc:
        accounts.change_own_password(user, PASSWORD, "123", now)
    assert exc.value.code == "password_too_short"
    assert accounts.authenticate(user.phone, PASSWORD, now) is user


def _set_by_admin(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    accounts.set_password(admin, user, "plain-secret-7", now)
    return user


def _set_by_activation(make, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    accounts.activate(user.phone, accounts.issue_activation_code(admin, user, now), "plain-secret-7", now)
    return user


def _set_by_owner(make, now):
    user = make.user()
    accounts.change_own_password(user, PASSWORD, "plain-secret-7", now)
    return user


@pytest.mark.parametrize("how", [_set_by_admin, _set_by_activation, _set_by_owner])
def test_passwords_are_stored_as_salted_hashes_never_as_plaintext(make, db, now, how):
    user = how(make, now)
    db.session.commit()

    stored = db.session.scalar(db.select(User.password_hash).where(User.id == user.id))
    assert "plain-secret-7" not in stored
    assert stored.startswith(HASH_PREFIXES)
    assert check_password_hash(stored, "plain-secret-7")


# ---- accounts for residents, staff accounts -------------------------------------------------

def test_account_for_resident_is_created_once_and_then_reused(make, now):
    community = make.community()
    admin = make.admin(community)
    resident = make.resident(make.household(community), phone=make.phone())

    user = accounts.account_for_resident(admin, resident, now)

    assert (user.phone, user.name, user.resident_id, user.password_hash) == (
        resident.phone, resident.name, resident.id, None)
    assert accounts.account_for_resident(admin, resident, now) is user


def test_account_for_resident_needs_a_valid_mobile_number(make, now):
    community = make.community()
    admin = make.admin(community)
    resident = make.resident(make.household(community), phone="0535-1234567")

    with pytest.raises(InvalidInput) as exc:
        accounts.account_for_resident(admin, resident, now)
    assert exc.value.code == "phone_missing"


def test_account_for_resident_refuses_a_phone_another_resident_logs_in_with(make, now):
    community = make.community()
    admin = make.admin(community)
    first = make.resident_user(community)
    spouse = make.resident(first.resident.household, phone=first.phone)

    with pytest.raises(Conflict) as exc:
        accounts.account_for_resident(admin, spouse, now)
    assert exc.value.code == "phone_taken"


def test_account_for_resident_refuses_an_admin_of_another_community(make, now):
    community, other = make.community(), make.community()
    resident = make.resident(make.household(community), phone=make.phone())

    with pytest.raises(PermissionDenied):
        accounts.account_for_resident(make.admin(other), resident, now)


@pytest.mark.parametrize("phone", ["12345", "abc", "23800001111", ""])
def test_staff_user_refuses_an_invalid_phone(make, now, phone):
    community = make.community()

    with pytest.raises(InvalidInput) as exc:
        accounts.staff_user(make.admin(community), community, phone, "李强", now)
    assert exc.value.code == "invalid_phone"


def test_staff_user_finds_an_existing_account_or_creates_one_with_a_name(make, now):
    community = make.community()
    admin = make.admin(community)
    existing = make.user()

    assert accounts.staff_user(admin, community, existing.phone, "", now) is existing
    with pytest.raises(InvalidInput) as exc:
        accounts.staff_user(admin, community, "13700001111", "  ", now)
    assert exc.value.code == "name_missing"
    created = accounts.staff_user(admin, community, "137 0000 1111", " 李强 ", now)
    assert (created.phone, created.name, created.password_hash) == ("13700001111", "李强", None)


# ---- grant and revoke roles -----------------------------------------------------------------

def test_grant_team_lead_gives_the_role_at_once(make, now):
    community = make.community()
    admin, person, team = make.admin(community), make.user(), make.team(community)

    grant = accounts.grant_role(admin, person, Role.TEAM_LEAD, community, now, team=team)

    assert (grant.role, grant.community_id, grant.team_id, grant.store_id) == (
        Role.TEAM_LEAD, community.id, team.id, None)
    assert grant.granted_by_id == admin.id and grant.granted_at == now
    assert [g.role for g in person.grants] == [Role.TEAM_LEAD]


def test_a_granted_community_admin_role_takes_effect_even_when_scopes_were_cached(make, now):
    community = make.community()
    admin, person = make.admin(community), make.user()
    assert not can(person, Action.MANAGE_COMMUNITY, community)  # caches the (empty) scopes

    accounts.grant_role(admin, person, Role.COMMUNITY_ADMIN, community, now)

    assert can(person, Action.MANAGE_COMMUNITY, community)


def test_team_lead_needs_a_team_of_the_same_community(make, now):
    community, other = make.community(), make.community()
    admin, person = make.admin(community), make.user()

    for team in (None, make.team(other)):
        with pytest.raises(InvalidInput) as exc:
            accounts.grant_role(admin, person, Role.TEAM_LEAD, community, now, team=team)
        assert exc.value.code == "scope_mismatch"
    assert person.grants == []


def test_clerk_needs_a_store_of_the_same_community(make, now):
    community, other = make.community(), make.community()
    admin, person = make.admin(community), make.user()

    for store in (None, make.store(other)):
        with pytest.raises(InvalidInput) as exc:
            accounts.grant_role(admin, person, Role.CLERK, community, now, store=store)
        assert exc.value.code == "scope_mismatch"
    grant = accounts.grant_role(admin, person, Role.CLERK, community, now, store=make.store(community))
    assert grant.store_id is not None and grant.team_id is None


def test_a_community_role_needs_a_community(make, now):
    community = make.community()

    with pytest.raises(InvalidInput) as exc:
        accounts.grant_role(make.admin(community), make.user(), Role.COMMUNITY_ADMIN, None, now)
    assert exc.value.code == "scope_mismatch"


def test_an_admin_of_another_community_cannot_grant_roles_here(make, now):
    community, other = make.community(), make.community()
    outsider, person = make.admin(other), make.user()

    with pytest.raises(PermissionDenied):
        accounts.grant_role(outsider, person, Role.COMMUNITY_ADMIN, community, now)
    with pytest.raises(PermissionDenied):
        accounts.grant_role(outsider, person, Role.TEAM_LEAD, community, now, team=make.team(community))
    with pytest.raises(PermissionDenied):
        accounts.staff_user(outsider, community, "13700001111", "李强", now)
    assert person.grants == []


@pytest.mark.parametrize("maker", ["team_lead", "clerk", "resident_user"])
def test_non_admins_cannot_grant_roles(make, now, maker):
    community = make.community()
    actor = getattr(make, maker)(community)

    with pytest.raises(PermissionDenied):
        accounts.grant_role(actor, make.user(), Role.COMMUNITY_ADMIN, community, now)


def test_a_community_admin_cannot_make_anyone_a_city_admin(make, now):
    community = make.community()
    admin, person = make.admin(community), make.user()

    with pytest.raises(PermissionDenied):
        accounts.grant_role(admin, person, Role.CITY_ADMIN, community, now)
    with pytest.raises(PermissionDenied):
        accounts.grant_role(admin, admin, Role.CITY_ADMIN, None, now)
    grant = accounts.grant_role(make.city_admin(), person, Role.CITY_ADMIN, community, now)
    assert grant.community_id is None  # city admins are never scoped to one community


def test_an_unknown_role_is_refused(make, now):
    community = make.community()

    with pytest.raises(InvalidInput) as exc:
        accounts.grant_role(make.admin(community), make.user(), "superuser", community, now)
    assert exc.value.code == "invalid_role"
    with pytest.raises(InvalidInput):
        accounts.grant_role(make.admin(community), make.user(), Role.RESIDENT, community, now)


def test_granting_the_same_role_twice_is_a_conflict(make, now):
    community = make.community()
    admin, person, team = make.admin(community), make.user(), make.team(community)
    accounts.grant_role(admin, person, Role.TEAM_LEAD, community, now, team=team)

    with pytest.raises(Conflict) as exc:
        accounts.grant_role(admin, person, Role.TEAM_LEAD, community, now, team=team)
    assert exc.value.code == "role_exists"
    # the same role for another team is a different grant
    accounts.grant_role(admin, person, Role.TEAM_LEAD, community, now, team=make.team(community))
    assert len(person.grants) == 2


def test_revoking_a_role_takes_it_away_at_once(make, db, now):
    community = make.community()
    admin, person = make.admin(community), make.user()
    grant = accounts.grant_role(admin, person, Role.COMMUNITY_ADMIN, community, now)
    assert can(person, Action.MANAGE_COMMUNITY, community)

    accounts.revoke_role(admin, grant.id, now)

    assert db.session.get(RoleGrant, grant.id) is None
    assert not can(person, Action.MANAGE_COMMUNITY, community)


def test_an_admin_cannot_remove_their_own_admin_role(make, db, now):
    community = make.community()
    admin = make.admin(community)
    own = admin.grants[0]

    with pytest.raises(Conflict) as exc:
        accounts.revoke_role(admin, own.id, now)
    assert exc.value.code == "last_admin"
    assert db.session.get(RoleGrant, own.id) is not None


def test_an_admin_can_remove_another_admin_of_the_same_community(make, db, now):
    community = make.community()
    admin, colleague = make.admin(community), make.admin(community)

    accounts.revoke_role(admin, colleague.grants[0].id, now)

    assert colleague.grants == []


def test_an_admin_of_another_community_cannot_revoke_roles_here(make, db, now):
    community, other = make.community(), make.community()
    lead = make.team_lead(community)
    grant_id = lead.grants[0].id

    with pytest.raises(PermissionDenied):
        accounts.revoke_role(make.admin(other), grant_id, now)
    assert db.session.get(RoleGrant, grant_id) is not None


def test_a_community_admin_cannot_revoke_a_city_admin(make, db, now):
    community = make.community()
    city = make.city_admin()

    with pytest.raises(PermissionDenied):
        accounts.revoke_role(make.admin(community), city.grants[0].id, now)
    assert db.session.get(RoleGrant, city.grants[0].id) is not None


def test_revoking_a_grant_that_does_not_exist_is_not_found(make, now):
    community = make.community()

    with pytest.raises(NotFound) as exc:
        accounts.revoke_role(make.admin(community), 987654, now)
    assert exc.value.code == "not_found"


# ---- web: login, sessions -------------------------------------------------------------------

def test_logging_in_with_the_right_password_redirects_home_and_starts_a_session(client, make, db):
    user = make.user()
    db.session.commit()

    response = post_login(client, user.phone)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert session_owner(client) == user.id
    assert client.get("/password").status_code == 200


def test_a_wrong_password_shows_a_chinese_error_and_logs_nobody_in(client, make, db):
    user = make.user()
    db.session.commit()

    response = post_login(client, user.phone, "not-the-password")

    assert response.status_code == 422
    assert_chinese_error(response.get_data(as_text=True), "Phone number or password is wrong.")
    assert logged_in_user_id(client) is None


def test_a_disabled_account_cannot_log_in_and_its_open_session_stops_working(client, make, login, db):
    user = make.user()
    db.session.commit()
    login(client, user)
    assert client.get("/password").status_code == 200

    user.is_enabled = False
    db.session.commit()

    assert client.get("/password").status_code == 302
    response = post_login(client, user.phone)
    assert response.status_code == 422
    assert_chinese_error(response.get_data(as_text=True), "This account is disabled.")


def test_login_starts_a_fresh_session_so_planted_values_are_gone(client, make, db):
    user = make.user()
    db.session.commit()
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "attacker-chosen"
        sess["lang"] = "en"
    before = session_cookie(client)

    assert post_login(client, user.phone).status_code == 302

    assert session_cookie(client) != before
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"]
        assert sess.get("nonce")
        assert sess["lang"] == "en"  # the chosen language survives
    assert session_owner(client) == user.id


def test_each_login_gets_a_new_session_nonce(app, make, db):
    user = make.user()
    db.session.commit()
    nonces = []
    for _ in range(2):
        client = app.test_client()
        post_login(client, user.phone)
        with client.session_transaction() as sess:
            nonces.append(sess["nonce"])
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize("target", ["/admin/", "/password?x=1", "/lang/en"])
def test_login_follows_a_same_site_next_path(client, make, db, target):
    user = make.user()
    db.session.commit()

    response = post_login(client, user.phone, next_=target)

    assert response.status_code == 302
    assert response.headers["Location"] == target


def test_the_login_page_carries_next_from_the_query_string(client, db):
    html = client.get("/login?next=/admin/").get_data(as_text=True)

    assert re.search(r'name="next"[^>]*value="/admin/"', html)


@pytest.mark.parametrize("target", [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "/\t/evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "",
])
def test_login_never_follows_next_to_another_site(client, make, db, target):
    user = make.user()
    db.session.commit()

    response = post_login(client, user.phone, next_=target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session(client, make, db):
    user = make.user()
    db.session.commit()
    post_login(client, user.phone)

    response = client.post("/logout")

    assert response.status_code == 302
    assert logged_in_user_id(client) is None
    assert client.get("/password").status_code == 302


def test_an_admin_setting_a_password_ends_the_users_open_sessions(app, client, make, login, db, now):
    community = make.community()
    admin = make.admin(community)
    user = make.resident_user(community)
    db.session.commit()
    login(client, user)
    old_cookie = session_cookie(client)
    assert client.get("/password").status_code == 200

    accounts.set_password(admin, user, "fresh-pass-9", now)
    db.session.commit()

    response = client.get("/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    # the old cookie replayed in another browser does not work either
    other = app.test_client()
    other.set_cookie("session", old_cookie)
    assert other.get("/password").status_code == 302


def test_changing_ones_own_password_keeps_this_device_and_ends_other_sessions(app, make, login, db):
    user = make.user()
    db.session.commit()
    here, elsewhere = app.test_client(), app.test_client()
    post_login(here, user.phone)
    post_login(elsewhere, user.phone)

    response = here.post("/password", data={"old": PASSWORD, "new": "brand-new-1"})

    assert response.status_code == 302
    assert here.get("/password").status_code == 200
    assert elsewhere.get("/password").status_code == 302
    assert post_login(app.test_client(), user.phone, "brand-new-1").status_code == 302


def test_changing_ones_own_password_with_a_wrong_current_password_changes_nothing(client, make, db, now):
    user = make.user()
    db.session.commit()
    post_login(client, user.phone)

    response = client.post("/password", data={"old": "wrong", "new": "brand-new-1"})

    assert response.status_code == 200
    assert_chinese_error(response.get_data(as_text=True), "The current password is wrong.")
    assert client.get("/password").status_code == 200
    db.session.expire_all()
    assert accounts.authenticate(user.phone, PASSWORD, now).id == user.id


def test_activating_on_the_web_logs_in_and_the_code_cannot_be_used_again(app, client, make, db, now):
    community = make.community()
    admin, user = _resident_account(make, community, now)
    code = accounts.issue_activation_code(admin, user, now)
    db.session.commit()
    data = {"phone": user.phone, "code": code, "password": "chosen-pass-3", "consent": "y"}

    response = client.post("/activate", data=data)

    assert response.status_code == 302
    assert logged_in_user_id(client) is not None
    again = app.test_client().post("/activate", data={**data, "password": "hijack-pass-4"})
    assert again.status_code == 422
    assert_chinese_error(again.get_data(as_text=True), "The activation code is wrong or has expired.")
    assert post_login(app.test_client(), user.phone, "chosen-pass-3").status_code == 302


# ---- web: CSRF --------------------------------------------------------------------------------

def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_login_without_a_csrf_token_is_refused_when_csrf_is_on(app, client, make, db, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = make.user()
    db.session.commit()
    client.get("/login")

    refused = post_login(client, user.phone)
    assert logged_in_user_id(client) is None
    assert refused.headers.get("Location") != "/password"
    forged = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": "forged"})
    assert logged_in_user_id(client) is None
    assert forged.status_code in (302, 400)

    token = _csrf_token(client.get("/login").get_data(as_text=True))
    accepted = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": token})
    assert accepted.status_code == 302
    assert session_owner(client) == user.id


def test_admin_forms_without_a_csrf_token_change_nothing_when_csrf_is_on(app, client, make, login, db,
                                                                          monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    community = make.community()
    admin = make.admin(community)
    lead = make.team_lead(community)
    db.session.commit()
    login(client, admin)
    grant_id = lead.grants[0].id

    client.post(f"/admin/c/{community.id}/grids", data={"name": "第九网格"})
    client.post(f"/admin/c/{community.id}/staff/{grant_id}/revoke")

    db.session.expire_all()
    assert db.session.get(RoleGrant, grant_id) is not None
    assert db.session.scalars(db.select(Grid).where(Grid.community_id == community.id)).all() == []


def test_an_empty_login_form_re_renders_with_field_errors(client, db):
    response = client.post("/login", data={})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert html.count('class="error"') == 2
    assert logged_in_user_id(client) is None
