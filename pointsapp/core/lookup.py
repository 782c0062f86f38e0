"""Rows by id, safely: an id no integer column can hold is simply not there (never an OverflowError on
SQLite or "integer out of range" on PostgreSQL)."""
from werkzeug.routing import IntegerConverter, Map, ValidationError

from pointsapp.core.extensions import db
from pointsapp.core.text import ascii_form

# Primary keys are INTEGER: 32-bit on PostgreSQL, and anything wider overflows SQLite's driver.
MAX_ID = 2**31 - 1


def valid_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def typed_id(value) -> int | None:
    """An id a person typed or a form sent ("１２", " 12"), or None when it is empty, not digits or too long to be
    one (the service then says what is missing, and get_row finds nothing for an id no row can have)."""
    text = ascii_form(str(value or "")).strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None


def get_row(model, row_id):
    """db.session.get(model, row_id), or None when the id cannot exist."""
    return db.session.get(model, row_id) if valid_id(row_id) else None


class IdConverter(IntegerConverter):
    """Flask's `int` URL converter, bounded: an id no row can have (0, 10^20 …) matches no route, so
    the answer is a 404 page, never the database's overflow as a 500. Installed app-wide in create_app."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ID)):  # refused before int() reads a thousand digits
            raise ValidationError()
        return super().to_python(value)
