"""The witness's tap: 属实 sends the claim to the reviewer's queue; 不属实 ends it (rejected, the witness's note as
the reason): a claim whose witness says it is not so never reaches a reviewer unwitnessed. The claimant may file a
new claim naming another witness."""
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
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
    """The named witness says it is not so: the claim ends, rejected, with the reason
    "证明人表示不属实：<note>" (stored in the community's language, the note as typed). Raises not_found,
    note_too_long, claim_state."""
    _as_witness(actor, claim)
    note = lines(note or "")
    if len(note) > REASON_MAX:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="note_too_long", n=REASON_MAX)
    claim = locked_in(claim, ClaimStatus.WITNESS)
    claim.status = ClaimStatus.REJECTED
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh"):  # stored: the community's language
        claim.reason = (_("The witness says it is not true: %(note)s", note=note) if note
                        else _("The witness says it is not true."))
    claim.decided_at = now
    record_event(claim, actor, "witness_declined", now, note)
    db.session.flush()
    return claim
