"""WTForms classes of ledger (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange

from pointsapp.core.forms import EmptyForm, Form, NameForm, options  # noqa: F401


class PointsForm(Form):
    direction = SelectField(_l("Award or deduct"), choices=options([("award", _l("Award points")),
                                                                    ("deduct", _l("Deduct points"))]))
    amount = IntegerField(_l("Points"), validators=[DataRequired(_l("Please enter the number of points.")),
                                                     NumberRange(1, 10000, _l("Between 1 and 10000 points."))])
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Please give a reason.")), Length(max=200)])
    request_id = HiddenField()


class ReverseForm(Form):
    reason = StringField(_l("Reason for the correction"), validators=[DataRequired(_l("Please give a reason.")),
                                                                      Length(max=200)])


class ExportForm(Form):
    class Meta:
        csrf = False  # a GET form that only reads

    start = DateField(_l("From"), validators=[DataRequired(_l("Please enter a date."))])
    end = DateField(_l("To"), validators=[DataRequired(_l("Please enter a date."))])
    format = SelectField(_l("Format"), choices=options([("xlsx", "Excel (.xlsx)"), ("csv", "CSV")]))
