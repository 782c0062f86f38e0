"""What the counter, the shift close and the reports read from forms and query strings, and what the
counter's search list shows of a resident."""
from flask_babel import lazy_gettext as _l
from marshmallow import fields, pre_load

from pointsapp.core.schemas import Choice, Day, Id, InputSchema, OutputSchema, Search, Text, Whole, gather
from pointsapp.tree.services import mask_phone

QUANTITIES = _l("Quantities must be whole numbers from 1 to 999.")
COUNTS = _l("Counts must be 0 or more.")
NO_RESIDENT = _l("No such resident.")


class FindCustomerSchema(InputSchema):
    """?q= on the counter: None when the search box was not sent (the resident on screen stays)."""

    q = Search(load_default=None)


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
