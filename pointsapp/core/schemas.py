"""Input at the edge: what every feature's schemas (<feature>/schemas.py) are built from.

Forms that are not WTForms, query parameters and the coming JSON API are read through marshmallow
schemas; `load_or_error()` turns a refusal into the InvalidInput domain error, so a view flashes it
(inside `attempt()`) or the error page shows it, in the reader's language, never a 500;
`read_query()` flashes a refused query parameter and uses its default, so the page still opens.

- `Id`: a row id as a database integer can hold it (1 .. 2^31-1, see core.lookup.MAX_ID). Full-width
  digits ("１２３", typed with a Chinese input method) are read as digits. Whether the row exists is
  the view's question: schemas never query the database.
- `Whole`: a bounded whole number (counts, quantities, thresholds), read the same way.
- `Text`: a string without NUL or control characters (PostgreSQL refuses NUL; neither belongs in a
  name or a reason; the request edge already refused them, core/input_edge.py), in NFC, trimmed, and
  either cut to a length (search boxes) or refused when longer. `Search` reads digits as ASCII
  ("１２３", "١٢٣"), as every number, id and code field here does (core/text.py).
- `Month`, `Day`: "2026-11", "2026-11-25" within years 1900-2100 (so "9999-12" is refused, not a
  date arithmetic overflow), `Flag` ("1" or not), `Choice`.
"""
import re
from datetime import date

from flask import flash
from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing

from pointsapp.core.errors import InvalidInput
from pointsapp.core.lookup import MAX_ID
from pointsapp.core.text import ascii_form, lines, one_line, without_control

MIN_YEAR, MAX_YEAR = 1900, 2100  # the years a month or a day may name (as birth years in imports)
_DIGITS = re.compile(r"[0-9]+")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_DIGITS = 12  # more digits than any bounded number here: refused before int() reads them


def plain(value: str) -> str:
    """Text without control characters: NUL and the like gone, line breaks kept."""
    return without_control(value)


class _Input(fields.Field):
    """A form field's value: a string, or nothing when left empty (an empty string is "not given")."""

    code = "invalid_input"
    default_error_messages = {
        "required": _l("Please fill this in."),
        "null": _l("Please fill this in."),
        "invalid": _l("This value is not valid."),
        "validator_failed": _l("This value is not valid."),
    }

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str) and not ascii_form(value) and not isinstance(self, Text):
            value = missing
        return super().deserialize(value, attr, data, **kwargs)

    def params(self) -> dict:
        """The numbers its messages name (%(min)s, %(max)s)."""
        return {}

    def make_error(self, key: str, **kwargs) -> ValidationError:
        """The message with its numbers filled in (the API shows it as refused; the pages' _refusal as well)."""
        error = super().make_error(key, **kwargs)
        params = self.params()
        messages = error.messages if isinstance(error.messages, list) else [error.messages]
        if params and any("%(" in str(m) for m in messages):
            return ValidationError([str(m) % params if "%(" in str(m) else m for m in messages])
        return error

    def _text(self, value) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        return ascii_form(str(value))


class Whole(_Input):
    """A whole number from `min` to `max` (ASCII or full-width digits; no sign, no decimals)."""

    code = "invalid_number"
    default_error_messages = {"invalid": _l("Enter a whole number from %(min)s to %(max)s.")}

    def __init__(self, *, min: int = 0, max: int = MAX_ID, error: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.min, self.max = min, max
        if error is not None:
            self.error_messages = {**self.error_messages, "invalid": error}

    def params(self) -> dict:
        return {"min": self.min, "max": self.max}

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = self._text(value)
            if not _DIGITS.fullmatch(text) or len(text) > _MAX_DIGITS:
                raise self.make_error("invalid")
            number = int(text)
        if not self.min <= number <= self.max:
            raise self.make_error("invalid")
        return number

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class Id(Whole):
    """The id of a row (1 .. 2^31-1); `zero_is_none`: "0" is a choice of "(none)" in a select."""

    code = "invalid_id"
    default_error_messages = {"invalid": _l("No such entry: choose one from the list.")}

    def __init__(self, *, zero_is_none: bool = False, **kwargs):
        super().__init__(min=1, max=MAX_ID, **kwargs)
        self.zero_is_none = zero_is_none
        if zero_is_none:
            self.allow_none = True

    def _deserialize(self, value, attr, data, **kwargs) -> int | None:
        if self.zero_is_none and isinstance(value, str | int) and not isinstance(value, bool) \
                and ascii_form(str(value)) in ("0", "00"):
            return None
        return super()._deserialize(value, attr, data, **kwargs)


class Text(_Input):
    """A string without control characters, trimmed. `truncate`: cut to that many characters (a
    search box); `max_length`: refuse longer. `multiline` keeps line breaks (reasons, answers)."""

    default_error_messages = {"invalid": _l("This text is not valid."),
                              "too_long": _l("Please keep this to %(max)s characters.")}

    def __init__(self, *, truncate: int | None = None, max_length: int | None = None, multiline: bool = False,
                 ascii: bool = False, **kwargs):
        if not kwargs.get("required"):
            kwargs.setdefault("load_default", "")
        super().__init__(**kwargs)
        self.truncate, self.max_length, self.multiline, self.ascii = truncate, max_length, multiline, ascii

    def params(self) -> dict:
        return {"max": self.max_length}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if self.ascii:  # a code, a phone, a search: full-width and Arabic-Indic digits as ASCII
            text = one_line(ascii_form(value))
        else:
            text = lines(value) if self.multiline else one_line(value)
        if self.truncate is not None:
            text = text[: self.truncate]
        if self.max_length is not None and len(text) > self.max_length:
            raise self.make_error("too_long")
        return text

    def _serialize(self, value, attr, obj, **kwargs):
        return value


SEARCH_LENGTH = 40  # a name, a phone or a room: longer searches are cut, not refused


def Search(**kwargs) -> Text:  # noqa: N802 - a field, named as the others are
    """A search box: clean text cut to SEARCH_LENGTH characters, digits as ASCII (a phone or a room typed
    with full-width digits finds the same people)."""
    return Text(truncate=SEARCH_LENGTH, ascii=True, **kwargs)


class Flag(_Input):
    """A checkbox or a hidden "1": True when the value is "1", else False (also when missing)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("load_default", False)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        return isinstance(value, str) and ascii_form(value) == "1" or value is True


class Choice(_Input):
    """One of a few known words (a select, a tab, a button's value)."""

    code = "invalid_choice"
    default_error_messages = {"invalid": _l("Choose one of the options offered.")}

    def __init__(self, choices, *, error: str | None = None, code: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.choices = tuple(choices)
        if error is not None:
            self.error_messages = {**self.error_messages, "invalid": error}
        if code is not None:
            self.code = code

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = self._text(value)
        if text not in self.choices:
            raise self.make_error("invalid")
        return text


class Month(_Input):
    """ "2026-11" (also "2026-1", full-width digits) as "2026-11", years 1900-2100."""

    code = "invalid_month"
    default_error_messages = {"invalid": _l("Choose a month like 2026-11.")}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        found = _MONTH.fullmatch(self._text(value))
        if not found or not (MIN_YEAR <= int(found[1]) <= MAX_YEAR and 1 <= int(found[2]) <= 12):
            raise self.make_error("invalid")
        return f"{found[1]}-{int(found[2]):02d}"


class Day(_Input):
    """ "2026-11-25" as a date (a real one: not 2026-02-30), years 1900-2100."""

    code = "invalid_day"
    default_error_messages = {"invalid": _l("Choose a date like 2026-11-25.")}

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        text = self._text(value)
        try:
            day = date.fromisoformat(text) if _DAY.fullmatch(text) else None
        except ValueError:
            day = None
        if day is None or not MIN_YEAR <= day.year <= MAX_YEAR:
            raise self.make_error("invalid")
        return day


class IdList(fields.List):
    """Ticked boxes sharing a name (attendance ids for a batch approval): each an Id, at most `max`,
    each once."""

    code = "invalid_id"
    default_error_messages = {"invalid": _l("The request could not be understood. Please go back and try again."),
                              "too_many": _l("Choose at most %(max)s at a time.")}

    def __init__(self, *, max: int = 1000, **kwargs):
        kwargs.setdefault("load_default", list)
        super().__init__(Id(), **kwargs)
        self.max = max

    def params(self) -> dict:
        return {"max": self.max}

    def _deserialize(self, value, attr, data, **kwargs):
        values = [v for v in (value if isinstance(value, list | tuple) else [value])
                  if not isinstance(v, str) or ascii_form(v)]
        if len(values) > self.max:
            raise self.make_error("too_many")
        return list(dict.fromkeys(super()._deserialize(values, attr, data, **kwargs)))


def gather(data: dict, prefix: str) -> dict[str, str]:
    """Fields named "<prefix><id>" (qty_12, count_7) as {"12": value}, the empty ones left out."""
    return {key[len(prefix):]: value for key, value in data.items()
            if key.startswith(prefix) and isinstance(value, str) and value.strip()}


class InputSchema(Schema):
    """The base of input schemas (<Verb><Noun>Schema): unknown fields (the CSRF token, buttons) are
    ignored; a field's `metadata={"label": _l(...)}` names it in the message."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": _l("The request could not be understood. Please go back and try again."),
                      "unknown": _l("This value is not expected.")}


class OutputSchema(Schema):
    """The base of output schemas (<Noun>Schema) for the coming JSON API: each names the fields every
    audience may see in `views` (as CTFd's), and is always built for one of them, so a personal field
    reaches only the audiences that list it: `ResidentSchema("public").dump(resident)`."""

    views: dict[str, tuple[str, ...]] = {}

    def __init__(self, view: str, **kwargs):
        if view not in self.views:
            raise ValueError(f"{type(self).__name__} has no view {view!r}; it has {sorted(self.views)}")
        self.view = view
        super().__init__(only=self.views[view], **kwargs)


def _lists(schema: Schema) -> set[str]:
    return {field.data_key or name for name, field in schema.fields.items() if isinstance(field, fields.List)}


def _plain_dict(schema: Schema, data) -> dict:
    """A request's MultiDict as marshmallow reads it: one value per field, all of them for list fields."""
    if data is None:
        return {}
    if hasattr(data, "getlist"):
        lists = _lists(schema)
        return {key: data.getlist(key) if key in lists else data.get(key) for key in data}
    return dict(data)


def _first_error(schema: Schema, messages) -> tuple[fields.Field | None, object]:
    """The field (in declaration order) that was refused first, and its first message. Of a List or
    Dict field, the field whose rule was broken: the List itself (too many) or its items, the Dict's
    keys or values ({0: [msg]}, {"12": {"value": [msg]}})."""
    if not isinstance(messages, dict):
        return None, messages
    by_key = {field.data_key or name: field for name, field in schema.fields.items()}
    for key in list(by_key) + [k for k in messages if k not in by_key]:
        if key not in messages:
            continue
        field, found = by_key.get(key), messages[key]
        if isinstance(found, dict) and isinstance(field, fields.List):
            field, found = field.inner, next(iter(found.values()))
        elif isinstance(found, dict) and isinstance(field, fields.Dict):
            part, found = next(iter(next(iter(found.values())).items()))
            field = field.key_field if part == "key" else field.value_field
        while isinstance(found, dict | list):
            found = next(iter(found.values())) if isinstance(found, dict) else found[0]
        return field, found
    return None, _l("This value is not valid.")


def load_or_error(schema: Schema | type[Schema], data) -> dict:
    """`schema.load(data)` (a request.form/args MultiDict or a dict), or InvalidInput with a clear
    message: "<label>: <problem>" (the problem alone when the field has no label)."""
    schema = schema() if isinstance(schema, type) else schema
    try:
        return schema.load(_plain_dict(schema, data))
    except ValidationError as exc:
        raise _refusal(schema, exc) from exc


def read_query(schema: Schema | type[Schema], args) -> dict:
    """Query parameters for a page that opens anyway: a refused value is flashed and its field falls
    back to its default (?month=9999-12 shows every month, with the message)."""
    schema = schema() if isinstance(schema, type) else schema
    data, refusal = _plain_dict(schema, args), None
    for _attempt in range(len(schema.fields) + 1):
        try:
            loaded = schema.load(data)
        except ValidationError as exc:
            refusal = refusal or _refusal(schema, exc)
            data = {key: value for key, value in data.items() if key not in exc.messages}
            continue
        if refusal is not None:
            flash(str(refusal), "error")
        return loaded
    raise refusal  # a field without a default that was refused: the error page says why


def _refusal(schema: Schema, exc: ValidationError) -> InvalidInput:
    field, problem = _first_error(schema, exc.messages)
    params = field.params() if isinstance(field, _Input | IdList) else {}
    text = str(problem) % params if params else problem
    label = _label(schema, exc.messages)
    code = getattr(field, "code", None) or "invalid_input"
    if label:
        return InvalidInput(_l("%(label)s: %(problem)s"), code=code, label=label, problem=text)
    return InvalidInput(text, code=code)


def _label(schema: Schema, messages) -> str | None:
    """The label of the first field refused (its metadata "label"), if it has one."""
    for name, field in schema.fields.items():
        if (field.data_key or name) in messages:
            return field.metadata.get("label")
    return None


__all__ = ["Choice", "Day", "Flag", "Id", "IdList", "InputSchema", "Month", "OutputSchema", "Search", "Text", "Whole",
           "ascii_form", "gather", "load_or_error", "plain", "read_query"]
