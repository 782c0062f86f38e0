"""The audit log: who did what to which record, when. Append-only (DESIGN.md invariant 11).

Rows are only ever inserted: nothing in the code updates or deletes them (the mapper refuses both), and
on PostgreSQL a trigger made by the migration refuses UPDATE and DELETE for anyone who writes through
SQL. An event names its subject by type and id and carries a few details (counts, a date range, the
fields that were shown) but never the personal value itself, so the log is safe to show to the office.
"""
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime


class AuditAction(StrEnum):
    POINTS_AWARDED = "points_awarded"  # a manual award by the office
    POINTS_DEDUCTED = "points_deducted"  # a manual deduction by the office
    ENTRY_REVERSED = "entry_reversed"  # the office corrects a ledger entry
    REDEMPTION_VOIDED = "redemption_voided"  # a receipt voided at the counter or by the office
    RESIDENTS_IMPORTED = "residents_imported"  # an import sheet was run
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    DATA_EXPORTED = "data_exported"  # the ledger, a store report, a star list, the audit log itself
    PERSONAL_DATA_VIEWED = "personal_data_viewed"  # the full phone / ID tail / birth year shown on purpose
    PASSWORD_SET = "password_set"  # the office set someone's password
    ACTIVATION_CODE_ISSUED = "activation_code_issued"
    PERSONAL_DATA_ERASED = "personal_data_erased"  # the retention rule ran for a moved-out resident
    ACCOUNT_RESET = "account_reset"  # a forgotten password: logged out everywhere, a new activation slip
    QUERY_ANSWERED = "query_answered"  # the office or a lead answered a resident's query (queries feature)
    CARD_LOCKED = "card_locked"  # five wrong PINs or ID tails at a counter locked a resident's card and search
    COUNTER_PAUSED = "counter_paused"  # a clerk's wrong PINs and ID tails across residents paused card and search
    # catalogue (积分细则): an item added, its next version written, or taken out
    CATALOGUE_ITEM_CREATED = "catalogue_item_created"
    CATALOGUE_ITEM_REVISED = "catalogue_item_revised"
    CATALOGUE_ITEM_RETIRED = "catalogue_item_retired"
    # deductions feature (负向扣分)
    DEDUCTION_RECORDED = "deduction_recorded"  # the office recorded a deduction under a catalogue item
    DEDUCTION_WITHDRAWN = "deduction_withdrawn"  # the office withdrew one (an objection upheld)
    CLAIM_APPROVED = "claim_approved"  # a reviewer approved a resident's claim (积分申报): points posted
    CLAIM_REJECTED = "claim_rejected"  # a reviewer rejected a resident's claim, with a reason
    # groups (organisation groups and their rankings)
    GROUP_CREATED = "group_created"
    GROUP_RENAMED = "group_renamed"
    GROUP_DELETED = "group_deleted"
    GROUP_PUBLISHED = "group_published"  # its rankings shown on the community's public page
    GROUP_UNPUBLISHED = "group_unpublished"
    GROUP_MEMBER_ADDED = "group_member_added"
    GROUP_MEMBER_REMOVED = "group_member_removed"
    # end groups
    API_TOKEN_CREATED = "api_token_created"  # a personal or device token for the API
    API_TOKEN_REVOKED = "api_token_revoked"
    WEBHOOK_ADDED = "webhook_added"  # an office's endpoint for events
    WEBHOOK_CHANGED = "webhook_changed"  # its events, address or state changed, or its secret renewed
    WEBHOOK_REDELIVERED = "webhook_redelivered"  # a delivery sent again by hand


class AuditEvent(db.Model):
    """One staff action. Never updated or deleted."""

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    # None only for city-wide actions (granting a city admin role)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # None: the system (a command)
    action: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(30))  # a table name: resident, role_grant, redemption …
    subject_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    # the resident the action was about, when there is one (the subject itself, or its resident: an entry,
    # a receipt, her login), so the office can list everything done about one person
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id"))
    details: Mapped[str] = mapped_column(Text, default="{}")  # short JSON; never a personal value
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_audit_event_community_newest", "community_id", "id"),  # a community's log, newest first
        Index("ix_audit_event_community_action", "community_id", "action", "id"),
        Index("ix_audit_event_resident", "community_id", "resident_id", "id"),
        Index("ix_audit_event_actor", "actor_id", "id"),
    )


class AppendOnly(Exception):
    """Raised when code tries to change or remove an audit event."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper, _connection, target):
    raise AppendOnly(f"audit_event {target.id} cannot be changed: the audit log is append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper, _connection, target):
    raise AppendOnly(f"audit_event {target.id} cannot be deleted: the audit log is append-only")
