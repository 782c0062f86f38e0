"""The privacy notice, and a resident's own data as a file (privacy.services gathers it)."""
import json

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_login import current_user

from pointsapp.core.localtime import format_local, to_local
from pointsapp.core.permissions import AUTHENTICATED, PUBLIC, policy
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.services.posting import balance_of
from pointsapp.privacy import services as privacy
from pointsapp.tree.schemas import ResidentSchema

bp = Blueprint("privacy", __name__)


@bp.route("/privacy")
@policy(PUBLIC)
def notice():
    return render_template("privacy/notice.html", version=privacy.NOTICE_VERSION)


@bp.route("/me/data")
@policy(AUTHENTICATED)
def my_data():
    """Her own data, as a JSON file: only the logged-in resident's own record (no id is taken)."""
    resident = current_user.resident
    if resident is None:
        return render_template("errors/error.html", status=404, title=_("Sorry"),
                               message=_("This account is not linked to a resident.")), 404
    data = {
        "exported_at": to_local(utcnow()).isoformat(),
        "notice_version": privacy.NOTICE_VERSION,
        "profile": ResidentSchema("own_data", balances={resident.id: balance_of(resident.id)}).dump(resident),
        "community": resident.community.name,
        **privacy.resident_data(actor(), resident),
    }
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    name = f"my-data-{format_local(utcnow(), '%Y%m%d')}.json"
    return current_app.response_class(body.encode("utf-8"), mimetype="application/json; charset=utf-8",
                                      headers={"Content-Disposition": f"attachment; filename={name}",
                                               "Cache-Control": "no-store"})
