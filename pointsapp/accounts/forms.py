"""WTForms classes of accounts (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    StringField,
)
from wtforms.validators import DataRequired, Length

from pointsapp.core.forms import EmptyForm, Form, NameForm, options  # noqa: F401


class LoginForm(Form):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(_l("Please enter your mobile number.")),
                                                          Length(max=20)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Please enter your password.")),
                                                         Length(max=200)])
    # ticked by default: a resident's phone is hers (the label, with the number of days, is in the template)
    remember = BooleanField(default=True)
    next = HiddenField()


class ActivateForm(Form):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(_l("Please enter your mobile number.")),
                                                          Length(max=20)])
    code = StringField(_l("Activation code"), validators=[DataRequired(_l("Please enter the activation code.")),
                                                           Length(max=20)])
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Please choose a password.")),
                                                             Length(max=200)])
    # as on the login form: ticked, but in sight (an activation at the office's computer is untick-able)
    remember = BooleanField(default=True)
    # the privacy notice (个人信息保护法): the account is opened only with the person's consent
    consent = BooleanField(_l("I have read the notice and agree"), validators=[DataRequired(
        _l("Please tick the box to agree to the privacy notice. Without it the account cannot be opened."))])


class ChangePasswordForm(Form):
    old = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])




