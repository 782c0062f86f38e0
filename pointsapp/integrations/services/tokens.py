"""API tokens: created by the user herself (personal) or by her community's office (device: a kiosk, the
counter's tablet), scoped to a subset of her roles in one community (and one store), stored as a SHA-256
hash, expiring, revocable, their last use recorded.

The token's secret is shown once, when it is made: `pa_` and 43 URL-safe characters (256 bits). Its first
characters (`prefix`) name it on pages. A token never gives more than its user has at the moment of use:
the roles are narrowed again on every request (core.permissions.TokenLimit), so a role taken from her is
gone from her tokens too.
"""
import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core.errors import InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.permissions import Action, Role, TokenLimit, can, scopes_of
from pointsapp.core.uow import after_commit, unit_of_work
from pointsapp.integrations.models import TOKEN_KINDS, ApiToken

SECRET_PREFIX = "pa_"
MAX_DAYS = 366
DEFAULT_DAYS = 90
MAX_RATE = 6000  # requests a minute
DEFAULT_RATE = 120
TOUCH_EVERY = timedelta(minutes=1)  # last use is written at most this often
ROLE_CHOICES = (Role.RESIDENT, Role.TEAM_LEAD, Role.CLERK, Role.COMMUNITY_ADMIN)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def grantable_roles(user: User, community_id: int, store_id: int | None = None) -> set[str]:
    """The roles a token of `user` may carry in that community (and store): the ones she holds there now."""
    full = _unlimited_scopes(user)
    limit = TokenLimit(frozenset(ROLE_CHOICES), community_id, store_id)
    return {s.role for s in limit.narrow(full)}


def _unlimited_scopes(user: User):
    saved = getattr(user, "_token_limit", None)
    if saved is not None:
        return []  # a token cannot make tokens
    return scopes_of(user)


def create(actor: User, *, user: User, kind: str, name: str, roles: list[str], community_id: int,
           store_id: int | None, days: int, rate_per_minute: int, now: datetime) -> tuple[ApiToken, str]:
    """A new token and its secret (shown once). Personal tokens are made by the user for herself; device tokens
    by an office member for a kiosk or the counter's tablet, acting as herself within the token's roles (with a
    store: that counter's clerk only). A token never acts as somebody else: that would let one office member be
    the "second person" of her own award."""
    if getattr(actor, "_token_limit", None) is not None:
        raise PermissionDenied(_l("A token cannot create tokens. Please use the app."), code="token_cannot_create")
    if kind not in TOKEN_KINDS:
        raise InvalidInput(_l("Choose a personal or a device token."), code="invalid_kind")
    if kind == "personal" and actor.id != user.id:
        raise PermissionDenied(_l("Only she herself can make a personal token."), code="not_your_token")
    if kind == "device" and not can(actor, Action.MANAGE_COMMUNITY, community_id):
        raise PermissionDenied(_l("Only the community office can make device tokens."), code="office_only")
    if kind == "device" and user.id != actor.id:  # acting as another person would make her the second person
        raise PermissionDenied(_l("A device token acts as the office member who makes it."), code="device_acts_as_maker")
    if kind == "device" and Role.RESIDENT in roles:
        raise InvalidInput(_l("A device token cannot carry a resident's role."), code="device_not_resident")
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise InvalidInput(_l("Give the token a name of at most 80 characters."), code="invalid_name")
    chosen = sorted(set(roles))
    allowed = grantable_roles(user, community_id, store_id)
    if not chosen:
        raise InvalidInput(_l("Choose at least one role for the token."), code="no_roles")
    if not set(chosen) <= allowed:
        raise PermissionDenied(_l("A token can only carry roles its user holds in that community."),
                               code="role_not_held")
    if store_id is not None and set(chosen) - {Role.CLERK}:
        raise InvalidInput(_l("A token for one store carries the clerk's role only."), code="store_token_clerk_only")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(_l("A token lasts from 1 to %(max)s days."), code="invalid_days", max=MAX_DAYS)
    if not 1 <= rate_per_minute <= MAX_RATE:
        raise InvalidInput(_l("Allow from 1 to %(max)s requests a minute."), code="invalid_rate", max=MAX_RATE)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(community_id=community_id, user_id=user.id, store_id=store_id, kind=kind, name=name,
                     roles=",".join(chosen), prefix=secret[:10], token_hash=hash_secret(secret),
                     rate_per_minute=rate_per_minute, created_by_id=actor.id, created_at=now,
                     expires_at=now + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    audit.record(actor, AuditAction.API_TOKEN_CREATED, token, now, community_id=community_id, user_id=user.id,
                 kind=kind, roles=",".join(chosen), store_id=store_id, days=days)
    return token, secret


def get(community_id: int | None, token_id) -> ApiToken:
    token = db.session.get(ApiToken, token_id) if isinstance(token_id, int) else None
    if token is None or (community_id is not None and token.community_id != community_id):
        raise NotFound(_l("No such token."))
    return token


def may_revoke(actor: User, token: ApiToken) -> bool:
    return token.user_id == actor.id or can(actor, Action.MANAGE_COMMUNITY, token.community_id)


def revoke(actor: User, token: ApiToken, now: datetime) -> ApiToken:
    """The token stops working at once (its user, or her community's office)."""
    if not may_revoke(actor, token):
        raise PermissionDenied(_l("You do not have permission to do this."))
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by_id = now, actor.id
        audit.record(actor, AuditAction.API_TOKEN_REVOKED, token, now, community_id=token.community_id)
    return token


def of_user(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())))


def of_community(actor: User, community_id: int) -> list[ApiToken]:
    """Every token of the community, newest first (the office's page)."""
    if not can(actor, Action.MANAGE_COMMUNITY, community_id):
        raise PermissionDenied(_l("You do not have permission to do this."))
    return list(db.session.scalars(select(ApiToken).where(ApiToken.community_id == community_id)
                                   .order_by(ApiToken.id.desc())))


def authenticate(secret: str, now: datetime, address: str) -> tuple[User, ApiToken]:
    """The user a bearer secret acts as, narrowed to the token's roles, community and store; InvalidToken
    for an unknown, expired or revoked token or a disabled user. Its last use is written at most once a
    minute, in its own short transaction (a GET stays read-only)."""
    from pointsapp.core.api import InvalidToken
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100:
        raise InvalidToken()
    found = db.session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_secret(secret))
        .options(joinedload(User.grants), joinedload(User.resident))
    ).unique().first()
    if found is None:
        raise InvalidToken()
    token, user = found
    if token.revoked_at is not None or token.expires_at <= now or not user.is_active:
        raise InvalidToken()
    user._token_limit = TokenLimit(frozenset(token.role_list), token.community_id, token.store_id)
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token_id = token.id
        after_commit(lambda: _touch(token_id, now, address[:45]))
    return user, token


def _touch(token_id: int, now: datetime, address: str) -> None:
    """Its own small unit of work once the request's has committed (as a login session's last use)."""
    try:
        with unit_of_work():
            db.session.execute(update(ApiToken).where(ApiToken.id == token_id)
                               .values(last_used_at=now, last_used_ip=address))
    except Exception:  # noqa: BLE001 - best effort: a busy database costs the note of last use, not the request
        pass


def communities_of(user: User) -> list[int]:
    """The communities she holds a role in (where she may make a personal token)."""
    return sorted({s.community_id for s in _unlimited_scopes(user) if s.community_id is not None})


def is_live(token: ApiToken, now: datetime) -> bool:
    return token.revoked_at is None and token.expires_at > now
