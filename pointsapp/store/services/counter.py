"""The clerk's counter: redeem products, void, close the shift, report (identifying the resident is
store.services.identification).

redeem() consumes the identification it names and changes points, stock and limits in one transaction.
Locks are taken in the one order of core.locks (the identification's row by its conditional update, the
resident's points account, the household when a household limit applies, then products by id) so concurrent
checkouts cannot deadlock;
stock uses conditional updates and points the ledger's locked account, so the last unit is sold
once and a balance that covers one checkout is spent once. A checkout's request id makes a
double click or a retry return the first receipt, even after its identification was used.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from blinker import Namespace
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.periods import CHINA, local_date
from pointsapp.core.permissions import Action, can, require
from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services import rules
from pointsapp.store.models import (
    CounterIdentification,
    Product,
    Redemption,
    RedemptionLine,
    Stocktake,
    StocktakeLine,
    Store,
)
from pointsapp.store.services import catalogue, identification
from pointsapp.store.services.catalogue import move_stock
from pointsapp.store.services.identification import CounterRefusal
from pointsapp.tree.models import Household, Resident

MAX_LINES = 50
# Sent in the checkout's (and the void's) transaction, once it is written (webhooks listen):
# redeemed.send(redemption, now=…), voided.send(redemption, now=…)
redeemed = Namespace().signal("store.redeemed")
voided = Namespace().signal("store.voided")


# ---- limits -------------------------------------------------------------------------------------

def week_start(now: datetime) -> datetime:
    day = local_date(now)
    monday = day - timedelta(days=day.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=CHINA)


def month_start(now: datetime) -> datetime:
    day = local_date(now)
    return datetime(day.year, day.month, 1, tzinfo=CHINA)


def _taken(product_ids: list[int], resident: Resident, now: datetime) -> dict[int, tuple[int, int, int]]:
    """Per product: how many this resident took this week and this month, and her household this month
    (China time; done redemptions only). One statement for the three counts."""
    week, month = week_start(now), month_start(now)
    own = Redemption.resident_id == resident.id
    # (a resident without a household is a household of her own for a household limit)
    house = Redemption.household_id == resident.household_id if resident.household_id is not None else own
    quantity = RedemptionLine.quantity

    def taken(*when):
        return func.coalesce(func.sum(case((and_(*when), quantity), else_=0)), 0)

    rows = db.session.execute(
        select(RedemptionLine.product_id, taken(own, Redemption.created_at >= week),
               taken(own, Redemption.created_at >= month), taken(house, Redemption.created_at >= month))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
        .where(RedemptionLine.product_id.in_(product_ids), Redemption.status == "done",
               Redemption.created_at >= min(week, month), or_(own, house))
        .group_by(RedemptionLine.product_id))
    return {pid: (int(w), int(m), int(h)) for pid, w, m, h in rows}


@dataclass
class Allowance:
    product: Product
    left: int | None  # how many more this resident may take now (None: no limit)
    why: str = ""


def _limited(p: Product) -> bool:
    return any(limit is not None for limit in (p.limit_per_week, p.limit_per_month, p.household_limit_per_month))


def allowances(resident: Resident, items: list[Product], now: datetime) -> dict[int, Allowance]:
    """How many of each product the resident may still take this week/month (nothing is read for products
    without limits)."""
    limited = [p.id for p in items if _limited(p)]
    taken = _taken(limited, resident, now) if limited else {}
    out = {}
    for p in items:
        left, why = None, ""
        week, month, house = taken.get(p.id, (0, 0, 0))
        for limit, used, label in ((p.limit_per_week, week, _l("this week")),
                                   (p.limit_per_month, month, _l("this month")),
                                   (p.household_limit_per_month, house, _l("this month per household"))):
            if limit is not None and (left is None or limit - used < left):
                left, why = max(0, limit - used), str(label)
        out[p.id] = Allowance(p, left, why)
    return out


# ---- checkout -------------------------------------------------------------------------------------

@dataclass
class Checkout:
    redemption: Redemption
    repeated: bool = False  # True when the request id had been used: nothing was charged again


@dataclass
class Cart:
    lines: dict[int, int] = field(default_factory=dict)  # product_id -> quantity


def _receipt_no(store: Store, now: datetime, redemption_id: int) -> str:
    return f"{store.id:02d}-{local_date(now):%Y%m%d}-{redemption_id:06d}"


def _by_request(store: Store, request_id: str) -> Redemption | None:
    return db.session.scalar(select(Redemption).where(Redemption.community_id == store.community_id,
                                                      Redemption.request_id == request_id))


def redeem(actor: User, store: Store, identification_id: int | None, cart: Cart, request_id: str,
           now: datetime, *, request_seen: bool = False) -> Checkout:
    """One checkout for the resident of this identification, which it uses up. Raises forbidden,
    invalid_idempotency_key, not_identified, identify_again, idempotency_key_reused, empty_cart,
    invalid_quantity, product_unavailable, limit_reached, out_of_stock, insufficient_points, other_community,
    resident_moved_out. `request_seen`: the caller looked for a checkout with this request id in this unit of
    work and found none (the web view does, to answer a re-sent form kindly), so it is not looked for twice
    before the identification is used; twins that commit meanwhile are still found below."""
    require(actor, Action.RUN_STORE, store)
    if not request_id or len(request_id) > 64:
        raise InvalidInput(_l("Missing request key."), code="invalid_idempotency_key")
    who = identification.find(identification_id)
    first = None if request_seen else _by_request(store, request_id)
    if first is not None:
        return _repeat(first, who, store)
    if who is None:
        raise identification.refuse_used(actor, store, None, now)
    if not identification.consume(actor, store, who, now):
        # A twin of this request (a double click) may have used it and committed while this one waited
        # for its row (on PostgreSQL): that is its receipt, not "identify again".
        first = _by_request(store, request_id)
        if first is not None:
            return _repeat(first, who, store)
        raise identification.refuse_used(actor, store, who, now)
    resident = identification.resident_for_store(who.resident, store)
    # Lock order for every checkout and void: the resident's points account, then (for products with a
    # household limit) the household, then products by id. Holding the account lock makes the
    # per-resident limit checks below exact; the household lock, the per-household one.
    ledger.lock_account(resident)
    # Re-check under the lock: a twin of this request under another identification may have committed
    # while we waited for it, and it must come back as its receipt, not as "limit reached".
    first = _by_request(store, request_id)
    if first is not None:
        return _repeat(first, who, store)
    lines = {pid: q for pid, q in cart.lines.items() if q}
    if not lines:
        raise InvalidInput(_l("Add at least one product."), code="empty_cart")
    if len(lines) > MAX_LINES or any(not isinstance(q, int) or q < 0 or q > 999 for q in lines.values()):
        raise InvalidInput(_l("Quantities must be whole numbers from 1 to 999."), code="invalid_quantity")
    items = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(lines)))}
    for pid in lines:
        refusal = _unavailable(store, pid, items.get(pid))
        if refusal is not None:
            raise refusal
    if resident.household_id is not None and any(p.household_limit_per_month is not None for p in items.values()):
        # A household limit is shared by everyone in the household, who may be at two counters at once:
        # take the household's lock too (always after an account's, so no checkout waits in a cycle).
        locks.lock_row(Household, resident.household_id)
    room = allowances(resident, list(items.values()), now)
    for pid, quantity in lines.items():
        refusal = _over_limit(items[pid], quantity, room[pid])
        if refusal is not None:
            raise refusal
    total = sum(items[pid].price * q for pid, q in lines.items())
    redemption = Redemption(community_id=store.community_id, store_id=store.id, receipt_no=f"tmp-{request_id}"[:30],
                            resident_id=resident.id, household_id=resident.household_id, clerk_id=actor.id,
                            total_points=total, balance_after=0, request_id=request_id, identified_by=who.method,
                            status="done", void_reason="", created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(redemption)
    except IntegrityError:
        # the same request arrived twice at once; the other one wins and this one returns it
        first = _by_request(store, request_id)
        if first is None:
            raise
        return _repeat(first, who, store)
    # Statements are few here (every one costs the counter a round trip): the stock moves one conditional
    # update per product; the lines, the movements, the entry and what the receipt and the identification
    # record of it reach the database in the ledger's flush and one last one, each table's rows in one insert.
    receipt_no = _receipt_no(store, now, redemption.id)
    with db.session.no_autoflush:
        for pid in sorted(lines):  # one lock order for every checkout
            product, quantity = items[pid], lines[pid]
            db.session.add(RedemptionLine(community_id=store.community_id, redemption_id=redemption.id,
                                          product_id=pid, name=product.name, quantity=quantity,
                                          unit_price=product.price, points=product.price * quantity))
            move_stock(product, -quantity, "redemption", receipt_no, actor, now, redemption_id=redemption.id)
    entry = ledger.post(ledger.Posting(resident, -total, EntryKind.REDEMPTION, "redemption", f"redemption:{request_id}",
                                       f"兑换单 {receipt_no}", str(redemption.id)), actor, now)
    redemption.receipt_no = receipt_no
    redemption.ledger_entry_id = entry.id
    redemption.balance_after = entry.balance_after
    who.redemption_id = redemption.id
    db.session.flush()
    redeemed.send(redemption, now=now)
    return Checkout(redemption)


def _unavailable(store: Store, product_id: int, p: Product | None) -> CounterRefusal | None:
    if p is None or p.store_id != store.id or not p.is_active:
        # a product of another store or community is named by its id only (never its name)
        return CounterRefusal(_l("“%(name)s” is not on sale here at the moment."), code="product_unavailable",
                              name=p.name if p is not None and p.store_id == store.id else product_id)
    return None


def _over_limit(p: Product, quantity: int, allowance: Allowance) -> CounterRefusal | None:
    if allowance.left is not None and quantity > allowance.left:
        return CounterRefusal(_l("Limit reached for “%(name)s”: %(left)d more %(period)s."),
                              code="limit_reached", name=p.name, left=allowance.left, period=allowance.why)
    return None


@dataclass
class QuoteLine:
    product_id: int
    quantity: int
    product: Product | None
    unit_price: int = 0
    points: int = 0
    problem: CounterRefusal | None = None


@dataclass
class Quote:
    """What a cart would cost this resident now, and what the checkout would refuse (nothing is written)."""

    lines: list[QuoteLine]
    total: int
    balance: int
    problems: list = field(default_factory=list)  # cart-wide refusals (empty cart, too many lines, points)

    @property
    def balance_after(self) -> int:
        return self.balance - self.total

    @property
    def ok(self) -> bool:
        return not self.problems and all(line.problem is None for line in self.lines)


def quote(actor: User, store: Store, who: CounterIdentification, cart: Cart, now: datetime) -> Quote:
    """The counter's live total for the identified resident: per line the price and what redeem() would refuse
    (the same checks: on sale here, the limits, the stock), then the total against her balance. Reads only.
    Raises forbidden, other_community, resident_moved_out."""
    require(actor, Action.RUN_STORE, store)
    resident = identification.resident_for_store(who.resident, store)
    lines = {pid: q for pid, q in cart.lines.items() if q}
    problems = []
    if not lines:
        problems.append(InvalidInput(_l("Add at least one product."), code="empty_cart"))
    if len(lines) > MAX_LINES or any(not isinstance(q, int) or q < 0 or q > 999 for q in lines.values()):
        raise InvalidInput(_l("Quantities must be whole numbers from 1 to 999."), code="invalid_quantity")
    items = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(lines or [-1])))}
    ours = [p for pid, p in items.items() if _unavailable(store, pid, p) is None]
    room = allowances(resident, ours, now)
    out, total = [], 0
    for pid in sorted(lines):
        quantity, p = lines[pid], items.get(pid)
        problem = _unavailable(store, pid, p)
        if problem is not None:
            out.append(QuoteLine(pid, quantity, None, problem=problem))
            continue
        problem = _over_limit(p, quantity, room[pid])
        if problem is None and p.stock is not None and p.stock < quantity:
            problem = catalogue.OutOfStock(_l("Not enough “%(name)s” in stock."), name=p.name)
        out.append(QuoteLine(pid, quantity, p, p.price, p.price * quantity, problem))
        total += p.price * quantity
    balance = ledger.balance_of(resident.id)
    if total > balance:
        problems.append(ledger.InsufficientPoints(
            _l("Not enough points: the balance is %(balance)d, %(need)d are needed."), balance=balance, need=total))
    return Quote(out, total, balance, problems)


def _repeat(first: Redemption, who: CounterIdentification | None, store: Store) -> Checkout:
    """The same request id again: the first receipt (nothing is charged), unless the form was sent for
    somebody else or at another counter of the community (request ids are unique per community)."""
    if first.store_id != store.id or (who is not None and first.resident_id != who.resident_id):
        raise Conflict(_l("This checkout form was already used for another resident; start again."),
                       code="idempotency_key_reused")
    return Checkout(first, repeated=True)


def void(actor: User, redemption: Redemption, reason: str, now: datetime) -> Redemption:
    """The clerk who made it (same day) or an admin (any time) voids a redemption: points come back by a
    reversal entry, stock is restored, the receipt is marked void. Nobody voids her own household's
    redemption (the points would come back while the goods are gone). Raises forbidden, self_award,
    reason_missing, already_void, void_too_late."""
    store = redemption.store
    require(actor, Action.RUN_STORE, store)
    rules.refuse_self_award(actor, redemption.resident)
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    if redemption.status == "void":
        raise Conflict(_l("This receipt is already void."), code="already_void")
    is_admin = can(actor, Action.MANAGE_STORE, store)
    if not is_admin and (redemption.clerk_id != actor.id or local_date(redemption.created_at) != local_date(now)):
        raise Conflict(_l("Only the clerk who made it can void a receipt, and only on the same day; "
                          "ask the community office."), code="void_too_late")
    ledger.lock_account(redemption.resident)  # same lock order as redeem()
    # Re-check under the lock: a concurrent void (a double click) may have committed while we waited.
    db.session.refresh(redemption, ["status"])
    if redemption.status == "void":
        raise Conflict(_l("This receipt is already void."), code="already_void")
    for line in sorted(redemption.lines, key=lambda x: x.product_id):
        move_stock(db.session.get(Product, line.product_id), line.quantity, "void",
                   f"作废 {redemption.receipt_no}", actor, now, redemption_id=redemption.id)
    entry = db.session.get(LedgerEntry, redemption.ledger_entry_id)
    ledger.reverse(actor, entry, f"作废兑换单 {redemption.receipt_no}：{reason.strip()}", now,
                   key=f"void:{redemption.id}")
    redemption.status, redemption.voided_at, redemption.voided_by_id = "void", now, actor.id
    redemption.void_reason = reason.strip()[:300]
    db.session.flush()
    audit.record(actor, "redemption_voided", redemption, now, receipt=redemption.receipt_no, points=redemption.total_points)
    voided.send(redemption, now=now)
    return redemption


def find_by_request(store: Store, request_id: str) -> Redemption | None:
    """The checkout already made with this form's request id, if any."""
    if not request_id:
        return None
    return db.session.scalar(select(Redemption).where(Redemption.community_id == store.community_id,
                                                      Redemption.store_id == store.id,
                                                      Redemption.request_id == request_id))


def get_redemption(store: Store, redemption_id: int) -> Redemption:
    """A receipt of this store, with what the receipt shows (its resident's address, its lines) read in two
    statements: the clerk sees it after every checkout."""
    redemption = db.session.get(Redemption, redemption_id, options=[
        joinedload(Redemption.resident).joinedload(Resident.household).joinedload(Household.building),
        selectinload(Redemption.lines)], populate_existing=True)  # (just made by a checkout: still read so)
    if redemption is None or redemption.store_id != store.id:
        raise NotFound(_l("No such receipt."))
    return redemption


# ---- shift close / stocktake ---------------------------------------------------------------------

def shelf_goods(store: Store) -> list[Product]:
    """What the shift close counts: the store's goods on sale (services have no stock)."""
    return db.session.scalars(select(Product).where(Product.store_id == store.id, Product.is_active.is_(True),
                                                    Product.stock.is_not(None))
                              .order_by(Product.kind, Product.category, Product.name)).all()


def counts_for(goods: list[Product], counts: dict[int, int], reasons: dict[int, str]) -> tuple[dict, dict]:
    """The counts and reasons sent for the shelf's goods only: a count for another store's product (or one
    taken off sale) is no count here."""
    ours = {p.id for p in goods}
    return ({pid: n for pid, n in counts.items() if pid in ours},
            {pid: text for pid, text in reasons.items() if pid in ours})


def close_shift(actor: User, store: Store, counted: dict[int, int], reasons: dict[int, str], note: str,
                now: datetime) -> Stocktake:
    """The clerk counts the shelf. Differences against the books are recorded with a reason and the
    books follow the count; nothing is absorbed silently. Raises forbidden, invalid_quantity,
    reason_missing (for a difference without a reason), missing_count."""
    require(actor, Action.RUN_STORE, store)
    goods = locks.lock_matching(Product, Product.store_id == store.id, Product.stock.is_not(None))  # current stock
    missing = [p.name for p in goods if p.is_active and p.id not in counted]
    if missing:
        raise InvalidInput(_l("Count every product on the shelf: %(names)s."), code="missing_count",
                           names="、".join(missing[:5]))
    take = Stocktake(community_id=store.community_id, store_id=store.id, clerk_id=actor.id, closed_at=now,
                     note=(note or "")[:500])
    db.session.add(take)
    db.session.flush()
    for p in goods:
        if p.id not in counted:
            continue
        n = counted[p.id]
        if not isinstance(n, int) or n < 0:
            raise InvalidInput(_l("Counts must be 0 or more."), code="invalid_quantity")
        difference = n - p.stock
        reason = (reasons.get(p.id) or "").strip()
        if difference and not reason:
            raise InvalidInput(_l("“%(name)s”: the books say %(book)d, you counted %(n)d. Please give a reason."),
                               code="reason_missing", name=p.name, book=p.stock, n=n)
        db.session.add(StocktakeLine(community_id=store.community_id, stocktake_id=take.id, product_id=p.id,
                                     book_quantity=p.stock, counted_quantity=n, difference=difference,
                                     reason=reason[:300]))
        if difference:
            move_stock(p, difference, "stocktake", f"盘点差异：{reason}", actor, now)
    db.session.flush()
    return take


# ---- reports -------------------------------------------------------------------------------------

def day_report(store: Store, day, actor: User) -> dict:
    """Redemptions per clerk, points redeemed and goods out for one day (China time)."""
    require(actor, Action.RUN_STORE, store)
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    end = start + timedelta(days=1)
    done = (Redemption.store_id == store.id, Redemption.created_at >= start, Redemption.created_at < end,
            Redemption.status == "done")
    per_clerk = db.session.execute(
        select(User.name, func.count(Redemption.id), func.sum(Redemption.total_points))
        .join(User, User.id == Redemption.clerk_id).where(*done)
        .group_by(User.id, User.name).order_by(User.name, User.id)).all()  # two clerks may share a name
    goods = db.session.execute(
        select(RedemptionLine.name, func.sum(RedemptionLine.quantity), func.sum(RedemptionLine.points))
        .join(Redemption, Redemption.id == RedemptionLine.redemption_id).where(*done)
        .group_by(RedemptionLine.name).order_by(func.sum(RedemptionLine.quantity).desc())).all()
    voids = db.session.scalar(select(func.count()).select_from(Redemption).where(
        Redemption.store_id == store.id, Redemption.voided_at >= start, Redemption.voided_at < end))
    # what the page and the export show of each receipt and difference is loaded here, in a fixed
    # number of statements however many receipts the day has
    receipts = db.session.scalars(select(Redemption).where(
        Redemption.store_id == store.id, Redemption.created_at >= start, Redemption.created_at < end)
        .options(joinedload(Redemption.resident), joinedload(Redemption.clerk), selectinload(Redemption.lines))
        .order_by(Redemption.created_at.desc())).all()
    differences = db.session.execute(
        select(StocktakeLine, Stocktake).join(Stocktake, Stocktake.id == StocktakeLine.stocktake_id)
        .where(Stocktake.store_id == store.id, Stocktake.closed_at >= start, Stocktake.closed_at < end,
               StocktakeLine.difference != 0)
        .options(joinedload(StocktakeLine.product), joinedload(Stocktake.clerk))).all()
    return {"per_clerk": per_clerk, "goods": goods, "voids": voids, "receipts": receipts,
            "points": sum(row[2] or 0 for row in per_clerk), "differences": differences}
