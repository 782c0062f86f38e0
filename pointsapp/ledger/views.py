"""Points pages: a resident's own points (我的积分), and the admin's view of any resident's points."""
import secrets
from datetime import timedelta

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, joinedload

from pointsapp.audit import services as audit
from pointsapp.core import qr, queue
from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.periods import local_date
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import read_query
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.forms import ExportForm, PointsForm, ReverseForm
from pointsapp.ledger.models import LedgerEntry, LedgerExport
from pointsapp.ledger.schemas import ShowMonthSchema, ShowServiceRecordSchema
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import by_hand, export_jobs
from pointsapp.ledger.services import export as ledger_export
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.describe import describe
from pointsapp.ledger.services.history import month_history
from pointsapp.tree import services as tree
from pointsapp.tree.models import Building, Household, Resident
from pointsapp.tree.services import get_community
from pointsapp.volunteering.services import codes, records

bp = Blueprint("points", __name__)


def _month_arg() -> str | None:
    """?month=2026-11, or None for all months (a refused month is flashed)."""
    return read_query(ShowMonthSchema, request.args)["month"]


@bp.app_context_processor
def _helpers():
    return {"describe_entry": describe}


@bp.route("/me/points")
@policy(AUTHENTICATED)
def my_points():
    """我的积分: one month at a time (this month first), with the month's totals."""
    resident = current_user.resident
    if resident is None:
        return render_template("points/mine.html", resident=None)
    now = utcnow()
    try:
        page = month_history(resident.id, _month_arg(), now)
    except DomainError:  # a month that read_query let through but has no bounds (9999-12)
        page = month_history(resident.id, None, now)
    return render_template("points/mine.html", resident=resident, account=ledger.account_of(resident.id), page=page)


def _new_points_form() -> PointsForm:
    form = PointsForm()
    if not form.request_id.data:
        form.request_id.data = secrets.token_urlsafe(16)
    return form


@bp.route("/admin/c/<int:community_id>/residents/<int:resident_id>/points", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def resident_points(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    form = _new_points_form()
    if form.validate_on_submit():
        amount = form.amount.data if form.direction.data == "award" else -form.amount.data
        if amount > 0:  # up to the ceiling at once; above it another office member confirms (by_hand)
            ok, made = attempt(lambda: by_hand.award_by_hand(actor(), r, amount, form.reason.data,
                                                             form.request_id.data or "", utcnow()))
            if ok:
                flash(_("Saved: %(n)+d points for %(name)s.", n=amount, name=r.name) if isinstance(made, LedgerEntry)
                      else _("%(n)d points for %(name)s are more than the community's ceiling of %(max)d at once: "
                             "they wait for another office member to confirm them (Award review).",
                             n=amount, name=r.name, max=c.award_ceiling), "success")
        else:
            key = f"manual:{form.request_id.data}"
            ok, _e = attempt(lambda: ledger.manual(actor(), r, amount, form.reason.data, key, utcnow()),
                            _("Saved: %(n)+d points for %(name)s.", n=amount, name=r.name))
        if ok:
            return redirect(url_for(".resident_points", community_id=c.id, resident_id=r.id))
    month = _month_arg()
    entries = ledger.history(r.id, month=month) if month else ledger.history(r.id)
    return render_template("points/resident.html", community=c, resident=r, form=form,
                           account=ledger.account_of(r.id), entries=entries, month=month,
                           months=ledger.months_with_entries(r.id), reverse_form=ReverseForm())


@bp.route("/admin/c/<int:community_id>/entries/<int:entry_id>/reverse", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def reverse_entry(community_id: int, entry_id: int):
    c = get_community(community_id)
    entry = db.session.get(LedgerEntry, entry_id)
    if entry is None or entry.community_id != c.id:
        return render_template("errors/error.html", status=404, title=_("Sorry"),
                               message=_("No such entry.")), 404
    form = ReverseForm()
    if form.validate_on_submit():
        attempt(lambda: ledger.reverse_by_admin(actor(), entry.id, c.id, form.reason.data, utcnow()),
               _("Entry %(n)d has been corrected.", n=entry.id))
    else:
        flash(_("Please give a reason."), "error")
    return redirect(url_for(".resident_points", community_id=c.id, resident_id=entry.resident_id))


def _sync_export_rows() -> int:
    return current_app.config.get("LEDGER_EXPORT_SYNC_ROWS", export_jobs.SYNC_ROWS)


@bp.route("/admin/c/<int:community_id>/ledger")
@policy(COMMUNITY_ADMIN)
def community_ledger(community_id: int):
    c = get_community(community_id)
    form = ExportForm(request.args)
    today = local_date(utcnow())
    if not request.args:
        form.start.data, form.end.data = today.replace(day=1), today
    big = None  # a range with more entries than a request should write: offered to the job worker
    if request.args.get("format") and form.validate():
        start, end = form.start.data, form.end.data
        try:
            entries = export_jobs.count(actor(), c.id, start, end)
            if entries > _sync_export_rows():
                big = entries
            elif form.format.data == "csv":
                body, mime, ext = ledger_export.as_csv(actor(), c.id, start, end), "text/csv; charset=utf-8", "csv"
            else:
                body = ledger_export.as_xlsx(actor(), c.id, start, end)
                mime, ext = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"
        except DomainError as exc:
                flash(str(exc), "error")
        else:
            if big is None:
                audit.record_read(actor(), "data_exported", c, utcnow(), what="ledger", start=start, end=end,
                                  format=ext)
                name = f"ledger-{c.id}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"
                return current_app.response_class(body, mimetype=mime,
                                                  headers={"Content-Disposition": f"attachment; filename={name}"})
    recent = db.session.scalars(select(LedgerEntry).where(LedgerEntry.community_id == c.id)
                                .options(joinedload(LedgerEntry.resident))
                                .order_by(LedgerEntry.id.desc()).limit(30)).all()
    exports = db.session.scalars(select(LedgerExport).where(LedgerExport.community_id == c.id)
                                 .order_by(LedgerExport.id.desc()).limit(5)).all()
    return render_template("points/community.html", community=c, form=form, recent=recent, big=big,
                           exports=exports, queue_form=EmptyForm(),
                           checkpoint=ledger_audit.latest_checkpoint(c.id), week_ago=today - timedelta(days=7))


@bp.route("/admin/c/<int:community_id>/ledger/exports", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def queue_export(community_id: int):
    """A big export for the job worker; its page shows how far it has got, then the download."""
    c = get_community(community_id)
    form = ExportForm(request.form)
    if not (EmptyForm().validate_on_submit() and form.validate()):
        flash(_("Choose a start and an end date."), "error")
        return redirect(url_for(".community_ledger", community_id=c.id))
    ok, job = attempt(lambda: export_jobs.queue(actor(), c, form.start.data, form.end.data, form.format.data,
                                                str(get_locale() or "zh"), utcnow()))
    if not ok:
        return redirect(url_for(".community_ledger", community_id=c.id))
    queue.enqueue_after_commit("ledger.export", job.id)  # ledger.cli.run_export, by the job worker
    return redirect(url_for(".export_job", community_id=c.id, job_id=job.id))


@bp.route("/admin/c/<int:community_id>/ledger/exports/<int:job_id>")
@policy(COMMUNITY_ADMIN)
def export_job(community_id: int, job_id: int):
    c = get_community(community_id)
    job = export_jobs.load(actor(), c, job_id)
    return render_template("points/export.html", community=c, job=job, progress=export_jobs.progress_of(job),
                           keep_days=export_jobs.KEEP_DAYS)


@bp.route("/admin/c/<int:community_id>/ledger/exports/<int:job_id>/progress")
@policy(COMMUNITY_ADMIN)
def export_progress(community_id: int, job_id: int):
    c = get_community(community_id)
    return jsonify(export_jobs.progress_of(export_jobs.load(actor(), c, job_id)))


@bp.route("/admin/c/<int:community_id>/ledger/exports/<int:job_id>/download")
@policy(COMMUNITY_ADMIN)
def export_download(community_id: int, job_id: int):
    c = get_community(community_id)
    try:
        job, body = export_jobs.download(actor(), c, job_id)
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".export_job", community_id=c.id, job_id=job_id))
    audit.record_read(actor(), "data_exported", c, utcnow(), what="ledger", start=job.start_day, end=job.end_day,
                      format=job.format, background=True)
    return current_app.response_class(body, mimetype=export_jobs.MIME[job.format], headers={
        "Content-Disposition": f"attachment; filename={export_jobs.filename(job)}"})


@bp.route("/me/code")
@policy(AUTHENTICATED)
def my_code():
    """会员码: a short-lived QR the counter or a team lead scans; it refreshes by itself."""
    return render_template("points/code.html", resident=current_user.resident,
                           seconds=codes.MEMBER_CODE_SECONDS)


@bp.route("/me/code.svg")
@policy(AUTHENTICATED)
def my_code_svg():
    resident = current_user.resident
    if resident is None or resident.moved_out_on is not None:
        return render_template("errors/error.html", status=404, title=_("Sorry"),
                               message=_("This account is not linked to a resident.")), 404
    return qr.svg_response(codes.member_phone_code(current_app.secret_key, resident, utcnow()))


@bp.route("/admin/c/<int:community_id>/buildings/<int:building_id>/cards")
@policy(COMMUNITY_ADMIN)
def member_cards(community_id: int, building_id: int):
    """An A4 sheet of printed member cards, for residents without a phone."""
    c = get_community(community_id)
    b = tree.get_in_community(Building, c.id, building_id)
    people = db.session.scalars(select(Resident).join(Household)
                                .where(Household.building_id == b.id, Resident.moved_out_on.is_(None))
                                .options(contains_eager(Resident.household))  # each card prints the address
                                .order_by(Household.unit, Household.room, Resident.id)).all()
    cards = [(r, qr.svg(codes.member_card_code(current_app.secret_key, r), border=1).decode()) for r in people]
    return render_template("points/cards.html", community=c, building=b, cards=cards)


def _record_dates():
    today = local_date(utcnow())
    wanted = read_query(ShowServiceRecordSchema, request.args)
    return wanted["start"] or today.replace(month=1, day=1), wanted["end"] or today


def _render_record(resident, community, back_url):
    start, end = _record_dates()
    try:
        record = records.service_record(resident, start, end)
    except DomainError as exc:
        flash(str(exc), "error")
        record = records.service_record(resident, local_date(utcnow()).replace(month=1, day=1), local_date(utcnow()))
    return render_template("points/service_record.html", record=record, community=community, back_url=back_url,
                           issued=local_date(utcnow()))


@bp.route("/me/service-record")
@policy(AUTHENTICATED)
def my_service_record():
    resident = current_user.resident
    if resident is None:
        return render_template("points/mine.html", resident=None)
    return _render_record(resident, resident.community, url_for(".my_points"))


@bp.route("/admin/c/<int:community_id>/residents/<int:resident_id>/service-record")
@policy(COMMUNITY_ADMIN)
def service_record(community_id: int, resident_id: int):
    c = get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    return _render_record(r, c, url_for(".resident_points", community_id=c.id, resident_id=r.id))
