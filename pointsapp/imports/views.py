"""Bulk import pages: upload (dry run with a row-by-row report), then import all or nothing."""
import json

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.imports import services as imports
from pointsapp.imports.forms import UploadForm
from pointsapp.imports.models import ImportJob
from pointsapp.tree.services import get_community

bp = Blueprint("imports", __name__, url_prefix="/admin/c/<int:community_id>/import")


def _max_rows() -> int:
    return current_app.config["IMPORT_MAX_ROWS"]


@bp.route("/", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def upload(community_id: int):
    c = get_community(community_id)
    form = UploadForm()
    if form.validate_on_submit():
        f = form.file.data
        ok, result = attempt(lambda: imports.upload(actor(), c, f.filename or "", f.read(), utcnow(),
                                                   max_rows=_max_rows()))
        if ok:
            return redirect(url_for(".job", community_id=c.id, job_id=result[0].id))
    jobs = db.session.scalars(db.select(ImportJob).where(ImportJob.community_id == c.id)
                              .order_by(ImportJob.created_at.desc()).limit(10)).all()
    return render_template("imports/upload.html", community=c, form=form, jobs=jobs,
                           headers=imports.TEMPLATE_HEADERS, required=[imports.COLUMNS[k][0] for k in imports.REQUIRED])


@bp.route("/<int:job_id>")
@policy(COMMUNITY_ADMIN)
def job(community_id: int, job_id: int):
    c = get_community(community_id)
    j = imports.load_job(actor(), c, job_id)
    report = None
    if j.status == "checked":
        ok, report = attempt(lambda: imports.recheck(actor(), c, j, max_rows=_max_rows()))
    return render_template("imports/job.html", community=c, job=j, report=report,
                           summary=json.loads(j.summary or "{}"), form=EmptyForm())


@bp.route("/<int:job_id>/run", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def run(community_id: int, job_id: int):
    c = get_community(community_id)
    j = imports.load_job(actor(), c, job_id)
    if EmptyForm().validate_on_submit():
        ok, summary = attempt(lambda: imports.run_import(actor(), c, j, utcnow(), max_rows=_max_rows()))
        if ok:
            flash(_("Imported %(r)d residents in %(h)d new households.", r=summary["residents"],
                    h=summary["households"]), "success")
    return redirect(url_for(".job", community_id=c.id, job_id=j.id))


@bp.route("/template.xlsx")
@policy(COMMUNITY_ADMIN)
def template(community_id: int):
    get_community(community_id)
    return current_app.response_class(
        imports.template_workbook(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": "attachment; filename*=UTF-8''%E5%B1%85%E6%B0%91%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"},
    )
