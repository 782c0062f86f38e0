"""Accounts: passwords, activation codes, login sessions and staff roles."""
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from pointsapp.accounts.models import Role, RoleGrant, User
from pointsapp.accounts.services.password_rules import check_new_password
from pointsapp.accounts.services.sessions import end_all_sessions, end_other_sessions
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.passwords import check_password, hash_password
from pointsapp.core.permissions import Action, forget_scopes, require
from pointsapp.core.unique import insert_if_absent
from pointsapp.core.validation import clean_phone, is_phone
from pointsapp.tree.models import Community, Resident

ACTIVATION_DAYS = 30


class InvalidCredentials(InvalidInput):
    code = "invalid_credentials"


def authenticate(phone: str, password: str, now: datetime) -> User:
    """Return the user for phone+password. Raises invalid_credentials, account_disabled."""
    user = db.session.scalar(select(User).where(User.phone == clean_phone(phone)))
    # an unknown phone is checked against a dummy hash, so both paths cost one KDF run
    if not check_password(user.password_hash if user is not None else None, password or ""):
        raise InvalidCredentials(_l("Phone number or password is wrong."))
    if not user.is_enabled:
        raise InvalidInput(_l("This account is disabled. Please ask the community office."),
                           code="account_disabled")
    user.last_login_at = now
    return user


def _require_manage_account(actor: User, user: User) -> None:
    """Setting a password or an activation code takes over every role the account holds, so the actor
    must manage each community the account belongs to (as resident or staff); a city admin's account,
    or one tied to no community, only a city admin."""
    community_ids = {g.community_id for g in user.grants}
    if user.resident is not None:
        community_ids.add(user.resident.community_id)
    if not community_ids or None in community_ids:
        require(actor, Action.MANAGE_CITY)
    for community_id in community_ids - {None}:
        require(actor, Action.MANAGE_COMMUNITY, community_id)


def account_for_resident(actor: User, resident: Resident, now: datetime) -> User:
    """The resident's login account, created on first use. Raises forbidden, phone_missing, phone_taken."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    user = db.session.scalar(select(User).where(User.resident_id == resident.id))
    if user is not None:
        return user
    if not is_phone(resident.phone):
        raise InvalidInput(_l("Add a valid mobile number to this resident first."), code="phone_missing")
    taken = db.session.scalar(select(User).where(User.phone == resident.phone))
    if taken is not None:
        if taken.resident_id == resident.id:  # a twin request created it since the first look
            return taken
        if taken.resident_id is None:  # a staff account of the same person: link it
            taken.resident_id = resident.id
            forget_scopes(taken)
            return taken
        raise Conflict(_l("Another resident already logs in with this phone number."), code="phone_taken")
    user = User(phone=resident.phone, name=resident.name, resident_id=resident.id, created_at=now)
    if insert_if_absent(user):
        return user
    # a twin request created it a moment ago (the same form sent twice), or another resident took the phone
    user = db.session.scalar(select(User).where(User.resident_id == resident.id))
    if user is None:
        raise Conflict(_l("Another resident already logs in with this phone number."), code="phone_taken")
    return user


def set_password(actor: User, user: User, password: str, now: datetime) -> None:
    """An admin sets a first or new password. Raises forbidden, password_too_short, password_too_weak."""
    _require_manage_account(actor, user)
    check_new_password(password, user.phone)
    user.password_hash = hash_password(password)
    user.activation_code_hash = None
    user.activation_expires_at = None
    end_all_sessions(user, now, "password")  # whoever was logged in as this person is out
    audit.record(actor, "password_set", user, now, community_id=_home_community(user), user_id=user.id)


def _home_community(user: User) -> int | None:
    """The community an event about an account belongs to: her resident record's, else a staff role's."""
    if user.resident is not None:
        return user.resident.community_id
    return next((g.community_id for g in user.grants if g.community_id is not None), None)


def change_own_password(user: User, old: str, new: str, now: datetime) -> None:
    """The user changes their own password. Raises invalid_credentials, password_too_short, password_too_weak."""
    if not check_password(user.password_hash, old or ""):
        raise InvalidCredentials(_l("The current password is wrong."))
    check_new_password(new, user.phone)
    user.password_hash = hash_password(new)
    user.activation_code_hash = None  # an old activation slip must not reset the new password
    user.activation_expires_at = None
    end_other_sessions(user, now, "password")  # this device stays logged in; every other one is out


def issue_activation_code(actor: User, user: User, now: datetime) -> str:
    """A one-time 8-digit code the person uses to choose a password. Raises forbidden."""
    _require_manage_account(actor, user)
    code = f"{secrets.randbelow(10**8):08d}"
    user.activation_code_hash = hash_password(code)
    user.activation_expires_at = now + timedelta(days=ACTIVATION_DAYS)
    audit.record(actor, "activation_code_issued", user, now, community_id=_home_community(user), user_id=user.id)
    return code


def activate(phone: str, code: str, password: str, now: datetime) -> User:
    """Set a password with an activation code. Raises activation_invalid, password_too_short, password_too_weak."""
    user = db.session.scalar(select(User).where(User.phone == clean_phone(phone)))
    code = (code or "").strip().replace(" ", "")
    valid = (
        user is not None
        and user.activation_code_hash is not None
        and user.activation_expires_at is not None
        and user.activation_expires_at > now
        and check_password(user.activation_code_hash, code)
    )
    if valid and not user.is_enabled:
        raise InvalidInput(_l("This account is disabled. Please ask the community office."),
                           code="account_disabled")
    if not valid:
        raise InvalidInput(_l("The activation code is wrong or has expired. Please ask the community office "
                              "for a new one."), code="activation_invalid")
    check_new_password(password, user.phone)
    user.password_hash = hash_password(password)
    user.activation_code_hash = None
    user.activation_expires_at = None
    end_all_sessions(user, now, "activation")
    return user


def reset_by_office(actor: User, user: User, now: datetime) -> str:
    """「重置并打印激活单」 for a forgotten password: the person is logged out everywhere, the old password
    stops working (whoever else knew it is out too) and a new activation code is returned for the slip.
    Nobody resets their own account this way. Raises forbidden, self_reset."""
    if actor.id == user.id:
        raise PermissionDenied(_l("You cannot reset your own account. Please ask another member of the "
                                  "office."), code="self_reset")
    _require_manage_account(actor, user)
    ended = end_all_sessions(user, now, "reset")
    user.password_hash = None
    code = f"{secrets.randbelow(10**8):08d}"
    user.activation_code_hash = hash_password(code)
    user.activation_expires_at = now + timedelta(days=ACTIVATION_DAYS)
    audit.record(actor, AuditAction.ACCOUNT_RESET, user, now, community_id=_home_community(user), user_id=user.id,
                 sessions_ended=ended)
    return code


def office_end_sessions(actor: User, user: User, now: datetime) -> int:
    """The office logs a person out everywhere (a lost phone). Raises forbidden. Returns how many ended."""
    _require_manage_account(actor, user)
    return end_all_sessions(user, now, "office")


def staff_user(actor: User, community: Community, phone: str, name: str, now: datetime) -> User:
    """Find the account for phone, or create a staff account. Raises forbidden, invalid_phone."""
    require(actor, Action.GRANT_ROLE, community)
    phone = clean_phone(phone)
    if not is_phone(phone):
        raise InvalidInput(_l("Please enter an 11-digit mobile number."), code="invalid_phone")
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        if not (name or "").strip():
            raise InvalidInput(_l("Please enter the person's name."), code="name_missing")
        user = User(phone=phone, name=name.strip(), created_at=now)
        if not insert_if_absent(user):  # a twin request created it a moment ago
            user = db.session.scalar(select(User).where(User.phone == phone))
    return user


def grant_role(actor: User, user: User, role: str, community: Community | None, now: datetime, *,
               team=None, store=None) -> RoleGrant:
    """Give a staff role. Raises forbidden, invalid_role, scope_mismatch, role_exists."""
    if role == Role.CITY_ADMIN:
        require(actor, Action.MANAGE_CITY)
        community = None
    elif role in (Role.COMMUNITY_ADMIN, Role.TEAM_LEAD, Role.CLERK):
        if community is None:
            raise InvalidInput(_l("Choose a community."), code="scope_mismatch")
        require(actor, Action.GRANT_ROLE, community)
    else:
        raise InvalidInput(_l("Unknown role."), code="invalid_role")
    if role == Role.TEAM_LEAD and (team is None or team.community_id != community.id):
        raise InvalidInput(_l("Choose a team of this community."), code="scope_mismatch")
    if role == Role.CLERK and (store is None or store.community_id != community.id):
        raise InvalidInput(_l("Choose a store of this community."), code="scope_mismatch")
    cid = community.id if community else None
    tid = team.id if role == Role.TEAM_LEAD else None
    sid = store.id if role == Role.CLERK else None
    # Grants carry no unique key (NULL scopes would not compare equal in one): the person's row is locked
    # so that of two identical grants at once the second waits, then sees the first.
    locks.lock_row(User, user.id)
    held = db.session.execute(select(RoleGrant.role, RoleGrant.community_id, RoleGrant.team_id, RoleGrant.store_id)
                              .where(RoleGrant.user_id == user.id)).all()
    if (role, cid, tid, sid) in {tuple(g) for g in held}:
        db.session.expire(user, ["grants"])  # the loaded list may not show the twin's grant yet
        raise Conflict(_l("This person already has that role."), code="role_exists")
    grant = RoleGrant(user=user, role=role, community_id=cid, team_id=tid, store_id=sid,
                      granted_by_id=actor.id, granted_at=now)
    db.session.add(grant)
    db.session.flush()
    forget_scopes(user)
    audit.record(actor, "role_granted", grant, now, role=role, user_id=user.id, team_id=tid, store_id=sid)
    return grant


def revoke_role(actor: User, grant_id: int, now: datetime) -> None:
    """Take a staff role back. Raises not_found, forbidden, last_admin."""
    grant = db.session.get(RoleGrant, grant_id)
    if grant is None:
        raise NotFound(_l("That role no longer exists."))
    if grant.role == Role.CITY_ADMIN:
        require(actor, Action.MANAGE_CITY)
    else:
        require(actor, Action.GRANT_ROLE, grant.community_id)
    if grant.user_id == actor.id and grant.role in (Role.COMMUNITY_ADMIN, Role.CITY_ADMIN):
        raise Conflict(_l("You cannot remove your own admin role."), code="last_admin")
    user = grant.user
    audit.record(actor, "role_revoked", grant, now, role=grant.role, user_id=user.id, team_id=grant.team_id,
                 store_id=grant.store_id)
    user.grants.remove(grant)  # delete-orphan deletes the row, and the loaded list no longer shows it
    db.session.flush()
    forget_scopes(user)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such account."))
    return user
