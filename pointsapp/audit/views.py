"""The audit log pages: a community's log for its admins (and the city), every community's for the city."""
from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.audit.schemas import ShowAuditLogSchema
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_local
from pointsapp.core.permissions import CITY_ADMIN, COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import read_query
from pointsapp.core.web import actor, utcnow
from pointsapp.tree.models import Community, Resident
from pointsapp.tree.services import get_community

bp = Blueprint("audit", __name__)

ACTION_LABELS = {
    AuditAction.POINTS_AWARDED: _l("Points awarded"),
    AuditAction.POINTS_DEDUCTED: _l("Points deducted"),
    AuditAction.ENTRY_REVERSED: _l("Ledger entry corrected"),
    AuditAction.REDEMPTION_VOIDED: _l("Receipt voided"),
    AuditAction.RESIDENTS_IMPORTED: _l("Residents imported"),
    AuditAction.ROLE_GRANTED: _l("Role granted"),
    AuditAction.ROLE_REVOKED: _l("Role removed"),
    AuditAction.DATA_EXPORTED: _l("Data exported"),
    AuditAction.PERSONAL_DATA_VIEWED: _l("Personal data viewed"),
    AuditAction.PASSWORD_SET: _l("Password set by the office"),
    AuditAction.ACTIVATION_CODE_ISSUED: _l("Activation code printed"),
    AuditAction.PERSONAL_DATA_ERASED: _l("Personal data erased (retention)"),
    AuditAction.CARD_LOCKED: _l("Card and search locked after wrong PINs or ID digits"),
    AuditAction.COUNTER_PAUSED: _l("A clerk's card and search identification paused after wrong PINs or ID digits"),
    AuditAction.ACCOUNT_RESET: _l("Account reset (forgotten password)"),
    AuditAction.QUERY_ANSWERED: _l("Resident's query answered"),
    # catalogue
    AuditAction.CATALOGUE_ITEM_CREATED: _l("Catalogue item added"),
    AuditAction.CATALOGUE_ITEM_REVISED: _l("Catalogue item changed (new version)"),
    AuditAction.CATALOGUE_ITEM_RETIRED: _l("Catalogue item retired"),
    AuditAction.DEDUCTION_RECORDED: _l("Deduction recorded"),
    AuditAction.DEDUCTION_WITHDRAWN: _l("Deduction withdrawn"),
    AuditAction.CLAIM_APPROVED: _l("Claim approved"),  # claims (积分申报)
    AuditAction.CLAIM_REJECTED: _l("Claim rejected"),
    # groups
    AuditAction.GROUP_CREATED: _l("Group created"),
    AuditAction.GROUP_RENAMED: _l("Group renamed"),
    AuditAction.GROUP_DELETED: _l("Group deleted"),
    AuditAction.GROUP_PUBLISHED: _l("Group rankings published"),
    AuditAction.GROUP_UNPUBLISHED: _l("Group rankings taken off the public page"),
    AuditAction.GROUP_MEMBER_ADDED: _l("Added to a group"),
    AuditAction.GROUP_MEMBER_REMOVED: _l("Removed from a group"),
    AuditAction.API_TOKEN_CREATED: _l("API token created"),
    AuditAction.API_TOKEN_REVOKED: _l("API token revoked"),
    AuditAction.WEBHOOK_ADDED: _l("Webhook added"),
    AuditAction.WEBHOOK_CHANGED: _l("Webhook changed"),
    AuditAction.WEBHOOK_REDELIVERED: _l("Webhook delivery sent again"),
    # end groups
}

SUBJECT_LABELS = {
    "resident": _l("resident"), "ledger_entry": _l("ledger entry"), "redemption": _l("receipt"),
    "import_job": _l("import"), "role_grant": _l("role"), "community": _l("community"), "store": _l("store"),
    "evaluation": _l("star evaluation"), "user": _l("account"), "points_query": _l("query"),
    "catalogue_item": _l("catalogue item"),
    "deduction": _l("deduction"),
    "claim": _l("claim"),
    "org_group": _l("group"), "org_group_member": _l("group membership"),  # groups
}


def _user_names(ids: set[int]) -> dict[int, str]:
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}


def _names(events) -> tuple[dict[int, str], dict[int, str]]:
    """Names of the staff who acted and of the residents the events are about, one query each."""
    resident_ids = {e.resident_id for e in events if e.resident_id}
    residents = dict(db.session.execute(select(Resident.id, Resident.name).where(Resident.id.in_(resident_ids))
                                        ).all()) if resident_ids else {}
    return _user_names({e.actor_id for e in events if e.actor_id}), residents


def _show(f: audit.Filters, wanted: dict, *, community=None, communities=None):
    if wanted["format"] == "csv":
        body = audit.as_csv(actor(), f, _user_names, utcnow())
        scope = f.community_id or "city"
        return current_app.response_class(body, mimetype="text/csv; charset=utf-8", headers={
            "Content-Disposition": f"attachment; filename=audit-{scope}-{format_local(utcnow(), '%Y%m%d')}.csv"})
    events, next_before = audit.page(actor(), f, before=wanted["before"])
    users, residents = _names(events)
    # the filters again, as the links to other pages and the CSV carry them (validated, not echoed)
    args = {k: v for k, v in (("action", f.action), ("actor_id", f.actor_id), ("resident_id", f.resident_id),
                              ("community_id", f.community_id if community is None else None)) if v}

    def link(**changes) -> str:
        """This page with the current filters and `changes` (another page, a person, the CSV)."""
        return url_for(request.endpoint, **request.view_args, **{**args, **changes})

    return render_template("audit/log.html", link=link, community=community, communities=communities, events=events,
                           users=users, residents=residents, labels=ACTION_LABELS, subjects=SUBJECT_LABELS, filters=f,
                           details_of=audit.details_of, args=args, next_before=next_before)


@bp.route("/admin/c/<int:community_id>/audit")
@policy(COMMUNITY_ADMIN)
def community_log(community_id: int):
    c = get_community(community_id)
    wanted = read_query(ShowAuditLogSchema, request.args)
    f = audit.Filters(community_id=c.id, action=wanted["action"], actor_id=wanted["actor_id"],
                      resident_id=wanted["resident_id"])
    return _show(f, wanted, community=c)


@bp.route("/city/audit")
@policy(CITY_ADMIN)
def city_log():
    wanted = read_query(ShowAuditLogSchema, request.args)
    f = audit.Filters(community_id=wanted["community_id"], action=wanted["action"], actor_id=wanted["actor_id"],
                      resident_id=wanted["resident_id"])
    communities = db.session.scalars(select(Community).order_by(Community.name)).all()
    return _show(f, wanted, communities=communities)
