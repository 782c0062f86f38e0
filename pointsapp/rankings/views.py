"""Rankings for residents and staff, the public board (红榜) for the community hall, board settings."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.localtime import format_period
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, PUBLIC, admin_community_ids, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import utcnow
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.rankings import services as rankings
from pointsapp.rankings.schemas import SaveBoardSettingsSchema, ShowRankingsSchema, ToggleBoardSchema
from pointsapp.recognition.models import Evaluation, StarResult
from pointsapp.recognition.services import honours, stars
from pointsapp.tree.models import Community
from pointsapp.tree.services import get_community

bp = Blueprint("rankings", __name__)

def _labels():
    return {"resident": _("Volunteers"), "household": _("Households"), "building": _("Buildings"),
            "grid": _("Grids"), "team": _("Teams")}, {
        "month": _("This month"), "quarter": _("This quarter"), "year": _("This year"), "all": _("All time")}, {
        "points": _("Points earned"), "minutes": _("Volunteer hours"), "attendances": _("Attendances")}


def _viewer_community(wanted: int | None) -> Community | None:
    if current_user.resident is not None:
        return current_user.resident.community
    ids = admin_community_ids(current_user)
    if ids is None or (wanted and wanted in (ids or set())):
        return db.session.get(Community, wanted) if wanted else db.session.scalar(select(Community).limit(1))
    if ids:
        return db.session.get(Community, min(ids))
    # team leads and clerks see the community they work in
    staff = sorted(g.community_id for g in current_user.grants if g.community_id is not None)
    return db.session.get(Community, staff[0]) if staff else None


@bp.route("/rankings")
@policy(AUTHENTICATED)
def page():
    try:
        wanted = load_or_error(ShowRankingsSchema, request.args)
        months = rankings.month_keys(wanted["start"] or "", wanted["end"] or "") \
            if wanted["period"] == "custom" else None
    except DomainError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".page"))
    community = _viewer_community(wanted["community"])
    if community is None:
        abort(404)
    periods = rankings.current_periods(utcnow())
    which, subject, metric = wanted["period"], wanted["by"], wanted["metric"]
    period = periods.get(which, "A")
    resident = current_user.resident
    own = rankings.own_resident(resident, community)
    frozen = rankings.board_closed(community, own)
    board = [] if frozen else rankings.public_board(community, period, subject, metric, limit=50, months=months)
    # early in the month, last month's final standings (or the last 30 days) below this month's few names
    now = utcnow()
    beside = rankings.fallback_span(community, now, subject, metric) \
        if which == "month" and not months and not frozen else None
    earlier = None if beside is None else (span_caption(rankings.this_month(now)), span_caption(beside),
                                           rankings.public_places(community, beside, subject, metric, limit=50))
    places = rankings.own_places(community, own, period, metric, months)
    mine, household, range_totals = places.mine, places.household, places.range_totals
    subjects, period_labels, metric_labels = _labels()
    evaluations = db.session.scalars(select(Evaluation).where(
        Evaluation.community_id == community.id, Evaluation.status.in_(("notice", "published")))
        .order_by(Evaluation.created_at.desc()).limit(3)).all()
    # her household's rating in each (stored once the notice starts)
    my_stars = {} if own is None else dict(db.session.execute(
        select(StarResult.evaluation_id, StarResult.stars).where(
            StarResult.household_id == own.household_id,
            StarResult.evaluation_id.in_([e.id for e in evaluations] or [-1]))).all())
    ids = admin_community_ids(current_user)
    communities = rankings.community_board(None if ids is None else sorted(ids), period, metric) \
        if (ids is None or len(ids) > 1) and not months else []
    series = [(period_label(m), v) for m, v in rankings.monthly_series(community.id, rankings.last_months(utcnow()))]
    return render_template("rankings/page.html", community=community, evaluations=evaluations, my_stars=my_stars,
                           range_totals=range_totals,
                           honour_lists=honours.on_notice_or_published(community.id),
                           communities=communities, series=series, months=months,
                           range_from=wanted["start"] or "", range_to=wanted["end"] or "", board=board, mine=mine,
                           household=household, earlier=earlier,
                           frozen=frozen, which=which, subject=subject, metric=metric, subjects=subjects,
                           period_labels=period_labels, metric_labels=metric_labels, resident=resident,
                           form=EmptyForm())


@bp.route("/me/board", methods=["POST"])
@policy(AUTHENTICATED)
def toggle_board():
    """A resident opts out of (or back into) public boards; they still see their own rank."""
    resident = current_user.resident
    if resident is not None and EmptyForm().validate_on_submit():
        hide = load_or_error(ToggleBoardSchema, request.form)["hide"]

        def work():
            resident.hide_from_board = hide
        attempt(work, _("Your name is no longer shown on public boards.") if hide
               else _("Your name may be shown on public boards again."))
    return redirect(url_for(".page"))


@bp.route("/board/<int:community_id>")
@policy(PUBLIC)
def board(community_id: int):
    """The big screen in the community hall: panels cycle through this month's leaders."""
    community = get_community(community_id)
    now = utcnow()
    month = rankings.current_periods(now)["month"]
    hidden = rankings.opted_out(community.id)  # read once for every panel
    subjects, _periods, _metrics = _labels()
    panels = [(subjects[subject], [(span_caption(span), places) for span, places in columns])
              for subject, columns in rankings.board_panels(community, now, hidden)]
    notice = next(iter(stars.on_notice(community.id, limit=1)), None)
    starred = [] if notice is None else rankings.starred_households(community, stars.results(notice, min_stars=1,
                                                                                              limit=12))
    honour_lists = honours.public_lists(community, honours.on_notice_or_published(community.id, limit=2),  # 公示 too
                                        names=10, hidden=hidden)
    return render_template("rankings/board.html", community=community, panels=panels, month=month,
                           notice=notice, starred=starred, honour_lists=honour_lists,
                           checkpoint=ledger_audit.latest_checkpoint(community.id))


@bp.route("/admin/c/<int:community_id>/board", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def settings(community_id: int):
    community = get_community(community_id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        def work():
            chosen = load_or_error(SaveBoardSettingsSchema, request.form)
            community.board_mask = chosen["mask"]
            community.board_frozen = chosen["frozen"]
            community.board_min_ranked = chosen["min_ranked"]
            community.board_fallback = chosen["fallback"]
        attempt(work, _("Board settings saved."))
        return redirect(url_for(".settings", community_id=community.id))
    return render_template("rankings/settings.html", community=community, form=EmptyForm(),
                           example=rankings.mask_name("张小明", community.board_mask))


@bp.route("/admin/c/<int:community_id>/stats")
@policy(COMMUNITY_ADMIN)
def stats(community_id: int):
    """Charts people would rather look at than read: points per month, participation, stars."""
    community = get_community(community_id)
    now = utcnow()
    year = rankings.current_periods(now)["year"]
    participation = [(name, round(100 * took / size) if size else 0)
                     for name, took, size in rankings.participation_by_building(community.id, year)]
    latest = db.session.scalar(select(Evaluation).where(Evaluation.community_id == community.id,
                                                        Evaluation.status != "draft")
                               .order_by(Evaluation.created_at.desc()).limit(1))
    distribution = []
    if latest is not None:
        counts = stars.distribution(latest)
        distribution = [("★" * n if n else _("no star"), counts[n]) for n in (5, 4, 3, 2, 1, 0)]
    return render_template("rankings/stats.html", community=community, latest=latest, distribution=distribution,
                           series=[(period_label(m), v) for m, v in
                                   rankings.monthly_series(community.id, rankings.last_months(now))],
                           participation=participation)


@bp.app_template_filter("metric_value")
def metric_value(value: int, metric: str) -> str:
    """Totals as people read them: volunteer minutes as hours with one decimal (1969 → 32.8)."""
    if metric == "minutes":
        return f"{value / 60:.1f}"
    return str(value)


def span_caption(span: rankings.Span) -> str:
    """本月（12月1日至今）, 上月最终排名（2026年11月）, 近30天（11月3日至今）: what a panel counts."""
    start = _("%(m)d/%(d)d", m=span.first_day.month, d=span.first_day.day)
    if span.kind == "month":
        return _("This month (%(start)s to today)", start=start)
    if span.kind == "last_month":
        return _("Last month's final standings (%(month)s)", month=period_label(span.period))
    return _("Last 30 days (%(start)s to today)", start=start)


@bp.app_template_filter("period_label")
def period_label(period: str) -> str:
    """Y2026 → 2026年 / 2026, Q2026-4 → 2026年第4季度 / Q4 2026, M2026-11 → 2026年11月 / November 2026."""
    if period == "A":
        return _("All time")
    return format_period(period)
