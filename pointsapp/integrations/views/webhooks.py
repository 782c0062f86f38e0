"""Pages: a community's webhooks (/admin/c/<id>/webhooks), their delivery log, redelivery."""
from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsapp.core.forms import EmptyForm
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.integrations.schemas.webhooks import (
    EVENT_LABELS,
    EndpointActionSchema,
    SaveEndpointSchema,
)
from pointsapp.integrations.services import webhooks
from pointsapp.tree import services as tree

bp = Blueprint("webhooks", __name__)


def _state_labels() -> dict:
    return {"pending": _("Waiting"), "delivered": _("Delivered"), "failed": _("Failed")}


def _shown_once(html: str):
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"  # the secret is on this page
    return response


@bp.route("/admin/c/<int:community_id>/webhooks", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def index(community_id: int):
    """The community's endpoints, and the form to add one."""
    community = tree.get_community(community_id)
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        def add():
            fields = load_or_error(SaveEndpointSchema, request.form)
            return webhooks.register(actor(), community.id, url=fields["url"], events=fields["events"],
                                     description=fields["description"], now=utcnow())
        ok, made = attempt(add, _("Endpoint added. Copy its secret now: it is shown only once."))
        if ok:
            endpoint, secret = made
            return _detail(community, endpoint, secret=secret)
    return render_template("integrations/webhooks.html", community=community,
                           endpoints=webhooks.endpoints(actor(), community.id), events=EVENT_LABELS,
                           form=form, entered=request.form if request.method == "POST" else {})


def _detail(community, endpoint, *, secret: str | None = None):
    log = webhooks.deliveries(actor(), endpoint)
    html = render_template("integrations/webhook.html", community=community, endpoint=endpoint, log=log,
                           events=EVENT_LABELS, states=_state_labels(), secret=secret, form=EmptyForm())
    return _shown_once(html)


@bp.route("/admin/c/<int:community_id>/webhooks/<int:endpoint_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def endpoint(community_id: int, endpoint_id: int):
    """One endpoint: its settings, its delivery log (latest 50) and the buttons."""
    community = tree.get_community(community_id)
    found = webhooks.get_endpoint(actor(), community.id, endpoint_id)
    here = url_for(".endpoint", community_id=community.id, endpoint_id=found.id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        ok, fields = attempt(lambda: load_or_error(EndpointActionSchema, request.form))
        if not ok:
            return redirect(here)
        what, user, now = fields["what"], actor(), utcnow()
        if what == "save":
            def save():
                saved = load_or_error(SaveEndpointSchema, request.form)
                return webhooks.update_endpoint(user, found, url=saved["url"], events=saved["events"],
                                                description=saved["description"], now=now)
            attempt(save, _("Saved."))
        elif what in ("disable", "enable"):
            attempt(lambda: webhooks.update_endpoint(user, found, active=what == "enable", now=now),
                    _("The endpoint is on: events are sent to it again.") if what == "enable"
                    else _("The endpoint is off: no events are sent to it."))
        elif what == "renew":
            ok, secret = attempt(lambda: webhooks.renew_secret(user, found, now),
                                 _("New secret made. Copy it now: it is shown only once."))
            if ok:
                return _detail(community, found, secret=secret)
        elif what == "redeliver":
            attempt(lambda: webhooks.redeliver(user, webhooks.get_delivery(user, found, fields["delivery_id"]), now),
                    _("The delivery will be sent again in a moment."))
        return redirect(here)
    return _detail(community, found)
