"""What the points pages read from query strings (the admin's award and reversal are WTForms)."""
from flask_babel import lazy_gettext as _l

from pointsapp.core.schemas import Day, InputSchema, Month


class ShowMonthSchema(InputSchema):
    """?month=2026-11 on a points history: one month of entries, or all when not given."""

    month = Month(load_default=None, metadata={"label": _l("Month")})


class ShowServiceRecordSchema(InputSchema):
    """?from= and ?to= of a service record (志愿服务证明); the view supplies the defaults."""

    start = Day(data_key="from", load_default=None, metadata={"label": _l("From")})
    end = Day(data_key="to", load_default=None, metadata={"label": _l("To")})
