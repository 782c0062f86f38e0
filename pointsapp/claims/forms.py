"""WTForms classes of claims (CSRF comes with FlaskForm). The photos are read from request.files by the view
(a multiple file input); everything else is here."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from pointsapp.claims.services import DESCRIPTION_MAX, REASON_MAX
from pointsapp.core.forms import EmptyForm, Form, options  # noqa: F401
from pointsapp.core.validation import clean_phone, is_phone

MAX_MINUTES = 24 * 60
TOO_LONG = _l("Please write at most %(max)d characters.")


class ClaimForm(Form):
    request_id = HiddenField()  # a twice-tapped or retried form files one claim (Claim.request_key)
    resident = SelectField(_l("For whom?"), choices=[], validate_choice=False)  # leaders and grid workers only
    item = RadioField(_l("What did you do?"), choices=[], validate_choice=False,
                      validators=[DataRequired(_l("Please choose what you did."))])
    # a day and a time, not one datetime-local box: on a narrow phone that box hides its time
    day = DateField(_l("Which day?"), validators=[DataRequired(_l("Please enter the day."))])
    time = TimeField(_l("What time?"), validators=[DataRequired(_l("Please enter the time."))])
    minutes = IntegerField(_l("How many minutes?"), validators=[
        Optional(), NumberRange(1, MAX_MINUTES, _l("Between 1 and %(max)d minutes."))])
    place = StringField(_l("Where?"), validators=[Length(max=100, message=TOO_LONG)])
    description = TextAreaField(_l("What happened?"), validators=[Length(max=DESCRIPTION_MAX, message=TOO_LONG)])
    witness_phone = StringField(_l("Witness's mobile number (optional)"), validators=[Length(max=30)])

    def validate_witness_phone(self, field):
        field.data = clean_phone(field.data)
        if field.data and not is_phone(field.data):
            raise ValidationError(_l("Please enter an 11-digit mobile number, for example 13800000000."))


class ReasonForm(Form):
    """Reject with a reason, ask for more with a question, or a witness's "not true" with a note."""
    reason = TextAreaField(_l("Reason"), validators=[
        DataRequired(_l("Please write the reason.")), Length(max=REASON_MAX, message=TOO_LONG)])


class AnswerForm(Form):
    """The claimant adds what the reviewer asked for (text, photos, or both)."""
    text = TextAreaField(_l("Your answer"), validators=[Length(max=DESCRIPTION_MAX, message=TOO_LONG)])


class DecisionForm(Form):
    decision = RadioField(_l("Decision"), choices=options([
        ("approve", _l("Approve")), ("reject", _l("Reject")), ("ask", _l("Ask for more"))]),
        validate_choice=False)
    reason = TextAreaField(_l("Reason or question for the claimant"), validators=[
        Length(max=REASON_MAX, message=TOO_LONG)])
