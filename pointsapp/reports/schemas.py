"""What the reports page reads: a range of months."""
from flask_babel import lazy_gettext as _l

from pointsapp.core.schemas import InputSchema, Month


class ShowReportSchema(InputSchema):
    """?from=2026-06&to=2026-11 (both empty: the last six months)."""

    start = Month(data_key="from", load_default=None, metadata={"label": _l("From month")})
    end = Month(data_key="to", load_default=None, metadata={"label": _l("To month")})
