"""WTForms classes of core (CSRF comes with FlaskForm) and `Form`, the base of every form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    PasswordField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from pointsapp.core.text import ascii_form, lines, one_line

# Fields holding a phone, a code, an id, a card PIN or a search: read in ASCII (full-width "１２３" and
# Arabic-Indic "١٢٣" digits as 0-9), whatever their field class (a PIN is a PasswordField).
ASCII_FIELDS = frozenset({"phone", "worker_phone", "code", "pin", "id_tail", "barcode", "request_id", "resident_id",
                          "q"})


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms 3.3+ select choices."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


def _filter_for(name: str, field_class: type):
    if name in ASCII_FIELDS:
        return _text_filter(ascii_form)
    if issubclass(field_class, PasswordField):
        return None  # a password is what was typed, spaces and all
    if issubclass(field_class, TextAreaField):
        return _text_filter(lines)
    if issubclass(field_class, StringField):  # also hidden and search fields
        return _text_filter(one_line)
    return None


def _text_filter(clean):
    def text_filter(value):
        return clean(value) if isinstance(value, str) else value
    return text_filter


class Form(FlaskForm):
    """The base of every form: text fields are trimmed and normalised (core/text.py) before validators
    see them: names in NFC with line breaks as spaces, multi-line text in NFC, codes and phones in ASCII.
    Control characters never get this far (core/input_edge.py refuses the request)."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            chosen = _filter_for(options.get("name") or "", unbound_field.field_class)
            if chosen is None:
                return unbound_field.bind(form=form, **options)
            filters = [chosen, *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, filters=filters, **options)


class NameForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Please enter a name.")), Length(max=80)])


class EmptyForm(Form):
    """A form with only the CSRF token, for buttons that post."""
