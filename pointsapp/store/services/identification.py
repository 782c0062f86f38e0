"""Who is at the counter: identify a resident, and hold that identification until the checkout uses it.

The server checks what the page asks for: the phone's live member code; a printed card and its PIN; a search
and the last four characters of the resident's ID card, typed by the clerk after asking the resident. Wrong PINs and
wrong ID digits count towards one lockout on the resident's row (5 failures: 15 minutes), committed even
though the answer is a refusal (GuessRefused keeps its changes). Each wrong guess is also a CounterGuess row of
the clerk who typed it: past CLERK_GUESS_BUDGET of them within CLERK_GUESS_WINDOW, that clerk's card and search
identifications pause (the phone's code still works). Without it the per-card lock caps guesses at one resident
and not at all of them: five tries at each of a thousand cards every quarter of an hour.

A successful identification is a `CounterIdentification` row; the clerk's session holds only its id. The
checkout consumes it with one conditional UPDATE (not used, not older than 10 minutes, this clerk, this
store) in the checkout's own unit of work, so it leads to one checkout only; "next customer" and a newer
identification in the same browser let it go. A failed checkout rolls back with it: the identification stays
usable for the corrected cart.
"""
import hmac
import unicodedata
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from pointsapp.accounts.models import User
from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_local
from pointsapp.core.passwords import check_password, hash_password
from pointsapp.core.permissions import Action, require
from pointsapp.core.validation import is_id_tail
from pointsapp.store.models import CounterGuess, CounterIdentification, Store
from pointsapp.tree.models import Household, Resident
from pointsapp.volunteering.services import codes

PIN_MAX_FAILURES = 5  # wrong PINs and wrong ID digits together
PIN_LOCK = timedelta(minutes=15)
IDENTIFIED_FOR = timedelta(minutes=10)  # how long an identification may lead to a checkout
# A clerk's wrong PINs and ID digits, across all residents: a busy clerk mistypes a few an hour; a clerk (or a
# script with the clerk's token) trying cards of many residents reaches this and is stopped for the hour.
CLERK_GUESS_BUDGET = 10
CLERK_GUESS_WINDOW = timedelta(hours=1)


class CounterRefusal(Conflict):
    """Why this resident cannot redeem; shown at the counter as it is."""
    code = "cannot_redeem"


class GuessRefused(InvalidInput):
    """A wrong or locked PIN or ID tail. The failure count must stay: the unit of work commits it anyway."""
    code = "wrong_guess"
    keep_changes = True


class PinRefused(GuessRefused):
    code = "wrong_pin"


class IdTailRefused(GuessRefused):
    code = "wrong_id_tail"


class CounterPaused(GuessRefused):
    """This clerk typed too many wrong PINs or ID digits within the window: card and search wait (nothing was
    counted or written, so nothing to keep)."""
    code = "counter_paused"
    http_status = 429
    keep_changes = False


class IdentifyAgain(Conflict):
    """The identification a checkout names is used, old, another clerk's or another store's."""
    code = "identify_again"


# ---- identifying -------------------------------------------------------------------------------------

def resident_for_store(resident: Resident | None, store: Store) -> Resident:
    if resident is None:
        raise NotFound(_l("No such resident."))
    if resident.community_id != store.community_id:
        raise CounterRefusal(_l("%(name)s is a resident of another community."), code="other_community",
                             name=resident.name)
    if resident.moved_out_on is not None:
        raise CounterRefusal(_l("%(name)s has moved out and can no longer redeem."), code="resident_moved_out",
                             name=resident.name)
    return resident


def _record(actor: User, store: Store, resident: Resident, method: str, now: datetime) -> CounterIdentification:
    who = CounterIdentification(community_id=store.community_id, store_id=store.id, clerk_id=actor.id,
                                resident_id=resident.id, method=method, created_at=now)
    db.session.add(who)
    db.session.flush()
    return who


def identify_by_code(actor: User, store: Store, secret: str, code: str, pin: str | None,
                     now: datetime) -> CounterIdentification:
    """A scanned member code: the phone's live code, or a printed card (its QR, or its number typed) with its
    PIN. Raises forbidden, forged_code, code_expired, card_replaced, unknown_card, ambiguous_card_number,
    other_community, resident_moved_out, pin_required, pin_not_set, wrong_pin, pin_locked."""
    require(actor, Action.RUN_STORE, store)
    typed = codes.card_number_candidates(code)
    if typed is not None:  # the number printed on the card, typed: as the scanned card, it needs the PIN
        resident = resident_for_store(card_holder(store.community_id, code, typed), store)
        check_pin(resident, pin, now, actor=actor, store=store)
        return _record(actor, store, resident, "card_pin", now)
    member = codes.read_member_code(secret, code, now, lambda rid: db.session.get(Resident, rid))
    resident = resident_for_store(db.session.get(Resident, member.resident_id), store)
    if not member.is_card:
        return _record(actor, store, resident, "phone_code", now)
    check_pin(resident, pin, now, actor=actor, store=store)
    return _record(actor, store, resident, "card_pin", now)


def card_holder(community_id: int, typed: str, candidates: list[tuple[int, int]]) -> Resident:
    """The resident of this community whose current card has the typed number. Without the dash a number
    may split more than one way ("13091": 1309-1 or 130-91); only a split naming a current card counts, and
    when two do, the clerk is asked for the dash. Residents of other communities are not looked at (a typed
    number tells nobody's name elsewhere). Raises unknown_card, card_replaced, ambiguous_card_number."""
    ids = {rid for rid, _serial in candidates}
    found = {r.id: r for r in db.session.scalars(select(Resident).where(
        Resident.id.in_(ids or [-1]), Resident.community_id == community_id))}
    current = [found[rid] for rid, serial in candidates if rid in found and found[rid].card_serial == serial]
    if len(current) == 1:
        return current[0]
    if len(current) > 1:
        raise InvalidInput(_l("%(typed)s could be card %(a)s or card %(b)s: please type the number with its dash, "
                              "as printed on the card."), code="ambiguous_card_number", typed=typed.strip(),
                           a=codes.card_number(current[0]), b=codes.card_number(current[1]))
    if any(rid in found and serial < found[rid].card_serial for rid, serial in candidates):
        raise codes.CodeError(_l("This member card has been replaced by a newer one."), code="card_replaced")
    raise NotFound(_l("No member card here has the number %(typed)s. Type it as printed on the card, "
                      "e.g. 1309-1, or scan its QR code."), code="unknown_card", typed=typed.strip()[:30])


def identify_by_search(actor: User, store: Store, resident_id: int, id_tail: str | None,
                       now: datetime) -> CounterIdentification:
    """The clerk found the resident by name, room or phone and typed the last four characters of the ID
    card, as the resident told them. Raises forbidden, not_found, resident_moved_out, id_tail_not_set,
    id_tail_required, invalid_id_tail, wrong_id_tail, id_tail_locked."""
    require(actor, Action.RUN_STORE, store)
    resident = db.session.get(Resident, resident_id)
    if resident is None or resident.community_id != store.community_id:
        # an id typed into a raw form names nobody outside the store's community (no name in the answer)
        raise NotFound(_l("No such resident."))
    resident = resident_for_store(resident, store)
    check_id_tail(resident, id_tail, now, actor=actor, store=store)
    return _record(actor, store, resident, "search", now)


# ---- the two secrets and their one lockout ------------------------------------------------------------

def _lock_for_guess(resident: Resident, actor: User | None) -> None:
    """Lock the clerk's row, then the resident's, and read the counters fresh: guesses made in parallel are
    all counted, at one resident and across them (the clerk's budget is then checked under the lock)."""
    if actor is not None:
        locks.lock_row(User, actor.id)
    locks.lock_row(Resident, resident.id)


def _spent(actor: User, now: datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(CounterGuess).where(
        CounterGuess.clerk_id == actor.id, CounterGuess.at > now - CLERK_GUESS_WINDOW))


def _check_budget(actor: User | None, now: datetime) -> None:
    """Raises counter_paused while this clerk has CLERK_GUESS_BUDGET wrong guesses within the window; it lifts
    when the oldest of them is older than the window."""
    if actor is None:
        return
    if _spent(actor, now) >= CLERK_GUESS_BUDGET:
        # the oldest of the newest BUDGET guesses ages out first (older ones in the window do not count twice)
        oldest = db.session.scalar(select(CounterGuess.at).where(
            CounterGuess.clerk_id == actor.id, CounterGuess.at > now - CLERK_GUESS_WINDOW)
            .order_by(CounterGuess.at.desc()).offset(CLERK_GUESS_BUDGET - 1).limit(1))
        raise CounterPaused(_l("Too many wrong PINs or ID digits at this counter within an hour: identifying by "
                               "card or search pauses until %(t)s. The phone's member code still works; the "
                               "community office can see the tries in its audit log."), code="counter_paused",
                            t=format_local(oldest + CLERK_GUESS_WINDOW, "%H:%M"))


def _locked(resident: Resident, now: datetime) -> bool:
    return resident.pin_locked_until is not None and resident.pin_locked_until > now


def _count_failure(resident: Resident, now: datetime, actor: User | None, store: Store | None,
                   method: str) -> int:
    """One more wrong guess; the tries left (0: the lock has just begun, and the office's audit log says by
    whose guesses: a clerk trying ID tails shows up there). The clerk's guess is kept too, and the guess that
    spends the clerk's budget is written to the audit log."""
    if actor is not None and store is not None:
        db.session.add(CounterGuess(community_id=store.community_id, store_id=store.id, clerk_id=actor.id,
                                    resident_id=resident.id, method=method, at=now))
        db.session.flush()
        spent = _spent(actor, now)
        if spent == CLERK_GUESS_BUDGET:
            audit.record(actor, AuditAction.COUNTER_PAUSED, store, now, guesses=spent,
                         minutes=int(CLERK_GUESS_WINDOW.total_seconds() // 60))
    resident.pin_failures += 1
    left = PIN_MAX_FAILURES - resident.pin_failures
    if left <= 0:
        resident.pin_failures, resident.pin_locked_until = 0, now + PIN_LOCK
        left = 0
        audit.record(actor, AuditAction.CARD_LOCKED, resident, now, minutes=int(PIN_LOCK.total_seconds() // 60))
    db.session.flush()
    return left


def _same(given: str, stored: str) -> bool:
    return hmac.compare_digest(given.encode(), stored.encode())  # in constant time


def check_pin(resident: Resident, pin: str | None, now: datetime, actor: User | None = None,
              store: Store | None = None) -> None:
    """Raises pin_required, pin_not_set, pin_locked, counter_paused, wrong_pin (after counting the failure)."""
    _lock_for_guess(resident, actor)
    if resident.pin_hash is None:
        raise CounterRefusal(_l("%(name)s's card has no PIN yet; the community office sets one."),
                             code="pin_not_set", name=resident.name)
    if _locked(resident, now):
        raise PinRefused(_l("Too many wrong PINs. The card is locked until %(t)s."), code="pin_locked",
                         t=format_local(resident.pin_locked_until, "%H:%M"))
    if not pin:
        raise PinRefused(_l("A printed card needs the resident's PIN."), code="pin_required")
    _check_budget(actor, now)  # before the PIN is compared: a paused clerk learns nothing, right or wrong
    if check_password(resident.pin_hash, pin):
        resident.pin_failures, resident.pin_locked_until = 0, None
        return
    left = _count_failure(resident, now, actor, store, "card_pin")
    if not left:
        raise PinRefused(_l("Too many wrong PINs. The card is locked for 15 minutes."), code="pin_locked")
    raise PinRefused(_l("Wrong PIN. %(n)d tries left."), code="wrong_pin", n=left)


def normal_id_tail(typed: str | None) -> str:
    """What the clerk typed, as ID digits are stored: full-width characters as ASCII (NFKC), x as X."""
    return unicodedata.normalize("NFKC", typed or "").strip().upper()


def check_id_tail(resident: Resident, typed: str | None, now: datetime, actor: User | None = None,
                  store: Store | None = None) -> None:
    """Raises id_tail_not_set, id_tail_locked, id_tail_required, invalid_id_tail, counter_paused, wrong_id_tail
    (after counting the failure)."""
    stored = normal_id_tail(resident.id_tail)
    if not stored:
        raise CounterRefusal(_l("%(name)s has no ID-card digits on file, so search cannot identify this resident: "
                                "scan the phone's member code, or the member card with its PIN, or ask the "
                                "community office to add the last four characters of the ID card."),
                             code="id_tail_not_set", name=resident.name)
    _lock_for_guess(resident, actor)
    if _locked(resident, now):
        raise IdTailRefused(_l("Too many wrong tries for %(name)s: search and card are locked until %(t)s. "
                               "The phone's member code still works."), code="id_tail_locked",
                            name=resident.name, t=format_local(resident.pin_locked_until, "%H:%M"))
    given = normal_id_tail(typed)
    if not given:
        raise IdTailRefused(_l("Ask %(name)s for the last four characters of the ID card and type them."),
                            code="id_tail_required", name=resident.name)
    if not is_id_tail(given):  # a slip of the finger, not a guess: not counted
        raise IdTailRefused(_l("The last four characters of an ID card are digits, the last one may be X."),
                            code="invalid_id_tail")
    _check_budget(actor, now)  # before the digits are compared: a paused clerk learns nothing, right or wrong
    if _same(given, stored):
        resident.pin_failures, resident.pin_locked_until = 0, None
        return
    left = _count_failure(resident, now, actor, store, "search")
    if not left:
        raise IdTailRefused(_l("Too many wrong tries for %(name)s: search and card are locked for 15 minutes. "
                               "The phone's member code still works."), code="id_tail_locked", name=resident.name)
    raise IdTailRefused(_l("These are not the last four characters of %(name)s's ID card. %(n)d tries left."),
                        code="wrong_id_tail", name=resident.name, n=left)


def set_pin(actor: User, resident: Resident, pin: str, now: datetime) -> None:
    """Raises forbidden, invalid_pin."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    pin = (pin or "").strip()
    if not (pin.isdigit() and 4 <= len(pin) <= 6) or len(set(pin)) == 1:
        raise InvalidInput(_l("The PIN is 4 to 6 digits, not all the same."), code="invalid_pin")
    resident.pin_hash = hash_password(pin)
    resident.pin_failures, resident.pin_locked_until = 0, None


def reissue_card(actor: User, resident: Resident, now: datetime) -> None:
    """A lost card: the next card gets a new serial; the old one stops working. Raises forbidden."""
    require(actor, Action.MANAGE_COMMUNITY, resident)
    resident.card_serial += 1


def with_address(resident_id: int) -> Resident:
    """The identified resident with her household and building (the counter shows her address), in one
    statement, even when she is already in the session without them."""
    return db.session.get(Resident, resident_id, options=[joinedload(Resident.household).joinedload(Household.building)],
                          populate_existing=True)


# ---- holding and using an identification -----------------------------------------------------------------

def _usable(actor: User, store: Store, now: datetime):
    return (CounterIdentification.consumed_at.is_(None), CounterIdentification.created_at > now - IDENTIFIED_FOR,
            CounterIdentification.clerk_id == actor.id, CounterIdentification.store_id == store.id,
            CounterIdentification.community_id == store.community_id)


def current(actor: User, store: Store, identification_id: int | None, now: datetime) -> CounterIdentification | None:
    """The identification this clerk's browser holds, if it may still lead to a checkout here."""
    if not identification_id:
        return None
    # with the resident and her address, which the counter shows (one statement, not four)
    who = db.session.scalar(select(CounterIdentification)
                            .where(CounterIdentification.id == identification_id, *_usable(actor, store, now))
                            .options(joinedload(CounterIdentification.resident).joinedload(Resident.household)
                                     .joinedload(Household.building)))
    return who if who is not None and who.resident.moved_out_on is None else None


def release(actor: User, identification_id: int | None, now: datetime) -> None:
    """The clerk lets the resident go ("next customer", or another resident identified in this browser): a
    cookie saved before can no longer check the resident out. Another clerk's identification stays. Raises
    busy."""
    if identification_id:
        with locks.contended():
            db.session.execute(update(CounterIdentification)
                               .where(CounterIdentification.id == identification_id,
                                      CounterIdentification.clerk_id == actor.id,
                                      CounterIdentification.consumed_at.is_(None))
                               .values(consumed_at=now).execution_options(synchronize_session=False))


def find(identification_id: int | None) -> CounterIdentification | None:
    """The identification with this id, used or not (a checkout's repeat compares its resident)."""
    if not identification_id:
        return None
    # with its resident, whom the checkout reads next (one statement, not two)
    return db.session.get(CounterIdentification, identification_id,
                          options=[joinedload(CounterIdentification.resident)])


def consume(actor: User, store: Store, who: CounterIdentification, now: datetime) -> bool:
    """Use the identification for this checkout: True when it was still usable and is now used (the row
    stays locked until the unit of work ends, so a twin checkout waits here, then finds it used). Raises busy."""
    with locks.contended():
        done = db.session.execute(update(CounterIdentification)
                                  .where(CounterIdentification.id == who.id, *_usable(actor, store, now))
                                  .values(consumed_at=now).execution_options(synchronize_session=False)).rowcount
    db.session.expire(who, ["consumed_at"])
    return done == 1


def refuse_used(actor: User, store: Store, who: CounterIdentification | None, now: datetime) -> IdentifyAgain:
    """Why this identification leads to no checkout, in the clerk's words (the error to raise)."""
    if who is not None:
        db.session.refresh(who)
    if who is None:
        return IdentifyAgain(_l("Identify the resident first."), code="not_identified")
    if who.clerk_id != actor.id or who.store_id != store.id:  # (named to nobody else)
        return IdentifyAgain(_l("This identification was made by another clerk or at another counter. "
                                "Please identify the resident again."))
    if who.consumed_at is not None:
        return IdentifyAgain(_l("%(name)s's identification has been used by a checkout or let go. "
                                "Please identify the resident again."), name=who.resident.name)
    return IdentifyAgain(_l("%(name)s was identified more than 10 minutes ago. Please identify the resident "
                            "again."), name=who.resident.name)
