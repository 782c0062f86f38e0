"""Login accounts and the roles they hold."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.core.extensions import db
from pointsapp.core.permissions import Role  # noqa: F401  (roles are shared vocabulary; re-exported)
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Resident


class User(db.Model):
    """One person who can log in: a resident, a staff member, or both."""

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # the login name
    name: Mapped[str] = mapped_column(String(40))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None until set or activated
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"), unique=True)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    activation_code_hash: Mapped[str | None] = mapped_column(String(255))
    activation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person ticked "I have read the privacy notice" at activation, and which notice it was
    # (privacy.services.NOTICE_VERSION); None for accounts activated before the notice, or set up by the office.
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_version: Mapped[str | None] = mapped_column(String(20))

    resident: Mapped[Resident | None] = relationship()
    grants: Mapped[list["RoleGrant"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", foreign_keys="RoleGrant.user_id"
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.is_enabled

    @property
    def is_anonymous(self) -> bool:
        return False

    # The login session this request runs in (set by the user loader or at login, never stored):
    # Flask-Login keeps its token in the cookie as the user's id.
    login_session = None
    session_token = None

    def get_id(self) -> str | None:
        return self.session_token


class RoleGrant(db.Model):
    """A staff role held by a user, scoped to a community and, for leads and clerks, a team or store."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    role: Mapped[str] = mapped_column(String(20))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))  # None for city_admin
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    community = relationship("Community")
    team = relationship("Team")  # volunteering.models.Team (a string: accounts imports no feature above it)
    store = relationship("Store")  # store.models.Store

    __table_args__ = (
        CheckConstraint(
            "(role = 'city_admin' AND community_id IS NULL)"
            " OR (role = 'community_admin' AND community_id IS NOT NULL)"
            " OR (role = 'team_lead' AND community_id IS NOT NULL AND team_id IS NOT NULL)"
            " OR (role = 'clerk' AND community_id IS NOT NULL AND store_id IS NOT NULL)",
            name="scope_matches_role",
        ),
        Index("ix_role_grant_user", "user_id"),
        Index("ix_role_grant_community", "community_id", "role"),
    )


class LoginSession(db.Model):
    """One logged-in device. The cookie carries a random token; only its SHA-256 is stored, so a copy of
    the database opens no session. A session ends when revoked (logout, password change, the office)
    or at expires_at, which moves with use up to absolute_expires_at."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the cookie's token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # updated at most every few minutes
    # the session ends at expires_at = min(last_seen_at + the idle rule, absolute_expires_at); the user loader
    # reads this one column, so it needs no arithmetic in SQL. The rules (residents long, anyone holding a
    # role short) are applied at login and again at every touch, so a new role shortens a session at once.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    absolute_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    device: Mapped[str] = mapped_column(String(60))  # "Chrome on Android": a trimmed user agent, not the whole
    ip: Mapped[str] = mapped_column(String(45))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(20))  # logout, password, office, device, activation, retention, reset
    # The person ticked "keep me logged in on this phone" (the default): a resident then gets the long rule;
    # unticked (a borrowed phone, a shared PC) the short staff rule, and a cookie that ends with the browser.
    is_kept: Mapped[bool] = mapped_column(default=True, server_default=sa_true())

    user: Mapped[User] = relationship()

    __table_args__ = (Index("ix_login_session_user", "user_id", "expires_at"),)
