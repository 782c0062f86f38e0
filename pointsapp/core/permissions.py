"""The one place that answers "may this user do this to that object?".

Two layers, both here:
- endpoint policies: every view declares who may reach it (@policy); an endpoint without one is
  refused (closed by default) by the check installed in create_app();
- object checks: can(user, action, target) for the object a view or service is about to touch.
"""
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import PermissionDenied


class Actor(Protocol):
    """Who acts: a logged-in user (accounts.models.User), as services receive it."""

    id: int
    is_authenticated: bool
    is_active: bool


class Role(StrEnum):
    RESIDENT = "resident"  # implied by a linked, not moved-out resident record; never granted
    TEAM_LEAD = "team_lead"  # per team
    CLERK = "clerk"  # per store
    COMMUNITY_ADMIN = "community_admin"  # per community
    CITY_ADMIN = "city_admin"  # every community


class Action(StrEnum):
    VIEW_SELF = "self.view"  # own account, own resident record
    VIEW_COMMUNITY = "community.view"  # tree and people of one community
    MANAGE_COMMUNITY = "community.manage"  # edit tree, people, imports, accounts
    GRANT_ROLE = "role.grant"  # give or take staff roles in one community
    MANAGE_CITY = "city.manage"  # subdistricts and communities themselves
    VIEW_RESIDENT = "resident.view"  # one resident's personal data
    RUN_TEAM = "team.run"  # a team's members and activities: check-in, attendance, approval
    RUN_STORE = "store.run"  # the counter of one store: identify residents, redeem, void own, close shift
    MANAGE_STORE = "store.manage"  # products, stock corrections, voids at any time, reports


@dataclass(frozen=True)
class Scope:
    role: str
    community_id: int | None
    team_id: int | None = None
    store_id: int | None = None


@dataclass(frozen=True)
class TokenLimit:
    """What an API token lets its user do: at most `roles`, in one community (and, for the counter, one
    store). A city admin's token acts as the community's admin; an office member's token for a store acts as
    that store's clerk."""

    roles: frozenset[str]
    community_id: int
    store_id: int | None = None

    def narrow(self, scopes: list[Scope]) -> list[Scope]:
        kept: list[Scope] = []
        for s in scopes:
            if s.role == Role.CITY_ADMIN:
                s = Scope(Role.COMMUNITY_ADMIN, self.community_id)
            if s.community_id != self.community_id:
                continue
            if self.store_id is not None and s.role == Role.COMMUNITY_ADMIN:
                s = Scope(Role.CLERK, self.community_id, store_id=self.store_id)
            if s.role not in self.roles:
                continue
            if self.store_id is not None and s.role == Role.CLERK and s.store_id != self.store_id:
                continue
            if s not in kept:
                kept.append(s)
        return kept


def scopes_of(user) -> list[Scope]:
    """Every role the user holds, the implied resident role included; on a request that came with an API
    token, only those the token allows (`user._token_limit`)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_scopes_cache", None)
    if cached is not None:
        return cached
    scopes = [Scope(g.role, g.community_id, g.team_id, g.store_id) for g in user.grants]
    if user.resident is not None and user.resident.moved_out_on is None:
        scopes.append(Scope(Role.RESIDENT, user.resident.community_id))
    limit = getattr(user, "_token_limit", None)
    if limit is not None:
        scopes = limit.narrow(scopes)
    user._scopes_cache = scopes
    return scopes


def forget_scopes(user) -> None:
    if hasattr(user, "_scopes_cache"):
        del user._scopes_cache


def has_role(user, role: str, community_id: int | None = None) -> bool:
    return any(s.role == role and (community_id is None or s.community_id == community_id)
               for s in scopes_of(user))


def is_city_admin(user) -> bool:
    return has_role(user, Role.CITY_ADMIN)


def is_staff(user) -> bool:
    return any(s.role != Role.RESIDENT for s in scopes_of(user))


def clerk_store_ids(user) -> set[int]:
    return {s.store_id for s in scopes_of(user) if s.role == Role.CLERK}


def led_team_ids(user) -> set[int]:
    return {s.team_id for s in scopes_of(user) if s.role == Role.TEAM_LEAD}


def admin_community_ids(user) -> set[int] | None:
    """Communities the user administers; None means all of them (city admin)."""
    if is_city_admin(user):
        return None
    return {s.community_id for s in scopes_of(user) if s.role == Role.COMMUNITY_ADMIN}


def _community_id_of(target) -> int | None:
    if target is None:
        return None
    if getattr(target, "__tablename__", None) == "community":  # the community itself
        return target.id
    if isinstance(target, int):
        return target
    return getattr(target, "community_id", None)


def can(user, action: str, target=None) -> bool:
    """True when user may perform action on target (a Community, a model with community_id, or an id)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if action == Action.VIEW_SELF:
        return True
    if is_city_admin(user):
        return True
    if action == Action.MANAGE_CITY:
        return False
    community_id = _community_id_of(target)
    if action in (Action.VIEW_COMMUNITY, Action.MANAGE_COMMUNITY, Action.GRANT_ROLE):
        return community_id is not None and has_role(user, Role.COMMUNITY_ADMIN, community_id)
    if action == Action.RUN_TEAM:
        # target: a Team, or anything with team_id (an Activity)
        team_id = target.id if target.__class__.__name__ == "Team" else getattr(target, "team_id", None)
        return (community_id is not None and has_role(user, Role.COMMUNITY_ADMIN, community_id)) or any(
            s.role == Role.TEAM_LEAD and s.team_id == team_id and team_id is not None for s in scopes_of(user))
    if action in (Action.RUN_STORE, Action.MANAGE_STORE):
        store_id = target.id if target.__class__.__name__ == "Store" else getattr(target, "store_id", None)
        if community_id is not None and has_role(user, Role.COMMUNITY_ADMIN, community_id):
            return True
        return action == Action.RUN_STORE and store_id is not None and any(
            s.role == Role.CLERK and s.store_id == store_id for s in scopes_of(user))
    if action == Action.VIEW_RESIDENT:
        if user.resident_id is not None and getattr(target, "id", None) == user.resident_id:
            return True
        return community_id is not None and has_role(user, Role.COMMUNITY_ADMIN, community_id)
    return False  # unknown actions are refused


def could(user, action: str, target=None) -> bool:
    """can() with every role she holds, whatever token this request came with: for separation of duties
    ("does she run this activity?" must not turn False because her phone's token carries only the resident's
    role, or her own check-in would skip the hold a lead's own points wait under)."""
    limit = getattr(user, "_token_limit", None)
    if limit is None:
        return can(user, action, target)
    cached = getattr(user, "_scopes_cache", None)
    try:
        del user._token_limit
        forget_scopes(user)
        return can(user, action, target)
    finally:
        user._token_limit = limit
        if cached is None:
            forget_scopes(user)
        else:
            user._scopes_cache = cached


def require(user, action: str, target=None) -> None:
    """Raise PermissionDenied (code forbidden) unless can(user, action, target)."""
    if not can(user, action, target):
        raise PermissionDenied(_l("You do not have permission to do this."))


# ---- endpoint policies -------------------------------------------------------------------

PUBLIC = "public"
AUTHENTICATED = "authenticated"
STAFF = "staff"
CITY_ADMIN = "city_admin"
COMMUNITY_ADMIN = "community_admin"  # needs a community_id view argument
RESIDENT = "resident"  # a resident's own things (an API token without the resident role is refused)

POLICIES = (PUBLIC, AUTHENTICATED, STAFF, CITY_ADMIN, COMMUNITY_ADMIN, RESIDENT)


def policy(kind: str) -> Callable:
    """Declare who may reach a view. Views without a policy are refused."""
    if kind not in POLICIES:
        raise ValueError(f"unknown policy {kind!r}")

    def mark(view):
        view.access_policy = kind
        return view

    return mark


def endpoint_allows(kind: str | None, user, view_args: dict) -> bool | None:
    """True allowed, False forbidden, None: needs login first. Unknown/absent policy is forbidden."""
    authenticated = user is not None and user.is_authenticated and user.is_active
    if kind == PUBLIC:
        return True
    if kind not in POLICIES:
        return False
    if not authenticated:
        return None
    if kind == AUTHENTICATED:
        return True
    if kind == STAFF:
        return is_staff(user)
    if kind == RESIDENT:
        return has_role(user, Role.RESIDENT)
    if kind == CITY_ADMIN:
        return can(user, Action.MANAGE_CITY)
    if kind == COMMUNITY_ADMIN:
        community_id = view_args.get("community_id")
        return community_id is not None and can(user, Action.MANAGE_COMMUNITY, int(community_id))
    return False
