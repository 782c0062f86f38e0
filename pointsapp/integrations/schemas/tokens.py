"""What the integrations pages and API read: the token forms."""
from flask_babel import lazy_gettext as _l
from marshmallow import fields

from pointsapp.core.schemas import Choice, Id, InputSchema, Text, Whole
from pointsapp.integrations.services.tokens import (
    DEFAULT_DAYS,
    DEFAULT_RATE,
    MAX_DAYS,
    MAX_RATE,
    ROLE_CHOICES,
)


class CreateTokenSchema(InputSchema):
    """A new token: its name, community (and store), roles, lifetime and rate."""

    name = Text(required=True, max_length=80, metadata={"label": _l("Token name")})
    community_id = Id(required=True, metadata={"label": _l("Community")})
    store_id = Id(zero_is_none=True, load_default=None, metadata={"label": _l("Store")})
    roles = fields.List(Choice([str(r) for r in ROLE_CHOICES]), load_default=list, metadata={"label": _l("Roles")})
    days = Whole(min=1, max=MAX_DAYS, load_default=DEFAULT_DAYS, metadata={"label": _l("Valid for (days)")})
    rate_per_minute = Whole(min=1, max=MAX_RATE, load_default=DEFAULT_RATE,
                            metadata={"label": _l("Requests a minute")})


class CreateDeviceTokenSchema(CreateTokenSchema):
    """The office's device token (a kiosk, the counter's tablet) acts as the office member who makes it."""
