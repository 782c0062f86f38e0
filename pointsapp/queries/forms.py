"""WTForms classes of queries (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from pointsapp.core.forms import EmptyForm, Form, options  # noqa: F401
from pointsapp.queries.services import REPLY_MAX, TEXT_MAX


class RaiseQueryForm(Form):
    entry = HiddenField()  # the entry queried from the points history; empty for a missed activity
    deduction = HiddenField()  # the deduction objected to (负向扣分), from her home page's notice
    activity = SelectField(_l("Which activity?"), choices=[], validate_choice=False)
    text = TextAreaField(_l("What is wrong?"), validators=[
        DataRequired(_l("Please say what is wrong.")),
        Length(max=TEXT_MAX, message=_l("Please write at most %(max)d characters."))])


class AnswerForm(Form):
    action = RadioField(_l("What to do"), choices=[], default="reply", validate_choice=False)
    points = IntegerField(_l("Points to award"), validators=[
        Optional(), NumberRange(1, 100_000, _l("Between 1 and 100000 points."))])
    reply = TextAreaField(_l("Reply to the resident"), validators=[
        DataRequired(_l("Please write a reply.")),
        Length(max=REPLY_MAX, message=_l("Please write at most %(max)d characters."))])


class ContactForm(Form):
    phone = StringField(_l("Office phone"), validators=[Length(max=30)])
    hours = StringField(_l("Opening hours"), validators=[Length(max=100)],
                        description=_l("For example: Mon-Fri 8:30-12:00, 14:00-17:30"))
