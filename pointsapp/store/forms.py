"""WTForms classes of store (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from pointsapp.core.forms import EmptyForm, Form, NameForm, options  # noqa: F401


class ProductForm(Form):
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


class StockForm(Form):
    # InputRequired, not DataRequired: 0 is a quantity (a correction to an empty shelf), not a missing one
    quantity = IntegerField(_l("Quantity"), validators=[InputRequired(_l("Please enter a quantity.")),
                                                         NumberRange(0, 100000)])
    reason = StringField(_l("Reason"), validators=[Length(max=200)])
