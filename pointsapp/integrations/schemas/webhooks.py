"""Webhooks: the office's form and the API's bodies (the same fields and rules), and what the API answers."""
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from pointsapp.core.schemas import Choice, Flag, Id, InputSchema, Text
from pointsapp.integrations.services.webhooks import DESCRIPTION_MAX, EVENTS

EVENT_LABELS = {
    "attendance.approved": _l("Attendance approved"),
    "redemption.made": _l("Products redeemed at a store"),
    "redemption.voided": _l("Redemption voided"),
    "evaluation.published": _l("Star evaluation published"),
    "claim.approved": _l("Claim approved"),
    "deduction.recorded": _l("Deduction recorded"),
}


def _events(**kwargs):
    return fields.List(Choice(EVENTS), metadata={"label": _l("Events"), "description": "Any of: " + ", ".join(EVENTS)},
                       **kwargs)


class SaveEndpointSchema(InputSchema):
    """A new endpoint: its address (https://…), the events it wants, a note for the office."""

    url = Text(required=True, metadata={"label": _l("Address (URL)"), "description": "https://… (at most 500 characters)"})
    events = _events(load_default=list)
    description = Text(load_default="", max_length=DESCRIPTION_MAX, metadata={"label": _l("What it is for")})


class ChangeEndpointSchema(InputSchema):
    """What to change (a field left out stays as it is); `active` false turns the endpoint off."""

    url = Text(load_default=None, metadata={"label": _l("Address (URL)")})
    events = _events(load_default=None)
    description = Text(load_default=None, max_length=DESCRIPTION_MAX, metadata={"label": _l("What it is for")})
    active = fields.Boolean(load_default=None)


ENDPOINT_ACTIONS = ("save", "disable", "enable", "renew", "redeliver")


class EndpointActionSchema(InputSchema):
    """The buttons of an endpoint's page: `what` names the action."""

    what = Choice(ENDPOINT_ACTIONS, required=True)
    delivery_id = Id(load_default=None)
    confirm = Flag()


# ---- answers ------------------------------------------------------------------------------------

class EndpointSchema(Schema):
    id = fields.Integer(required=True)
    community_id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    events = fields.List(fields.String(), required=True, attribute="event_list", metadata={"description": "Event names"})
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    disabled_at = fields.DateTime(allow_none=True)


class EndpointListSchema(Schema):
    endpoints = fields.List(fields.Nested(EndpointSchema), required=True)


class NewSecretSchema(Schema):
    endpoint = fields.Nested(EndpointSchema, required=True)
    secret = fields.String(required=True, metadata={"description": "Signs every delivery; shown this once"})


class DeliverySchema(Schema):
    id = fields.Integer(required=True)
    endpoint_id = fields.Integer(required=True)
    event_id = fields.Integer(required=True)
    event = fields.String(required=True, metadata={"description": "The event's name"})
    occurred_at = fields.DateTime(required=True)
    state = fields.String(required=True, metadata={"description": "pending | delivered | failed"})
    attempts = fields.Integer(required=True, metadata={"description": "Tries in the current round"})
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status = fields.Integer(allow_none=True, metadata={"description": "The receiver's HTTP status"})
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


class DeliveryListSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)


def delivery_dict(delivery) -> dict:
    return {"id": delivery.id, "endpoint_id": delivery.endpoint_id, "event_id": delivery.event_id,
            "event": delivery.event.event, "occurred_at": delivery.event.occurred_at, "state": delivery.state,
            "attempts": delivery.attempts, "next_attempt_at": delivery.next_attempt_at,
            "last_attempt_at": delivery.last_attempt_at, "last_status": delivery.last_status,
            "last_error": delivery.last_error, "created_at": delivery.created_at}
