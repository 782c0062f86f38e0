"""What the deductions page reads from its query string (besides WTForms)."""
from pointsapp.core.schemas import InputSchema, Search


class FindResidentsSchema(InputSchema):
    """?q= a name, phone or room: the resident a deduction is against."""

    q = Search()
