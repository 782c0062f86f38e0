"""Pages: a user's API tokens (/me/tokens) and a community's (/admin/c/<id>/tokens).

A token's secret is shown once, on the page that answers its creation (never stored, never redirected
through a URL or a flash message); afterwards only its first characters name it."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from pointsapp.accounts.models import User
from pointsapp.core.errors import InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, Role, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.integrations.schemas.tokens import CreateDeviceTokenSchema, CreateTokenSchema
from pointsapp.integrations.services import tokens
from pointsapp.store.models import Store
from pointsapp.tree import services as tree
from pointsapp.tree.models import Community

bp = Blueprint("tokens", __name__)


def role_labels() -> dict[str, str]:
    return {Role.RESIDENT: _("Resident"), Role.TEAM_LEAD: _("Team lead"), Role.CLERK: _("Supermarket clerk"),
            Role.COMMUNITY_ADMIN: _("Community admin")}


def _names(model, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all()) if ids else {}


def _stores_of(community_ids) -> list:
    return list(db.session.scalars(select(Store).where(Store.community_id.in_(list(community_ids)))
                                   .order_by(Store.id))) if community_ids else []


def _create(schema, user_of):
    fields = load_or_error(schema, request.form)
    user = user_of(fields)
    return tokens.create(actor(), user=user, kind="device" if schema is CreateDeviceTokenSchema else "personal",
                         name=fields["name"], roles=fields["roles"], community_id=fields["community_id"],
                         store_id=fields["store_id"], days=fields["days"],
                         rate_per_minute=fields["rate_per_minute"], now=utcnow())


@bp.route("/me/tokens", methods=["GET", "POST"])
@policy(AUTHENTICATED)
def mine():
    """Her own tokens: make one (for a mini-program or a script of her own), see their last use, revoke."""
    user, secret = actor(), None
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        ok, made = attempt(lambda: _create(CreateTokenSchema, lambda f: user),
                           _("Token made. Copy it now: it is shown only once."))
        if ok:
            secret = made[1]
    communities = tokens.communities_of(user)
    rows = tokens.of_user(user)
    return render_template("integrations/tokens_mine.html", rows=rows, secret=secret, form=form,
                           communities=_names(Community, communities), stores=_stores_of(communities),
                           roles=role_labels(), held={s.role for s in tokens._unlimited_scopes(user)},
                           store_names=_names(Store, {r.store_id for r in rows}),
                           community_names=_names(Community, {r.community_id for r in rows}),
                           now=utcnow(), live=tokens.is_live, entered=request.form if secret is None else {})


@bp.route("/me/tokens/<int:token_id>/revoke", methods=["POST"])
@policy(AUTHENTICATED)
def revoke_mine(token_id: int):
    if EmptyForm().validate_on_submit():
        def work():
            token = tokens.get(None, token_id)
            if token.user_id != actor().id:
                raise NotFound(_("No such token."))
            return tokens.revoke(actor(), token, utcnow())
        attempt(work, _("Token revoked: it no longer works."))
    return redirect(url_for(".mine"))


@bp.route("/admin/c/<int:community_id>/tokens", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def office(community_id: int):
    """Every token of the community, and device tokens for a kiosk or the counter's tablet."""
    community = tree.get_community(community_id)
    form, secret = EmptyForm(), None
    if request.method == "POST" and form.validate_on_submit():
        def user_of(fields):
            if fields["community_id"] != community.id:
                raise InvalidInput(_("Choose one of the community's staff."), code="not_staff")
            return actor()
        ok, made = attempt(lambda: _create(CreateDeviceTokenSchema, user_of),
                           _("Token made. Copy it now: it is shown only once."))
        if ok:
            secret = made[1]
    rows = tokens.of_community(actor(), community.id)
    return render_template("integrations/tokens_office.html", community=community, rows=rows, secret=secret,
                           form=form, stores=_stores_of([community.id]),
                           roles=role_labels(), user_names=_names(User, {r.user_id for r in rows}),
                           store_names=_names(Store, {r.store_id for r in rows}),
                           community_names={community.id: community.name}, now=utcnow(), live=tokens.is_live,
                           entered=request.form if secret is None else {})


@bp.route("/admin/c/<int:community_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def revoke_office(community_id: int, token_id: int):
    if EmptyForm().validate_on_submit():
        attempt(lambda: tokens.revoke(actor(), tokens.get(community_id, token_id), utcnow()),
                _("Token revoked: it no longer works."))
    return redirect(url_for(".office", community_id=community_id))

