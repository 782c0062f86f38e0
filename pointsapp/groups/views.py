"""Pages of the groups feature: the office's groups, members and rankings; the public group rankings."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from pointsapp.core.forms import EmptyForm
from pointsapp.core.permissions import COMMUNITY_ADMIN, PUBLIC, policy
from pointsapp.core.schemas import load_or_error, read_query
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.groups import services as groups
from pointsapp.groups.schemas import (
    GroupActionSchema,
    SaveGroupSchema,
    ShowOfficeGroupsSchema,
    ShowPublicGroupsSchema,
)
from pointsapp.rankings import services as rankings
from pointsapp.tree import services as tree
from pointsapp.tree.models import Resident
from pointsapp.tree.services import search

bp = Blueprint("groups", __name__)

KIND_LABELS = {"party_branch": _l("Party branch"), "association": _l("Volunteer association"),
               "school": _l("School"), "other": _l("Other group")}


def _periods():
    return {"month": _("This month"), "quarter": _("This quarter"), "year": _("This year"), "all": _("All time")}


def _by_labels():
    return {"total": _("Total points"), "average": _("Average per member")}


@bp.app_template_filter("group_kind")
def group_kind(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


# ---- the public page ---------------------------------------------------------------------------------

@bp.route("/communities/<int:community_id>/groups")
@policy(PUBLIC)
def public(community_id: int):
    """Published groups ranked (this month or this year), and one group's members as the public sees them."""
    community = tree.get_community(community_id)
    wanted = read_query(ShowPublicGroupsSchema, request.args)
    which, by = wanted["period"], wanted["by"]
    period = rankings.current_periods(utcnow())[which]
    board = groups.group_board(community.id, period, by=by, published_only=True)
    chosen = members = None
    unnamed = 0
    if wanted["group"] is not None:
        chosen = groups.published_group(community.id, wanted["group"])
        members, unnamed = groups.public_member_board(community, chosen, period)
    periods = _periods()
    return render_template("groups/public.html", community=community, board=board, which=which, by=by,
                           period=period, chosen=chosen, members=members, unnamed=unnamed,
                           period_labels={k: periods[k] for k in ("month", "year")}, by_labels=_by_labels())


# ---- the office --------------------------------------------------------------------------------------

@bp.route("/admin/c/<int:community_id>/groups", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def index(community_id: int):
    community = tree.get_community(community_id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        def create():
            fields = load_or_error(SaveGroupSchema, request.form)
            return groups.create_group(actor(), community, fields["name"], fields["kind"], utcnow())
        ok, group = attempt(create, _("Group created. Add its members below."))
        if ok:
            return redirect(url_for(".group", community_id=community.id, group_id=group.id))
        return redirect(url_for(".index", community_id=community.id))
    wanted = read_query(ShowOfficeGroupsSchema, request.args)
    period = rankings.current_periods(utcnow())[wanted["period"]]
    return render_template("groups/index.html", community=community, which=wanted["period"], by=wanted["by"],
                           board=groups.group_board(community.id, period, by=wanted["by"]),
                           period_labels=_periods(), by_labels=_by_labels(), kinds=KIND_LABELS,
                           form=EmptyForm())


def _pasted_message(pasted: groups.Pasted, made: list) -> str:
    parts = [_("%(n)d added.", n=len(made))]
    already = len(pasted.found) - len(made)
    if already:
        parts.append(_("%(n)d were members already.", n=already))
    if pasted.missing:
        parts.append(_("Not found: %(lines)s.", lines=", ".join(pasted.missing)))
    if pasted.ambiguous:
        parts.append(_("Several people match, search for them one by one: %(lines)s.",
                       lines=", ".join(pasted.ambiguous)))
    if pasted.cut:
        parts.append(_("%(n)d more lines were not read: paste at most %(max)d at a time.", n=pasted.cut,
                       max=groups.PASTE_MAX_LINES))
    return " ".join(parts)


@bp.route("/admin/c/<int:community_id>/groups/<int:group_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def group(community_id: int, group_id: int):
    community = tree.get_community(community_id)
    g = groups.get_group(actor(), community.id, group_id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        return _act(community, g)
    wanted = read_query(ShowOfficeGroupsSchema, request.args)
    period = rankings.current_periods(utcnow())[wanted["period"]]
    found = search.find_residents(community.id, wanted["q"]) if wanted["q"] else None
    members = groups.member_board(g, period)
    member_ids = {m.resident_id for m in members}
    return render_template("groups/group.html", community=community, group=g, members=members, q=wanted["q"],
                           found=found.residents if found else [], note=found.note if found else "",
                           member_ids=member_ids, which=wanted["period"], period_labels=_periods(),
                           kinds=KIND_LABELS, form=EmptyForm())


def _act(community, g):
    here = url_for(".group", community_id=community.id, group_id=g.id)
    ok, fields = attempt(lambda: load_or_error(GroupActionSchema, request.form))
    if not ok:
        return redirect(here)
    what, user, now = fields["what"], actor(), utcnow()
    if what == "rename":
        def rename():
            saved = load_or_error(SaveGroupSchema, request.form)
            return groups.rename(user, g, saved["name"], now, kind=saved["kind"])
        attempt(rename, _("Saved."))
    elif what in ("publish", "unpublish"):
        attempt(lambda: groups.set_published(user, g, what == "publish", now),
                _("The group's rankings are shown on the public page.") if what == "publish"
                else _("The group's rankings are no longer shown on the public page."))
    elif what == "delete":
        ok, _r = attempt(lambda: groups.delete(user, g, now), _("Group deleted."))
        if ok:
            return redirect(url_for(".index", community_id=community.id))
    elif what == "add":
        attempt(lambda: groups.add_members(user, g, [tree.get_in_community(
            Resident, community.id, fields["resident_id"] or 0)], now), _("Member added."))
    elif what == "paste":
        ok, result = attempt(lambda: groups.add_pasted(user, g, fields["lines"], now))
        if ok:
            pasted, made = result
            flash(_pasted_message(pasted, made), "success" if not (pasted.missing or pasted.ambiguous) else "error")
    elif what == "remove":
        attempt(lambda: groups.remove_member(user, g, fields["resident_id"], now), _("Member removed."))
    return redirect(here)
