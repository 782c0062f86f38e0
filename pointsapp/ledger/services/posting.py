"""The one posting service every part of pointsapp uses to change points.

post() writes exactly one entry or refuses with a DomainError; the same idempotency key twice
returns the first entry and writes nothing. Concurrency: the resident's PointsAccount row is
locked through core.locks (SELECT … FOR NO KEY UPDATE on PostgreSQL; on SQLite the unit of work already
holds the write lock from BEGIN IMMEDIATE), and the idempotency key (and, for a reversal, whether the
entry was reversed already) is re-checked under that lock; unique constraints and CHECK (balance >= 0)
stand behind both. Work that posts several times in one unit of work (the lead's batch approval) calls
lock_for_batch() first, so it takes its locks in the one order of core.locks.
"""
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.periods import month_bounds, months_between
from pointsapp.core.permissions import Action, require
from pointsapp.ledger.models import EARNING_KINDS, GENESIS_HASH, EntryKind, LedgerEntry, PointsAccount
from pointsapp.ledger.services import rules
from pointsapp.tree.models import Resident

DEDUCTION_SOURCE = "deduction"  # the source_type of a 负向扣分's entries: undone by withdrawing it, not reversing
MAX_AMOUNT = 100_000  # one entry never moves more points than this

# Sent inside post(), after the entry is flushed, in the same transaction: posted.send(entry,
# resident=…, reverses=…, now=…). Rankings subscribes to move its earning totals; the ledger itself
# knows nothing of who listens (features.load_features() imports the subscribers).
posted = Namespace().signal("ledger.posted")
# Sent by lock_for_batch(), before a batch posts anything: preparing.send(postings, now=…). Subscribers
# that lock rows in every posting (rankings' earning totals) take all of the batch's rows now, sorted,
# so that a batch takes them in the same order as single postings do (core.locks).
preparing = Namespace().signal("ledger.preparing")


class InsufficientPoints(Conflict):
    code = "insufficient_points"


def canonical(entry: LedgerEntry) -> str:
    """The fields the chain covers, encoded the same way on every database."""
    created = entry.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps([
        entry.community_id, entry.resident_id, entry.seq, entry.amount, entry.balance_after, entry.kind,
        entry.source_type, entry.source_id or "", entry.reason or "", entry.actor_id, entry.idempotency_key,
        entry.reverses_id, created,
    ], ensure_ascii=False, separators=(",", ":"))


def entry_hash(prev_hash: str, entry: LedgerEntry) -> str:
    return hashlib.sha256((prev_hash + "\n" + canonical(entry)).encode()).hexdigest()


def _existing(community_id: int, key: str) -> LedgerEntry | None:
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.community_id == community_id,
                                                       LedgerEntry.idempotency_key == key))


def lock_accounts(residents: Iterable[Resident]) -> dict[int, PointsAccount]:
    """The residents' account rows (created on first use), locked for this transaction in resident-id
    order, by resident id. Raises busy.

    An account already locked in this transaction (the counter locks its resident's before its checks, then
    posts) is not asked for again; nor is a row created that exists: one statement for accounts that exist,
    the insert only for a resident's first entry."""
    wanted = {r.id: r for r in residents}
    if not wanted:
        return {}
    held = locks.held(locks.ACCOUNTS)
    if wanted.keys() <= held.keys():
        return {rid: held[rid] for rid in wanted}
    found = {a.resident_id: a for a in locks.lock_rows(PointsAccount, wanted)}
    missing = sorted(wanted.keys() - found.keys())
    if missing:
        insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        with locks.contended():  # (a first insert of the same account elsewhere is waited for)
            db.session.execute(insert(PointsAccount.__table__).values([
                dict(resident_id=rid, community_id=wanted[rid].community_id, balance=0, earned_total=0,
                     entry_count=0, head_hash=GENESIS_HASH) for rid in missing]).on_conflict_do_nothing())
        found.update((a.resident_id, a) for a in locks.lock_rows(PointsAccount, missing))
    held.update(found)
    return {rid: found.get(rid) or held[rid] for rid in wanted}


def lock_account(resident: Resident) -> PointsAccount:
    """Take the resident's account lock up front (callers that check more than the balance, such as
    the counter's limits, hold it for their whole unit of work; post() re-enters it freely). Raises busy."""
    return lock_accounts([resident])[resident.id]


@dataclass(frozen=True)
class Posting:
    resident: Resident
    amount: int
    kind: str
    source_type: str
    idempotency_key: str
    reason: str = ""
    source_id: str = ""
    reverses: LedgerEntry | None = None


def post(posting: Posting, actor: User | None, now: datetime) -> LedgerEntry:
    """Write one entry. Raises insufficient_points, invalid_amount, idempotency_key_reused,
    resident_moved_out and cap_reached (for earning), busy."""
    p = posting
    if not isinstance(p.amount, int) or p.amount == 0 or abs(p.amount) > MAX_AMOUNT:
        raise InvalidInput(_l("The number of points must be a whole number between 1 and %(max)d."),
                           code="invalid_amount", max=MAX_AMOUNT)
    if not p.idempotency_key or len(p.idempotency_key) > 120:
        raise InvalidInput(_l("Missing request key."), code="invalid_idempotency_key")
    account = lock_account(p.resident)
    first = _existing(p.resident.community_id, p.idempotency_key)  # under the lock: a twin has committed or waits
    if first is not None:
        if first.resident_id != p.resident.id or first.amount != p.amount:
            raise Conflict(_l("This request key was already used for a different posting."),
                           code="idempotency_key_reused")
        return first
    if p.amount > 0 and p.kind in EARNING_KINDS and p.resident.moved_out_on is not None:
        raise InvalidInput(_l("%(name)s has moved out and can no longer earn points."),
                           code="resident_moved_out", name=p.resident.name)
    if p.amount > 0 and p.kind in EARNING_KINDS:
        rules.check_cap(p.resident, p.amount, now)  # under the account lock: the last room is taken once
    if account.balance + p.amount < 0:
        raise InsufficientPoints(_l("Not enough points: the balance is %(balance)d, %(need)d are needed."),
                                 balance=account.balance, need=-p.amount)
    entry = LedgerEntry(
        community_id=p.resident.community_id, resident_id=p.resident.id, seq=account.entry_count + 1,
        amount=p.amount, balance_after=account.balance + p.amount, kind=str(p.kind),
        source_type=p.source_type, source_id=str(p.source_id or ""), reason=(p.reason or "")[:500],
        actor_id=actor.id if actor else None, idempotency_key=p.idempotency_key,
        reverses_id=p.reverses.id if p.reverses else None, created_at=now, prev_hash=account.head_hash,
    )
    entry.hash = entry_hash(account.head_hash, entry)
    db.session.add(entry)
    account.balance = entry.balance_after
    account.entry_count = entry.seq
    account.head_hash = entry.hash
    account.earned_total += earning_delta(entry.kind, entry.amount, p.reverses)
    rooms = locks.held(rules.ROOMS)
    for key in [k for k in rooms if k[0] == p.resident.id]:
        del rooms[key]  # her room to earn may have changed
    with locks.contended():  # the insert and the subscribers' rows (rankings' shared totals) may wait too
        db.session.flush()
        posted.send(entry, resident=p.resident, reverses=p.reverses, now=now)  # leaderboards move in this transaction
    return entry


def earning_delta(kind: str, amount: int, reverses: LedgerEntry | None) -> int:
    """How an entry moves the resident's earned total: earning adds, reversing an earning subtracts."""
    if kind in EARNING_KINDS:
        return amount
    if kind == EntryKind.REVERSAL and reverses is not None and reverses.kind in EARNING_KINDS:
        return amount
    return 0


def lock_for_batch(postings: Sequence[Posting], now: datetime) -> dict[int, PointsAccount]:
    """Before a unit of work posts several times: lock every account it will post to (by resident id),
    then let subscribers lock what each posting moves (rankings' totals), so it cannot deadlock with
    single postings or other batches (the lock order in core.locks). Raises busy."""
    accounts = lock_accounts(p.resident for p in postings)
    if postings:
        with locks.contended():
            preparing.send(tuple(postings), now=now)
    return accounts


def reversal(entry: LedgerEntry, reason: str, key: str | None = None) -> Posting:
    """The posting that undoes `entry` (what reverse() posts; batches lock for it first)."""
    return Posting(entry.resident, -entry.amount, EntryKind.REVERSAL, "reversal", key or f"reverse:{entry.id}",
                   (reason or "").strip(), str(entry.id), reverses=entry)


def reverse(actor: User | None, entry: LedgerEntry, reason: str, now: datetime, *, key: str | None = None) -> LedgerEntry:
    """Undo one entry with a new entry naming it. Raises already_reversed, cannot_reverse_reversal,
    reason_missing, insufficient_points, busy."""
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    if entry.kind == EntryKind.REVERSAL:
        raise Conflict(_l("A reversal cannot itself be reversed; post a new entry instead."),
                       code="cannot_reverse_reversal")
    posting = reversal(entry, reason, key)
    # Every reversal of this entry posts to the same account: under its lock, an earlier reversal (made
    # under another key, committed while we waited) is seen, never run into the unique (community, reverses_id).
    lock_account(entry.resident)
    done = db.session.scalar(select(LedgerEntry).where(LedgerEntry.community_id == entry.community_id,
                                                       LedgerEntry.reverses_id == entry.id))
    if done is not None and done.idempotency_key != posting.idempotency_key:
        raise Conflict(_l("This entry has already been reversed."), code="already_reversed")
    return post(posting, actor, now)


def manual(actor: User, resident: Resident, amount: int, reason: str, key: str, now: datetime, *,
           source: tuple[str, str] = ("manual", "")) -> LedgerEntry:
    """An admin's award (amount > 0) or deduction (amount < 0), with a required reason; `source` names what
    it answers (("query", "12"): a resident's query).
    Raises forbidden, self_award, reason_missing, insufficient_points, invalid_amount, cap_reached."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    if amount > 0:
        rules.refuse_self_award(actor, resident)
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    kind = EntryKind.MANUAL_AWARD if amount > 0 else EntryKind.MANUAL_DEDUCTION
    retried = _existing(resident.community_id, key) is not None
    entry = post(Posting(resident, amount, kind, source[0], key, reason.strip(), source[1]), actor, now)
    if not retried:  # a retried form returns the first entry: it was logged then
        audit.record(actor, AuditAction.POINTS_AWARDED if amount > 0 else AuditAction.POINTS_DEDUCTED, entry, now,
                     amount=amount)
    return entry


def reverse_by_admin(actor: User, entry_id: int, community_id: int, reason: str, now: datetime) -> LedgerEntry:
    """Raises forbidden, not_found, withdraw_deduction_instead, self_award (undoing a deduction or a spend gives
    points back) and reverse()'s codes."""
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.community_id != community_id:
        raise NotFound(_l("No such entry."))
    require(actor, Action.MANAGE_COMMUNITY, entry)
    if entry.source_type == DEDUCTION_SOURCE:
        # reversing one entry would leave the deduction standing (still owed, still counted against earning
        # and vetoing) and its withdrawal refused: the deductions service undoes all of it at once
        raise Conflict(_l("These points were taken under a deduction: withdraw the deduction instead (on the "
                          "Deductions page), which gives back everything it took."), code="withdraw_deduction_instead")
    if entry.amount < 0:
        rules.refuse_self_award(actor, entry.resident)
    retried = _existing(entry.community_id, f"reverse:{entry.id}") is not None
    correction = reverse(actor, entry, reason, now)
    if not retried:
        audit.record(actor, AuditAction.ENTRY_REVERSED, entry, now, correction_id=correction.id,
                     amount=correction.amount)
    return correction


def balance_of(resident_id: int) -> int:
    return db.session.scalar(select(PointsAccount.balance).where(PointsAccount.resident_id == resident_id)) or 0


def account_of(resident_id: int) -> PointsAccount | None:
    return db.session.get(PointsAccount, resident_id)


def history(resident_id: int, *, month: str | None = None, limit: int = 200) -> list[LedgerEntry]:
    """A resident's entries, newest first, optionally one month ("2026-11", in China time)."""
    stmt = select(LedgerEntry).where(LedgerEntry.resident_id == resident_id)
    if month:
        start, end = month_bounds(month)
        stmt = stmt.where(LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
    return db.session.scalars(stmt.order_by(LedgerEntry.seq.desc()).limit(limit)).all()


def months_with_entries(resident_id: int) -> list[str]:
    firsts = db.session.execute(select(func.min(LedgerEntry.created_at), func.max(LedgerEntry.created_at))
                                .where(LedgerEntry.resident_id == resident_id)).one()
    if firsts[0] is None:
        return []
    return months_between(firsts[0], firsts[1])
