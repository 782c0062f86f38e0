"""Pages of 积分申报: the claim form (a resident on a phone, or a building leader or grid worker for her), her
claims, the witness's confirmation, the reviewers' queues, one claim's page and its photos."""
import uuid
from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import inspect, select
from sqlalchemy.orm import joinedload, selectinload

from pointsapp.accounts.models import User
from pointsapp.catalogue.models import Confirmer, Evidence, LimitPeriod
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.claims import services as claims
from pointsapp.claims.forms import AnswerForm, ClaimForm, EmptyForm, ReasonForm, options
from pointsapp.claims.models import Claim, ClaimEvent, ClaimStatus
from pointsapp.core import photos
from pointsapp.core.errors import InvalidInput
from pointsapp.core.extensions import db
from pointsapp.core.localtime import from_local_naive, local_date, local_naive
from pointsapp.core.lookup import typed_id
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, policy
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, safe_path, utcnow
from pointsapp.rankings import services as rankings
from pointsapp.tree import services as tree
from pointsapp.tree.models import Household

bp = Blueprint("claims", __name__)

# Up to MAX_PHOTOS phone photos of a few MB each (core.photos refuses any one above its MAX_BYTES with a message):
# the app's 8 MB request limit would refuse three of them with an error page before the form could say anything.
UPLOAD_ENDPOINTS = {"claims.new", "claims.answer"}
UPLOAD_LIMIT = claims.MAX_PHOTOS * photos.MAX_BYTES + 1024 * 1024


@bp.url_value_preprocessor
def _upload_limit(endpoint, values):
    """Runs before the app's before_request hooks (which read the form): the claim form's larger body limit."""
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = max(UPLOAD_LIMIT, current_app.config.get("MAX_CONTENT_LENGTH") or 0)



# ---- words ---------------------------------------------------------------------------------------

def reviewer_word(item) -> str:
    return {
        Confirmer.BUILDING_LEADER: _("the building leader"),
        Confirmer.GRID_WORKER: _("the grid worker"),
        Confirmer.OFFICE: _("the community office"),
        Confirmer.TEAM_LEAD: _("the team lead"),
    }.get(item.confirmer, _("the community office"))


def status_label(claim) -> str:
    """The state in plain words, as the claimant reads it."""
    if claim.status == ClaimStatus.WITNESS:
        return _("Waiting for the witness")
    if claim.status == ClaimStatus.PENDING:
        return _("Waiting for review by %(who)s", who=reviewer_word(claim.item))
    if claim.status == ClaimStatus.MORE_INFO:
        return _("More needed from you")
    if claim.status == ClaimStatus.APPROVED:
        return _("Approved: +%(n)d points", n=claim.points)
    if claim.status == ClaimStatus.REJECTED:
        return _("Not approved")
    if claim.status == ClaimStatus.WITHDRAWN:
        return _("Withdrawn")
    return claim.status


def evidence_word(item) -> str:
    return {Evidence.PHOTO: _("Needs a photo"), Evidence.WITNESS: _("Needs a witness"),
            Evidence.NONE: _("No proof needed")}.get(item.evidence, "")


def points_word(item) -> str:
    if item.per_hour:
        if item.hourly_cap:
            return _("%(n)d points an hour, at most %(cap)d", n=item.points, cap=item.hourly_cap)
        return _("%(n)d points an hour", n=item.points)
    return _("%(n)d points", n=item.points)


def limit_word(item) -> str:
    if not item.limit_count:
        return ""
    return {
        LimitPeriod.DAY: _("At most %(n)d a day", n=item.limit_count),
        LimitPeriod.WEEK: _("At most %(n)d a week", n=item.limit_count),
        LimitPeriod.MONTH: _("At most %(n)d a month", n=item.limit_count),
        LimitPeriod.YEAR: _("At most %(n)d a year", n=item.limit_count),
    }.get(item.limit_period, "")


def event_word(event) -> str:
    """A step of the history (the actions claims.services records)."""
    return {
        "filed": _("Claimed"), "witnessed": _("The witness confirmed"),
        "witness_declined": _("The witness said it is not true"), "asked": _("Reviewer asked for more"),
        "answered": _("More added"), "approved": _("Approved"), "rejected": _("Not approved"),
        "withdrawn": _("Withdrawn"),
    }.get(event.action, event.action)


def witness_name(claim) -> str:
    """The witness's name as this reader may see it. The claimant (and whoever filed for her) named the witness
    by a phone number: until the witness confirms, she reads the name only as the public boards show it
    (rankings' public-name rule, 张*明), so the field cannot be used to learn whose a phone is. The witness
    herself, the reviewers and the office read the whole name."""
    user = current_user
    claimant_side = (getattr(user, "resident_id", None) == claim.resident_id
                     or getattr(user, "id", None) == claim.filed_by_id)
    if claim.witnessed_at is not None or not claimant_side or user.resident_id == claim.witness_id:
        return claim.witness.name
    return rankings.public_name(tree.get_community(claim.community_id), claim.witness.name) or _("a neighbour")


@bp.app_context_processor
def _helpers():
    return {"claim_status": status_label, "claim_reviewer": reviewer_word, "claim_evidence": evidence_word,
            "claim_points": points_word, "claim_limit": limit_word, "claim_event": event_word,
            "claim_witness": witness_name}


@bp.app_template_global()
def reviews_claims() -> bool:
    """Whether the home page shows "Claims I review"."""
    return claims.may_review_any(current_user)


@bp.app_template_global()
def claims_waiting_on_me() -> tuple[int, int]:
    """(her claims asked for more, claims waiting for her as witness): the home page's reminders."""
    return claims.waiting_on(current_user)


# ---- filing --------------------------------------------------------------------------------------

def _photos(field: str = "photos") -> list[bytes] | None:
    """The chosen files' bytes (a browser sends one empty part when none is chosen), or None after flashing
    that there are too many."""
    files = [f for f in request.files.getlist(field) if f and (f.filename or "")]
    if len(files) > claims.MAX_PHOTOS:
        flash(_("Please choose at most %(n)d photos.", n=claims.MAX_PHOTOS), "error")
        return None
    return [f.read() for f in files]


def _for_whom(user, form):
    """(residents she may file for, the chosen one or None). Herself first when she is a resident. On POST the
    chosen resident must be on her list (an unknown id, or a neighbour gone from it while the form was open, is
    None: never a claim for someone else); only a page opened afresh (GET) starts with the first."""
    others = [r for r in claims.fileable_residents(user) if r.id != user.resident_id]
    people = ([user.resident] if user.resident is not None and user.resident.moved_out_on is None else []) + others
    form.resident.choices = options([(str(r.id), _("Myself") if r.id == user.resident_id else
                                      f"{r.name} · {r.household.address}") for r in people])
    if request.method == "POST":
        raw = (form.resident.data or "").strip()
        wanted = typed_id(raw)
        chosen = next((r for r in people if r.id == wanted), None)
        if chosen is None and not raw and len(people) == 1:
            chosen = people[0]  # (a form without the field: she files for herself, the only one she may)
    else:
        chosen = people[0] if people else None
    if chosen is not None:
        form.resident.data = str(chosen.id)
    return people, chosen


@bp.route("/me/claims/new", methods=["GET", "POST"])
@policy(AUTHENTICATED)
def new():
    user, now = actor(), utcnow()
    form = ClaimForm()
    people, whom = _for_whom(user, form)
    if not people:
        return render_template("claims/new.html", form=form, people=[], groups=[], max_photos=claims.MAX_PHOTOS)
    today = local_date(now)
    items = [i for i in catalogue_rules.current_items((whom or people[0]).community_id, "earn", claimable=True)
             if catalogue_rules.is_open_on(i, today)]
    form.item.choices = options([(str(i.id), i.title) for i in items])
    if request.method == "GET":
        form.request_id.data = uuid.uuid4().hex
        moment = local_naive(now)
        form.day.data, form.time.data = moment.date(), moment.time().replace(second=0, microsecond=0)
        wanted = typed_id(request.args.get("item"))
        preselected = next((i for i in items if i.id == wanted or i.lineage_id == wanted), None)
        if preselected is not None:
            form.item.data = str(preselected.id)
    elif whom is None:
        form.validate()
        message = _("This resident is not on your list (any more): please choose again.")
        form.resident.errors = [*form.resident.errors, message]
        if len(people) == 1:  # the field is hidden: say it at the top
            flash(message, "error")
    elif form.validate_on_submit():
        photos = _photos()
        item_id = typed_id(form.item.data)
        if photos is not None:
            ok, claim = attempt(lambda: claims.file_claim(user, whom, _fields(form, item_id, photos), now,
                                                          request_key=form.request_id.data or None))
            if ok:
                return redirect(url_for(".show", claim_id=claim.id, filed=1))
    return render_template("claims/new.html", form=form, people=people, items=items, max_photos=claims.MAX_PHOTOS,
                           within_days=claims.FILE_WITHIN_DAYS, chosen=typed_id(form.item.data)), \
        200 if request.method == "GET" else 422


def _fields(form, item_id, photos) -> claims.ClaimFields:
    occurred = from_local_naive(datetime.combine(form.day.data, form.time.data))
    if item_id is None:
        raise InvalidInput(_("Please choose what you did."), code="invalid_item")
    return claims.ClaimFields(item_id=item_id, occurred_at=occurred, place=form.place.data or "",
                              description=form.description.data or "", minutes=form.minutes.data,
                              witness_phone=form.witness_phone.data or "", photos=tuple(photos))


# ---- the claimant ----------------------------------------------------------------------------------

@bp.route("/me/claims")
@policy(AUTHENTICATED)
def mine():
    rows = claims.my_claims(actor())
    kept = _prefetch(rows)
    page = render_template("claims/mine.html", rows=rows, form=EmptyForm(), max_photos=claims.MAX_PHOTOS)
    del kept
    return page


@bp.route("/me/claims/<int:claim_id>/withdraw", methods=["POST"])
@policy(AUTHENTICATED)
def withdraw(claim_id: int):
    if EmptyForm().validate_on_submit():
        user = actor()
        attempt(lambda: claims.withdraw(user, claims.get_claim(user, claim_id), utcnow()),
                _("Your claim is withdrawn."))
    return redirect(url_for(".mine"))


@bp.route("/me/claims/<int:claim_id>/answer", methods=["POST"])
@policy(AUTHENTICATED)
def answer(claim_id: int):
    form = AnswerForm()
    if form.validate_on_submit():
        photos = _photos()
        if photos is not None:
            if not (form.text.data or photos):
                flash(_("Please write an answer or add a photo."), "error")
            else:
                user = actor()
                attempt(lambda: claims.answer_more(user, claims.get_claim(user, claim_id), form.text.data or "",
                                                   tuple(photos), utcnow()),
                        _("Sent. Your claim is back with the reviewer."))
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for(".mine"))


# ---- the witness -----------------------------------------------------------------------------------

@bp.route("/me/witness")
@policy(AUTHENTICATED)
def witness_list():
    return render_template("claims/witness.html", rows=claims.witness_requests(actor()), form=EmptyForm(),
                           note_form=ReasonForm(formdata=None))


@bp.route("/me/witness/<int:claim_id>", methods=["POST"])
@policy(AUTHENTICATED)
def witness(claim_id: int):
    user, now = actor(), utcnow()
    if request.form.get("answer") == "true":
        if EmptyForm().validate_on_submit():
            attempt(lambda: claims.confirm_witness(user, claims.get_claim(user, claim_id), now),
                    _("Thank you. Your confirmation is recorded."))
    else:
        form = ReasonForm()
        if form.validate_on_submit():
            attempt(lambda: claims.decline_witness(user, claims.get_claim(user, claim_id), form.reason.data, now),
                    _("Recorded. The claim is closed as not approved."))
        else:
            flash(_("Please say what is not true."), "error")
    return redirect(url_for(".witness_list"))


# ---- reviewers -----------------------------------------------------------------------------------

def _prefetch(listed) -> list:
    """The claims' history with its people (her own list comes without it), the claimants' households with their
    buildings and the filers, in one statement each: the page's lazy loads (address, "filed for her by", who did
    each step) then find them in the session instead of asking once per claim. The caller keeps the returned rows
    while rendering (the session holds its objects weakly)."""
    kept = []
    unloaded = [c.id for c in listed if "events" in inspect(c).unloaded]
    if unloaded:
        kept += db.session.scalars(select(Claim).where(Claim.id.in_(unloaded))
                                   .options(selectinload(Claim.events).joinedload(ClaimEvent.actor))).all()
    households = {c.resident.household_id for c in listed}
    people = {c.filed_by_id for c in listed} | {e.actor_id for c in listed for e in c.events if e.actor_id}
    if households:
        kept += db.session.scalars(select(Household).options(joinedload(Household.building))
                                   .where(Household.id.in_(households))).all()
    if people:
        kept += db.session.scalars(select(User).where(User.id.in_(people))).all()
    return kept


def _queue_page(rows, community=None):
    kept = _prefetch([row.claim for row in rows])
    page = render_template("claims/queue.html", rows=rows, community=community, form=ReasonForm(formdata=None),
                           next_url=request.full_path.rstrip("?"))
    del kept
    return page


@bp.route("/claims/review")
@policy(AUTHENTICATED)
def review_list():
    return _queue_page(claims.review_queue(actor(), now=utcnow()))


@bp.route("/admin/c/<int:community_id>/claims")
@policy(COMMUNITY_ADMIN)
def queue(community_id):
    community = tree.get_community(community_id)
    return _queue_page(claims.review_queue(actor(), community_id=community.id, now=utcnow()), community)


@bp.route("/claims/<int:claim_id>")
@policy(AUTHENTICATED)
def show(claim_id: int):
    user = actor()
    claim = claims.get_claim(user, claim_id)
    reviewing = claim.status == ClaimStatus.PENDING and claims.may_review(user, claim)
    return render_template("claims/show.html", claim=claim, filed=request.args.get("filed") == "1",
                           reviewing=reviewing, item_now=claims.item_now(claim) if reviewing else None, mine=claim.resident_id == user.resident_id or claim.filed_by_id == user.id,
                           form=ReasonForm(formdata=None), button_form=EmptyForm(),
                           next_url=url_for(".show", claim_id=claim.id))


@bp.route("/claims/<int:claim_id>/decide", methods=["POST"])
@policy(AUTHENTICATED)
def decide(claim_id: int):
    user, now = actor(), utcnow()
    back = safe_path(request.form.get("next"), url_for(".review_list"))
    decision = request.form.get("decision")
    form = ReasonForm()
    if not EmptyForm().validate_on_submit():
        return redirect(back)
    if decision == "approve":
        attempt(lambda: claims.approve(user, claims.get_claim(user, claim_id), now),
                _("Approved. The points are in her account."))
    elif decision in ("reject", "ask"):
        if not form.validate():
            for errors in form.errors.values():
                for message in errors:
                    flash(message, "error")
        elif decision == "reject":
            attempt(lambda: claims.reject(user, claims.get_claim(user, claim_id), form.reason.data, now),
                    _("Not approved. The claimant sees your reason."))
        else:
            attempt(lambda: claims.ask_more(user, claims.get_claim(user, claim_id), form.reason.data, now),
                    _("Your question is sent to the claimant."))
    return redirect(back)


@bp.route("/claims/photos/<int:photo_id>.jpg")
@policy(AUTHENTICATED)
def photo(photo_id: int):
    content = claims.photo_content(actor(), photo_id)
    return current_app.response_class(content, mimetype="image/jpeg",
                                      headers={"Cache-Control": "private, max-age=300",
                                               "X-Content-Type-Options": "nosniff"})

