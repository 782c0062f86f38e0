"""The witness's tap: 属实 sends the claim to the reviewer's queue; 不属实 sends it back to the claimant."""
from datetime import datetime

from flask_babel import lazy_gettext as _l

from pointsapp.accounts.models import User
from pointsapp.claims.models import Claim, ClaimStatus
from pointsapp.claims.services.access import locked_in, record_event
from pointsapp.claims.services.fields import REASON_MAX
from pointsapp.core.errors import InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.text import lines


def _as_witness(actor: User, claim: Claim) -> None:
    if (actor is None or not actor.is_active or claim.witness_id is None
            or actor.resident_id != claim.witness_id):
        raise NotFound(_l("No such claim waiting for your confirmation."))


def confirm_witness(actor: User, claim: Claim, now: datetime) -> Claim:
    """The named witness confirms: to the reviewer's queue. Raises not_found, claim_state."""
    _as_witness(actor, claim)
    claim = locked_in(claim, ClaimStatus.WITNESS)
    claim.status = ClaimStatus.PENDING
    claim.witnessed_at = now
    record_event(claim, actor, "witnessed", now)
    db.session.flush()
    return claim


def decline_witness(actor: User, claim: Claim, note: str, now: datetime) -> Claim:
    """The named witness says it is not so: back to the claimant, the note as the reason. Raises not_found,
    note_too_long, claim_state."""
    _as_witness(actor, claim)
    note = lines(note or "")
    if len(note) > REASON_MAX:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="note_too_long", n=REASON_MAX)
    claim = locked_in(claim, ClaimStatus.WITNESS)
    claim.status = ClaimStatus.MORE_INFO
    claim.reason = note  # (may be empty: the event "witness_declined" says what happened)
    record_event(claim, actor, "witness_declined", now, note)
    db.session.flush()
    return claim
