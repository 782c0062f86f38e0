"""/api/v1/stores/<store_id>/...: the love-points supermarket's counter as JSON (issue 15).

The same services as the counter's HTML pages (store/views.py): the products (the clerk's view with stock, the
resident's with her allowance), identifying a resident (member code, card number and PIN, search and ID
digits: the same PIN and ID-digit failure counters), the cart's live total, the checkout (its request id:
the body's, else one made from the Idempotency-Key, else a fresh one), receipts, voids, the shift close and
the day report. The counter page's own script calls identify and the cart (static/js/counter.js, identify.js).
"""

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from werkzeug.datastructures import Headers

from pointsapp.core.api import ApiBlueprint, domain_key, link
from pointsapp.core.errors import InvalidInput, PermissionDenied
from pointsapp.core.periods import local_date
from pointsapp.core.permissions import AUTHENTICATED, STAFF, Action, Role, can, has_role, policy, require
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.services import posting as ledger
from pointsapp.rankings.services import mask_name
from pointsapp.store.models import CounterIdentification, Redemption, Store
from pointsapp.store.schemas import (
    WAYS,
    CheckoutCartSchema,
    CloseShiftJsonSchema,
    CustomerSchema,
    FindCustomersSchema,
    IdentifyResidentSchema,
    ListProductsSchema,
    PriceCartSchema,
    ShowDayReportSchema,
    VoidReceiptSchema,
)
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter, identification
from pointsapp.store.services import shelf as shelf_service
from pointsapp.tree.services import search

# ---- what the operations answer (every field typed and described: the OpenAPI document) ----------------

def _f(field, description: str):
    field.metadata = {**field.metadata, "description": description}
    return field


class ProductItemSchema(Schema):
    id = _f(fields.Integer(required=True), "The product's id")
    name = _f(fields.String(required=True), "Its name")
    kind = _f(fields.String(required=True), "goods or service")
    category = _f(fields.String(required=True), "Its category (may be empty)")
    price = _f(fields.Integer(required=True), "Points per unit")
    is_active = _f(fields.Boolean(required=True), "On sale")
    stock = _f(fields.Integer(allow_none=True), "Clerk's view: units in stock (null: unlimited service)")
    low_stock = _f(fields.Integer(allow_none=True), "Clerk's view: listed as low at or below this")
    barcode = _f(fields.String(allow_none=True), "Clerk's view: the barcode")
    limit_per_week = _f(fields.Integer(allow_none=True), "Per resident per week (null: none)")
    limit_per_month = _f(fields.Integer(allow_none=True), "Per resident per month (null: none)")
    household_limit_per_month = _f(fields.Integer(allow_none=True), "Per household per month (null: none)")
    stock_word = _f(fields.String(allow_none=True), "Resident's view: plenty, few or out")
    left_in_stock = _f(fields.Integer(allow_none=True), "Resident's view: units left when few")
    left = _f(fields.Integer(allow_none=True), "Resident's view: how many more she may take now (null: no limit)")
    period = _f(fields.String(allow_none=True), "Resident's view: the limit that binds (this week, ...)")
    affordable = _f(fields.Boolean(allow_none=True), "Resident's view: her balance covers one")
    can_take = _f(fields.Boolean(allow_none=True), "Resident's view: in stock, affordable and within her limits")


class ProductListSchema(Schema):
    store_id = _f(fields.Integer(required=True), "The store")
    view = _f(fields.String(required=True), "clerk or resident")
    balance = _f(fields.Integer(allow_none=True), "Resident's view: her balance")
    items = _f(fields.List(fields.Nested(ProductItemSchema), required=True), "The products")


class FoundResidentSchema(Schema):
    id = _f(fields.Integer(required=True), "The resident's id (for identify with id_tail)")
    name = _f(fields.String(required=True), "Her name")
    phone = _f(fields.String(required=True), "Her phone, masked")
    address = _f(fields.String(required=True), "Her household's address")
    has_id_tail = _f(fields.Boolean(required=True), "Whether ID digits are on file (search can identify her)")


class FoundResidentsSchema(Schema):
    residents = _f(fields.List(fields.Nested(FoundResidentSchema), required=True), "Who matches")
    note = _f(fields.String(required=True), "Why the list is cut or empty, if it is")


class CounterAllowanceSchema(Schema):
    product_id = _f(fields.Integer(required=True), "A product on sale here")
    left = _f(fields.Integer(allow_none=True), "How many more she may take now (null: no limit)")
    period = _f(fields.String(required=True), "The limit that binds (empty: none)")
    max = _f(fields.Integer(required=True), "The most the counter lets her take now (stock and limits, ≤ 999)")


class CounterResidentSchema(Schema):
    id = _f(fields.Integer(required=True), "The resident's id")
    name = _f(fields.String(required=True), "Her name, masked (张*明)")
    address = _f(fields.String(required=True), "Her household's address")


class IdentificationSchema(Schema):
    identification_id = _f(fields.Integer(required=True), "What the cart and the checkout name")
    store_id = _f(fields.Integer(required=True), "The store")
    method = _f(fields.String(required=True), "phone_code, card_pin or search")
    created_at = _f(fields.DateTime(required=True), "When (UTC)")
    expires_at = _f(fields.DateTime(required=True), "The checkout must come before this (UTC)")
    resident = _f(fields.Nested(CounterResidentSchema, required=True), "Who")
    balance = _f(fields.Integer(required=True), "Her balance now")
    allowances = _f(fields.List(fields.Nested(CounterAllowanceSchema), required=True),
                    "Per product on sale: what the counter page shows of her limits")


class CartProblemSchema(Schema):
    code = _f(fields.String(required=True), "What the checkout would refuse, e.g. limit_reached")
    message = _f(fields.String(required=True), "In the request's language")


class CartQuoteLineSchema(Schema):
    product_id = _f(fields.Integer(required=True), "The product")
    name = _f(fields.String(allow_none=True), "Its name (null: not a product of this store)")
    quantity = _f(fields.Integer(required=True), "How many")
    unit_price = _f(fields.Integer(required=True), "Points per unit")
    points = _f(fields.Integer(required=True), "quantity × unit_price")
    problem = _f(fields.Nested(CartProblemSchema, allow_none=True), "Why the checkout would refuse this line")


class CartQuoteSchema(Schema):
    lines = _f(fields.List(fields.Nested(CartQuoteLineSchema), required=True), "The cart's lines")
    total = _f(fields.Integer(required=True), "Points for the cart")
    balance = _f(fields.Integer(required=True), "Her balance now")
    balance_after = _f(fields.Integer(required=True), "balance − total")
    ok = _f(fields.Boolean(required=True), "The checkout would go through now")
    problems = _f(fields.List(fields.Nested(CartProblemSchema), required=True), "Refusals of the whole cart")


class StoreReceiptLineSchema(Schema):
    product_id = _f(fields.Integer(required=True), "The product")
    name = _f(fields.String(required=True), "Its name as sold")
    quantity = _f(fields.Integer(required=True), "How many")
    unit_price = _f(fields.Integer(required=True), "Points per unit")
    points = _f(fields.Integer(required=True), "Points for the line")


class StoreReceiptSchema(Schema):
    id = _f(fields.Integer(required=True), "The redemption's id")
    receipt_no = _f(fields.String(required=True), "The receipt number")
    store_id = _f(fields.Integer(required=True), "The store")
    resident = _f(fields.Nested(CounterResidentSchema, required=True), "Who redeemed")
    clerk = _f(fields.String(required=True), "The clerk's name")
    created_at = _f(fields.DateTime(required=True), "When (UTC)")
    identified_by = _f(fields.String(required=True), "phone_code, card_pin or search")
    total_points = _f(fields.Integer(required=True), "Points used")
    balance_after = _f(fields.Integer(required=True), "Her balance after the checkout")
    status = _f(fields.String(required=True), "done or void")
    voided_at = _f(fields.DateTime(allow_none=True), "When it was voided (UTC)")
    void_reason = _f(fields.String(required=True), "Why (empty unless void)")
    repeated = _f(fields.Boolean(required=True), "A checkout: its request_id had gone through already (nothing "
                                                 "was charged again)")
    lines = _f(fields.List(fields.Nested(StoreReceiptLineSchema), required=True), "What was redeemed")


class StocktakeLineSchema(Schema):
    product_id = _f(fields.Integer(required=True), "The product")
    name = _f(fields.String(required=True), "Its name")
    book_quantity = _f(fields.Integer(required=True), "The books before the count")
    counted_quantity = _f(fields.Integer(required=True), "What was counted")
    difference = _f(fields.Integer(required=True), "counted − books")
    reason = _f(fields.String(required=True), "Why they differ")


class StocktakeSchema(Schema):
    id = _f(fields.Integer(required=True), "The stocktake's id")
    store_id = _f(fields.Integer(required=True), "The store")
    closed_at = _f(fields.DateTime(required=True), "When (UTC)")
    note = _f(fields.String(required=True), "The clerk's note")
    lines = _f(fields.List(fields.Nested(StocktakeLineSchema), required=True), "Every good counted")


class ClerkTotalSchema(Schema):
    clerk = _f(fields.String(required=True), "The clerk's name")
    redemptions = _f(fields.Integer(required=True), "Checkouts in force")
    points = _f(fields.Integer(required=True), "Points redeemed")


class GoodsOutSchema(Schema):
    name = _f(fields.String(required=True), "The product as sold")
    quantity = _f(fields.Integer(required=True), "Units out")
    points = _f(fields.Integer(required=True), "Points for them")


class ReportReceiptSchema(Schema):
    id = _f(fields.Integer(required=True), "The redemption's id")
    receipt_no = _f(fields.String(required=True), "The receipt number")
    created_at = _f(fields.DateTime(required=True), "When (UTC)")
    resident = _f(fields.String(required=True), "Who redeemed, masked")
    clerk = _f(fields.String(required=True), "The clerk's name")
    total_points = _f(fields.Integer(required=True), "Points used")
    status = _f(fields.String(required=True), "done or void")


class ShelfDifferenceSchema(Schema):
    product = _f(fields.String(required=True), "The product")
    book_quantity = _f(fields.Integer(required=True), "The books")
    counted_quantity = _f(fields.Integer(required=True), "The count")
    difference = _f(fields.Integer(required=True), "counted − books")
    reason = _f(fields.String(required=True), "Why")
    clerk = _f(fields.String(required=True), "Who counted")
    closed_at = _f(fields.DateTime(required=True), "When (UTC)")


class DayReportOutSchema(Schema):
    store_id = _f(fields.Integer(required=True), "The store")
    day = _f(fields.Date(required=True), "The day (China time)")
    points = _f(fields.Integer(required=True), "Points redeemed (checkouts in force)")
    voids = _f(fields.Integer(required=True), "Receipts voided that day")
    per_clerk = _f(fields.List(fields.Nested(ClerkTotalSchema), required=True), "Per clerk")
    goods = _f(fields.List(fields.Nested(GoodsOutSchema), required=True), "Goods out")
    receipts = _f(fields.List(fields.Nested(ReportReceiptSchema), required=True), "The day's receipts")
    differences = _f(fields.List(fields.Nested(ShelfDifferenceSchema), required=True), "Shelf count differences")


bp = ApiBlueprint("api_store", __name__, url_prefix="/api/v1/stores",
                  description="The love-points supermarket: products, the counter, receipts, shift close, reports")

MASK = "middle"  # 张*明: what the counter's API shows of a resident's name


def _store(store_id: int, action: str = Action.RUN_STORE) -> Store:
    s = store_service.get_store(store_id)
    require(actor(), action, s)
    return s


def _masked(resident) -> dict:
    household = resident.household
    return {"id": resident.id, "name": mask_name(resident.name, MASK), "address": household.address if household else ""}


def _problem(exc) -> dict | None:
    return None if exc is None else {"code": exc.code, "message": str(exc)}


# ---- products ------------------------------------------------------------------------------------------

@bp.route("/<int:store_id>/products")
@bp.arguments(ListProductsSchema, location="query")
@bp.response(200, ProductListSchema)
@policy(AUTHENTICATED)
def products(wanted, store_id: int):
    """The store's products: the clerk's view (all products, stock, limits) for its clerks and office, or
    the resident's (on sale, stock in words, her allowance) for residents of its community (?view=resident)."""
    user, s = actor(), store_service.get_store(store_id)
    view = wanted["view"] or ("clerk" if can(user, Action.RUN_STORE, s) else "resident")
    if view == "clerk":
        require(user, Action.RUN_STORE, s)
        return {"store_id": s.id, "view": view, "balance": None,
                "items": [_clerk_item(p) for p in store_service.products(s.id)]}
    if user.resident is None or user.resident.community_id != s.community_id \
            or not has_role(user, Role.RESIDENT, s.community_id):
        raise PermissionDenied(_l("You do not have permission to do this."))
    mine = shelf_service.shelf(user, utcnow())
    items = [item for shelf in mine.stores if shelf.store.id == s.id for group in shelf.groups for item in group.items]
    return {"store_id": s.id, "view": view, "balance": mine.balance, "items": [_resident_item(i) for i in items]}


def _limits(p) -> dict:
    return {"id": p.id, "name": p.name, "kind": p.kind, "category": p.category, "price": p.price,
            "is_active": p.is_active, "limit_per_week": p.limit_per_week, "limit_per_month": p.limit_per_month,
            "household_limit_per_month": p.household_limit_per_month}


_CLERKS = {"stock": None, "low_stock": None, "barcode": None}
_RESIDENTS = {"stock_word": None, "left_in_stock": None, "left": None, "period": None, "affordable": None,
              "can_take": None}


def _clerk_item(p) -> dict:
    return {**_limits(p), **_RESIDENTS, "stock": p.stock, "low_stock": p.low_stock, "barcode": p.barcode}


def _resident_item(item: shelf_service.Item) -> dict:
    return {**_limits(item.product), **_CLERKS, "stock_word": item.stock, "left_in_stock": item.left_in_stock,
            "left": item.allowance.left, "period": item.allowance.why, "affordable": item.affordable,
            "can_take": item.can_take}


# ---- identifying the resident --------------------------------------------------------------------------

@bp.route("/<int:store_id>/residents")
@bp.arguments(FindCustomersSchema, location="query")
@bp.response(200, FoundResidentsSchema)
@policy(STAFF)
def find_residents(wanted, store_id: int):
    """The counter's search by name, phone or room (phones masked, ID digits never shown): then identify
    with the resident's id and the ID card's last four characters."""
    s = _store(store_id)
    result = search.find_residents(s.community_id, wanted["q"]) if wanted["q"] else None
    return {"residents": CustomerSchema("counter").dump(result.residents if result else [], many=True),
            "note": str(result.note) if result and result.note else ""}


@bp.route("/<int:store_id>/identify", methods=["POST"])
@bp.arguments(IdentifyResidentSchema, location="json")
@bp.response(201, IdentificationSchema)
@policy(STAFF)
def identify(given, store_id: int):
    """Identify a resident at the counter: a scanned member code (a card's needs `pin`), a card number with
    its PIN, or a resident found by search with the ID card's last four characters. Wrong PINs and ID digits
    count towards the card's lockout, as at the counter. Answers the identification the cart and the
    checkout name."""
    s, now = _store(store_id), utcnow()
    if given["way"] is None:
        raise InvalidInput(WAYS, code="identify_how")
    if given["way"] == "search":
        who = identification.identify_by_search(actor(), s, given["resident_id"], given["id_tail"], now)
    else:
        who = identification.identify_by_code(actor(), s, current_app.secret_key,
                                              given["code"] or given["card_number"], given["pin"] or None, now)
    return _identification(s, who, now)


def _identification(s: Store, who: CounterIdentification, now) -> dict:
    items = store_service.products(s.id, active_only=True)
    resident = identification.with_address(who.resident_id)  # one statement, not three
    room = counter.allowances(resident, items, now)
    allowances = []
    for p in items:
        a = room[p.id]
        most = min(999, p.stock if p.stock is not None else 999, a.left if a.left is not None else 999)
        allowances.append({"product_id": p.id, "left": a.left, "period": a.why, "max": max(0, most)})
    return {"identification_id": who.id, "store_id": s.id, "method": who.method, "created_at": who.created_at,
            "expires_at": who.created_at + identification.IDENTIFIED_FOR, "resident": _masked(resident),
            "balance": ledger.balance_of(who.resident_id), "allowances": allowances}


# ---- the cart and the checkout ---------------------------------------------------------------------------

def _held(s: Store, identification_id: int | None, now) -> CounterIdentification:
    """The clerk's usable identification at this store, or the counter's reason why not."""
    who = identification.current(actor(), s, identification_id, now)
    if who is None:
        raise identification.refuse_used(actor(), s, identification.find(identification_id), now)
    return who


@bp.route("/<int:store_id>/cart", methods=["POST"])
@bp.arguments(PriceCartSchema, location="json")
@bp.response(200, CartQuoteSchema)
@policy(STAFF)
def price_cart(cart, store_id: int):
    """The counter's live total: the cart's lines and prices, the total, her balance after it, and what the
    checkout would refuse (per line: not on sale here, limit reached, out of stock; for the cart: empty,
    not enough points). Nothing is written."""
    s, now = _store(store_id), utcnow()
    who = _held(s, cart["identification_id"], now)
    q = counter.quote(actor(), s, who, counter.Cart(cart["lines"]), now)
    return {"lines": [{"product_id": line.product_id, "name": line.product.name if line.product else None,
                       "quantity": line.quantity, "unit_price": line.unit_price, "points": line.points,
                       "problem": _problem(line.problem)} for line in q.lines],
            "total": q.total, "balance": q.balance, "balance_after": q.balance_after, "ok": q.ok,
            "problems": [_problem(p) for p in q.problems]}


def _receipt(r: Redemption, repeated: bool = False) -> dict:
    return {"id": r.id, "receipt_no": r.receipt_no, "store_id": r.store_id, "resident": _masked(r.resident),
            "clerk": r.clerk.name, "created_at": r.created_at, "identified_by": r.identified_by,
            "total_points": r.total_points, "balance_after": r.balance_after, "status": r.status,
            "voided_at": r.voided_at, "void_reason": r.void_reason or "", "repeated": repeated,
            "lines": [{"product_id": x.product_id, "name": x.name, "quantity": x.quantity, "unit_price": x.unit_price,
                       "points": x.points} for x in r.lines]}


@bp.route("/<int:store_id>/checkout", methods=["POST"])
@bp.arguments(CheckoutCartSchema, location="json")
@bp.response(201, StoreReceiptSchema, headers={"Location": {"description": "The receipt", "schema": {"type": "string"}}})
@policy(STAFF)
def checkout(cart, store_id: int):
    """Redeem the cart for the identified resident (using the identification up): points, stock and limits in
    one transaction. The same request_id (or Idempotency-Key) again returns the first receipt."""
    s = _store(store_id)
    result = counter.redeem(actor(), s, cart["identification_id"], counter.Cart(cart["lines"]),
                            domain_key(cart["request_id"]), utcnow())
    r = counter.get_redemption(s, result.redemption.id)
    headers = Headers({"Location": url_for("api_store.receipt", store_id=s.id, redemption_id=r.id)})
    return _receipt(r, result.repeated), 201, headers


@bp.route("/<int:store_id>/redemptions/<int:redemption_id>")
@bp.response(200, StoreReceiptSchema)
@policy(STAFF)
def receipt(store_id: int, redemption_id: int):
    """A receipt of this store."""
    s = _store(store_id)
    return _receipt(counter.get_redemption(s, redemption_id))


@bp.route("/<int:store_id>/redemptions/<int:redemption_id>/void", methods=["POST"])
@bp.arguments(VoidReceiptSchema, location="json")
@bp.response(200, StoreReceiptSchema)
@policy(STAFF)
def void(given, store_id: int, redemption_id: int):
    """Void a receipt with a reason: points and stock come back. The clerk who made it, the same day; the
    community office any time."""
    s = _store(store_id)
    r = counter.void(actor(), counter.get_redemption(s, redemption_id), given["reason"], utcnow())
    return _receipt(r)


# ---- shift close and the day report ------------------------------------------------------------------------

@bp.route("/<int:store_id>/shift/close", methods=["POST"])
@bp.arguments(CloseShiftJsonSchema, location="json")
@bp.response(201, StocktakeSchema)
@policy(STAFF)
def close_shift(shelf, store_id: int):
    """Close the shift: every good on sale counted; a difference from the books needs a reason, and the books
    follow the count."""
    s = _store(store_id)
    counted, reasons = counter.counts_for(counter.shelf_goods(s), shelf["counts"], shelf["reasons"])
    take = counter.close_shift(actor(), s, counted, reasons, shelf["note"], utcnow())
    return {"id": take.id, "store_id": s.id, "closed_at": take.closed_at, "note": take.note,
            "lines": [{"product_id": x.product_id, "name": x.product.name, "book_quantity": x.book_quantity,
                       "counted_quantity": x.counted_quantity, "difference": x.difference, "reason": x.reason}
                      for x in take.lines]}


@bp.route("/<int:store_id>/day-report")
@bp.arguments(ShowDayReportSchema, location="query")
@bp.response(200, DayReportOutSchema)
@policy(STAFF)
def day_report(wanted, store_id: int):
    """One day's redemptions per clerk, points, goods out, receipts and shelf differences (China time)."""
    s = _store(store_id)
    day = wanted["day"] or local_date(utcnow())
    data = counter.day_report(s, day, actor())
    return {"store_id": s.id, "day": day, "points": data["points"], "voids": data["voids"] or 0,
            "per_clerk": [{"clerk": name, "redemptions": n, "points": points or 0}
                          for name, n, points in data["per_clerk"]],
            "goods": [{"name": name, "quantity": n or 0, "points": points or 0} for name, n, points in data["goods"]],
            "receipts": [{"id": r.id, "receipt_no": r.receipt_no, "created_at": r.created_at,
                          "resident": mask_name(r.resident.name, MASK), "clerk": r.clerk.name,
                          "total_points": r.total_points, "status": r.status} for r in data["receipts"]],
            "differences": [{"product": line.product.name, "book_quantity": line.book_quantity,
                             "counted_quantity": line.counted_quantity, "difference": line.difference,
                             "reason": line.reason, "clerk": take.clerk.name, "closed_at": take.closed_at}
                            for line, take in data["differences"]]}


# OpenAPI links: a checkout's receipt, and the receipt's void (schemathesis follows them: create -> read -> void)
link("api_store.checkout", 201, "receipt", "api_store.receipt",
     {"store_id": "$request.path.store_id", "redemption_id": "$response.body#/id"},
     description="The receipt of this checkout")
link("api_store.checkout", 201, "void", "api_store.void",
     {"store_id": "$request.path.store_id", "redemption_id": "$response.body#/id"},
     description="Void this checkout (the same day, by its clerk; the office any time)")
link("api_store.receipt", 200, "void", "api_store.void",
     {"store_id": "$request.path.store_id", "redemption_id": "$response.body#/id"},
     description="Void this receipt")

blueprints = [bp]
