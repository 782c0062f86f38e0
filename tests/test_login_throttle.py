"""Failed logins slow down per (phone, address) and per address; the owner is never locked out by someone
else's guesses (issue 11, finding 8). The clock is the app's: tests move it instead of waiting.
tests/test_login_gunicorn.py runs the same limits under gunicorn with 4 workers and Redis."""
import logging
import os

import pytest

from pointsapp import create_app
from pointsapp.accounts.services import throttle
from pointsapp.accounts.services.throttle import MemoryCounters, Policy, RedisCounters

from .test_accounts import assert_chinese_error, logged_in_user_id, post_login

ATTACKER = {"REMOTE_ADDR": "10.6.6.6"}
OWNER = {"REMOTE_ADDR": "10.0.0.7"}
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _guess(client, phone, where=ATTACKER, password="wrong-guess"):
    return post_login(client, phone, password, environ_base=where)


def assert_waits(response, seconds: int):
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(seconds)
    html = response.get_data(as_text=True)
    assert_chinese_error(html, "Too many wrong attempts.")
    assert f"{seconds} 秒" in html or f"{seconds // 60} 分钟" in html, "the message says how long to wait"


def test_five_free_tries_then_each_try_waits_twice_as_long(client, make, db, clock):
    user = make.user()
    db.session.commit()
    for _ in range(5):
        assert _guess(client, user.phone).status_code == 422

    assert_waits(_guess(client, user.phone), 2)
    clock.advance(seconds=2)
    assert _guess(client, user.phone).status_code == 422
    assert_waits(_guess(client, user.phone), 4)
    clock.advance(seconds=4)
    assert _guess(client, user.phone).status_code == 422
    assert_waits(_guess(client, user.phone), 8)


def test_the_wait_grows_up_to_the_cap_and_says_minutes(client, make, db, clock):
    user = make.user()
    db.session.commit()
    waits = []
    while len(waits) < 11:
        response = _guess(client, user.phone)
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            if len(waits) < 11:
                clock.advance(seconds=waits[-1])
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]
    assert_waits(_guess(client, user.phone), 900)  # "15 分钟"


def test_while_waiting_even_the_right_password_is_not_checked(client, make, db, clock):
    user = make.user()
    db.session.commit()
    for _ in range(5):
        _guess(client, user.phone)

    assert post_login(client, user.phone, environ_base=ATTACKER).status_code == 429
    assert logged_in_user_id(client) is None
    clock.advance(seconds=2)
    assert post_login(client, user.phone, environ_base=ATTACKER).status_code == 302


def test_guesses_from_another_address_never_lock_the_owner_out(app, make, db):
    user = make.user()
    db.session.commit()
    attacker = app.test_client()
    for _ in range(40):
        _guess(attacker, user.phone)
    assert _guess(attacker, user.phone).status_code == 429

    owner = app.test_client()
    assert post_login(owner, user.phone, environ_base=OWNER).status_code == 302


def test_the_owner_typing_her_phone_another_way_counts_as_the_same_pair(client, make, db):
    user = make.user()
    db.session.commit()
    for typed in (user.phone, "+86 " + user.phone, f"{user.phone[:3]} {user.phone[3:7]} {user.phone[7:]}"):
        _guess(client, typed)
        _guess(client, typed)
    assert _guess(client, user.phone).status_code == 429


def test_a_success_starts_the_pair_over(app, make, db):
    user = make.user()
    db.session.commit()
    client = app.test_client()
    for _ in range(4):
        assert _guess(client, user.phone, OWNER).status_code == 422
    assert post_login(client, user.phone, environ_base=OWNER).status_code == 302

    for _ in range(5):
        assert _guess(app.test_client(), user.phone, OWNER).status_code == 422
    assert _guess(app.test_client(), user.phone, OWNER).status_code == 429


def test_one_address_guessing_many_phones_slows_down_after_its_own_threshold(app, make, db, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_TRIES_PER_IP", 10)
    users = [make.user() for _ in range(11)]
    db.session.commit()
    client = app.test_client()
    for user in users[:10]:
        assert _guess(client, user.phone).status_code == 422

    response = _guess(client, users[10].phone)
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    # another address is not affected, nor is the phone's pair from there
    assert post_login(app.test_client(), users[10].phone, environ_base=OWNER).status_code == 302


def test_successful_logins_behind_one_address_do_not_use_up_its_tries(app, make, db, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_TRIES_PER_IP", 3)
    users = [make.user() for _ in range(6)]
    db.session.commit()
    proxy = {"REMOTE_ADDR": "10.8.8.8"}  # a building's residents behind one address
    for user in users:
        assert post_login(app.test_client(), user.phone, environ_base=proxy).status_code == 302
    assert _guess(app.test_client(), users[0].phone, proxy).status_code == 422


def test_activation_codes_are_throttled_the_same_way(client, make, db, now, clock):
    from pointsapp.accounts import services as accounts

    community = make.community()
    admin = make.admin(community)
    resident = make.resident(make.household(community), phone=make.phone())
    user = accounts.account_for_resident(admin, resident, now)
    code = accounts.issue_activation_code(admin, user, now)
    db.session.commit()
    data = {"phone": user.phone, "password": "chosen-pass-3", "consent": "y"}

    for guess in range(5):
        response = client.post("/activate", data={**data, "code": f"{guess:08d}"}, environ_base=ATTACKER)
        assert response.status_code == 422
    assert_waits(client.post("/activate", data={**data, "code": code}, environ_base=ATTACKER), 2)
    clock.advance(seconds=2)
    assert client.post("/activate", data={**data, "code": code}, environ_base=ATTACKER).status_code == 302


def test_the_wait_message_is_in_english_for_english_readers(client, make, db):
    user = make.user()
    db.session.commit()
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    for _ in range(5):
        _guess(client, user.phone)
    html = _guess(client, user.phone).get_data(as_text=True)
    assert "Please wait 2 seconds and try again." in html


# ---- start-up, and the counters themselves ---------------------------------------------------------------

PRODUCTION_LIKE = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "not-a-test-secret"}


def _first_login_throttle(app):
    from pointsapp.accounts.services.throttle import login_throttle

    with app.app_context():
        login_throttle()
        login_throttle()


def test_a_worker_warns_once_at_its_first_login_when_the_counters_are_not_shared(caplog):
    """Not at start-up: every `flask …` command (migrations, cron jobs) builds an app too."""
    with caplog.at_level(logging.WARNING):
        app = create_app(dict(PRODUCTION_LIKE))
        assert not any("login limits" in r.getMessage() for r in caplog.records)
        _first_login_throttle(app)
    warned = [r for r in caplog.records if "login limits are per worker" in r.getMessage()]
    assert len(warned) == 1 and "redis://" in warned[0].getMessage()


@pytest.mark.parametrize("extra", [{"TESTING": True}, {"DEBUG": True},
                                   {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15"}])
def test_start_up_is_quiet_in_tests_in_debug_and_with_redis(caplog, extra):
    with caplog.at_level(logging.WARNING):
        _first_login_throttle(create_app({**PRODUCTION_LIKE, **extra}))
    assert not any("login limits" in r.getMessage() for r in caplog.records)


def _redis_counters():
    try:
        counters = RedisCounters(REDIS_URL)
        counters.client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc} (CI=true requires Redis)", pytrace=False)
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    counters.clear()
    return counters


def _run(counters, policy, steps):
    answers = []
    for at, action in steps:
        if action == "try":
            answers.append(counters.acquire("k", at, policy))
        elif action == "back":
            counters.give_back("k")
        else:
            counters.forget("k")
    return answers


def test_redis_and_memory_counters_decide_alike():
    policy = Policy(free=3, cap=10)
    steps = [(t, "try") for t in (0, 0.5, 1, 1.5, 3, 3.2, 7, 15, 15.5, 26)] + [(26, "back"), (36, "try"),
                                                                                (36, "forget"), (36, "try"),
                                                                                (36 + throttle.FORGET_SECONDS, "try")]
    redis_counters = _redis_counters()
    try:
        expected = _run(MemoryCounters(), policy, steps)
        assert _run(redis_counters, policy, steps) == pytest.approx(expected)
    finally:
        redis_counters.clear()
    assert expected[:6] == [0, 0, 0, pytest.approx(1.5), 0, pytest.approx(3.8)]


def test_throttle_reads_its_limits_from_the_config(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_TRIES", 2)
    assert throttle.login_throttle().pair == Policy(2, app.config["LOGIN_MAX_DELAY_SECONDS"])


def test_an_ipv6_guesser_cannot_start_over_by_changing_address_within_his_64(client, make, db):
    user = make.user()
    db.session.commit()
    for i in range(5):
        _guess(client, user.phone, {"REMOTE_ADDR": f"2408:8207:1234:5678::{i + 1:x}"})

    assert _guess(client, user.phone, {"REMOTE_ADDR": "2408:8207:1234:5678:abcd::99"}).status_code == 429
    # another /64 is another client
    assert post_login(client.application.test_client(), user.phone,
                      environ_base={"REMOTE_ADDR": "2408:8207:1234:9999::1"}).status_code == 302


@pytest.mark.parametrize(("ip", "counted_as"), [
    ("10.0.0.7", "10.0.0.7"), ("2408:8207:1234:5678::1", "2408:8207:1234:5678::/64"),
    ("::ffff:10.0.0.7", "10.0.0.7"), ("not an address", "not an address"),
])
def test_what_counts_as_one_client(ip, counted_as):
    assert throttle.client_address(ip) == counted_as
