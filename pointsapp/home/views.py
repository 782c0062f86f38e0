"""The first page after login: what this person can do, by role."""
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from sqlalchemy import select

from pointsapp.core.extensions import db
from pointsapp.core.permissions import PUBLIC, admin_community_ids, policy, scopes_of
from pointsapp.ledger.services import posting as ledger
from pointsapp.tree.models import Community

bp = Blueprint("home", __name__)


@bp.route("/")
@policy(PUBLIC)
def index():
    if not current_user.is_authenticated:
        return render_template("home/welcome.html")
    admin_ids = admin_community_ids(current_user)
    stmt = select(Community).order_by(Community.id)
    if admin_ids is not None:
        stmt = stmt.where(Community.id.in_(admin_ids or [-1]))
    communities = db.session.scalars(stmt).all()
    grants = [g for g in current_user.grants]
    balance = ledger.balance_of(current_user.resident_id) if current_user.resident_id else 0
    return render_template("home/index.html", resident=current_user.resident, balance=balance, communities=communities,
                           grants=grants, scopes=scopes_of(current_user))


ICON_MAX_AGE = 30 * 24 * 3600  # the icon seldom changes; browsers ask for it on every page otherwise
ICONS = {"favicon.ico": ("favicon.ico", "image/vnd.microsoft.icon"),
         "apple-touch-icon.png": ("favicon.png", "image/png")}


@lru_cache(maxsize=len(ICONS))
def _icon_bytes(folder: str, filename: str) -> bytes:
    """A few KB, read once: no open file per request."""
    return (Path(folder) / filename).read_bytes()


@bp.route("/favicon.ico")
@bp.route("/apple-touch-icon.png")
@policy(PUBLIC)
def icon():
    """The icon browsers ask for at the site's root (a tab, a bookmark, a phone's home screen)."""
    filename, mimetype = ICONS[request.path.lstrip("/")]
    response = current_app.response_class(_icon_bytes(current_app.static_folder, filename), mimetype=mimetype)
    response.cache_control.public = True
    response.cache_control.max_age = ICON_MAX_AGE
    return response
