"""WTForms classes of tree (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from pointsapp.core.forms import EmptyForm, Form, NameForm, options  # noqa: F401


class SubdistrictForm(NameForm):
    city = StringField(_l("City"), validators=[Length(max=80)])


class CommunityForm(NameForm):
    subdistrict_id = SelectField(_l("Subdistrict"), coerce=int)
    address = StringField(_l("Address"), validators=[Length(max=200)])


class GridForm(NameForm):
    worker_name = StringField(_l("Grid worker"), validators=[Length(max=40)])
    worker_phone = StringField(_l("Grid worker's phone"), validators=[Length(max=20)])


class BuildingForm(NameForm):
    grid_id = SelectField(_l("Grid"), coerce=int)


class LeaderForm(Form):
    leader_id = SelectField(_l("Building leader"), coerce=int)


class HouseholdForm(Form):
    unit = StringField(_l("Unit"), validators=[DataRequired(_l("Please enter the unit.")), Length(max=10)])
    room = StringField(_l("Room"), validators=[DataRequired(_l("Please enter the room number.")), Length(max=10)])


class ResidentForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Please enter a name.")), Length(max=40)])
    relation = StringField(_l("Relation to head of household"), validators=[Length(max=20)])
    phone = StringField(_l("Mobile number"), validators=[Length(max=20)])
    id_tail = StringField(_l("Last 4 of ID card"), validators=[Length(max=4)])
    birth_year = IntegerField(_l("Birth year"), validators=[Optional(), NumberRange(1900, 2100)])
    moved_in_on = DateField(_l("Moved in on"), validators=[Optional()])


class MoveOutForm(Form):
    moved_out_on = DateField(_l("Moved out on"), validators=[DataRequired(_l("Please enter a date."))])


class PinForm(Form):
    pin = PasswordField(_l("Card PIN (4-6 digits)"), validators=[DataRequired(_l("Please enter a PIN.")),
                                                                 Length(min=4, max=6)])


class PasswordSetForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Please choose a password.")),
                                                             Length(max=200)])


class GrantForm(Form):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(_l("Please enter a mobile number.")),
                                                          Length(max=20)])
    name = StringField(_l("Name (for a new account)"), validators=[Length(max=40)])
    role = SelectField(_l("Role"))
    scope = SelectField(_l("Team or store"), validators=[Optional()])
