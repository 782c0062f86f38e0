"""WTForms classes of volunteering (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from pointsapp.core.forms import EmptyForm, Form, NameForm, options  # noqa: F401


class ActivityForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Please enter a title.")), Length(max=100)])
    kind = SelectField(_l("Kind of activity"))
    place = StringField(_l("Place"), validators=[Length(max=100)])
    starts_at = DateTimeLocalField(_l("Starts"), format="%Y-%m-%dT%H:%M",
                                   validators=[DataRequired(_l("Please enter a date and time."))])
    ends_at = DateTimeLocalField(_l("Ends"), format="%Y-%m-%dT%H:%M",
                                 validators=[DataRequired(_l("Please enter a date and time."))])
    # 按积分细则: a catalogue item's rule replaces rule, points and cap below (choices set by the view)
    catalogue_item_id = SelectField(_l("Use a catalogue item"), coerce=int, default=0)
    rule = SelectField(_l("Points rule"), choices=options([("fixed", _l("Fixed points per attendance")),
                                                           ("hourly", _l("Points per hour of service"))]))
    points = IntegerField(_l("Points"), validators=[DataRequired(_l("Please enter the number of points.")),
                                                     NumberRange(1, 1000, _l("Between 1 and 1000 points."))])
    hourly_cap = IntegerField(_l("At most (hourly rule)"), validators=[Optional(), NumberRange(1, 24000)])
    award_on = SelectField(_l("Award points"), choices=options([
        ("check_in", _l("on check-in")), ("check_out", _l("on check-out")), ("approval", _l("after the lead approves"))]))
    capacity = IntegerField(_l("Capacity (empty: no limit)"), validators=[Optional(), NumberRange(1, 100000)])
    signup_closes_minutes = SelectField(_l("Sign-up closes"), coerce=int, default=120, choices=options([
        (0, _l("when the activity starts")), (30, _l("30 minutes before the start")),
        (60, _l("1 hour before the start")), (120, _l("2 hours before the start")),
        (240, _l("4 hours before the start")), (720, _l("12 hours before the start")),
        (1440, _l("1 day before the start")), (2880, _l("2 days before the start"))]))
    allow_poster = BooleanField(_l("Allow a printed poster code (for all-day posts)"))
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])


class ManualAttendanceForm(Form):
    resident_id = HiddenField(validators=[DataRequired(_l("Choose a resident first."))])
    checked_in_at = DateTimeLocalField(_l("Checked in at"), format="%Y-%m-%dT%H:%M",
                                       validators=[DataRequired(_l("Please enter a date and time."))])
    checked_out_at = DateTimeLocalField(_l("Checked out at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    reason = StringField(_l("Reason for recording by hand"), validators=[DataRequired(_l("Please give a reason.")),
                                                                         Length(max=300)])


class TeamForm(NameForm):
    category = SelectField(_l("Category"))


class PointsRulesForm(Form):
    """The community's award ceiling and earning caps (the office's award review page)."""
    award_ceiling = IntegerField(_l("Points one attendance may bring without the office's approval"),
                                 validators=[DataRequired(_l("Please enter the number of points.")),
                                             NumberRange(1, 100000)])
    earn_cap_day = IntegerField(_l("Most points one resident may earn per day (empty: no cap)"),
                                validators=[Optional(), NumberRange(1, 100000)])
    earn_cap_month = IntegerField(_l("Most points one resident may earn per month (empty: no cap)"),
                                  validators=[Optional(), NumberRange(1, 100000)])
