"""WTForms classes of imports (CSRF comes with FlaskForm)."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from pointsapp.core.forms import EmptyForm, Form, NameForm, options  # noqa: F401


class UploadForm(Form):
    file = FileField(_l("Sheet (.xlsx or .csv)"), validators=[FileRequired(_l("Please choose a file."))])
