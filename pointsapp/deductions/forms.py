"""WTForms classes of deductions (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import DateTimeLocalField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from pointsapp.core.forms import EmptyForm, Form, options  # noqa: F401
from pointsapp.deductions.services import REASON_MAX


class DeductionForm(Form):
    request_id = HiddenField()  # a retried form records once (Deduction.request_key)
    item = SelectField(_l("Deduction item"), choices=[], validate_choice=False,
                       validators=[DataRequired(_l("Choose a deduction item."))])
    whom = RadioField(_l("Against"), choices=options([("resident", _l("One resident")),
                                                            ("household", _l("A whole household"))]),
                      default="resident", validate_choice=False)
    resident_id = HiddenField()
    building = SelectField(_l("Building"), choices=[], validate_choice=False)
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=10, message=_l("At most %(max)d characters."))])
    room = StringField(_l("Room"), validators=[Optional(), Length(max=10, message=_l("At most %(max)d characters."))])
    occurred_at = DateTimeLocalField(_l("When it happened"), format="%Y-%m-%dT%H:%M",
                                     validators=[DataRequired(_l("Please enter a date and time."))])
    reason = TextAreaField(_l("What happened"), validators=[
        DataRequired(_l("Please give a reason.")),
        Length(max=REASON_MAX, message=_l("Please write at most %(max)d characters."))])
    photo = FileField(_l("Photo (optional)"))


class WithdrawForm(Form):
    reason = StringField(_l("Reason for withdrawing"), validators=[
        DataRequired(_l("Please give a reason.")),
        Length(max=REASON_MAX, message=_l("Please write at most %(max)d characters."))])
