"""/api/v1/public/communities/<id>/board: the big screen's data as JSON (the hall's screen polls it).

The same services and the same public-name rule as the board page (/board/<id>, rankings.views.board):
masked names, opted-out residents left out, households by building and head, never a room or a phone.
Cheap on purpose (tests/test_api_public.py holds it to a statement budget)."""
from pointsapp.core.api import ApiBlueprint
from pointsapp.core.periods import local_date
from pointsapp.core.permissions import PUBLIC, policy
from pointsapp.core.web import utcnow
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.rankings import services as rankings
from pointsapp.rankings.schemas import BoardSchema
from pointsapp.recognition.services import honours, stars
from pointsapp.tree.services import get_community

bp = ApiBlueprint("api_public", __name__, url_prefix="/api/v1/public/communities",
                  description="A community's public board (红榜), no login needed")

BOARD_STARRED = 12  # households on the notice panel, as the page
BOARD_LISTS, BOARD_NAMES = 2, 10  # honour lists and names per list, as the page


@bp.route("/<int:community_id>/board")
@bp.response(200, BoardSchema)
@policy(PUBLIC)
def board(community_id: int):
    """The public board: this month's leaders (residents, households, buildings), the star notice, honours, the latest ledger checkpoint."""
    community = get_community(community_id)
    now = utcnow()
    hidden = rankings.opted_out(community.id)
    panels = [{"subject": subject,
               "columns": [{"span": span.kind, "first_day": span.first_day, "last_day": span.last_day,
                            "period": span.period, "places": places} for span, places in columns]}
              for subject, columns in rankings.board_panels(community, now, hidden)]
    notice = honour_lists = None
    if not community.board_frozen:  # the page hides the notice and honour panels too
        notice = next(iter(stars.on_notice(community.id, limit=1)), None)
        honour_lists = honours.public_lists(community, honours.on_notice_or_published(community.id, limit=BOARD_LISTS),
                                            names=BOARD_NAMES, hidden=hidden)
    checkpoint = ledger_audit.latest_checkpoint(community.id)
    return {
        "community_id": community.id, "community": community.name, "frozen": bool(community.board_frozen),
        "month": rankings.current_periods(now)["month"], "panels": panels,
        "notice": None if notice is None else {
            "id": notice.id, "title": notice.title, "notice_ends_at": notice.notice_ends_at,
            "households": [{"label": label, "stars": n} for label, n in rankings.starred_households(
                community, stars.results(notice, min_stars=1, limit=BOARD_STARRED))]},
        "honours": [{"id": h.id, "kind": h.kind, "title": h.title, "period": h.period, "status": h.status,
                     "notice_ends_at": h.notice_ends_at, "published_at": h.published_at,
                     "rows": [{"rank": rank, "name": name, "detail": detail} for rank, name, detail in rows],
                     "unnamed": unnamed} for h, rows, unnamed in honour_lists or []],
        "checkpoint": None if checkpoint is None else {
            "day": local_date(checkpoint.created_at), "created_at": checkpoint.created_at, "root": checkpoint.root,
            "resident_count": checkpoint.resident_count, "entry_count": checkpoint.entry_count},
    }


blueprints = [bp]
