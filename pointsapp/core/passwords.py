"""How secrets are hashed: login passwords, activation codes and card PINs, in one place.

The method is the app's PASSWORD_HASH_METHOD setting, a werkzeug method string. The default is
"scrypt" (werkzeug's parameters, about 0.1 s of CPU per hash or check), which is what production
uses. The test suite sets a cheap one ("pbkdf2:sha256:1000"): it hashes and checks hundreds of times,
and what it tests is that secrets are hashed and checked, not the KDF's cost. A cheap method is
refused in an app that is not TESTING, so a test setting cannot reach a real deployment.

create_app() calls init_app(), which checks the setting and puts it on the app (as core.clock does
with the clock); hash_password() uses the current app's method, so services just call it and never
read the config. Checking reads the method from the stored hash itself, so hashes made with another
method (or before the setting changed) keep working.
"""
import hashlib
from functools import cache

from flask import Flask, current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

KEY = "pointsapp.password_hash_method"
DEFAULT_METHOD = "scrypt"
TEST_METHOD = "pbkdf2:sha256:1000"  # for test suites only: a thousandth of a real KDF's cost
MIN_SCRYPT_N = 2**14
MIN_PBKDF2_ITERATIONS = 600_000


def _cost_is_real(method: str) -> bool:
    """Whether `method` is a werkzeug scrypt/pbkdf2 method at least as costly as the minimums above.
    Raises ValueError for anything werkzeug would not understand."""
    name, *args = method.split(":")
    try:
        if name == "scrypt" and len(args) in (0, 3):
            n, _r, _p = map(int, args) if args else (2**15, 8, 1)
            return n >= MIN_SCRYPT_N
        if name == "pbkdf2" and len(args) <= 2:
            if args:
                hashlib.new(args[0])  # an unknown hash name raises ValueError
            return (int(args[1]) if len(args) == 2 else 1_000_000) >= MIN_PBKDF2_ITERATIONS
    except ValueError:
        pass
    raise ValueError(f"PASSWORD_HASH_METHOD {method!r} is not a werkzeug scrypt or pbkdf2 method")


def init_app(app: Flask) -> None:
    method = app.config.setdefault("PASSWORD_HASH_METHOD", DEFAULT_METHOD)
    if not _cost_is_real(method) and not app.testing:
        raise ValueError(f"PASSWORD_HASH_METHOD {method!r} is too cheap outside tests; leave it unset (scrypt)")
    app.extensions[KEY] = method


def method() -> str:
    """The current app's method (scrypt outside an app)."""
    if has_app_context():
        return current_app.extensions.get(KEY, DEFAULT_METHOD)
    return DEFAULT_METHOD


def hash_password(secret: str) -> str:
    """A salted hash of `secret`, to store instead of it."""
    return generate_password_hash(secret, method=method())


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-password", method=method)


def check_password(stored: str | None, secret: str) -> bool:
    """Whether `secret` matches the stored hash. With no hash (unknown phone, no password yet) it is
    False, after checking against a dummy hash of the same method, so both paths take one KDF run."""
    if stored is None:
        check_password_hash(_dummy_hash(method()), secret)
        return False
    return check_password_hash(stored, secret)
