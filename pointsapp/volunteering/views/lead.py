"""Team leads' pages: teams, activities, the check-in screen, attendance and approval."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from pointsapp.catalogue.models import ItemKind
from pointsapp.catalogue.services import items as catalogue
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.core import qr
from pointsapp.core.errors import InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm, options
from pointsapp.core.hosts import public_url
from pointsapp.core.localtime import LOCAL_TZ, from_local_naive, local_naive
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import STAFF, Action, admin_community_ids, led_team_ids, policy, require
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.core.words import word
from pointsapp.store.services import identification
from pointsapp.tree import services as tree
from pointsapp.tree.models import Household, Resident
from pointsapp.tree.services import search
from pointsapp.volunteering.forms import ActivityForm, ManualAttendanceForm
from pointsapp.volunteering.models import Activity, Team, TeamMember
from pointsapp.volunteering.schemas import (
    AddMemberSchema,
    CheckInResidentSchema,
    FindResidentsSchema,
    PickResidentSchema,
    RemoveMemberSchema,
)
from pointsapp.volunteering.services import activities, checkin, codes, signups
from pointsapp.volunteering.views.reviewing import decide_ticked

bp = Blueprint("lead", __name__, url_prefix="/lead")


to_utc = from_local_naive
to_local = local_naive


def _team(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(_("No such team."))
    require(actor(), Action.RUN_TEAM, team)
    return team


def _activity(activity_id: int) -> Activity:
    activity = activities.get_activity(activity_id)
    require(actor(), Action.RUN_TEAM, activity)
    return activity


def my_teams() -> list[Team]:
    ids = admin_community_ids(actor())
    stmt = select(Team).order_by(Team.community_id, Team.name)
    led = led_team_ids(actor())
    if ids is None:
        return db.session.scalars(stmt).all()
    return db.session.scalars(stmt.where(Team.community_id.in_(ids or [-1]) | Team.id.in_(led or [-1]))).all()


@bp.route("/")
@policy(STAFF)
def index():
    teams = my_teams()
    now = utcnow()
    team_ids = [t.id for t in teams] or [-1]
    current = db.session.scalars(select(Activity).where(Activity.team_id.in_(team_ids), Activity.ends_at >= now,
                                                        Activity.is_cancelled.is_(False))
                                 .order_by(Activity.starts_at).limit(50)).all()
    return render_template("lead/index.html", teams=teams, activities=current, now=now)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@policy(STAFF)
def team(team_id: int):
    t = _team(team_id)
    q = load_or_error(FindResidentsSchema, request.args)["q"]
    result = search.find_residents(t.community_id, q) if q else None
    found = result.residents if result else []
    if request.method == "POST" and EmptyForm().validate_on_submit():
        if request.form.get("remove"):
            attempt(lambda: activities.remove_member(
                actor(), t, load_or_error(RemoveMemberSchema, request.form)["member_id"], utcnow()),
                _("Member removed."))
        else:
            def add():
                picked = load_or_error(AddMemberSchema, request.form)["resident_id"]
                return activities.add_member(actor(), t, tree.get_in_community(Resident, t.community_id, picked),
                                             utcnow())
            attempt(add, _("Member added."))
        return redirect(url_for(".team", team_id=t.id))
    members = db.session.scalars(select(TeamMember).where(TeamMember.team_id == t.id)
                                 .options(joinedload(TeamMember.resident).joinedload(Resident.household)
                                          .joinedload(Household.building))
                                 .order_by(TeamMember.joined_at)).all()
    acts = db.session.scalars(select(Activity).where(Activity.team_id == t.id)
                              .order_by(Activity.starts_at.desc()).limit(30)).all()
    return render_template("lead/team.html", team=t, members=members, activities=acts, q=q, found=found,
                           note=result.note if result else "",
                           form=EmptyForm(), now=utcnow())


def _fields(form: ActivityForm) -> activities.ActivityFields:
    return activities.ActivityFields(
        title=form.title.data, kind=form.kind.data, place=form.place.data or "",
        starts_at=to_utc(form.starts_at.data), ends_at=to_utc(form.ends_at.data), rule=form.rule.data,
        points=form.points.data, hourly_cap=form.hourly_cap.data, award_on=form.award_on.data,
        capacity=form.capacity.data, signup_closes_minutes=form.signup_closes_minutes.data, allow_poster=bool(form.allow_poster.data),
        description=form.description.data or "", catalogue_item_id=form.catalogue_item_id.data or None)


def _catalogue_choices(form: ActivityForm, community_id: int, kept_item_id: int | None = None) -> None:
    """按积分细则: the community's current earning items; an activity's own earlier version stays choosable."""
    items = catalogue_rules.current_items(community_id, ItemKind.EARN)
    pairs = [(0, _("None: the rule below")),
             *((i.id, f"{i.category} · {i.title} ({'; '.join(catalogue.describe(i)[:1])})") for i in items)]
    kept = catalogue_rules.item_in(community_id, kept_item_id) if kept_item_id else None
    if kept is not None and kept not in items:
        pairs.append((kept.id, _("%(title)s (earlier version %(n)d, as when the activity was made)", title=kept.title,
                                 n=kept.version)))
    form.catalogue_item_id.choices = options(pairs)


@bp.route("/teams/<int:team_id>/activities/new", methods=["GET", "POST"])
@policy(STAFF)
def new_activity(team_id: int):
    t = _team(team_id)
    form = ActivityForm()
    form.kind.choices = options((k, word(k)) for k in activities.labels(t.community_id, "activity_kind"))
    _catalogue_choices(form, t.community_id)
    if request.method == "GET":
        start = to_local(utcnow()).replace(minute=0, second=0, microsecond=0)
        form.starts_at.data = start.replace(hour=min(start.hour + 1, 22))
        form.ends_at.data = form.starts_at.data.replace(hour=form.starts_at.data.hour + 1)
        form.points.data = 10
    if form.validate_on_submit():
        ok, a = attempt(lambda: activities.create_activity(actor(), t, _fields(form), utcnow()),
                       _("Activity created."))
        if ok:
            return redirect(url_for(".activity", activity_id=a.id))
    return render_template("lead/activity_form.html", team=t, form=form, activity=None,
                           ceiling=tree.get_community(t.community_id).award_ceiling)


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
@policy(STAFF)
def edit_activity(activity_id: int):
    a = _activity(activity_id)
    form = ActivityForm(obj=a)
    form.kind.choices = options((k, word(k)) for k in activities.labels(a.community_id, "activity_kind"))
    _catalogue_choices(form, a.community_id, a.catalogue_item_id)
    if a.signup_closes_minutes not in [c.value for c in form.signup_closes_minutes.choices]:
        # a cut-off set elsewhere (an import, the API) stays choosable instead of failing the form
        form.signup_closes_minutes.choices = [*form.signup_closes_minutes.choices, *options(
            [(a.signup_closes_minutes, _("%(n)d minutes before the start", n=a.signup_closes_minutes))])]
    if request.method == "GET":
        form.starts_at.data, form.ends_at.data = to_local(a.starts_at), to_local(a.ends_at)
    if form.validate_on_submit():
        ok, _a = attempt(lambda: activities.update_activity(actor(), a, _fields(form), utcnow()), _("Saved."))
        if ok:
            return redirect(url_for(".activity", activity_id=a.id))
    return render_template("lead/activity_form.html", team=a.team, form=form, activity=a,
                           ceiling=tree.get_community(a.community_id).award_ceiling)


@bp.route("/activities/<int:activity_id>")
@policy(STAFF)
def activity(activity_id: int):
    a = _activity(activity_id)
    q = load_or_error(FindResidentsSchema, request.args)["q"]
    result = search.find_residents(a.community_id, q) if q else None
    manual = ManualAttendanceForm()
    manual.checked_in_at.data = to_local(a.starts_at)
    manual.checked_out_at.data = to_local(a.ends_at)
    item = catalogue_rules.item_in(a.community_id, a.catalogue_item_id) if a.catalogue_item_id else None
    return render_template("lead/activity.html", activity=a, catalogue_item=item, attendances=checkin.attendance_list(a), q=q,
                           found=result.residents if result else [], note=result.note if result else "",
                           form=EmptyForm(), manual=manual, now=utcnow(), roster=signups.roster(actor(), a),
                           timezone=LOCAL_TZ.key)


@bp.route("/activities/<int:activity_id>/attendances")
@policy(STAFF)
def attendances(activity_id: int):
    """The attendance list alone, for the live refresh on the lead's page."""
    a = _activity(activity_id)
    return render_template("lead/_attendances.html", activity=a, attendances=checkin.attendance_list(a),
                           form=EmptyForm())


def hold_note(attendance) -> str:
    """Who must still confirm a pending attendance, in words (the lead's list and messages)."""
    if attendance.hold in ("manual", "ceiling"):
        return _("Waits for the community office's approval.")
    if attendance.hold == "self":
        return _("Your own household's record: another team lead or the office approves it.")
    return _("Waits for approval.")


@bp.route("/activities/<int:activity_id>/screen")
@policy(STAFF)
def screen(activity_id: int):
    a = _activity(activity_id)
    return render_template("lead/screen.html", activity=a)


@bp.route("/activities/<int:activity_id>/qr.svg")
@policy(STAFF)
def qr_svg(activity_id: int):
    a = _activity(activity_id)
    step = codes.step_of(utcnow(), a.code_seconds)
    code = codes.checkin_code(current_app.secret_key, a, step)
    response = qr.svg_response(public_url("checkin.scan", code=code))
    response.headers["X-Code-Seconds-Left"] = str(a.code_seconds - int(utcnow().timestamp()) % a.code_seconds)
    return response


@bp.route("/activities/<int:activity_id>/poster")
@policy(STAFF)
def poster(activity_id: int):
    a = _activity(activity_id)
    if not a.allow_poster:
        raise InvalidInput(_("This activity does not allow a printed code."), code="poster_not_allowed")
    url = public_url("checkin.scan", code=codes.checkin_code(current_app.secret_key, a, None))
    return render_template("lead/poster.html", activity=a, qr_svg=qr.svg(url).decode(), url=url)


@bp.route("/activities/<int:activity_id>/renew-codes", methods=["POST"])
@policy(STAFF)
def renew_codes(activity_id: int):
    a = _activity(activity_id)
    if EmptyForm().validate_on_submit():
        attempt(lambda: activities.renew_codes(actor(), a, utcnow()),
               _("All earlier codes of this activity, printed posters included, no longer work."))
    return redirect(url_for(".activity", activity_id=a.id))


def _resident_from_request(a: Activity) -> Resident:
    return resident_to_check_in(a, load_or_error(CheckInResidentSchema, request.form))


def resident_to_check_in(a: Activity, given: dict) -> Resident:
    """Whom the lead checks in (this page and the API): the number printed on a member card, typed; a scanned
    member card or phone member code; or a resident picked after a search (`given`: CheckInResidentSchema).
    Raises not_found, unknown_card, ambiguous_card_number, card_replaced, forged_code, code_expired."""
    typed = codes.card_number_candidates(given["code"]) if given["code"] else None
    if typed is not None:  # the number printed on the card, typed (as a search would find the resident)
        resident = identification.card_holder(a.community_id, given["code"], typed)
    elif given["code"]:
        # a scanned member card or phone member code
        member = codes.read_member_code(current_app.secret_key, given["code"], utcnow(),
                                        lambda rid: get_row(Resident, rid))
        resident = get_row(Resident, member.resident_id)
    else:
        resident = get_row(Resident, given["resident_id"])
    if resident is None:
        raise NotFound(_("No such resident."))
    return resident


@bp.route("/activities/<int:activity_id>/checkin", methods=["POST"])
@policy(STAFF)
def lead_checkin(activity_id: int):
    """The lead checks a resident in: by scanning their member card, or after a search."""
    a = _activity(activity_id)
    if EmptyForm().validate_on_submit():
        def work():
            resident = _resident_from_request(a)
            return checkin.check_in(actor(), resident, a, utcnow(), method="lead_scan")
        ok, result = attempt(work)
        if ok:
            flash(checkin_message(result), "success")
    return redirect(url_for(".activity", activity_id=a.id))


def checkin_message(result: checkin.CheckInResult) -> str:
    """What a check-in by the lead did, in words (this page's message and the API's `message`)."""
    name = result.attendance.resident.name
    return ({"checked_in": _("%(name)s checked in.", name=name),
             "checked_out": _("%(name)s checked out.", name=name),
             "already": _("%(name)s was already checked in.", name=name)}[result.action]
            + (" " + _("+%(n)d points", n=result.points) if result.points else "")
            + (" " + hold_note(result.attendance) if result.pending_approval else "")
            + (" " + _("The community's limit for earning points was reached.") if result.capped else ""))


@bp.route("/activities/<int:activity_id>/manual", methods=["POST"])
@policy(STAFF)
def manual(activity_id: int):
    a = _activity(activity_id)
    form = ManualAttendanceForm()
    if form.validate_on_submit():
        ok, picked = attempt(lambda: load_or_error(PickResidentSchema, {"resident_id": form.resident_id.data}))
        resident = tree.get_in_community(Resident, a.community_id, picked["resident_id"]) if ok else None
        if resident is not None:
            attempt(lambda: checkin.record_manual(actor(), resident, a, to_utc(form.checked_in_at.data),
                                                 to_utc(form.checked_out_at.data), form.reason.data, utcnow()),
                   _("Recorded by hand for %(name)s; the points come once the community office approves.",
                     name=resident.name))
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for(".activity", activity_id=a.id))


@bp.route("/activities/<int:activity_id>/review", methods=["POST"])
@policy(STAFF)
def review(activity_id: int):
    a = _activity(activity_id)
    decide_ticked(lambda ids: checkin.approve(actor(), a, ids, utcnow()),
                  lambda ids, reason: checkin.reject(actor(), a, ids, reason, utcnow()))
    return redirect(url_for(".activity", activity_id=a.id))
