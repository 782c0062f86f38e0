"""Bulk import pages: upload (dry run with a row-by-row report), then import all or nothing. A big sheet
is checked and imported in the background (imports.cli.run_job, on the job queue); its page shows the progress."""
import json

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _

from pointsapp.core import queue
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.imports import services as imports
from pointsapp.imports.forms import UploadForm
from pointsapp.imports.models import ImportJob
from pointsapp.imports.services import jobs
from pointsapp.tree.services import get_community

EMPTY_SUMMARY = {"rows": 0, "errors": 0, "grids": 0, "buildings": 0, "households": 0, "residents": 0}
bp = Blueprint("imports", __name__, url_prefix="/admin/c/<int:community_id>/import")


def _max_rows() -> int:
    return current_app.config["IMPORT_MAX_ROWS"]


def _sync_rows() -> int:
    return current_app.config.get("IMPORT_SYNC_ROWS", imports.SYNC_ROWS)


def _run_after_commit(job: ImportJob) -> None:
    queue.enqueue_after_commit("imports.run_job", job.id)  # imports.cli.run_job, by the job worker


@bp.route("/", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def upload(community_id: int):
    c = get_community(community_id)
    form = UploadForm()
    if form.validate_on_submit():
        f = form.file.data
        ok, result = attempt(lambda: imports.upload(actor(), c, f.filename or "", f.read(), utcnow(),
                                                   max_rows=_max_rows(), sync_rows=_sync_rows()))
        if ok:
            job = result[0]
            if job.status == "queued":
                _run_after_commit(job)
            return redirect(url_for(".job", community_id=c.id, job_id=job.id))
    jobs_listed = db.session.scalars(db.select(ImportJob).where(ImportJob.community_id == c.id)
                                     .order_by(ImportJob.created_at.desc()).limit(10)).all()
    return render_template("imports/upload.html", community=c, form=form, jobs=jobs_listed,
                           headers=imports.TEMPLATE_HEADERS, required=[imports.COLUMNS[k][0] for k in imports.REQUIRED],
                           max_rows=_max_rows(), max_cell=imports.sheets.MAX_CELL_CHARS, sync_rows=_sync_rows(),
                           max_mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024))


@bp.route("/<int:job_id>")
@policy(COMMUNITY_ADMIN)
def job(community_id: int, job_id: int):
    c = get_community(community_id)
    j = imports.load_job(actor(), c, job_id)
    return render_template("imports/job.html", community=c, job=j, problems=imports.problems(j),
                           summary={**EMPTY_SUMMARY, **json.loads(j.summary or "{}")}, progress=jobs.progress_of(j), form=EmptyForm(),
                           sheet_days=imports.SHEET_DAYS)


@bp.route("/<int:job_id>/progress")
@policy(COMMUNITY_ADMIN)
def progress(community_id: int, job_id: int):
    c = get_community(community_id)
    return jsonify(jobs.progress_of(imports.load_job(actor(), c, job_id)))


@bp.route("/<int:job_id>/run", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def run(community_id: int, job_id: int):
    c = get_community(community_id)
    j = imports.load_job(actor(), c, job_id)
    if EmptyForm().validate_on_submit():
        ok, summary = attempt(lambda: imports.start_import(actor(), c, j, utcnow(), max_rows=_max_rows(),
                                                          sync_rows=_sync_rows()))
        if ok and summary is None:
            _run_after_commit(j)
            flash(_("The import has started. This page shows how far it has got."), "success")
        # a finished import: the job page itself says what was imported (one banner, not a flash as well)
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
