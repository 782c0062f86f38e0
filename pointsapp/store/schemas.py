"""What the counter, the shift close and the reports read from forms and query strings, and what the
counter's search list shows of a resident."""
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, post_load, pre_load
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


class FindCustomersSchema(InputSchema):
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


class CheckoutCartSchema(PriceCartSchema):
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


class ShowDayReportSchema(InputSchema):
    day = Day(load_default=None, metadata={"label": _l("Day"), "description": "YYYY-MM-DD (default: today)"})
