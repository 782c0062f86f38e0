"""What the points pages read from query strings (the admin's award and reversal are WTForms)."""
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from pointsapp.core.schemas import Day, InputSchema, Month


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
