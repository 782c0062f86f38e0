"""Password hashing: scrypt in a real app, the suite's cheap method only where TESTING says so."""
import pytest
from werkzeug.security import generate_password_hash

from pointsapp import create_app
from pointsapp.accounts import services as accounts
from pointsapp.core import passwords
from pointsapp.store.services import identification

PRODUCTION_LIKE = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "not-a-test-secret"}


def test_a_default_app_hashes_passwords_with_scrypt():
    app = create_app(dict(PRODUCTION_LIKE))
    assert app.config["PASSWORD_HASH_METHOD"] == "scrypt"
    with app.app_context():
        stored = passwords.hash_password("plain-secret-7")
        assert stored.startswith("scrypt:32768:8:1$")
        assert passwords.check_password(stored, "plain-secret-7")
        assert not passwords.check_password(stored, "plain-secret-8")


def test_outside_an_app_secrets_are_hashed_with_scrypt():
    assert passwords.method() == "scrypt"


def test_the_suites_cheap_method_is_refused_outside_tests():
    with pytest.raises(ValueError, match="too cheap"):
        create_app({**PRODUCTION_LIKE, "PASSWORD_HASH_METHOD": passwords.TEST_METHOD})
    with pytest.raises(ValueError, match="too cheap"):
        create_app({**PRODUCTION_LIKE, "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
    # as costly as the defaults is fine
    app = create_app({**PRODUCTION_LIKE, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:600000"})
    assert app.extensions[passwords.KEY] == "pbkdf2:sha256:600000"


@pytest.mark.parametrize("method", ["md5", "scrypt:1:2", "pbkdf2:nosuchhash:1000", "pbkdf2:sha256:many", ""])
def test_a_method_werkzeug_would_not_understand_is_refused_at_startup(method):
    with pytest.raises(ValueError, match="not a werkzeug"):
        create_app({**PRODUCTION_LIKE, "TESTING": True, "PASSWORD_HASH_METHOD": method})


def test_services_hash_passwords_codes_and_pins_with_the_apps_method(make, db, now):
    community = make.community()
    admin = make.admin(community)
    resident = make.resident(community=community, phone=make.phone())
    user = make.user(resident=resident)
    accounts.set_password(admin, user, "plain-secret-7", now)
    code = accounts.issue_activation_code(admin, user, now)
    identification.set_pin(admin, resident, "902468", now)

    prefix = passwords.TEST_METHOD + "$"  # what the suite's app (tests/conftest.py) is configured with
    assert user.password_hash.startswith(prefix)
    assert user.activation_code_hash.startswith(prefix)
    assert resident.pin_hash.startswith(prefix)
    assert passwords.check_password(user.password_hash, "plain-secret-7")
    assert passwords.check_password(user.activation_code_hash, code)
    assert passwords.check_password(resident.pin_hash, "902468")


def test_a_hash_made_with_another_method_still_checks(make, db, now):
    """Checking reads the method from the stored hash: changing the setting locks nobody out."""
    user = make.user()
    user.password_hash = generate_password_hash("old-secret-1", method="scrypt")
    assert accounts.authenticate(user.phone, "old-secret-1", now) is user
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate(user.phone, "old-secret-2", now)


def test_no_stored_hash_never_matches(db):
    assert not passwords.check_password(None, "")
    assert not passwords.check_password(None, "anything")
