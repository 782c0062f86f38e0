"""Claims (积分申报): the contract the pages are built on. Each function is implemented in a module of this
package (filing.py, witness.py, review.py, queue.py) and re-exported here; the pages import only this module.

Rules, in one place each:
- Who may file: the resident herself; the 楼栋长 of her building or the 网格员 of her grid for a resident
  (for residents without a phone); the office. `filed_by` is recorded.
- Who may review (`may_review`): the reviewer the item names (building leader of the claimant's building, grid
  worker of her grid = the account whose login phone is the grid's worker phone, a lead of the item's team, the
  office) — and the office (community admins, city admins) always. Never the claimant or her household, never
  the witness or her household, never whoever filed it.
- Limits (item.limit_count per item.limit_period, catalogue.services.rules.limit_window around occurred_at) hold at
  filing (open + approved claims of the item's lineage) and at approval (approved ones), under the claimant's
  account lock, so two approvals of the last slot at once give exactly one.
- A claim is judged under the item version it was filed under: a deed done under version 1 earns version 1's
  points and is checked against its evidence (the catalogue's rule: a change never rewrites the past), even when
  the item was revised or retired while the claim waited. The reviewer is told (QueueRow.item_now: the lineage's
  newer version, or its retired row) so she decides knowingly.
- A witness's "not true" ends the claim (rejected, her note in the reason); a claim that needs a witness never
  reaches the queue unconfirmed. The claimant may file again naming another witness.
- Per-hour claims of a resident (any per-hour item) that are open or approved never overlap in time
  ([occurred_at, occurred_at + minutes)), and end no later than the moment of filing; checked at filing and
  again at approval under her account lock.
- Filing with the form's request id is idempotent: the same (community, filer, request_key) returns the first.
- Approval posts the item version's points as an AWARD, source "claim", key f"claim:{claim.id}".
"""
from pointsapp.claims.services.access import fileable_residents, may_file, may_review, may_see
from pointsapp.claims.services.fields import (
    DESCRIPTION_MAX,
    FILE_WITHIN_DAYS,
    MAX_PHOTOS,
    REASON_MAX,
    ClaimFields,
    QueueRow,
)
from pointsapp.claims.services.filing import HoursOverlap, LimitReached, file_claim
from pointsapp.claims.services.queue import (
    get_claim,
    item_now,
    may_review_any,
    my_claims,
    photo_content,
    review_queue,
    waiting_on,
    witness_requests,
)
from pointsapp.claims.services.review import answer_more, approve, ask_more, reject, withdraw
from pointsapp.claims.services.witness import confirm_witness, decline_witness

__all__ = [
    "DESCRIPTION_MAX", "FILE_WITHIN_DAYS", "MAX_PHOTOS", "REASON_MAX", "ClaimFields", "HoursOverlap", "LimitReached", "QueueRow",
    "answer_more", "approve", "ask_more", "confirm_witness", "decline_witness", "file_claim", "fileable_residents",
    "get_claim", "item_now", "may_file", "may_review", "may_review_any", "may_see", "my_claims", "photo_content", "reject", "review_queue",
    "waiting_on", "withdraw", "witness_requests",
]

# Signatures (implemented in the modules; see their docstrings for error codes):
# file_claim(actor, resident, fields: ClaimFields, now, request_key=None) -> Claim
# fileable_residents(actor) -> list[Resident]          # whom a leader / grid worker may file for
# confirm_witness(actor, claim, now) -> Claim           # the witness taps "属实"
# decline_witness(actor, claim, note, now) -> Claim     # ends it: rejected, the note in the reason
# approve(actor, claim, now) -> Claim
# reject(actor, claim, reason, now) -> Claim
# ask_more(actor, claim, question, now) -> Claim
# answer_more(actor, claim, text, photos, now) -> Claim # the claimant adds; back to pending
# withdraw(actor, claim, now) -> Claim
# may_review(actor, claim) -> bool
# may_see(actor, claim) -> bool                         # claimant, filer, witness, reviewers, office
# get_claim(actor, claim_id) -> Claim                   # NotFound unless may_see
# item_now(claim) -> CatalogueItem | None               # the item's newer version or retired row, if changed
# my_claims(actor) -> list[Claim]
# witness_requests(actor) -> list[Claim]
# review_queue(actor, community_id=None, now=...) -> list[QueueRow]   # oldest first
# photo_content(actor, photo_id) -> bytes
