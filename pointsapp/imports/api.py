"""/api/v1/communities/<id>/imports: the office's bulk import (imports.services, as the import pages): upload a
sheet (the same limits and checks: size, zip bombs, cell and row limits; formulas are read as their text, never
computed), read its dry run (counts and row problems), and run it. A big sheet is checked and imported by the job
worker, as on the pages; its job shows how far it has got."""
import json

from flask import current_app

from pointsapp.core import queue
from pointsapp.core.api import ApiBlueprint
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.web import actor, utcnow
from pointsapp.imports import services as imports
from pointsapp.imports.models import ImportJob
from pointsapp.imports.schemas import ImportJobSchema, UploadSheetSchema
from pointsapp.tree.services import get_community

bp = ApiBlueprint("api_imports", __name__, url_prefix="/api/v1/communities/<int:community_id>/imports",
                  description="The office: importing households and residents from a sheet")

EMPTY_SUMMARY = {"rows": 0, "errors": 0, "grids": 0, "buildings": 0, "households": 0, "residents": 0}


def _limits() -> dict:
    return {"max_rows": current_app.config["IMPORT_MAX_ROWS"],
            "sync_rows": current_app.config.get("IMPORT_SYNC_ROWS", imports.SYNC_ROWS)}


def _job(job: ImportJob) -> dict:
    return {"id": job.id, "filename": job.filename, "status": job.status, "task": job.task, "progress": job.progress,
            "row_count": job.row_count, "error_count": job.error_count,
            "summary": {**EMPTY_SUMMARY, **json.loads(job.summary or "{}")},
            "problems": [vars(p) for p in imports.problems(job)], "message": job.message,
            "created_at": job.created_at, "imported_at": job.imported_at, "purged": job.purged_at is not None}


def _waiting(job: ImportJob) -> int:
    if job.status == "queued":
        queue.enqueue_after_commit("imports.run_job", job.id)  # imports.cli.run_job, by the job worker
        return 202
    return 0


@bp.route("", methods=["POST"])
@bp.arguments(UploadSheetSchema, location="files")
@bp.response(201, ImportJobSchema("office"))
@bp.alt_response(202, schema=ImportJobSchema("office"),
                 description="A big sheet: its check is queued for the job worker")
@policy(COMMUNITY_ADMIN)
def upload(wanted, community_id: int):
    """Upload a sheet (.xlsx or .csv) and check it without importing (the dry run)."""
    c = get_community(community_id)
    f = wanted["file"]
    job, _report = imports.upload(actor(), c, f.filename or "", f.read(), utcnow(), **_limits())
    return _job(job), _waiting(job) or 201


@bp.route("/<int:job_id>")
@bp.response(200, ImportJobSchema("office"))
@policy(COMMUNITY_ADMIN)
def show(community_id: int, job_id: int):
    """An uploaded sheet: its dry run's counts and row problems, or how far its background run has got."""
    c = get_community(community_id)
    return _job(imports.load_job(actor(), c, job_id))


@bp.route("/<int:job_id>/run", methods=["POST"])
@bp.response(200, ImportJobSchema("office"))
@bp.alt_response(202, schema=ImportJobSchema("office"),
                 description="A big sheet: its import is queued for the job worker")
@policy(COMMUNITY_ADMIN)
def run(community_id: int, job_id: int):
    """Import a checked sheet without problems, all rows or none (a big one in the background)."""
    c = get_community(community_id)
    job = imports.load_job(actor(), c, job_id)
    imports.start_import(actor(), c, job, utcnow(), **_limits())
    return _job(job), _waiting(job) or 200


blueprints = [bp]
