"""What the counter, the shift close and the reports read from forms and query strings, and what the
counter's search list shows of a resident."""
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_load, pre_load
from marshmallow.validate import Length

from pointsapp.core.schemas import Choice, Day, Id, InputSchema, OutputSchema, Search, Text, Whole, gather
from pointsapp.tree.services import mask_phone

QUANTITIES = _l("Quantities must be whole numbers from 1 to 999.")
COUNTS = _l("Counts must be 0 or more.")
NO_RESIDENT = _l("No such resident.")


class FindCustomerSchema(InputSchema):
    """?q= on the counter: None when the search box was not sent (the resident on screen stays)."""

    q = Search(load_default=None)
    identification = Id(load_default=None)  # one the page made through the API, for this browser to hold


class IdentifyCustomerSchema(InputSchema):
    """A resident picked from the search (resident_id) with the ID card's last four characters the clerk
    typed (id_tail; q: the search, to show the list again), or a scanned member code and a card's PIN."""

    resident_id = Id(load_default=None, error=NO_RESIDENT)
    id_tail = Text(truncate=12)
    q = Search()
    code = Text(truncate=200)
    pin = Text(truncate=12)


class CustomerSchema(OutputSchema):
    """A resident in the clerk's search list: the name, the phone masked, the address, and whether ID digits
    are on file (the clerk asks the resident for them; the list never shows them)."""

    id = fields.Integer()
    name = fields.String()
    phone = fields.Function(lambda r: mask_phone(r.phone))
    address = fields.Function(lambda r: r.household.address)
    has_id_tail = fields.Function(lambda r: bool(r.id_tail))

    views = {"counter": ("id", "name", "phone", "address", "has_id_tail")}


class RedeemCartSchema(InputSchema):
    """A checkout: the request id that makes a retry harmless, and qty_<product id> fields."""

    request_id = Text(truncate=100)
    lines = fields.Dict(keys=Id(error=QUANTITIES), values=Whole(min=0, max=999, error=QUANTITIES), load_default=dict)

    @pre_load
    def _quantities(self, data: dict, **_kwargs) -> dict:
        return {**data, "lines": gather(data, "qty_")}


class CloseShiftSchema(InputSchema):
    """The shelf count: count_<product id> (empty: not counted), reason_<product id> and a note."""

    counts = fields.Dict(keys=Id(error=COUNTS), values=Whole(min=0, max=10**6, error=COUNTS), load_default=dict)
    reasons = fields.Dict(keys=Id(error=COUNTS), values=Text(truncate=300), load_default=dict)
    note = Text(multiline=True, truncate=500)

    @pre_load
    def _per_product(self, data: dict, **_kwargs) -> dict:
        return {**data, "counts": gather(data, "count_"), "reasons": gather(data, "reason_")}


class VoidReceiptSchema(InputSchema):
    reason = Text(truncate=300)


class PrintReceiptSchema(InputSchema):
    """?w= the receipt printer's paper width in mm."""

    w = Choice(("58", "80"), load_default="58")


class ShowReportSchema(InputSchema):
    """?day= (default: today, set by the view) and ?format= csv or xlsx for a download."""

    day = Day(load_default=None, metadata={"label": _l("Day")})
    format = Choice(("csv", "xlsx"), load_default=None)


# ---- the JSON API (store/api.py): what it reads ------------------------------------------------------
# Every field has a default: the operation checks who may act on the store first (403), then the service
# refuses what is missing or wrong in its own words (as the HTML counter's).

WAYS = _l("Identify by one way: a member code, a card number with its PIN, or a resident found by search "
          "with the last four characters of the ID card.")
ONCE = _l("Name each product once.")


class ListProductsSchema(InputSchema):
    """?view=clerk (stock, limits; the store's clerks and office) or resident (her allowance; residents of the
    store's community). Without it: the clerk's view for those who run the store, else the resident's."""

    view = Choice(("clerk", "resident"), load_default=None)


class FindResidentsSchema(InputSchema):
    q = Search(metadata={"description": "A name, phone or room (cut to 40 characters)"})


class IdentifyResidentSchema(InputSchema):
    """One of three ways, as at the counter: `code` (a scanned member code: the phone's, or a card's QR, which
    needs `pin`), `card_number` (typed as printed, e.g. 1309-1) with `pin`, or `resident_id` (found by search)
    with `id_tail` (the ID card's last four characters, asked of the resident)."""

    code = Text(truncate=200, metadata={"description": "A scanned member code"})
    card_number = Text(truncate=40, metadata={"description": "A member card's number as printed"})
    pin = Text(truncate=12, metadata={"description": "The card's PIN (with a card)"})
    resident_id = Id(load_default=None, error=NO_RESIDENT, metadata={"description": "A resident found by search"})
    id_tail = Text(truncate=12, metadata={"description": "The last four characters of her ID card (with resident_id)"})

    @post_load
    def _one_way(self, data: dict, **_kwargs) -> dict:
        ways = [bool(data["code"]), bool(data["card_number"]), data["resident_id"] is not None]
        data["way"] = ("code", "card_number", "search")[ways.index(True)] if sum(ways) == 1 else None
        return data


class CartLineSchema(InputSchema):
    product_id = Id(required=True, error=QUANTITIES, metadata={"description": "A product of this store"})
    quantity = Whole(min=0, max=999, required=True, error=QUANTITIES,
                     metadata={"description": "0 to 999 (0: not in the cart)"})


def _lines(values: list[dict]) -> dict[int, int]:
    lines: dict[int, int] = {}
    for line in values:
        if line["product_id"] in lines:
            raise ValidationError(str(ONCE), "lines")
        lines[line["product_id"]] = line["quantity"]
    return lines


class PriceCartSchema(InputSchema):
    """The counter's cart for the resident it identified (the checkout's own checks, nothing written)."""

    identification_id = Id(load_default=None, metadata={"description": "From POST .../identify"})
    lines = fields.List(fields.Nested(CartLineSchema), load_default=list, validate=Length(max=50),
                        metadata={"description": "At most 50 lines, each product once"})

    @post_load
    def _by_product(self, data: dict, **_kwargs) -> dict:
        data["lines"] = _lines(data["lines"])
        return data


class CheckoutSchema(PriceCartSchema):
    request_id = Text(max_length=64, metadata={
        "description": "The checkout's own key (a retry returns the first receipt); default: from the "
                       "Idempotency-Key header, else a fresh one"})


class ShelfCountSchema(InputSchema):
    product_id = Id(required=True, error=COUNTS)
    counted = Whole(min=0, max=10**6, required=True, error=COUNTS, metadata={"description": "What is on the shelf"})
    reason = Text(truncate=300, metadata={"description": "Why it differs from the books (needed then)"})


class CloseShiftJsonSchema(InputSchema):
    counts = fields.List(fields.Nested(ShelfCountSchema), load_default=list, validate=Length(max=2000),
                         metadata={"description": "Every good on sale, counted"})
    note = Text(multiline=True, truncate=500)

    @post_load
    def _by_product(self, data: dict, **_kwargs) -> dict:
        counts, reasons = {}, {}
        for line in data["counts"]:
            if line["product_id"] in counts:
                raise ValidationError(str(ONCE), "counts")
            counts[line["product_id"]], reasons[line["product_id"]] = line["counted"], line["reason"]
        data["counts"], data["reasons"] = counts, reasons
        return data


class DayReportSchema(InputSchema):
    day = Day(load_default=None, metadata={"label": _l("Day"), "description": "YYYY-MM-DD (default: today)"})


# ---- the JSON API: what it answers -----------------------------------------------------------------------

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


class AllowanceSchema(Schema):
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
    allowances = _f(fields.List(fields.Nested(AllowanceSchema), required=True),
                    "Per product on sale: what the counter page shows of her limits")


class ProblemSchema(Schema):
    code = _f(fields.String(required=True), "What the checkout would refuse, e.g. limit_reached")
    message = _f(fields.String(required=True), "In the request's language")


class QuoteLineSchema(Schema):
    product_id = _f(fields.Integer(required=True), "The product")
    name = _f(fields.String(allow_none=True), "Its name (null: not a product of this store)")
    quantity = _f(fields.Integer(required=True), "How many")
    unit_price = _f(fields.Integer(required=True), "Points per unit")
    points = _f(fields.Integer(required=True), "quantity × unit_price")
    problem = _f(fields.Nested(ProblemSchema, allow_none=True), "Why the checkout would refuse this line")


class QuoteSchema(Schema):
    lines = _f(fields.List(fields.Nested(QuoteLineSchema), required=True), "The cart's lines")
    total = _f(fields.Integer(required=True), "Points for the cart")
    balance = _f(fields.Integer(required=True), "Her balance now")
    balance_after = _f(fields.Integer(required=True), "balance − total")
    ok = _f(fields.Boolean(required=True), "The checkout would go through now")
    problems = _f(fields.List(fields.Nested(ProblemSchema), required=True), "Refusals of the whole cart")


class ReceiptLineSchema(Schema):
    product_id = _f(fields.Integer(required=True), "The product")
    name = _f(fields.String(required=True), "Its name as sold")
    quantity = _f(fields.Integer(required=True), "How many")
    unit_price = _f(fields.Integer(required=True), "Points per unit")
    points = _f(fields.Integer(required=True), "Points for the line")


class ReceiptSchema(Schema):
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
    lines = _f(fields.List(fields.Nested(ReceiptLineSchema), required=True), "What was redeemed")


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


class DifferenceSchema(Schema):
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
    differences = _f(fields.List(fields.Nested(DifferenceSchema), required=True), "Shelf count differences")
