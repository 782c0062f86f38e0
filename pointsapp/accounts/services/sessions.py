"""Login sessions kept on the server, so that logging out, a new password or the office really ends them.

The cookie holds a random token (Flask-Login's user id); the table holds its SHA-256. The user loader finds
the user and the live session in one query (`find_session`), on every request. A session is live until it
is revoked or `expires_at` passes; `expires_at` moves with use (`touch`, at most every TOUCH_EVERY, so a
busy page writes nothing) but never past `absolute_expires_at`. Residents keep a session long (their phone
is theirs); anyone holding a staff role gets a short one (a counter PC is shared).
"""
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import LoginSession, User
from pointsapp.core.errors import NotFound
from pointsapp.core.extensions import db

TOUCH_EVERY = timedelta(minutes=5)
KEEP_ENDED = timedelta(days=30)  # ended sessions stay listed this long, then are deleted (they hold an IP)


@dataclass(frozen=True)
class SessionRules:
    resident_idle: timedelta
    resident_max: timedelta
    staff_idle: timedelta
    staff_max: timedelta

    @classmethod
    def from_config(cls, config) -> "SessionRules":
        return cls(resident_idle=timedelta(days=config["RESIDENT_SESSION_IDLE_DAYS"]),
                   resident_max=timedelta(days=config["RESIDENT_SESSION_MAX_DAYS"]),
                   staff_idle=timedelta(hours=config["STAFF_SESSION_IDLE_HOURS"]),
                   staff_max=timedelta(hours=config["STAFF_SESSION_MAX_HOURS"]))

    def for_user(self, user: User, kept: bool = True) -> tuple[timedelta, timedelta]:
        """(idle, absolute) for this person: the staff rule for anyone holding a role, and for a login that
        was not to be kept (the box "keep me logged in on this phone" unticked)."""
        if user.grants or not kept:
            return self.staff_idle, self.staff_max
        return self.resident_idle, self.resident_max


def is_long(user: User, kept: bool) -> bool:
    """Whether this login gets the long rule, and so a cookie that outlives the browser."""
    return kept and not user.grants


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# (pattern, name), first match wins: WeChat and the Chinese browsers carry "Chrome" or "Safari" too
_BROWSERS = ((r"MicroMessenger", "WeChat"), (r"\bQQ/", "QQ"), (r"MQQBrowser|QQBrowser", "QQ Browser"),
             (r"UCBrowser|UCWEB", "UC Browser"), (r"HuaweiBrowser", "Huawei Browser"),
             (r"MiuiBrowser|XiaoMi", "Xiaomi Browser"), (r"Quark", "Quark"), (r"Baidu", "Baidu"),
             (r"Edg/|Edge/", "Edge"), (r"OPR/|Opera", "Opera"), (r"Firefox/", "Firefox"),
             (r"Chrome/|CriOS/|Chromium/", "Chrome"), (r"Safari/", "Safari"))
_SYSTEMS = ((r"HarmonyOS|OpenHarmony", "HarmonyOS"), (r"Android", "Android"), (r"iPhone", "iPhone"),
            (r"iPad", "iPad"), (r"Windows", "Windows"), (r"Mac OS X|Macintosh", "Mac"), (r"CrOS", "ChromeOS"),
            (r"Linux", "Linux"))


def describe_device(user_agent: str | None) -> str:
    """"Chrome on Android": enough for a person to recognise a device, and nothing more of the user agent."""
    agent = user_agent or ""
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, agent)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    return (browser or system or agent.split("/")[0].strip() or "?")[:60]


def start_session(user: User, now: datetime, *, user_agent: str | None, ip: str | None,
                  rules: SessionRules, kept: bool = True) -> str:
    """Record a newly logged-in device and return its token for the cookie (only the hash is stored).
    `kept`: the person asked to stay logged in on this device (residents then get the long rule)."""
    idle, longest = rules.for_user(user, kept)
    token = secrets.token_urlsafe(32)
    row = LoginSession(user_id=user.id, token_hash=hash_token(token), created_at=now, last_seen_at=now,
                       expires_at=min(now + idle, now + longest),
                       absolute_expires_at=now + longest, device=describe_device(user_agent),
                       ip=(ip or "")[:45], is_kept=kept)
    db.session.add(row)
    # the person's sessions that ended long ago go (one indexed delete at each login)
    db.session.execute(delete(LoginSession).where(
        LoginSession.user_id == user.id,
        or_(LoginSession.expires_at < now - KEEP_ENDED, LoginSession.revoked_at < now - KEEP_ENDED)))
    db.session.flush()
    user.login_session, user.session_token = row, token
    return token


def find_session(token: str | None, now: datetime) -> User | None:
    """The user whose live session carries `token`, with `login_session` set; None for an unknown, ended or
    expired one. One query: it runs on every request, and brings what every request asks next (the roles,
    for the permission checks, and the resident)."""
    if not token or len(token) > 100:
        return None
    found = db.session.execute(
        select(User, LoginSession).join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == hash_token(token), LoginSession.revoked_at.is_(None),
               LoginSession.expires_at > now)
        .options(joinedload(User.grants), joinedload(User.resident))
    ).unique().first()
    if found is None:
        return None
    user, row = found
    user.login_session, user.session_token = row, token
    return user


def needs_touch(row: LoginSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def touch(row_id: int, user_id: int, created_at: datetime, absolute_expires_at: datetime, rules: SessionRules,
          now: datetime, kept: bool = True) -> None:
    """Record use: last seen now, and the end moves on by the idle rule, never past the absolute end. The
    rules are those of the person's roles now (a resident made a clerk gets the staff rule from here on).
    Only if nobody touched it since, and not for a session that has ended meanwhile."""
    idle, longest = rules.for_user(db.session.get(User, user_id), kept)
    absolute = min(absolute_expires_at, created_at + longest)
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.id == row_id, LoginSession.revoked_at.is_(None), LoginSession.expires_at > now,
               LoginSession.last_seen_at <= now - TOUCH_EVERY)
        .values(last_seen_at=now, expires_at=min(now + idle, absolute), absolute_expires_at=absolute)
    )


def live_sessions(user: User, now: datetime) -> list[LoginSession]:
    """The person's logged-in devices, the most recently used first."""
    return list(db.session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None),
                                   LoginSession.expires_at > now)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())))


def _revoke(user: User, now: datetime, reason: str, *only: int, keep: int | None = None) -> int:
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    if only:
        stmt = stmt.where(LoginSession.id.in_(only))
    if keep is not None:
        stmt = stmt.where(LoginSession.id != keep)
    result = db.session.execute(stmt.values(revoked_at=now, revoked_reason=reason),
                                execution_options={"synchronize_session": "fetch"})
    return result.rowcount


def end_session(user: User, session_id: int, now: datetime, reason: str = "device") -> None:
    """End one of the person's own sessions (logout, or a device from the list). Raises not_found."""
    if not _revoke(user, now, reason, session_id):
        raise NotFound(_l("That device is no longer logged in."))


def end_other_sessions(user: User, now: datetime, reason: str = "device") -> int:
    """End every session of the person but the one this request runs in. Returns how many ended."""
    keep = user.login_session.id if user.login_session is not None else None
    return _revoke(user, now, reason, keep=keep)


def end_all_sessions(user: User, now: datetime, reason: str) -> int:
    """End every session of the person (a password set by the office, activation, the office's button)."""
    return _revoke(user, now, reason)
