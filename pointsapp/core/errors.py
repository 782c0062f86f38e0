"""Domain errors: a stable snake_case code and a translatable message. Nothing from Flask here."""
from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """Raised by services; the web layer flashes it, the API returns {"error": {"code", "message"}}."""

    code = "domain_error"
    http_status = 422
    keep_changes = False  # True: the unit of work commits what was written before the refusal

    def __init__(self, message=None, *, code: str | None = None, **params):
        self.code = code or self.code
        self.message = message if message is not None else _l("The request could not be completed.")
        self.params = params
        super().__init__(str(self.code))

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class PermissionDenied(DomainError):
    code = "forbidden"
    http_status = 403


class InvalidInput(DomainError):
    code = "invalid_input"
    http_status = 422


class Busy(DomainError):
    """Another request holds what this one needs (a lock wait ran out, or a deadlock was broken):
    nothing was written; the same action, tried again, goes through."""
    code = "busy"
    http_status = 503

    def __init__(self, message=None, **kwargs):
        super().__init__(message if message is not None else _l("Busy, please try again"), **kwargs)
