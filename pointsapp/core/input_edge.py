"""Unreadable input is refused once, before any view, form, schema or database sees it (issue 11,
finding 5): a control character (core/text.py) or bytes that are not UTF-8 in the path, a query or
form key or value, an uploaded file's name or a JSON string answers 400 with the error page and
「输入中含有不能识别的字符，请删除后重试。」. Before, NUL reached PostgreSQL (a 500) or was stored (SQLite).

Werkzeug decodes undecodable percent-escapes ("%FF", a surrogate's "%ED%A0%80") into the literal text
"%FF", which would pass for typed text, so the raw query string and url-encoded body are decoded here
strictly. Tabs and line breaks pass: multi-line fields need them, and single-line fields turn them into
spaces (core/forms.py, core/schemas.py)."""
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import InvalidInput
from pointsapp.core.text import has_control


class UnreadableInput(InvalidInput):
    code = "unreadable_input"
    http_status = 400

    def __init__(self):
        super().__init__(_l("The input contains characters that cannot be recognised. Please delete them and try "
                            "again."))


def _strict_utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _strings_in(value):
    """Every string in a JSON document (keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _texts():
    yield request.path
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            yield key
            yield value
    for key, upload in request.files.items(multi=True):
        yield key
        yield upload.filename or ""
    if request.is_json:
        yield from _strings_in(request.get_json(silent=True))


def refuse_unreadable_input() -> None:
    """before_request: raise UnreadableInput for input no person meant to type."""
    if not _strict_utf8(request.query_string):
        raise UnreadableInput()
    if request.mimetype == "application/x-www-form-urlencoded" and not _strict_utf8(
            request.get_data(cache=True, parse_form_data=False)):  # cached: request.form parses the same bytes
        raise UnreadableInput()
    try:
        if any(isinstance(text, str) and has_control(text) for text in _texts()):
            raise UnreadableInput()
    except RecursionError:  # JSON nested thousands deep: nobody typed that
        raise UnreadableInput() from None


def init_app(app: Flask) -> None:
    app.before_request(refuse_unreadable_input)


__all__ = ["UnreadableInput", "init_app", "refuse_unreadable_input"]
