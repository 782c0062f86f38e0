"""Tamper evidence and expiry for the ledger: verify, checkpoint, expire.

verify() recomputes every resident's hash chain and balance and compares the chains with the
latest checkpoint, so an edited entry, a deleted entry, a truncated chain and a dropped chain are
each named. expire() lapses points older than the community's policy, first earned first spent,
by writing entries (never by editing): plan_expiry() computes what lapses for every resident in one
grouped query, apply_expiry() posts it a chunk of residents at a time.
"""
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import defer

from pointsapp.core.extensions import db
from pointsapp.core.periods import CHINA, local_date
from pointsapp.ledger.models import EntryKind, LedgerCheckpoint, LedgerEntry, PointsAccount
from pointsapp.ledger.services.posting import Posting, entry_hash, post
from pointsapp.tree.models import Community, Resident

GENESIS = "0" * 64


@dataclass
class Problem:
    community_id: int
    resident_id: int
    entry_id: int | None
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id} (seq {self.seq})" if self.entry_id else (
            f"seq {self.seq}" if self.seq else "chain")
        return f"community {self.community_id} resident {self.resident_id}: {where}: {self.message}"


@dataclass
class VerifyReport:
    residents: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _communities(community_id: int | None) -> list[int]:
    stmt = select(Community.id).order_by(Community.id)
    if community_id is not None:
        stmt = stmt.where(Community.id == community_id)
    return list(db.session.scalars(stmt))


def _chains(community_id: int) -> Iterable[tuple[int, list]]:
    """Yield (resident_id, rows) per resident, streaming the community's entries in chain order."""
    cols = (LedgerEntry.id, LedgerEntry.community_id, LedgerEntry.resident_id, LedgerEntry.seq, LedgerEntry.amount,
            LedgerEntry.balance_after, LedgerEntry.kind, LedgerEntry.source_type, LedgerEntry.source_id,
            LedgerEntry.reason, LedgerEntry.actor_id, LedgerEntry.idempotency_key, LedgerEntry.reverses_id,
            LedgerEntry.created_at, LedgerEntry.prev_hash, LedgerEntry.hash)
    stmt = (select(*cols).where(LedgerEntry.community_id == community_id)
            .order_by(LedgerEntry.resident_id, LedgerEntry.seq).execution_options(yield_per=5000))
    current, rows = None, []
    for row in db.session.execute(stmt):
        if row.resident_id != current:
            if rows:
                yield current, rows
            current, rows = row.resident_id, []
        rows.append(row)
    if rows:
        yield current, rows


def _verify_chain(community_id: int, resident_id: int, rows: list, account) -> list[Problem]:
    """The first problem in one chain (and account mismatches)."""
    problems: list[Problem] = []
    prev, balance, expected_seq = GENESIS, 0, 1
    for row in rows:
        if row.seq != expected_seq:
            problems.append(Problem(community_id, resident_id, row.id, row.seq,
                                    f"entries missing before this one (expected seq {expected_seq})"))
            return problems
        if row.prev_hash != prev or entry_hash(prev, row) != row.hash:
            problems.append(Problem(community_id, resident_id, row.id, row.seq,
                                    "stored fields do not match the hash chain (entry altered)"))
            return problems
        balance += row.amount
        if row.balance_after != balance:
            problems.append(Problem(community_id, resident_id, row.id, row.seq,
                                    f"balance_after {row.balance_after} but the entries sum to {balance}"))
            return problems
        prev, expected_seq = row.hash, expected_seq + 1
    last = rows[-1] if rows else None
    if account is None:
        problems.append(Problem(community_id, resident_id, None, None, "entries without a points account"))
    elif (account.balance, account.entry_count, account.head_hash) != (balance, len(rows), prev):
        problems.append(Problem(
            community_id, resident_id, last.id if last else None, last.seq if last else None,
            f"account says balance {account.balance}, {account.entry_count} entries; "
            f"the chain gives balance {balance}, {len(rows)} entries (chain truncated or account altered)"))
    return problems


def heads_root(heads: dict[str, list]) -> str:
    """A root over chain heads: SHA-256 over "resident:seq:hash" lines in resident order."""
    lines = "\n".join(f"{rid}:{seq}:{h}" for rid, (seq, h) in sorted(heads.items(), key=lambda kv: int(kv[0])))
    return hashlib.sha256(lines.encode()).hexdigest()


def verify(community_id: int | None = None) -> VerifyReport:
    """Recompute every chain and balance; compare with the latest checkpoint. Writes nothing."""
    report = VerifyReport()
    for cid in _communities(community_id):
        accounts = {a.resident_id: a for a in db.session.scalars(
            select(PointsAccount).where(PointsAccount.community_id == cid))}
        seen: set[int] = set()
        checkpoint = latest_checkpoint(cid)
        wanted = {int(k): v for k, v in json.loads(checkpoint.heads).items()} if checkpoint else {}
        for resident_id, rows in _chains(cid):
            report.residents += 1
            report.entries += len(rows)
            report.problems.extend(_verify_chain(cid, resident_id, rows, accounts.get(resident_id)))
            seen.add(resident_id)
            if resident_id in wanted:
                seq, h = wanted[resident_id]
                at = rows[seq - 1] if 0 < seq <= len(rows) else None
                if at is None or at.seq != seq or at.hash != h:
                    report.problems.append(Problem(
                        cid, resident_id, at.id if at else None, seq,
                        f"chain no longer contains the head recorded by checkpoint {checkpoint.id} "
                        f"(had {seq} entries; now {len(rows)}): chain rewound or altered"))
        for resident_id, (seq, _h) in wanted.items():
            if resident_id not in seen:
                report.problems.append(Problem(cid, resident_id, None, seq,
                                               f"chain recorded by checkpoint {checkpoint.id} is gone"))
        for resident_id, account in accounts.items():
            if account.entry_count and resident_id not in seen and resident_id not in wanted:
                report.problems.append(Problem(cid, resident_id, None, None,
                                               f"account has {account.entry_count} entries but none are stored"))
        if checkpoint and heads_root(json.loads(checkpoint.heads)) != checkpoint.root:
            report.problems.append(Problem(cid, 0, None, None, f"checkpoint {checkpoint.id} heads do not match its root"))
    return report


def latest_checkpoint(community_id: int) -> LedgerCheckpoint | None:
    """The newest checkpoint; its heads (JSON of every chain head, megabytes in a large community) are
    loaded only when used, so the board and the transparency page do not read them."""
    return db.session.scalar(select(LedgerCheckpoint).options(defer(LedgerCheckpoint.heads)).where(LedgerCheckpoint.community_id == community_id)
                             .order_by(LedgerCheckpoint.created_at.desc(), LedgerCheckpoint.id.desc()).limit(1))


def recent_checkpoints(community_id: int, limit: int = 30) -> list[LedgerCheckpoint]:
    """The newest checkpoints, newest first, without their heads (what anyone may check a root against)."""
    return list(db.session.scalars(select(LedgerCheckpoint).options(defer(LedgerCheckpoint.heads))
                                   .where(LedgerCheckpoint.community_id == community_id)
                                   .order_by(LedgerCheckpoint.created_at.desc(), LedgerCheckpoint.id.desc())
                                   .limit(limit)))


def checkpoint(community_id: int, now: datetime) -> LedgerCheckpoint:
    """Store a root over the community's chain heads as they stand now."""
    heads = {str(a.resident_id): [a.entry_count, a.head_hash] for a in db.session.scalars(
        select(PointsAccount).where(PointsAccount.community_id == community_id, PointsAccount.entry_count > 0))}
    cp = LedgerCheckpoint(community_id=community_id, created_at=now, root=heads_root(heads),
                          resident_count=len(heads), entry_count=sum(v[0] for v in heads.values()),
                          heads=json.dumps(heads, separators=(",", ":")))
    db.session.add(cp)
    db.session.flush()
    return cp


def checkpoint_all(now: datetime, community_id: int | None = None, *,
                   only_if_moved_today: bool = False) -> list[LedgerCheckpoint]:
    """checkpoint() for the community, or for every community in id order. `only_if_moved_today` (the
    nightly job): a community whose latest checkpoint was taken the same China-time day over the same
    chain heads gets no second one, so running the job twice stores one checkpoint."""
    ids = [community_id] if community_id else list(db.session.scalars(select(Community.id).order_by(Community.id)))
    stored = []
    for cid in ids:
        if only_if_moved_today:
            last = db.session.scalars(select(LedgerCheckpoint).where(LedgerCheckpoint.community_id == cid)
                                      .order_by(LedgerCheckpoint.id.desc()).limit(1)).first()
            if last is not None and local_date(last.created_at) == local_date(now):
                heads = {str(a.resident_id): [a.entry_count, a.head_hash] for a in db.session.scalars(
                    select(PointsAccount).where(PointsAccount.community_id == cid, PointsAccount.entry_count > 0))}
                if heads_root(heads) == last.root:
                    continue
        stored.append(checkpoint(cid, now))
    return stored


def _months_ago(moment: datetime, months: int) -> datetime:
    """The start (00:00 China time) of the day `months` months before `moment`'s day in China: the cut-off is
    a whole day, so every run of one day plans the same lapses under the same keys (a second run, by hand or
    by the nightly job forced again, finds nothing left to lapse)."""
    today = local_date(moment)
    y, m = today.year, today.month - months
    while m <= 0:
        y, m = y - 1, m + 12
    return datetime(y, m, min(today.day, 28), tzinfo=CHINA).astimezone(UTC)


@dataclass(frozen=True)
class ExpiryPlan:
    """What the community's expiry policy lapses as of `now`: (resident_id, points) in resident order.

    Computed by one grouped query (plan_expiry); apply_expiry() posts it one chunk of residents at a
    time, so the CLI can plan as a reader and commit each chunk as its own unit of work."""
    community_id: int
    months: int
    cutoff: datetime
    lapses: tuple[tuple[int, int], ...] = ()

    @property
    def residents(self) -> int:
        return len(self.lapses)

    @property
    def points(self) -> int:
        return sum(points for _rid, points in self.lapses)

    def chunks(self, size: int = 500) -> Iterator[list[int]]:
        """The planned residents' ids, `size` at a time."""
        ids = [rid for rid, _points in self.lapses]
        for i in range(0, len(ids), size):
            yield ids[i:i + size]


def _lapsing(community_id: int, cutoff: datetime, resident_ids: list[int] | None = None) -> list[tuple[int, int]]:
    """First earned, first spent: per resident of the community with a balance, the credits older than
    the cut-off that the debits (redemptions, deductions, reversals, earlier expiries; of any date) have
    not used up have lapsed. One grouped query over the residents' whole ledgers."""
    old_credits = func.sum(case((and_(LedgerEntry.amount > 0, LedgerEntry.created_at < cutoff), LedgerEntry.amount),
                                else_=0))
    debits = func.sum(case((LedgerEntry.amount < 0, -LedgerEntry.amount), else_=0))
    lapsing = old_credits - debits
    stmt = (select(LedgerEntry.resident_id, lapsing)
            .join(PointsAccount, PointsAccount.resident_id == LedgerEntry.resident_id)
            .where(PointsAccount.community_id == community_id, PointsAccount.balance > 0)
            .group_by(LedgerEntry.resident_id).having(lapsing > 0).order_by(LedgerEntry.resident_id))
    if resident_ids is not None:
        stmt = stmt.where(PointsAccount.resident_id.in_(resident_ids))
    return [(rid, int(points)) for rid, points in db.session.execute(stmt)]


def plan_expiry(community_id: int, now: datetime) -> ExpiryPlan | None:
    """What lapses under the community's policy as of `now` (None: no such community, or no policy).
    Reads only: two statements however many residents."""
    months = db.session.scalar(select(Community.points_expire_months).where(Community.id == community_id))
    if not months:
        return None
    cutoff = _months_ago(now, months)
    return ExpiryPlan(community_id, months, cutoff, tuple(_lapsing(community_id, cutoff)))


def apply_expiry(plan: ExpiryPlan, resident_ids: list[int], now: datetime) -> tuple[int, int]:
    """Post the lapses of these residents of the plan (one chunk). The amounts are computed again under
    the residents' account locks, so a redemption made since the plan is taken into account; points
    never lapse twice (idempotency key expire:<resident>:<cut-off date>). Returns (residents, points)."""
    if not resident_ids:
        return 0, 0
    ids = sorted(resident_ids)
    db.session.execute(select(PointsAccount.resident_id).where(PointsAccount.resident_id.in_(ids))
                       .order_by(PointsAccount.resident_id).with_for_update())  # PostgreSQL; SQLite holds the write lock
    lapses = _lapsing(plan.community_id, plan.cutoff, ids)
    residents = {r.id: r for r in db.session.scalars(select(Resident).where(Resident.id.in_([r for r, _ in lapses])))}
    day = local_date(plan.cutoff).isoformat()
    reason = f"积分有效期 {plan.months} 个月，{day} 前获得的积分到期"
    for resident_id, amount in lapses:
        post(Posting(residents[resident_id], -amount, EntryKind.EXPIRY, "expiry", f"expire:{resident_id}:{day}",
                     reason, day), None, now)
    return len(lapses), sum(amount for _rid, amount in lapses)


def expire(community_id: int, now: datetime, chunk: int = 500) -> tuple[int, int]:
    """Apply the community's expiry policy in the current unit of work. Returns (residents touched,
    points lapsed). Idempotent. (The CLI plans, then commits each chunk of residents on its own.)"""
    plan = plan_expiry(community_id, now)
    touched = lapsed = 0
    for ids in plan.chunks(chunk) if plan else ():
        t, p = apply_expiry(plan, ids, now)
        touched, lapsed = touched + t, lapsed + p
    return touched, lapsed
