"""Community admin pages for people: households, residents, their accounts, and staff roles."""
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from pointsapp.accounts import services as accounts
from pointsapp.accounts.models import Role, RoleGrant, User
from pointsapp.core.errors import NotFound
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm, options
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.privacy import services as privacy
from pointsapp.store.models import Store
from pointsapp.store.services import identification
from pointsapp.tree import services as tree
from pointsapp.tree.forms import GrantForm, MoveOutForm, PasswordSetForm, PinForm, ResidentForm
from pointsapp.tree.models import Household, Resident
from pointsapp.tree.schemas import FindResidentsSchema, ResidentSchema, mask_phone
from pointsapp.tree.services import get_community
from pointsapp.volunteering.models import Team

bp = Blueprint("people", __name__, url_prefix="/admin/c/<int:community_id>")
# staff lists show phones as 138****0001 (tree.schemas.mask_phone, the one rule)
bp.add_app_template_filter(mask_phone, "mask_phone")


def _listed(residents) -> list[dict]:
    """Rows of a staff list: the phone masked, no ID digits, no birth year (ResidentSchema office_list)."""
    return ResidentSchema("office_list").dump(residents, many=True)


def _fields(form: ResidentForm) -> tree.ResidentFields:
    return tree.ResidentFields(name=form.name.data, relation=form.relation.data or "", phone=form.phone.data or "",
                               id_tail=form.id_tail.data or "", birth_year=form.birth_year.data,
                               moved_in_on=form.moved_in_on.data)


@bp.route("/households/<int:household_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def household(community_id: int, household_id: int):
    c = get_community(community_id)
    h = tree.get_in_community(Household, c.id, household_id)
    form = ResidentForm()
    if form.validate_on_submit():
        ok, _r = attempt(lambda: tree.add_resident(actor(), h, _fields(form), utcnow()), _("Resident added."))
        if ok:
            return redirect(url_for(".household", community_id=c.id, household_id=h.id))
    return render_template("people/household.html", community=c, household=h, form=form,
                           residents=_listed(h.residents))


@bp.route("/residents")
@policy(COMMUNITY_ADMIN)
def residents(community_id: int):
    c = get_community(community_id)
    wanted = load_or_error(FindResidentsSchema, request.args)
    q, moved = wanted["q"], wanted["moved"]
    found = tree.search_residents(c.id, q, limit=100, include_moved_out=moved)
    return render_template("people/residents.html", community=c, q=q, moved=moved, residents=_listed(found))


@bp.route("/residents/<int:resident_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def resident(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    form = ResidentForm(obj=r)
    if form.validate_on_submit():
        ok, _r = attempt(lambda: tree.update_resident(actor(), r, _fields(form), utcnow()), _("Saved."))
        if ok:
            return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))
    # a refused edit shows the form again with what was typed; the stored values stay masked
    return _resident_page(c, r, form, revealed=False, editing=request.method == "POST")


def _resident_page(c, r: Resident, form: ResidentForm, *, revealed: bool, editing: bool):
    account = db.session.scalar(select(User).where(User.resident_id == r.id))
    shown = ResidentSchema("office" if revealed else "office_list").dump(r)
    response = make_response(render_template(
        "people/resident.html", community=c, resident=r, shown=shown, revealed=revealed, editing=editing or revealed,
        form=form, account=account, move_form=MoveOutForm(), password_form=PasswordSetForm(),
        button_form=EmptyForm(), pin_form=PinForm(), activation_code=None))
    response.headers["Cache-Control"] = "no-store"  # personal data: not kept in the browser's cache
    return response


@bp.route("/residents/<int:resident_id>/reveal", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def reveal(community_id: int, resident_id: int):
    """「查看完整信息」: the full phone, ID tail and birth year, for this response only, logged."""
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    if EmptyForm().validate_on_submit():
        ok, _r = attempt(lambda: privacy.reveal(actor(), r, utcnow()))
        if ok:
            return _resident_page(c, r, ResidentForm(formdata=None, obj=r), revealed=True, editing=True)
    return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))


@bp.route("/residents/<int:resident_id>/move-out", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def move_out(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    form = MoveOutForm()
    if form.validate_on_submit():
        attempt(lambda: tree.move_out(actor(), r, form.moved_out_on.data, utcnow()), _("Marked as moved out."))
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))


@bp.route("/residents/<int:resident_id>/password", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def set_password(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    form = PasswordSetForm()
    if form.validate_on_submit():
        def work():
            user = accounts.account_for_resident(actor(), r, utcnow())
            accounts.set_password(actor(), user, form.password.data, utcnow())
        attempt(work, _("Password set. The resident can log in with the mobile number and this password."))
    return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))


@bp.route("/residents/<int:resident_id>/end-sessions", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def end_sessions(community_id: int, resident_id: int):
    """A lost or stolen phone: the office logs the resident out on every device."""
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    if EmptyForm().validate_on_submit():
        def work():
            user = db.session.scalar(select(User).where(User.resident_id == r.id))
            if user is None:
                raise NotFound(_("No login account yet."))
            return accounts.office_end_sessions(actor(), user, utcnow())
        attempt(work, _("The resident is logged out on every device."))
    return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))


@bp.route("/residents/<int:resident_id>/activation", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def activation(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)

    def work():
        user = accounts.account_for_resident(actor(), r, utcnow())
        return accounts.issue_activation_code(actor(), user, utcnow())

    ok, code = attempt(work)
    if not ok:
        return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))
    # Shown once, on a printable slip; only its hash is stored.
    return render_template("people/activation_slip.html", community=c, resident=r, code=code,
                           days=accounts.ACTIVATION_DAYS)


@bp.route("/residents/<int:resident_id>/reset", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def reset_account(community_id: int, resident_id: int):
    """忘记密码 at the office counter: one button logs her out everywhere and prints a new activation slip."""
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))

    def work():
        user = accounts.account_for_resident(actor(), r, utcnow())
        return accounts.reset_by_office(actor(), user, utcnow())

    ok, code = attempt(work)
    if not ok:
        return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))
    return render_template("people/activation_slip.html", community=c, resident=r, code=code,
                           days=accounts.ACTIVATION_DAYS, reset=True)


STAFF_ROLES = (Role.COMMUNITY_ADMIN, Role.TEAM_LEAD, Role.CLERK)


def _scope_choices(community_id: int):
    teams = db.session.scalars(select(Team).where(Team.community_id == community_id).order_by(Team.name))
    stores = db.session.scalars(select(Store).where(Store.community_id == community_id).order_by(Store.name))
    return ([("", _("(not needed for admins)"))] + [(f"team:{t.id}", _("Team: %(n)s", n=t.name)) for t in teams]
            + [(f"store:{s.id}", _("Store: %(n)s", n=s.name)) for s in stores])


@bp.route("/staff", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def staff(community_id: int):
    c = get_community(community_id)
    form = GrantForm()
    form.role.choices = options((str(r), role_label(r)) for r in STAFF_ROLES)
    form.scope.choices = options(_scope_choices(c.id))
    if form.validate_on_submit():
        kind, _sep, raw_id = (form.scope.data or "").partition(":")
        team = get_row(Team, int(raw_id)) if kind == "team" and raw_id.isdigit() else None
        store = get_row(Store, int(raw_id)) if kind == "store" and raw_id.isdigit() else None

        def work():
            user = accounts.staff_user(actor(), c, form.phone.data, form.name.data, utcnow())
            return accounts.grant_role(actor(), user, form.role.data, c, utcnow(), team=team, store=store)

        ok, _g = attempt(work, _("Role granted."))
        if ok:
            return redirect(url_for(".staff", community_id=c.id))
    grants = db.session.scalars(select(RoleGrant).where(RoleGrant.community_id == c.id)
                                .options(joinedload(RoleGrant.user), joinedload(RoleGrant.team),
                                         joinedload(RoleGrant.store))  # each row shows them
                                .order_by(RoleGrant.role, RoleGrant.id)).all()
    return render_template("people/staff.html", community=c, form=form, grants=grants, button_form=EmptyForm())


@bp.route("/staff/<int:grant_id>/revoke", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def revoke(community_id: int, grant_id: int):
    c = get_community(community_id)
    grant = db.session.get(RoleGrant, grant_id)
    if grant is None or grant.community_id != c.id:
        raise NotFound(_("That role no longer exists."))
    if EmptyForm().validate_on_submit():
        attempt(lambda: accounts.revoke_role(actor(), grant_id, utcnow()), _("Role removed."))
    return redirect(url_for(".staff", community_id=c.id))


def role_label(role: str) -> str:
    return {
        Role.RESIDENT: _("Resident"),
        Role.TEAM_LEAD: _("Team lead"),
        Role.CLERK: _("Supermarket clerk"),
        Role.COMMUNITY_ADMIN: _("Community admin"),
        Role.CITY_ADMIN: _("City admin"),
    }.get(role, role)


@bp.route("/residents/<int:resident_id>/pin", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def set_pin(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    form = PinForm()
    if form.validate_on_submit():
        attempt(lambda: identification.set_pin(actor(), r, form.pin.data, utcnow()),
               _("Card PIN set. Tell the resident; it is not shown again."))
    else:
        flash(_("The PIN is 4 to 6 digits, not all the same."), "error")
    return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))


@bp.route("/residents/<int:resident_id>/card", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def reissue_card(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    if EmptyForm().validate_on_submit():
        attempt(lambda: identification.reissue_card(actor(), r, utcnow()),
               _("The old card no longer works. Print the new one from the building page."))
    return redirect(url_for(".resident", community_id=c.id, resident_id=r.id))
