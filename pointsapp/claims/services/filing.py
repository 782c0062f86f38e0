"""Filing a claim: who may, what the item and the day allow, the evidence (photos, a witness), and the item's
per-resident limit, counted under the resident's account lock so two claims at once cannot both take the last
slot. Photos are stored resized, without EXIF/GPS, with a perceptual hash that flags the same photo sent twice."""
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from pointsapp.accounts.models import User
from pointsapp.catalogue.models import CatalogueItem, Evidence, ItemKind
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.claims.models import OPEN_STATUSES, Claim, ClaimPhoto, ClaimStatus
from pointsapp.claims.services.access import may_file, record_event
from pointsapp.claims.services.fields import DESCRIPTION_MAX, FILE_WITHIN_DAYS, MAX_PHOTOS, ClaimFields
from pointsapp.core import photos as core_photos
from pointsapp.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_span, local_date
from pointsapp.core.text import lines, one_line
from pointsapp.core.validation import clean_phone, is_phone
from pointsapp.ledger.services.posting import lock_account
from pointsapp.tree.models import Resident
from pointsapp.volunteering.models import Activity, Attendance

PHOTO_PIXELS = 1280  # the longer side of a stored photo: enough to judge a cleaned hallway, ~200 KB
DUPLICATE_DISTANCE = 6  # pHash bits: a re-saved or resized copy differs by a few, another photo by ~30
DUPLICATE_DAYS = 365  # near matches are looked for among the community's photos of this many days
PLACE_MAX = 100
MAX_MINUTES = 24 * 60
COUNTED_AT_FILING = (*OPEN_STATUSES, ClaimStatus.APPROVED)


class LimitReached(Conflict):
    code = "limit_reached"


class HoursOverlap(Conflict):
    code = "hours_overlap"


def overlapping(resident_id: int, start: datetime, minutes: int, statuses: Sequence[str],
                *, excluding: int | None = None) -> Claim | None:
    """The resident's earliest per-hour claim (of any item) with one of `statuses` whose time
    [occurred_at, occurred_at + minutes) meets [start, start + minutes): the same hour is served once."""
    end = start + timedelta(minutes=minutes)
    stmt = (select(Claim).where(Claim.resident_id == resident_id, Claim.minutes.is_not(None),
                                Claim.occurred_at > start - timedelta(minutes=MAX_MINUTES), Claim.occurred_at < end,
                                Claim.status.in_([str(s) for s in statuses]))
            .order_by(Claim.occurred_at, Claim.id))
    if excluding is not None:
        stmt = stmt.where(Claim.id != excluding)
    return next((c for c in db.session.scalars(stmt) if c.occurred_at + timedelta(minutes=c.minutes) > start), None)


def attended_during(resident_id: int, start: datetime, minutes: int) -> tuple[Attendance, Activity] | None:
    """The resident's attendance (not rejected) at an activity whose served time (check-in to check-out, within the
    activity's hours; to its end while not checked out) meets [start, start + minutes): hours an activity pays for
    are not claimed again."""
    end = start + timedelta(minutes=minutes)
    rows = db.session.execute(
        select(Attendance, Activity).join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.resident_id == resident_id, Attendance.status != "rejected", Attendance.checked_in_at < end,
               Activity.starts_at < end, Activity.ends_at > start)
        .order_by(Attendance.checked_in_at, Attendance.id)).all()
    for attendance, activity in rows:
        served_from = max(attendance.checked_in_at, activity.starts_at)
        served_to = min(attendance.checked_out_at or activity.ends_at, activity.ends_at)
        if served_from < end and served_to > start:
            return attendance, activity
    return None


def refuse_attended(found: tuple[Attendance, Activity] | None) -> None:
    if found is not None:
        attendance, activity = found
        raise HoursOverlap(_l("These hours overlap the activity %(title)s (%(span)s) you attended: its hours are "
                              "counted there."), title=activity.title,
                           span=format_span(max(attendance.checked_in_at, activity.starts_at),
                                            min(attendance.checked_out_at or activity.ends_at, activity.ends_at)))


def refuse_overlap(other: Claim | None) -> None:
    if other is not None:
        raise HoursOverlap(_l("These hours overlap claim #%(id)d (%(span)s): the same hours can be claimed only "
                              "once."), id=other.id,
                           span=format_span(other.occurred_at, other.occurred_at + timedelta(minutes=other.minutes)))


def limit_used(item: CatalogueItem, resident_id: int, occurred_at: datetime, statuses: Sequence[str],
               *, excluding: int | None = None) -> int | None:
    """Claims of the item's lineage by the resident in the limit window around `occurred_at` with one of
    `statuses` (None: the item has no limit)."""
    window = catalogue_rules.limit_window(item, occurred_at)
    if window is None:
        return None
    stmt = (select(func.count()).select_from(Claim)
            .where(Claim.resident_id == resident_id, Claim.lineage_id == item.lineage_id,
                   Claim.occurred_at >= window[0], Claim.occurred_at < window[1],
                   Claim.status.in_([str(s) for s in statuses])))
    if excluding is not None:
        stmt = stmt.where(Claim.id != excluding)
    return db.session.scalar(stmt)


def refuse_over_limit(item: CatalogueItem, used: int | None) -> None:
    if used is not None and used >= item.limit_count:
        raise LimitReached(_l("The limit for this item is %(limit)d per %(period)s, and %(used)d are already "
                              "counted in that period."), limit=item.limit_count, period=period_word(item),
                           used=used)


def period_word(item: CatalogueItem):
    """The limit's period as a word (lazy: read in the language of whoever sees the message)."""
    return {"day": _l("day"), "week": _l("week"), "month": _l("month"), "year": _l("year")}.get(
        item.limit_period, item.limit_period)


def _item(resident: Resident, item_id, occurred_at: datetime) -> CatalogueItem:
    item = catalogue_rules.item_in(resident.community_id, item_id)
    if item is None:
        raise NotFound(_l("No such item in your community's catalogue."), code="unknown_item")
    if item.kind != ItemKind.EARN or not item.claimable:
        raise InvalidInput(_l("This item cannot be claimed."), code="not_claimable")
    if not catalogue_rules.is_open_on(item, local_date(occurred_at)):
        raise InvalidInput(_l("This item was not open on that day (or it has changed: please choose it again "
                              "from the current catalogue)."), code="item_closed")
    return item


def _occurred(occurred_at, now: datetime) -> datetime:
    if not isinstance(occurred_at, datetime) or occurred_at.tzinfo is None:
        raise InvalidInput(_l("Please say when it happened."), code="invalid_date")
    if occurred_at > now:
        raise InvalidInput(_l("The time it happened cannot be in the future."), code="occurred_in_future")
    if occurred_at < now - timedelta(days=FILE_WITHIN_DAYS):
        raise InvalidInput(_l("A good deed can be claimed up to %(days)d days after it happened."),
                           code="occurred_too_long_ago", days=FILE_WITHIN_DAYS)
    return occurred_at


def _minutes(item: CatalogueItem, minutes) -> int | None:
    if not item.per_hour:
        return None
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES:
        raise InvalidInput(_l("Please say how long it took, in minutes (1 to %(max)d)."), code="invalid_minutes",
                           max=MAX_MINUTES)
    return minutes


def _text(value, limit: int, code: str, multiline: bool = True) -> str:
    text = (lines if multiline else one_line)(value or "")
    if len(text) > limit:
        raise InvalidInput(_l("Please write at most %(n)d characters."), code=code, n=limit)
    return text


WITNESS_UNKNOWN = _l("This phone number cannot be a witness: it must belong to a registered neighbour outside "
                     "your household.")


def witness_for(resident: Resident, phone_typed: str, filer: User) -> Resident | None:
    """The active resident of her community whose phone was typed; a phone shared in a family names the one
    whose login is that phone. Whatever is wrong with a phone that is not of her household (nobody has it, she
    moved out, she has no account, several share it without a login) gives ONE refusal, witness_unknown: the
    field must not tell a claimant whose number a phone is. Raises invalid_witness_phone, witness_unknown,
    witness_household (a phone of her own household: she knows it anyway), witness_is_filer."""
    phone = clean_phone(phone_typed)
    if not phone:
        return None
    if not is_phone(phone):
        raise InvalidInput(_l("The witness's phone number is not a valid mobile number."),
                           code="invalid_witness_phone")
    candidates = list(db.session.scalars(
        select(Resident).where(Resident.community_id == resident.community_id, Resident.phone == phone,
                               Resident.moved_out_on.is_(None)).order_by(Resident.id).limit(20)))
    if any(c.id == resident.id or c.household_id == resident.household_id for c in candidates):
        raise InvalidInput(_l("The witness cannot be the claimant or someone of her household."),
                           code="witness_household")
    if len(candidates) > 1:
        login = db.session.scalar(select(User).where(User.phone == phone, User.is_enabled.is_(True)))
        candidates = [c for c in candidates if login is not None and login.resident_id == c.id]
    if not candidates:
        raise InvalidInput(WITNESS_UNKNOWN, code="witness_unknown")
    witness = candidates[0]
    if filer.resident_id == witness.id:
        raise InvalidInput(_l("You filed this claim: please name another resident as the witness."),
                           code="witness_is_filer")
    if db.session.scalar(select(User.id).where(User.resident_id == witness.id, User.is_enabled.is_(True))) is None:
        raise InvalidInput(WITNESS_UNKNOWN, code="witness_unknown")
    return witness


def read_photos(data: Sequence[bytes]) -> list[tuple[core_photos.Photo, str]]:
    """Each upload resized, upright, without metadata, with its perceptual hash (all before any lock is taken:
    decoding takes a moment). Raises too_many_photos, invalid_photo, photo_too_large."""
    if len(data) > MAX_PHOTOS:
        raise InvalidInput(_l("Please send at most %(n)d photos."), code="too_many_photos", n=MAX_PHOTOS)
    photos = [core_photos.resized(d, PHOTO_PIXELS) for d in data]
    return [(photo, core_photos.perceptual_hash(photo.content)) for photo in photos]


def add_photos(claim: Claim, photos: Sequence[tuple[core_photos.Photo, str]], now: datetime) -> list[ClaimPhoto]:
    """Store the photos (from read_photos); one that matches an earlier photo of the community (same hash, or
    within DUPLICATE_DISTANCE bits) names it and flags the claim for the reviewer."""
    rows = [ClaimPhoto(community_id=claim.community_id, claim_id=claim.id, content=photo.content,
                       width=photo.width, height=photo.height, phash=phash, created_at=now)
            for photo, phash in photos]
    recent = None
    for row in rows:
        exact = db.session.scalar(  # through ix_claim_photo_hash, at any age
            select(ClaimPhoto.id).where(ClaimPhoto.community_id == claim.community_id,
                                        ClaimPhoto.phash == row.phash, ClaimPhoto.claim_id != claim.id)
            .order_by(ClaimPhoto.id).limit(1))
        if exact is None:
            if recent is None:  # the hashes of the last year's photos, one column, read once
                recent = db.session.execute(
                    select(ClaimPhoto.id, ClaimPhoto.phash)
                    .where(ClaimPhoto.community_id == claim.community_id, ClaimPhoto.claim_id != claim.id,
                           ClaimPhoto.created_at >= now - timedelta(days=DUPLICATE_DAYS))
                    .order_by(ClaimPhoto.id)).all()
            exact = next((pid for pid, phash in recent
                          if core_photos.hash_distance(phash, row.phash) <= DUPLICATE_DISTANCE), None)
        if exact is not None:
            row.duplicate_of_id = exact
            claim.has_duplicate_photo = True
    db.session.add_all(rows)
    return rows


def _filed_before(resident: Resident, actor: User, request_key: str | None, item_id=None) -> Claim | None:
    """The claim this form (its request key) already filed. A form sent again for another resident or another item
    (the Back button shows the cached form with its key) is refused, never answered with the first claim."""
    if not request_key:
        return None
    first = db.session.scalar(select(Claim).where(Claim.community_id == resident.community_id,
                                                  Claim.filed_by_id == actor.id, Claim.request_key == request_key))
    if first is not None and (first.resident_id != resident.id or (item_id is not None and first.item_id != item_id)):
        raise Conflict(_l("This form was already sent for another claim. Please open the claim form again."),
                       code="form_reused")
    return first


def file_claim(actor: User, resident: Resident, fields: ClaimFields, now: datetime,
               request_key: str | None = None) -> Claim:
    """A claim of a catalogue item for `resident`, by herself or by whoever may file for her. With a
    `request_key` (the form's hidden request id) filing is idempotent: the same (community, filer, key) returns
    the first claim and files nothing (a twice-tapped or retried form).
    Raises forbidden, resident_moved_out, unknown_item, not_claimable, item_closed, invalid_date,
    occurred_in_future, occurred_too_long_ago, invalid_minutes, too_short, description_too_long,
    place_too_long, photo_required, too_many_photos, invalid_photo, photo_too_large, witness_required,
    invalid_witness_phone, witness_unknown, witness_household, witness_is_filer,
    limit_reached, hours_not_served, hours_overlap, busy."""
    if not may_file(actor, resident):
        raise PermissionDenied(_l("You may file claims only for yourself or for residents of the buildings or "
                                  "grid you look after."))
    request_key = (request_key or "").strip()[:64] or None
    first = _filed_before(resident, actor, request_key, fields.item_id)
    if first is not None:
        return first
    if resident.moved_out_on is not None:
        raise InvalidInput(_l("%(name)s has moved out and can no longer earn points."), code="resident_moved_out",
                           name=resident.name)
    occurred_at = _occurred(fields.occurred_at, now)
    item = _item(resident, fields.item_id, occurred_at)
    minutes = _minutes(item, fields.minutes)
    if minutes is not None and occurred_at + timedelta(minutes=minutes) > now:
        raise InvalidInput(_l("The time claimed must already be over: it started at the time given and cannot end "
                              "later than now."), code="hours_not_served")
    points = catalogue_rules.points_for(item, minutes)
    if points <= 0:
        raise InvalidInput(_l("This item gives points by the time spent: the time given is too short to earn a whole point."),
                           code="too_short")
    description = _text(fields.description, DESCRIPTION_MAX, "description_too_long")
    place = _text(fields.place, PLACE_MAX, "place_too_long", multiline=False)
    photos = read_photos(tuple(fields.photos or ()))
    if item.evidence == Evidence.PHOTO and not photos:
        raise InvalidInput(_l("This item needs at least one photo."), code="photo_required")
    witness = witness_for(resident, fields.witness_phone or "", actor)
    if item.evidence == Evidence.WITNESS and witness is None:
        raise InvalidInput(_l("This item needs a witness: give the phone number of a neighbour who saw it."),
                           code="witness_required")
    lock_account(resident)  # the limit is counted and taken under her account lock (approval takes it too)
    first = _filed_before(resident, actor, request_key, fields.item_id)  # under the lock: a twin of this form committed first
    if first is not None:
        return first
    refuse_over_limit(item, limit_used(item, resident.id, occurred_at, COUNTED_AT_FILING))
    if minutes is not None:
        refuse_overlap(overlapping(resident.id, occurred_at, minutes, COUNTED_AT_FILING))
        refuse_attended(attended_during(resident.id, occurred_at, minutes))
    claim = Claim(community_id=resident.community_id, resident_id=resident.id, item_id=item.id,
                  lineage_id=item.lineage_id, filed_by_id=actor.id, occurred_at=occurred_at, minutes=minutes,
                  place=place, description=description, points=points,
                  witness_id=witness.id if witness else None,
                  status=ClaimStatus.WITNESS if witness else ClaimStatus.PENDING, submitted_at=now,
                  created_at=now, reason="", has_duplicate_photo=False, request_key=request_key)
    try:
        with db.session.begin_nested():  # the unique (community, filer, request_key) stands behind the check
            db.session.add(claim)
            db.session.flush()
    except IntegrityError:
        first = _filed_before(resident, actor, request_key, fields.item_id)
        if first is None:
            raise
        return first
    add_photos(claim, photos, now)
    record_event(claim, actor, "filed", now)
    db.session.flush()
    return claim
