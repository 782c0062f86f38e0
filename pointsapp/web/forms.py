"""WTForms classes for the HTML pages (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms 3.3+ select choices."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


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


class NameForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Please enter a name.")), Length(max=80)])


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


class LeaderForm(FlaskForm):
    leader_id = SelectField(_l("Building leader"), coerce=int)


class HouseholdForm(FlaskForm):
    unit = StringField(_l("Unit"), validators=[DataRequired(_l("Please enter the unit.")), Length(max=10)])
    room = StringField(_l("Room"), validators=[DataRequired(_l("Please enter the room number.")), Length(max=10)])


class ResidentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Please enter a name.")), Length(max=40)])
    relation = StringField(_l("Relation to head of household"), validators=[Length(max=20)])
    phone = StringField(_l("Mobile number"), validators=[Length(max=20)])
    id_tail = StringField(_l("Last 4 of ID card"), validators=[Length(max=4)])
    birth_year = IntegerField(_l("Birth year"), validators=[Optional(), NumberRange(1900, 2100)])
    moved_in_on = DateField(_l("Moved in on"), validators=[Optional()])


class MoveOutForm(FlaskForm):
    moved_out_on = DateField(_l("Moved out on"), validators=[DataRequired(_l("Please enter a date."))])


class PasswordSetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(_l("Please choose a password.")),
                                                             Length(max=200)])


class GrantForm(FlaskForm):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(_l("Please enter a mobile number.")),
                                                          Length(max=20)])
    name = StringField(_l("Name (for a new account)"), validators=[Length(max=40)])
    role = SelectField(_l("Role"))
    scope = SelectField(_l("Team or store"), validators=[Optional()])


class UploadForm(FlaskForm):
    file = FileField(_l("Sheet (.xlsx or .csv)"), validators=[FileRequired(_l("Please choose a file."))])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that post."""


class PointsForm(FlaskForm):
    direction = SelectField(_l("Award or deduct"), choices=options([("award", _l("Award points")),
                                                                    ("deduct", _l("Deduct points"))]))
    amount = IntegerField(_l("Points"), validators=[DataRequired(_l("Please enter the number of points.")),
                                                     NumberRange(1, 10000, _l("Between 1 and 10000 points."))])
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Please give a reason.")), Length(max=200)])
    request_id = HiddenField()  # idempotency key: a double click or a retry posts once


class ReverseForm(FlaskForm):
    reason = StringField(_l("Reason for the correction"), validators=[DataRequired(_l("Please give a reason.")),
                                                                      Length(max=200)])


class ExportForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that only reads

    start = DateField(_l("From"), validators=[DataRequired(_l("Please enter a date."))])
    end = DateField(_l("To"), validators=[DataRequired(_l("Please enter a date."))])
    format = SelectField(_l("Format"), choices=options([("xlsx", "Excel (.xlsx)"), ("csv", "CSV")]))


class ActivityForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Please enter a title.")), Length(max=100)])
    kind = SelectField(_l("Kind of activity"))
    place = StringField(_l("Place"), validators=[Length(max=100)])
    starts_at = DateTimeLocalField(_l("Starts"), format="%Y-%m-%dT%H:%M",
                                   validators=[DataRequired(_l("Please enter a date and time."))])
    ends_at = DateTimeLocalField(_l("Ends"), format="%Y-%m-%dT%H:%M",
                                 validators=[DataRequired(_l("Please enter a date and time."))])
    rule = SelectField(_l("Points rule"), choices=options([("fixed", _l("Fixed points per attendance")),
                                                           ("hourly", _l("Points per hour of service"))]))
    points = IntegerField(_l("Points"), validators=[DataRequired(_l("Please enter the number of points.")),
                                                     NumberRange(1, 1000, _l("Between 1 and 1000 points."))])
    hourly_cap = IntegerField(_l("At most (hourly rule)"), validators=[Optional(), NumberRange(1, 24000)])
    award_on = SelectField(_l("Award points"), choices=options([
        ("check_in", _l("on check-in")), ("check_out", _l("on check-out")), ("approval", _l("after the lead approves"))]))
    capacity = IntegerField(_l("Capacity (empty: no limit)"), validators=[Optional(), NumberRange(1, 100000)])
    allow_poster = BooleanField(_l("Allow a printed poster code (for all-day posts)"))
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])


class ManualAttendanceForm(FlaskForm):
    resident_id = HiddenField(validators=[DataRequired(_l("Choose a resident first."))])
    checked_in_at = DateTimeLocalField(_l("Checked in at"), format="%Y-%m-%dT%H:%M",
                                       validators=[DataRequired(_l("Please enter a date and time."))])
    checked_out_at = DateTimeLocalField(_l("Checked out at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    reason = StringField(_l("Reason for recording by hand"), validators=[DataRequired(_l("Please give a reason.")),
                                                                         Length(max=300)])


class TeamForm(NameForm):
    category = SelectField(_l("Category"))


class ProductForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Please enter a name.")), Length(max=80)])
    kind = SelectField(_l("Goods or service"), choices=options([("goods", _l("Goods (counted stock)")),
                                                                ("service", _l("Service"))]))
    category = StringField(_l("Category"), validators=[Length(max=40)])
    price = IntegerField(_l("Price in points"), validators=[DataRequired(_l("Please enter the price.")),
                                                             NumberRange(1, 100000)])
    stock = IntegerField(_l("Stock (empty for an unlimited service)"), validators=[Optional(), NumberRange(0, 100000)])
    low_stock = IntegerField(_l("Warn when stock is at or below"), validators=[Optional(), NumberRange(0, 100000)])
    limit_per_week = IntegerField(_l("Limit per resident per week"), validators=[Optional(), NumberRange(1, 999)])
    limit_per_month = IntegerField(_l("Limit per resident per month"), validators=[Optional(), NumberRange(1, 999)])
    household_limit_per_month = IntegerField(_l("Limit per household per month"),
                                             validators=[Optional(), NumberRange(1, 999)])
    barcode = StringField(_l("Barcode"), validators=[Length(max=40)])
    is_active = BooleanField(_l("On sale"), default=True)


class StockForm(FlaskForm):
    quantity = IntegerField(_l("Quantity"), validators=[DataRequired(_l("Please enter a quantity.")),
                                                         NumberRange(0, 100000)])
    reason = StringField(_l("Reason"), validators=[Length(max=200)])


class PinForm(FlaskForm):
    pin = PasswordField(_l("Card PIN (4-6 digits)"), validators=[DataRequired(_l("Please enter a PIN.")),
                                                                 Length(min=4, max=6)])
