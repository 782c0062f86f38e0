"""WTForms classes of core (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms 3.3+ select choices."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class NameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Please enter a name.")), Length(max=80)])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that post."""
