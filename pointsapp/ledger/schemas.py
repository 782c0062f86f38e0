"""What the points pages read from query strings (the admin's award and reversal are WTForms), and the office's API."""
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from pointsapp.core.schemas import Choice, Day, InputSchema, Month, OutputSchema, Text, Whole
from pointsapp.ledger.services.by_hand import REASON_MAX
from pointsapp.ledger.services.posting import MAX_AMOUNT


class ShowMonthSchema(InputSchema):
    """?month=2026-11 on a points history: one month of entries, or all when not given."""

    month = Month(load_default=None, metadata={"label": _l("Month")})


class ShowServiceRecordSchema(InputSchema):
    """?from= and ?to= of a service record (志愿服务证明); the view supplies the defaults."""

    start = Day(data_key="from", load_default=None, metadata={"label": _l("From")})
    end = Day(data_key="to", load_default=None, metadata={"label": _l("To")})


# ---- output: the public checkpoints (/api/v1/public/communities/<id>/checkpoints) ----------------------


class CheckpointSchema(Schema):
    """A ledger checkpoint as anyone may read it: a root over every chain head of the community."""

    day = fields.Date(required=True, metadata={"description": "China time"})
    created_at = fields.AwareDateTime(required=True)
    root = fields.String(required=True, metadata={"description": "SHA-256 over every chain head, hex"})
    resident_count = fields.Integer(required=True, metadata={"description": "Chains (residents with entries)"})
    entry_count = fields.Integer(required=True, metadata={"description": "Entries over all chains"})


class CheckpointsSchema(Schema):
    community_id = fields.Integer(required=True)
    checkpoints = fields.List(fields.Nested(CheckpointSchema), required=True, metadata={"description": "Newest first"})
# ---- the office's API (ledger/api.py, api_office_points) -----------------------------------------------------

class AwardByHandSchema(InputSchema):
    """An award by hand, as the resident's points page sends it: up to the community's ceiling it posts, above it
    it waits for another office member. `request_key`: a retried request awards once (default: the
    Idempotency-Key header)."""

    amount = Whole(min=1, max=MAX_AMOUNT, required=True, metadata={"label": _l("Points")})
    reason = Text(max_length=REASON_MAX, required=True, metadata={"label": _l("Reason")})
    request_key = Text(max_length=64, ascii=True)


class RefuseAwardSchema(InputSchema):
    reason = Text(max_length=REASON_MAX, required=True, metadata={"label": _l("Reason")})


class QueueExportSchema(InputSchema):
    """A ledger export of `start`..`end` (China dates), as the ledger page's form."""

    start = Day(required=True, metadata={"label": _l("From")})
    end = Day(required=True, metadata={"label": _l("To")})
    format = Choice(("xlsx", "csv"), load_default="xlsx")


class LedgerEntrySchema(OutputSchema):
    id = fields.Integer(required=True)
    resident_id = fields.Integer(required=True)
    amount = fields.Integer(required=True, metadata={"description": "Signed whole points"})
    balance_after = fields.Integer(required=True)
    kind = fields.String(required=True)
    reason = fields.String(required=True)
    created_at = fields.DateTime(required=True)

    views = {"office": ("id", "resident_id", "amount", "balance_after", "kind", "reason", "created_at")}


class AwardRequestSchema(OutputSchema):
    id = fields.Integer(required=True)
    resident_id = fields.Integer(required=True)
    resident_name = fields.Function(lambda a: a.resident.name, required=True, metadata={"type": "string"})
    amount = fields.Integer(required=True)
    reason = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "waiting | confirmed | refused"})
    requested_by_id = fields.Integer(required=True)
    requested_at = fields.DateTime(required=True)
    decided_by_id = fields.Integer(allow_none=True, required=True)
    decided_at = fields.DateTime(allow_none=True, required=True)
    refuse_reason = fields.String(required=True)
    entry_id = fields.Integer(allow_none=True, required=True, metadata={"description": "The entry, once confirmed"})

    views = {"office": ("id", "resident_id", "resident_name", "amount", "reason", "status", "requested_by_id",
                        "requested_at", "decided_by_id", "decided_at", "refuse_reason", "entry_id")}


class AwardOutcomeSchema(OutputSchema):
    """What an award by hand made: the entry (201), or the request waiting for a second office member (202)."""

    status = fields.String(required=True, metadata={"description": "posted | waiting", "enum": ["posted", "waiting"]})
    entry = fields.Nested(LedgerEntrySchema("office"), allow_none=True, required=True)
    award_request = fields.Nested(AwardRequestSchema("office"), allow_none=True, required=True)

    views = {"office": ("status", "entry", "award_request")}


class AwardRequestListSchema(OutputSchema):
    award_requests = fields.List(fields.Nested(AwardRequestSchema("office")), required=True)

    views = {"office": ("award_requests",)}


class ExportJobSchema(OutputSchema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "queued | running | done | failed"})
    format = fields.String(required=True)
    start = fields.Date(attribute="start_day", required=True)
    end = fields.Date(attribute="end_day", required=True)
    progress = fields.Integer(required=True, metadata={"description": "Entries written so far"})
    total = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(allow_none=True, required=True)
    purged = fields.Boolean(required=True, metadata={"description": "The file was deleted (kept 3 days)"})
    message = fields.String(required=True)
    download_url = fields.String(allow_none=True, required=True,
                                 metadata={"description": "GET it for the file, once done and not purged"})

    views = {"office": ("id", "status", "format", "start", "end", "progress", "total", "created_at",
                        "finished_at", "purged", "message", "download_url")}
