"""WTForms classes of the catalogue (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from pointsapp.catalogue.models import Confirmer, Evidence, ItemKind, LimitPeriod
from pointsapp.catalogue.services.items import (
    CATEGORY_MAX,
    DESCRIPTION_MAX,
    HOURLY_CAP_MAX,
    LIMIT_MAX,
    NOTE_MAX,
    POINTS_MAX,
    TITLE_MAX,
)
from pointsapp.core.forms import EmptyForm, Form, options  # noqa: F401

KINDS = options([(ItemKind.EARN, _l("Earns points (a good deed)")), (ItemKind.DEDUCT, _l("Takes points (a deduction)"))])
EVIDENCE = options([(Evidence.PHOTO, _l("A photo")), (Evidence.WITNESS, _l("A neighbour as witness")),
                    (Evidence.NONE, _l("Nothing"))])
CONFIRMERS = options([(Confirmer.BUILDING_LEADER, _l("The building leader")), (Confirmer.GRID_WORKER, _l("The grid worker")),
                      (Confirmer.OFFICE, _l("The community office")), (Confirmer.TEAM_LEAD, _l("A lead of the team below"))])
PERIODS = options([("", _l("No limit")), (LimitPeriod.DAY, _l("a day")), (LimitPeriod.WEEK, _l("a week")),
                   (LimitPeriod.MONTH, _l("a month")), (LimitPeriod.YEAR, _l("a year"))])


class ItemForm(Form):
    kind = SelectField(_l("Kind"), choices=KINDS, default=ItemKind.EARN)
    category = StringField(_l("Category"), validators=[DataRequired(_l("Please enter a category.")),
                                                       Length(max=CATEGORY_MAX)])
    title = StringField(_l("Item name"), validators=[DataRequired(_l("Please enter a title.")), Length(max=TITLE_MAX)])
    description = TextAreaField(_l("In plain words, for residents"), validators=[Length(max=DESCRIPTION_MAX)])
    points = IntegerField(_l("Points"), validators=[
        DataRequired(_l("Please enter the number of points.")),
        NumberRange(1, POINTS_MAX, _l("Between 1 and %(max)d points.", max=POINTS_MAX))])
    per_hour = BooleanField(_l("Points per hour (for watches and duties)"))
    hourly_cap = IntegerField(_l("At most this many points each time (per-hour items; empty: no cap)"),
                              validators=[Optional(), NumberRange(1, HOURLY_CAP_MAX)])
    evidence = SelectField(_l("Proof needed"), choices=EVIDENCE, default=Evidence.PHOTO)
    confirmer = SelectField(_l("Who confirms a claim"), choices=CONFIRMERS, default=Confirmer.BUILDING_LEADER)
    team_id = SelectField(_l("Team (when a team lead confirms)"), coerce=int, default=0)
    claimable = BooleanField(_l("Residents may claim it (else: only through activities)"), default=True)
    limit_count = IntegerField(_l("At most this many times per resident"),
                               validators=[Optional(), NumberRange(1, LIMIT_MAX)])
    limit_period = SelectField(_l("Per"), choices=PERIODS, default="")
    active_from = DateField(_l("First day (empty: from now on)"), validators=[Optional()])
    active_until = DateField(_l("Last day (empty: no end)"), validators=[Optional()])
    is_veto = BooleanField(_l("Veto: rules out a star household rating for the period"))
    counts_against_earning = BooleanField(_l("Also taken off the points counted for rankings"), default=True)
    note = StringField(_l("What changed (kept with the new version)"), validators=[Length(max=NOTE_MAX)])


class RetireForm(Form):
    note = StringField(_l("Why it is retired"), validators=[Length(max=NOTE_MAX)])
