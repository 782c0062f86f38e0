"""The ledger's API operations.

api_checkpoints (/api/v1/public/communities/<id>/checkpoints): the public checkpoint roots (no login).

api_office_points (/api/v1/communities/<id>/...): the office's awards by hand (ledger.services.by_hand, the
resident's points page's service: up to the community's ceiling at once, above it waiting for a second office
member, never the one who asked), the award review's confirm and refuse, and ledger exports (queued for the
worker when big, as the ledger page; the file kept for its download)."""

from flask import current_app, url_for
from flask_babel import get_locale

from pointsapp.audit import services as audit
from pointsapp.core import queue
from pointsapp.core.api import ApiBlueprint, domain_key
from pointsapp.core.periods import local_date
from pointsapp.core.permissions import COMMUNITY_ADMIN, PUBLIC, policy
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.models import LedgerEntry, LedgerExport
from pointsapp.ledger.schemas import (
    AwardByHandSchema,
    AwardOutcomeSchema,
    AwardRequestListSchema,
    AwardRequestSchema,
    CheckpointsSchema,
    ExportJobSchema,
    QueueExportSchema,
    RefuseAwardSchema,
)
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import by_hand, export_jobs
from pointsapp.tree import services as tree
from pointsapp.tree.models import Resident

bp = ApiBlueprint("api_office_points", __name__, url_prefix="/api/v1/communities/<int:community_id>",
                  description="The office: awards by hand, their review, ledger exports")


@bp.route("/residents/<int:resident_id>/awards", methods=["POST"])
@bp.arguments(AwardByHandSchema, location="json")
@bp.response(201, AwardOutcomeSchema("office"))
@bp.alt_response(202, schema=AwardOutcomeSchema("office"),
                 description="Above the community's ceiling: waiting for a second office member")
@policy(COMMUNITY_ADMIN)
def award(wanted, community_id: int, resident_id: int):
    """Award points by hand: posted up to the community's ceiling (201), else waiting for confirmation (202)."""
    c = tree.get_community(community_id)
    r = tree.get_in_community(Resident, c.id, resident_id)
    made = by_hand.award_by_hand(actor(), r, wanted["amount"], wanted["reason"], domain_key(wanted["request_key"]),
                                 utcnow())
    if isinstance(made, LedgerEntry):
        return {"status": "posted", "entry": made, "award_request": None}, 201
    return {"status": "waiting", "entry": None, "award_request": made}, 202


@bp.route("/award-requests")
@bp.response(200, AwardRequestListSchema("office"))
@policy(COMMUNITY_ADMIN)
def award_requests(community_id: int):
    """Awards by hand above the ceiling waiting for a second office member, oldest first (the award review)."""
    c = tree.get_community(community_id)
    return {"award_requests": by_hand.waiting(c.id)}


@bp.route("/award-requests/<int:award_request_id>/confirm", methods=["POST"])
@bp.response(200, AwardRequestSchema("office"))
@policy(COMMUNITY_ADMIN)
def confirm_award(community_id: int, award_request_id: int):
    """Confirm a waiting award (another office member than the one who asked): it posts."""
    c = tree.get_community(community_id)
    award_request = by_hand.get_request(c.id, award_request_id)
    by_hand.confirm(actor(), award_request, utcnow())
    return award_request


@bp.route("/award-requests/<int:award_request_id>/refuse", methods=["POST"])
@bp.arguments(RefuseAwardSchema, location="json")
@bp.response(200, AwardRequestSchema("office"))
@policy(COMMUNITY_ADMIN)
def refuse_award(wanted, community_id: int, award_request_id: int):
    """Refuse a waiting award, with a reason (another office member than the one who asked)."""
    c = tree.get_community(community_id)
    award_request = by_hand.get_request(c.id, award_request_id)
    return by_hand.refuse(actor(), award_request, wanted["reason"], utcnow())


def _export(job: LedgerExport) -> dict:
    ready = job.status == "done" and job.purged_at is None
    return {"id": job.id, "status": job.status, "format": job.format, "start_day": job.start_day,
            "end_day": job.end_day, "progress": job.progress, "total": job.total, "created_at": job.created_at,
            "finished_at": job.finished_at, "purged": job.purged_at is not None, "message": job.message,
            "download_url": url_for(".export_file", community_id=job.community_id, job_id=job.id) if ready else None}


@bp.route("/exports", methods=["POST"])
@bp.arguments(QueueExportSchema, location="json")
@bp.response(201, ExportJobSchema("office"))
@bp.alt_response(202, schema=ExportJobSchema("office"), description="Big: queued for the job worker")
@policy(COMMUNITY_ADMIN)
def export(wanted, community_id: int):
    """Export the ledger of a date range: made now (201, with its download link) or, when big, queued (202)."""
    c = tree.get_community(community_id)
    job = export_jobs.queue_or_make(actor(), c, wanted["start"], wanted["end"], wanted["format"],
                                    str(get_locale() or "zh"), utcnow(),
                                    sync_rows=current_app.config.get("LEDGER_EXPORT_SYNC_ROWS", export_jobs.SYNC_ROWS))
    if job.status == "queued":
        queue.enqueue_after_commit("ledger.export", job.id)  # ledger.cli.run_export, by the job worker
        return _export(job), 202
    return _export(job), 201


@bp.route("/exports/<int:job_id>")
@bp.response(200, ExportJobSchema("office"))
@policy(COMMUNITY_ADMIN)
def export_status(community_id: int, job_id: int):
    """An export's state: how far the worker has got, and the download link once it is done."""
    c = tree.get_community(community_id)
    return _export(export_jobs.load(actor(), c, job_id))


@bp.route("/exports/<int:job_id>/file")
@bp.doc(responses={"200": {"description": "The file, in the export's format", "content": {
    export_jobs.MIME[fmt]: {"schema": {"type": "string", "format": "binary"}} for fmt in ("xlsx", "csv")}}})
@policy(COMMUNITY_ADMIN)
def export_file(community_id: int, job_id: int):
    """The finished export's file (kept 3 days); the download is recorded in the audit log."""
    c = tree.get_community(community_id)
    job, body = export_jobs.download(actor(), c, job_id)
    audit.record_read(actor(), "data_exported", c, utcnow(), what="ledger", start=job.start_day, end=job.end_day,
                      format=job.format, background=True)
    return current_app.response_class(body, mimetype=export_jobs.MIME[job.format], headers={
        "Content-Disposition": f"attachment; filename={export_jobs.filename(job)}", "Cache-Control": "no-store"})


# ---- public ----

checkpoints_bp = ApiBlueprint("api_checkpoints", __name__, url_prefix="/api/v1/public/communities",
                              description="Ledger checkpoints anyone may check the ledger against")

CHECKPOINTS_SHOWN = 30  # about a month of nightly checkpoints


@checkpoints_bp.route("/<int:community_id>/checkpoints")
@checkpoints_bp.response(200, CheckpointsSchema)
@policy(PUBLIC)
def checkpoints(community_id: int):
    """The community's latest ledger checkpoints (day, root hash, counts), newest first."""
    community = tree.get_community(community_id)
    return {"community_id": community.id, "checkpoints": [
        {"day": local_date(cp.created_at), "created_at": cp.created_at, "root": cp.root,
         "resident_count": cp.resident_count, "entry_count": cp.entry_count}
        for cp in ledger_audit.recent_checkpoints(community.id, CHECKPOINTS_SHOWN)]}


blueprints = [bp, checkpoints_bp]
