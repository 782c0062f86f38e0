"""What the deductions page reads from its query string (besides WTForms), and the office's API."""
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from pointsapp.core.localtime import LOCAL_TZ
from pointsapp.core.photos import MAX_BYTES
from pointsapp.core.schemas import Id, InputSchema, OutputSchema, Search, Text
from pointsapp.deductions.services import REASON_MAX


class FindResidentsSchema(InputSchema):
    """?q= a name, phone or room: the resident a deduction is against."""

    q = Search()


class RecordDeductionSchema(InputSchema):
    """A deduction as the office's form records it: under one of the community's current deduction items, against
    one resident (`resident_id`) or a whole household (`building_id`, `unit`, `room`). `occurred_at`: ISO 8601 (a
    time without a zone is China time; default now). `photo`: optional, one JPEG/PNG as base64. `request_key`: a
    retried request records once (default: the Idempotency-Key header)."""

    item_id = Id(required=True, metadata={"label": _l("Deduction item")})
    resident_id = Id(load_default=None)
    building_id = Id(load_default=None, metadata={"label": _l("Building")})
    unit = Text(max_length=10, ascii=True, metadata={"label": _l("Unit")})
    room = Text(max_length=10, ascii=True, metadata={"label": _l("Room")})
    occurred_at = fields.AwareDateTime(default_timezone=LOCAL_TZ, load_default=None,
                                       metadata={"label": _l("When it happened")})
    reason = Text(max_length=REASON_MAX, multiline=True, required=True, metadata={"label": _l("What happened")})
    photo = fields.String(load_default=None, validate=validate.Length(max=(MAX_BYTES // 3 + 1) * 4),
                          metadata={"label": _l("Photo (optional)"), "format": "byte"})
    request_key = Text(max_length=64, ascii=True)


class WithdrawDeductionSchema(InputSchema):
    reason = Text(max_length=REASON_MAX, required=True, metadata={"label": _l("Reason for withdrawing")})


class DeductionSchema(OutputSchema):
    """A deduction as the office's list shows it (the photo itself only on the office's page)."""

    id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    item_title = fields.Function(lambda d: d.item.title, required=True, metadata={"type": "string"})
    resident_id = fields.Integer(allow_none=True, required=True, metadata={"description": "None: the household"})
    resident_name = fields.Function(lambda d: d.resident.name if d.resident else None, allow_none=True,
                                    required=True, metadata={"type": "string"})
    household_id = fields.Integer(required=True)
    address = fields.Function(lambda d: d.household.address, required=True, metadata={"type": "string"})
    points = fields.Integer(required=True)
    taken = fields.Integer(required=True, metadata={"description": "Taken from balances so far"})
    owed = fields.Integer(required=True, metadata={"description": "Still owed: taken from the next earning"})
    is_veto = fields.Boolean(required=True)
    occurred_at = fields.DateTime(required=True)
    reason = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    withdrawn_at = fields.DateTime(allow_none=True, required=True)
    withdrawn_reason = fields.String(required=True)
    has_photo = fields.Function(lambda d: d.has_photo if hasattr(d, "has_photo") else d.evidence is not None,
                                required=True, metadata={"type": "boolean",
                                                         "description": "GET …/deductions/<id>/photo gives it"})

    views = {"office": ("id", "item_id", "item_title", "resident_id", "resident_name", "household_id",
                        "address", "points", "taken", "owed", "is_veto", "occurred_at", "reason",
                        "created_at", "withdrawn_at", "withdrawn_reason", "has_photo")}


class DeductionListSchema(OutputSchema):
    deductions = fields.List(fields.Nested(DeductionSchema("office")), required=True)

    views = {"office": ("deductions",)}
