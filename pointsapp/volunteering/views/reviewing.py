"""The approve/reject form shared by the lead's activity page and the office's award review: read the ticked
attendances, call the service given, and say what happened in the reader's language."""
from collections.abc import Callable

from flask import flash, request
from flask_babel import gettext as _

from pointsapp.core.forms import EmptyForm
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.volunteering.schemas import ReviewAttendancesSchema
from pointsapp.volunteering.services.checkin import ReviewResult


def decide_ticked(approve: Callable[[list[int]], ReviewResult], reject: Callable[[list[int], str], int]) -> None:
    """Run approve(ids) or reject(ids, reason) for the posted form; every outcome becomes a flash message."""
    if not EmptyForm().validate_on_submit():
        return
    ok, ticked = attempt(lambda: load_or_error(ReviewAttendancesSchema, request.form))
    if not ok:
        return
    ids = ticked["ids"]
    if not ids:
        flash(_("Tick at least one person first."), "error")
    elif ticked["action"] == "reject":
        attempt(lambda: reject(ids, ticked["reason"]), _("Rejected."))
    else:
        ok, result = attempt(lambda: approve(ids))
        if ok:
            flash(approval_message(result), "success")


def approval_message(result: ReviewResult) -> str:
    """What an approval did, in words (the pages' message and the API's `message`)."""
    return (_("%(n)d approved, %(p)d points awarded.", n=result.approved, p=result.points)
            + (" " + _("%(n)d left for another lead or the community office.", n=result.left) if result.left else ""))
