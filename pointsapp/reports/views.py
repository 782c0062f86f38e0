"""The office's catalogue reports: three tables on a page, and the same tables as an XLSX."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core import spreadsheets
from pointsapp.core.errors import DomainError
from pointsapp.core.localtime import format_month
from pointsapp.core.permissions import COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.web import actor, utcnow
from pointsapp.reports import services as reports
from pointsapp.reports.schemas import ShowReportSchema
from pointsapp.tree import services as tree

bp = Blueprint("reports", __name__)


def _report(community_id: int):
    """(community, report, from, to), or a redirect to the default range with the message."""
    community = tree.get_community(community_id)
    try:
        wanted = load_or_error(ShowReportSchema, request.args)
        months = reports.month_range(wanted["start"], wanted["end"], utcnow())
    except DomainError as exc:
        flash(str(exc), "error")
        return community, None
    return community, reports.build(actor(), community.id, months)


def category_label(row: reports.CategoryRow) -> str:
    return {reports.OWN_RULES: _("Activities (own rules)"), reports.MANUAL: _("Manual awards"),
            reports.OTHER: _("Other earning")}.get(row.kind, row.category)


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def rate(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


@bp.route("/admin/c/<int:community_id>/reports")
@policy(COMMUNITY_ADMIN)
def index(community_id: int):
    community, report = _report(community_id)
    if report is None:
        return redirect(url_for(".index", community_id=community.id))
    return render_template("reports/index.html", community=community, report=report,
                           month_labels=[format_month(m) for m in report.months], category_label=category_label,
                           hours=hours, rate=rate)


def sheets(report: reports.Report) -> list[tuple[str, list[list]]]:
    """The page's three tables as sheets, headers in the reader's language; numbers stay numbers."""
    items = [[_("Catalogue item"), _("Category"), _("Filed"), _("Approved"), _("Rejected"), _("Withdrawn"),
              _("Still open"), _("Approval rate"), _("Median hours to decision"), _("90th percentile hours")]]
    items += [[r.title, r.category, r.filed, r.approved, r.rejected, r.withdrawn, r.open,
               None if r.approval_rate is None else round(r.approval_rate, 4),
               None if r.median_hours is None else round(r.median_hours, 2),
               None if r.p90_hours is None else round(r.p90_hours, 2)] for r in report.items]
    reviewers = [[_("Reviewer"), _("Decided"), _("Approved"), _("Rejected"), _("Median hours to decision")]]
    reviewers += [[r.name, r.decided, r.approved, r.rejected,
                   None if r.median_hours is None else round(r.median_hours, 2)] for r in report.reviewers]
    categories = [[_("Category")] + [format_month(m) for m in report.months] + [_("Total")]]
    categories += [[category_label(r)] + r.by_month + [r.total] for r in report.categories]
    return [(_("Claims by item"), items), (_("Claims by reviewer"), reviewers),
            (_("Points by category"), categories)]


@bp.route("/admin/c/<int:community_id>/reports.xlsx")
@policy(COMMUNITY_ADMIN)
def download(community_id: int):
    community, report = _report(community_id)
    if report is None:
        return redirect(url_for(".index", community_id=community.id))
    audit.record_read(actor(), AuditAction.DATA_EXPORTED, community, utcnow(), what="catalogue_report",
                      start=report.months[0], end=report.months[-1])
    name = f"report-{community.id}-{report.months[0]}-{report.months[-1]}.xlsx"
    return spreadsheets.download(spreadsheets.xlsx_bytes(sheets(report), widths=dict.fromkeys("ABCDEFGHIJ", 14)),
                                 name)
