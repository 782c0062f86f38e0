"""The contract's constants and the shapes the pages fill in and read (re-exported by the package)."""
from dataclasses import dataclass, field
from datetime import datetime

MAX_PHOTOS = 3
DESCRIPTION_MAX = 500
REASON_MAX = 500
FILE_WITHIN_DAYS = 30  # a good deed can be claimed up to this many days later


@dataclass(frozen=True)
class ClaimFields:
    item_id: int
    occurred_at: datetime
    place: str = ""
    description: str = ""
    minutes: int | None = None  # per-hour items
    witness_phone: str = ""  # the witness is named by her phone number (residents do not browse each other)
    photos: tuple[bytes, ...] = field(default_factory=tuple)


@dataclass
class QueueRow:
    claim: object  # Claim, with resident, item, photos loaded
    limit_used: int | None  # claims of the item counted against the limit in its window (None: no limit)
    limit_count: int | None
    history: list  # the claimant's earlier claims of the same item (newest first, a few)
    duplicate_of: list  # earlier claims whose photo matches one of this claim's
    # the item's lineage as it stands now when it changed since the claim was filed: its current version
    # (a newer one) or its retired row; None while the claim's version is still the current one
    item_now: object | None = None
