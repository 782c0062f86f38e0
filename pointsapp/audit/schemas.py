"""What the audit log pages read from the query string."""
from pointsapp.audit.models import AuditAction
from pointsapp.core.schemas import Choice, Id, InputSchema


class ShowAuditLogSchema(InputSchema):
    """?action=, ?actor_id= (the staff member), ?resident_id= (the resident it was about), ?before= (the
    next page), ?community_id= (the city's view), ?format=csv."""

    action = Choice([str(a) for a in AuditAction], load_default=None)
    actor_id = Id(load_default=None)
    resident_id = Id(load_default=None)
    community_id = Id(load_default=None)
    before = Id(load_default=None)
    format = Choice(["csv"], load_default=None)
