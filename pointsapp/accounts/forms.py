"""WTForms classes of accounts (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    PasswordField,
    StringField,
)
from wtforms.validators import DataRequired, Length

from pointsapp.core.forms import EmptyForm, NameForm, options  # noqa: F401


class LoginForm(FlaskForm):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(_l("Please enter your mobile number.")),
                                                          Length(max=20)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Please enter your password.")),
                                                         Length(max=200)])
    next = HiddenField()


class ActivateForm(FlaskForm):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(_l("Please enter your mobile number.")),
                                                          Length(max=20)])
    code = StringField(_l("Activation code"), validators=[DataRequired(_l("Please enter the activation code.")),
                                                           Length(max=20)])
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Please choose a password.")),
                                                             Length(max=200)])


class ChangePasswordForm(FlaskForm):
    old = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])




