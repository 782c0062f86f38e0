"""Awards by hand (the office's 人工加分 on a resident's points page), with the community's ceiling behind them.

An office member may award up to the community's award ceiling at once, as before. Above it the award waits as an
AwardRequest until ANOTHER office member confirms it (neither the one who asked nor anyone of the resident's
household); then it posts as a manual award whose source names the request. A refusal says why. The same rule as
a resident's query answered with an award above the ceiling (queries.services), and as attendances above the ceiling
(volunteering): nobody alone creates more points than the community allows at once (DESIGN.md invariant 10).
"""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import Action, require
from pointsapp.ledger.models import AwardRequest, LedgerEntry
from pointsapp.ledger.services import rules
from pointsapp.ledger.services.posting import MAX_AMOUNT, manual
from pointsapp.tree.models import Community, Resident

REASON_MAX = 500


def _reason(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    if len(text) > REASON_MAX:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code="text_too_long", n=REASON_MAX)
    return text


def award_by_hand(actor: User, resident: Resident, amount: int, reason: str, request_key: str,
                  now: datetime) -> LedgerEntry | AwardRequest:
    """Award `amount` points by hand: posted at once up to the community's ceiling, else an AwardRequest waiting for
    a second office member. A retried form (the same request key) returns what the first made. Raises forbidden,
    self_award, reason_missing, text_too_long, invalid_amount, invalid_idempotency_key and manual()'s codes."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    rules.refuse_self_award(actor, resident)
    reason = _reason(reason)
    request_key = (request_key or "").strip()
    if not request_key or len(request_key) > 64:
        raise InvalidInput(_l("Missing request key."), code="invalid_idempotency_key")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= MAX_AMOUNT:
        raise InvalidInput(_l("The number of points must be a whole number between 1 and %(max)d."),
                           code="invalid_amount", max=MAX_AMOUNT)
    ceiling = db.session.get(Community, resident.community_id).award_ceiling
    if amount <= ceiling:
        return manual(actor, resident, amount, reason, f"manual:{request_key}", now)
    first = db.session.scalar(select(AwardRequest).where(AwardRequest.community_id == resident.community_id,
                                                         AwardRequest.request_key == request_key))
    if first is not None:
        if (first.resident_id, first.amount, first.requested_by_id) != (resident.id, amount, actor.id):
            raise Conflict(_l("This form was already used for another award. Please open the page again."),
                           code="form_reused")
        return first
    request = AwardRequest(community_id=resident.community_id, resident_id=resident.id, amount=amount, reason=reason,
                           request_key=request_key, requested_by_id=actor.id, requested_at=now, status="waiting")
    db.session.add(request)
    db.session.flush()
    return request


def get_request(community_id: int, request_id) -> AwardRequest:
    """Raises not_found."""
    request = get_row(AwardRequest, request_id)
    if request is None or request.community_id != community_id:
        raise NotFound(_l("No such award."))
    return request


def _decide(actor: User, request: AwardRequest, status: str, now: datetime) -> None:
    """Take the request from waiting to `status` once: a second click or another office member at the same moment
    finds it decided (a conditional update, on either database)."""
    done = db.session.execute(update(AwardRequest).where(AwardRequest.id == request.id,
                                                         AwardRequest.status == "waiting")
                              .values(status=status, decided_by_id=actor.id, decided_at=now)).rowcount
    if not done:
        raise Conflict(_l("This award has already been decided."), code="already_decided")
    db.session.refresh(request)


def _as_second(actor: User, request: AwardRequest) -> None:
    require(actor, Action.MANAGE_COMMUNITY, request)
    if actor.id == request.requested_by_id:
        raise PermissionDenied(_l("Another office member must confirm an award you asked for."), code="second_person")
    rules.refuse_self_award(actor, request.resident)


def confirm(actor: User, request: AwardRequest, now: datetime) -> LedgerEntry:
    """A second office member confirms: the award posts (a manual award whose source is the request). Raises
    forbidden, second_person, self_award, already_decided and manual()'s codes (cap_reached …)."""
    _as_second(actor, request)
    _decide(actor, request, "confirmed", now)
    entry = manual(actor, request.resident, request.amount, request.reason, f"award_request:{request.id}", now,
                   source=("award_request", str(request.id)))
    request.entry_id = entry.id
    db.session.flush()
    return entry


def refuse(actor: User, request: AwardRequest, reason: str, now: datetime) -> AwardRequest:
    """Another office member refuses it, with a reason. Raises forbidden, second_person, reason_missing,
    already_decided."""
    _as_second(actor, request)
    text = _reason(reason)
    _decide(actor, request, "refused", now)
    request.refuse_reason = text
    db.session.flush()
    return request


def waiting(community_id: int) -> list[AwardRequest]:
    """The community's awards waiting for a second office member, oldest first."""
    return list(db.session.scalars(
        select(AwardRequest).where(AwardRequest.community_id == community_id, AwardRequest.status == "waiting")
        .options(joinedload(AwardRequest.resident), joinedload(AwardRequest.requested_by))
        .order_by(AwardRequest.requested_at, AwardRequest.id).limit(200)))
