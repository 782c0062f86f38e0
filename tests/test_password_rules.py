"""New passwords: at least 8 characters and not one an attacker tries first (issue 11, finding 11).

Every path that sets a password (the admin, the activation slip, the owner) goes through one rule."""
import re

import pytest

from pointsapp.accounts import services as accounts
from pointsapp.accounts.services import password_rules
from pointsapp.core.errors import InvalidInput
from pointsapp.core.passwords import hash_password

from .factories import PASSWORD
from .test_accounts import assert_chinese_error, post_login


def _resident_account(make, now):
    community = make.community()
    admin = make.admin(community)
    resident = make.resident(make.household(community), phone=make.phone())
    return admin, accounts.account_for_resident(admin, resident, now)


def _refusal(password, phone="13900001111"):
    with pytest.raises(InvalidInput) as exc:
        password_rules.check_new_password(password, phone)
    return exc.value


@pytest.mark.parametrize("password", ["", "1234567", "a123456", "111111a", "5201314", "我爱我家"])
def test_a_password_shorter_than_8_characters_is_refused(password):
    assert _refusal(password).code == "password_too_short"


@pytest.mark.parametrize("password", [
    "password", "PassWord", "ｐａｓｓｗｏｒｄ", "iloveyou", "qq123456", "woaini1314", "123456abc", "147258369",
    "1qaz2wsx", "qwertyuiop", "abc123456", "5201314520", "sunshine", "football",
])
def test_a_common_password_is_refused_whatever_its_case_or_width(password):
    assert _refusal(password).code == "password_too_weak"


@pytest.mark.parametrize("password", ["aaaaaaaa", "88888888", "１１１１１１１１", "12121212", "520520520",
                                      "abcabcabc", "xyzwxyzw"])
def test_one_character_or_one_short_block_repeated_is_refused(password):
    assert _refusal(password).code == "password_too_weak"


@pytest.mark.parametrize("password", ["12345678", "23456789", "1234567890", "98765432", "3210987654"])
def test_a_run_of_digits_is_refused(password):
    assert _refusal(password).code == "password_too_weak"


@pytest.mark.parametrize("password", ["19580312", "20010101", "12031958", "03121958"])
def test_a_date_is_refused(password):
    assert _refusal(password).code == "password_too_weak"


@pytest.mark.parametrize("password", ["13900001111", "13900001111a", "wo13900001111", "39000011"])
def test_the_persons_own_phone_number_is_refused(password):
    assert _refusal(password, phone="13900001111").code == "password_too_weak"
    password_rules.check_new_password("13900001111", phone="13700002222")  # somebody else's number is fine


@pytest.mark.parametrize("password", ["我家门前有棵枣树", "blue tea at noon", "wang-garden-7", "demo1234x",
                                      "19581332", "13579246", "secret-pass"])
def test_a_sentence_or_a_few_words_are_welcome(password):
    password_rules.check_new_password(password, "13900001111")


def test_the_list_holds_thousands_of_global_and_chinese_common_passwords():
    listed = password_rules.common_passwords()
    assert len(listed) >= 4000
    assert {"woaini1314", "qq123456", "123456abc", "147258369", "iloveyou", "password", "1qaz2wsx"} <= listed
    assert "demo1234" not in listed  # the demo's logins are not made unwelcome


def test_both_messages_say_what_works_in_chinese(app, db):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        for password in ("123", "password"):
            message = str(_refusal(password))
            assert "至少8位" in message and "好记的话" in message, message


# ---- every path that sets a password ---------------------------------------------------------

WEAK = ["123456", "password", "111111a", "12345678", "woaini1314"]


@pytest.mark.parametrize("password", WEAK)
def test_an_admin_cannot_set_a_weak_password(make, now, password):
    admin, user = _resident_account(make, now)

    with pytest.raises(InvalidInput):
        accounts.set_password(admin, user, password, now)
    assert user.password_hash is None


def test_an_admin_cannot_set_the_residents_own_phone_number_as_the_password(make, now):
    admin, user = _resident_account(make, now)

    with pytest.raises(InvalidInput) as exc:
        accounts.set_password(admin, user, user.phone, now)
    assert exc.value.code == "password_too_weak"


@pytest.mark.parametrize("password", WEAK)
def test_an_activation_slip_cannot_choose_a_weak_password(make, now, password):
    admin, user = _resident_account(make, now)
    code = accounts.issue_activation_code(admin, user, now)

    with pytest.raises(InvalidInput):
        accounts.activate(user.phone, code, password, now)
    assert user.password_hash is None
    accounts.activate(user.phone, code, "我家门前有棵枣树", now)  # the slip still works for a good one


@pytest.mark.parametrize("password", WEAK)
def test_the_owner_cannot_change_to_a_weak_password(make, now, password):
    user = make.user()
    old_hash = user.password_hash

    with pytest.raises(InvalidInput):
        accounts.change_own_password(user, PASSWORD, password, now)
    assert user.password_hash == old_hash


def test_an_existing_weak_password_still_logs_in(client, make, db):
    """Only new passwords are checked: demo1234 and older short ones keep working."""
    user = make.user()
    user.password_hash = hash_password("123456")
    db.session.commit()

    assert post_login(client, user.phone, "123456").status_code == 302


def test_the_password_page_refuses_a_weak_password_with_the_kind_message(client, make, login, db):
    user = make.user()
    db.session.commit()
    post_login(client, user.phone)

    response = client.post("/password", data={"old": PASSWORD, "new": "qq123456"})

    html = response.get_data(as_text=True)
    assert_chinese_error(html, "This password is too easy to guess.")
    assert "好记的话" in html
    # the page tells what works before anyone gets it wrong
    assert re.search("至少8位", client.get("/password").get_data(as_text=True))
