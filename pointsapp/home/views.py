"""The first page after login: what this person can do, by role."""
from flask import Blueprint, render_template
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
