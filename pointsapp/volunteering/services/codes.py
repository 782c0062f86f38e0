"""Signed codes printed or shown as QR: activity check-in codes and residents' member codes.

Each code is "<kind><id>.<part>.<mac>" where mac is a truncated HMAC-SHA256 (96 bits) over the
kind, id and part, keyed with the app's secret and a per-subject salt. Short codes make small,
easy-to-scan QR images on old phones. The secret is passed in, so services stay free of Flask.
"""
import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import DomainError
from pointsapp.core.text import ascii_form

MAC_BYTES = 12
MEMBER_CODE_SECONDS = 30  # a phone member code lives for its step and the next: up to a minute


class CodeError(DomainError):
    code = "forged_code"
    http_status = 400


def _mac(secret: str, salt: str, message: str) -> str:
    digest = hmac.new(f"{secret}:{salt}".encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode().rstrip("=")


def _split(token: str, kind: str) -> tuple[int, str, str]:
    token = (token or "").strip()
    try:
        head, part, mac = token.split(".")
        if not head.startswith(kind):
            raise ValueError
        return int(head[len(kind):]), part, mac
    except ValueError as exc:
        message = (_l("This member code is not valid.") if kind == "m" else
                   _l("This code is not one of ours. Please scan the code shown at the activity."))
        raise CodeError(message, code="forged_code") from exc


def step_of(moment: datetime, seconds: int) -> int:
    return int(moment.timestamp()) // seconds


# ---- activity check-in codes ---------------------------------------------------------------

def checkin_code(secret: str, activity, step: int | None) -> str:
    """The code for one time step, or the static poster code when step is None."""
    part = "p" if step is None else str(step)
    return f"a{activity.id}.{part}.{_mac(secret, activity.code_salt, f'a{activity.id}.{part}')}"


def activity_id_of(token: str) -> int:
    return _split(token, "a")[0]


@dataclass(frozen=True)
class CheckinCode:
    activity_id: int
    step: int | None  # None: poster


def read_checkin_code(secret: str, token: str, activity, now: datetime) -> CheckinCode:
    """Check a scanned check-in code against its activity. A rotating code is accepted during its
    own step and the next one. Raises forged_code, code_expired, poster_not_allowed."""
    activity_id, part, mac = _split(token, "a")
    if activity is None or activity.id != activity_id or not hmac.compare_digest(
            mac, _mac(secret, activity.code_salt, f"a{activity_id}.{part}")):
        raise CodeError(_l("This code is not one of ours. Please scan the code shown at the activity."),
                        code="forged_code")
    if part == "p":
        if not activity.allow_poster:
            raise CodeError(_l("This printed code is no longer accepted. Please scan the code on the lead's screen."),
                            code="poster_not_allowed")
        return CheckinCode(activity_id, None)
    if not part.isdigit():
        raise CodeError(code="forged_code")
    current = step_of(now, activity.code_seconds)
    if int(part) not in (current, current - 1):
        raise CodeError(_l("This code has expired. Please scan the code on the screen again."),
                        code="code_expired")
    return CheckinCode(activity_id, int(part))


# ---- member codes ---------------------------------------------------------------------------

def member_card_code(secret: str, resident) -> str:
    """The static code printed on a resident's member card (void once the card is reissued)."""
    part = f"c{resident.card_serial}"
    return f"m{resident.id}.{part}.{_mac(secret, 'member', f'm{resident.id}.{part}')}"


def member_phone_code(secret: str, resident, now: datetime, seconds: int = MEMBER_CODE_SECONDS) -> str:
    """The short-lived code on the resident's own phone (会员码)."""
    part = str(step_of(now, seconds))
    return f"m{resident.id}.{part}.{_mac(secret, 'member', f'm{resident.id}.{part}')}"


def member_code_expires_at(now: datetime, seconds: int = MEMBER_CODE_SECONDS) -> datetime:
    """When the phone code made at `now` stops being accepted (read_member_code takes its step and the
    next): the end of the step after this one."""
    return datetime.fromtimestamp((step_of(now, seconds) + 2) * seconds, tz=UTC)


@dataclass(frozen=True)
class MemberCode:
    resident_id: int
    is_card: bool  # printed card (the counter also asks for the PIN) or the phone's live code


def read_member_code(secret: str, token: str, now: datetime, load_resident,
                     seconds: int = MEMBER_CODE_SECONDS) -> MemberCode:
    """Raises forged_code, code_expired, card_replaced."""
    resident_id, part, mac = _split(token, "m")
    if not hmac.compare_digest(mac, _mac(secret, "member", f"m{resident_id}.{part}")):
        raise CodeError(_l("This member code is not valid."), code="forged_code")
    if part.startswith("c"):
        resident = load_resident(resident_id)
        if resident is None or part != f"c{resident.card_serial}":
            raise CodeError(_l("This member card has been replaced by a newer one."), code="card_replaced")
        return MemberCode(resident_id, True)
    if not part.isdigit() or int(part) not in (step_of(now, seconds), step_of(now, seconds) - 1):
        raise CodeError(_l("This member code has expired. Please ask the resident to refresh it."),
                        code="code_expired")
    return MemberCode(resident_id, False)


# ---- the number printed on a member card ----------------------------------------------------------------
# "卡号 1309-1": the resident's id, a dash, the card's serial (1 for the first card, one more for each
# reissue). A clerk types it when the QR is creased or the scanner is broken; the PIN is then asked as for
# the scanned card.

MAX_ID, MAX_SERIAL = 2**63 - 1, 2**31 - 1
_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\uff0d_/]")
_CARD_NUMBER = re.compile(r"(\d{1,25})-(\d{1,25})")


def card_number(resident) -> str:
    return f"{resident.id}-{resident.card_serial}"


def card_number_candidates(typed: str) -> list[tuple[int, int]] | None:
    """The (resident id, card serial) pairs a typed card number may mean, or None when it is no card number
    (a QR code's text, a name). "1309-1" means one card; "13091", typed without the dash, may be 1309-1,
    130-91 or 1-3091 (never 13-091: neither part of a number starts with 0): the caller keeps those that
    name a current card."""
    words = re.sub(r"\s*-\s*", "-", _DASHES.sub("-", ascii_form(typed or "")[:60])).split()
    if len(words) == 2 and all(w.isdigit() for w in words):  # "1309 1": a space for the dash
        words = ["-".join(words)]
    if len(words) != 1:
        return None
    text = words[0]
    m = _CARD_NUMBER.fullmatch(text)
    if m:
        pairs = [(int(m.group(1)), int(m.group(2)))]
    elif text.isdigit() and 2 <= len(text) <= 29:
        pairs = [(int(text[:i]), int(text[i:])) for i in range(1, len(text))
                 if text[0] != "0" and text[i] != "0"]
    else:
        return None
    return [(rid, serial) for rid, serial in pairs if 1 <= rid <= MAX_ID and 1 <= serial <= MAX_SERIAL]
