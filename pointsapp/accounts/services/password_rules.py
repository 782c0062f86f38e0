"""What a new password must be (NIST SP 800-63B 5.1.1.2): long enough, and not one an attacker tries first.

No composition rules (a digit, a capital, a symbol): they make passwords harder to remember, not to
guess, and many of our residents are elderly. Length is counted in characters, so a Chinese sentence
such as 我家门前有棵枣树 is a good password. Refused: fewer than 8 characters; a password on the list of
common ones (common_passwords.txt, shipped with the package); one character or one short block repeated
(aaaaaaaa, 12121212, 520520520); a run of digits (12345678, 98765432, 1234567890); a date (19580312, the
first thing a neighbour tries); the person's own phone number. Everything is compared after NFKC (full-width
letters and digits are the plain ones) and casefold. Only new passwords are checked: existing hashes,
such as the demo's demo1234, keep working.
"""
import unicodedata
from datetime import date
from functools import cache
from pathlib import Path

from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import InvalidInput

MIN_LENGTH = 8
LIST = Path(__file__).with_name("common_passwords.txt")
MAX_BLOCK = 4  # a block of up to 4 characters repeated (abcabcabc, 12341234) is a pattern, not a secret


@cache
def common_passwords() -> frozenset[str]:
    with LIST.open(encoding="utf-8") as lines:
        return frozenset(_normal(line.strip()) for line in lines if line.strip() and not line.startswith("#"))


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _repeats_a_block(pw: str) -> bool:
    return any(len(pw) % n == 0 and pw == pw[:n] * (len(pw) // n) for n in range(1, MAX_BLOCK + 1))


def _is_digit_run(pw: str) -> bool:
    """12345678, 3456789012, 98765432: each digit one more (or one less) than the one before, 9 -> 0 too."""
    if not (pw.isascii() and pw.isdigit()):
        return False
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pw, pw[1:], strict=False)}
    return steps in ({1}, {9})


def _is_date(pw: str) -> bool:
    """YYYYMMDD or DDMMYYYY/MMDDYYYY of the last two centuries: a birthday or a wedding day."""
    if len(pw) != 8 or not (pw.isascii() and pw.isdigit()):
        return False
    candidates = ((pw[:4], pw[4:6], pw[6:]), (pw[4:], pw[2:4], pw[:2]), (pw[4:], pw[:2], pw[2:4]))
    for year, month, day in candidates:
        if 1900 <= int(year) <= 2099:
            try:
                date(int(year), int(month), int(day))
            except ValueError:
                continue
            return True
    return False


def _is_own_phone(pw: str, phone: str | None) -> bool:
    phone = (phone or "").strip()
    if not phone:
        return False
    return phone in pw or (pw.isascii() and pw.isdigit() and pw in phone)


WEAK_MESSAGE = _l("This password is too easy to guess. Use at least 8 characters: a sentence you can "
                  "remember or a few words work well.")


def check_new_password(password: str | None, phone: str | None = None) -> None:
    """Refuse a password that is short or easy to guess. Raises password_too_short, password_too_weak."""
    pw = _normal(password or "")
    if len(pw) < MIN_LENGTH:
        raise InvalidInput(_l("The password needs at least %(n)d characters: a sentence you can remember or "
                              "a few words work well."), code="password_too_short", n=MIN_LENGTH)
    if (pw in common_passwords() or _repeats_a_block(pw) or _is_digit_run(pw) or _is_date(pw)
            or _is_own_phone(pw, phone)):
        raise InvalidInput(WEAK_MESSAGE, code="password_too_weak")
