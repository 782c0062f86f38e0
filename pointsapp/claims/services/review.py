"""The reviewer's decisions (approve, reject, ask for more) and the claimant's answers (answer, withdraw).

Each transition locks the claim's row, re-reads its status and refuses (claim_state) unless it starts from the
status it expects, so two people acting at once cannot both move it. Approval takes the resident's account lock
FIRST (the lock order of core.locks: accounts before anything of the claims), then the claim's row: two
approvals of the last slot of a limit queue behind each other, and the second counts the first."""
from collections.abc import Sequence
from datetime import datetime

from blinker import Namespace
from flask_babel import lazy_gettext as _l

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.catalogue.models import Evidence
from pointsapp.claims.models import OPEN_STATUSES, Claim, ClaimStatus
from pointsapp.claims.services.access import is_claimant_side, locked_in, record_event, review_refusal
from pointsapp.claims.services.fields import REASON_MAX
from pointsapp.claims.services.filing import (
    add_photos,
    attended_during,
    limit_used,
    overlapping,
    read_photos,
    refuse_attended,
    refuse_over_limit,
    refuse_overlap,
)
from pointsapp.core.errors import Conflict, InvalidInput, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.text import lines
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services.posting import Posting, lock_account, post
from pointsapp.ledger.services.rules import CapReached

ANSWER_MAX = 500


# Sent when a claim is approved, in the same transaction (webhooks listen): approved.send(claim, now=…)
approved = Namespace().signal("claims.approved")


def _as_reviewer(actor: User, claim: Claim) -> None:
    refusal = review_refusal(actor, claim)
    if refusal is not None:
        raise refusal


def _as_claimant(actor: User, claim: Claim) -> None:
    if not is_claimant_side(actor, claim):
        raise PermissionDenied(_l("Only the claimant, or whoever filed the claim for her, can do this."),
                               code="not_claimant")


def _required(text: str | None, missing, code: str) -> str:
    text = lines(text or "")
    if not text:
        raise InvalidInput(missing, code=code)
    if len(text) > REASON_MAX:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="reason_too_long", n=REASON_MAX)
    return text


def _early(claim: Claim, *statuses: str) -> None:
    """The cheap check before any lock (the locked re-read decides)."""
    if claim.status not in statuses:
        raise Conflict(_l("This claim has changed in the meantime (someone else acted on it). Please reload "
                          "and check."), code="claim_state")


def approve(actor: User, claim: Claim, now: datetime) -> Claim:
    """Post the claim's points (an award, key claim:<id>). Raises forbidden, self_review, witness_review,
    filer_review, claim_state, limit_reached, hours_overlap, cap_reached, resident_moved_out, busy."""
    _as_reviewer(actor, claim)
    _early(claim, ClaimStatus.PENDING)
    resident = claim.resident
    lock_account(resident)  # first: the limit below and the posting are decided under it
    claim = locked_in(claim, ClaimStatus.PENDING)
    item = claim.item
    refuse_over_limit(item, limit_used(item, claim.resident_id, claim.occurred_at, (ClaimStatus.APPROVED,),
                                       excluding=claim.id))
    if claim.minutes is not None:
        refuse_overlap(overlapping(claim.resident_id, claim.occurred_at, claim.minutes, (ClaimStatus.APPROVED,),
                                   excluding=claim.id))
        refuse_attended(attended_during(claim.resident_id, claim.occurred_at, claim.minutes))
    try:
        entry = post(Posting(resident, claim.points, EntryKind.AWARD, "claim", f"claim:{claim.id}",
                             reason=item.title, source_id=str(claim.id)), actor, now)
    except CapReached as exc:
        raise CapReached(_l("%(name)s has reached the community's limit for earning points (%(room)d more "
                            "allowed today or this month). The claim stays in the queue: approve it when she "
                            "has room again."), **exc.params) from exc
    claim.status = ClaimStatus.APPROVED
    claim.entry_id = entry.id
    claim.reviewer_id = actor.id
    claim.decided_at = now
    claim.reason = ""
    record_event(claim, actor, "approved", now)
    db.session.flush()
    audit.record(actor, AuditAction.CLAIM_APPROVED, claim, now, points=claim.points, entry_id=entry.id,
                 item_id=claim.item_id)
    approved.send(claim, now=now)
    return claim


def reject(actor: User, claim: Claim, reason: str, now: datetime) -> Claim:
    """Refuse the claim with a reason the claimant reads. Raises forbidden, self_review, witness_review,
    filer_review, reason_missing, reason_too_long, claim_state, busy."""
    _as_reviewer(actor, claim)
    reason = _required(reason, _l("Please give a reason."), "reason_missing")
    claim = locked_in(claim, ClaimStatus.PENDING, ClaimStatus.MORE_INFO)
    claim.status = ClaimStatus.REJECTED
    claim.reason = reason
    claim.reviewer_id = actor.id
    claim.decided_at = now
    record_event(claim, actor, "rejected", now, reason)
    db.session.flush()
    audit.record(actor, AuditAction.CLAIM_REJECTED, claim, now, item_id=claim.item_id)
    return claim


def ask_more(actor: User, claim: Claim, question: str, now: datetime) -> Claim:
    """Send the claim back to the claimant with a question. Raises forbidden, self_review, witness_review,
    filer_review, question_missing, reason_too_long, claim_state, busy."""
    _as_reviewer(actor, claim)
    question = _required(question, _l("Please write what you need to know."), "question_missing")
    claim = locked_in(claim, ClaimStatus.PENDING)
    claim.status = ClaimStatus.MORE_INFO
    claim.reason = question
    claim.reviewer_id = actor.id
    record_event(claim, actor, "asked", now, question)
    db.session.flush()
    return claim


def answer_more(actor: User, claim: Claim, text: str, photos: Sequence[bytes], now: datetime) -> Claim:
    """The claimant (or her filer) adds text and/or photos; the claim goes back to its place in the queue
    (submitted_at is kept). Raises not_claimant, answer_missing, answer_too_long, too_many_photos,
    invalid_photo, photo_too_large, claim_state, witness_missing, busy."""
    _as_claimant(actor, claim)
    text = lines(text or "")
    if len(text) > ANSWER_MAX:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="answer_too_long", n=ANSWER_MAX)
    read = read_photos(tuple(photos or ()))  # decoded before the lock: it takes a moment
    if not text and not read:
        raise InvalidInput(_l("Please add an answer or a photo."), code="answer_missing")
    claim = locked_in(claim, ClaimStatus.MORE_INFO)
    if claim.item.evidence == Evidence.WITNESS and claim.witnessed_at is None:
        # (decline_witness ends such a claim; this guards any other way one could come here unwitnessed)
        raise Conflict(_l("This claim still needs its witness's confirmation: it cannot go to the reviewer "
                          "without it. Please withdraw it and claim again naming another witness."),
                       code="witness_missing")
    add_photos(claim, read, now)
    claim.status = ClaimStatus.PENDING
    claim.reason = ""  # the question stays in the history
    record_event(claim, actor, "answered", now, text)
    db.session.flush()
    return claim


def withdraw(actor: User, claim: Claim, now: datetime) -> Claim:
    """The claimant (or her filer) takes back a claim still open. Raises not_claimant, claim_state, busy."""
    _as_claimant(actor, claim)
    claim = locked_in(claim, *OPEN_STATUSES)
    claim.status = ClaimStatus.WITHDRAWN
    record_event(claim, actor, "withdrawn", now)
    db.session.flush()
    return claim
