"""Claims (积分申报, issue 14): filed by a resident or for her, witnessed, reviewed by the reviewer the item names,
never by the claimant, her household, the witness or the filer; limits at filing and at approval; photos
resized, stripped of EXIF/GPS and compared for duplicates; limit windows at the edges of China-time periods."""
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pointsapp.audit.models import AuditEvent
from pointsapp.catalogue.services import items as catalogue_items
from pointsapp.claims import services as claims
from pointsapp.claims.models import Claim, ClaimEvent, ClaimStatus
from pointsapp.core.errors import DomainError
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.rankings import services as rankings
from pointsapp.rankings.services import period_keys

from .claim_scenes import build_scene, item, photo


@pytest.fixture
def scene(make, db, now):
    return build_scene(make, db, now)


def code_of(work) -> str:
    with pytest.raises(DomainError) as err:
        work()
    return err.value.code


def events(claim) -> list[str]:
    from pointsapp.core.extensions import db
    return list(db.session.scalars(select(ClaimEvent.action).where(ClaimEvent.claim_id == claim.id)
                                   .order_by(ClaimEvent.id)))


# ---- every state --------------------------------------------------------------------------------------

def test_a_claim_goes_from_witness_to_pending_to_more_info_and_back_to_approved_with_its_points(scene, db, now):
    it = item(db, scene, points=8)
    claim = scene.file(it, witness_phone=scene.witness.phone)
    assert (claim.status, claim.points, claim.filed_by_id) == (ClaimStatus.WITNESS, 8, scene.claimant.id)
    assert claims.witness_requests(scene.witness) == [claim]
    assert claims.review_queue(scene.leader, now=now) == []  # not in the queue before the witness confirms

    claims.confirm_witness(scene.witness, claim, now + timedelta(minutes=5))
    assert (claim.status, claim.witnessed_at) == (ClaimStatus.PENDING, now + timedelta(minutes=5))
    submitted = claim.submitted_at

    claims.ask_more(scene.leader, claim, "请补一张清理后的照片", now + timedelta(hours=1))
    assert (claim.status, claim.reason) == (ClaimStatus.MORE_INFO, "请补一张清理后的照片")
    assert claims.get_claim(scene.claimant, claim.id).reason == "请补一张清理后的照片"

    claims.answer_more(scene.claimant, claim, "补充了照片", [photo(1)], now + timedelta(hours=2))
    assert claim.status == ClaimStatus.PENDING
    assert claim.submitted_at == submitted  # back to its place in the oldest-first queue
    assert len(claim.photos) == 1

    claims.approve(scene.leader, claim, now + timedelta(hours=3))
    entry = db.session.get(LedgerEntry, claim.entry_id)
    assert (entry.idempotency_key, entry.amount, entry.source_type, entry.source_id, entry.reason) == (
        f"claim:{claim.id}", 8, "claim", str(claim.id), "楼道广告清理")
    account = ledger.account_of(scene.claimant.resident_id)
    assert (account.balance, account.earned_total) == (8, 8)
    place = rankings.rank_of(scene.community.id, period_keys(now)[0], "resident", scene.claimant.resident_id)
    assert place is not None and place.value == 8
    assert (claim.status, claim.reviewer_id, claim.decided_at) == (ClaimStatus.APPROVED, scene.leader.id,
                                                                   now + timedelta(hours=3))
    assert events(claim) == ["filed", "witnessed", "asked", "answered", "approved"]
    audit = db.session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "claim")).all()
    assert audit == ["claim_approved"]


def test_a_rejected_claim_shows_its_reason_to_the_claimant_and_moves_no_points(scene, db, now):
    claim = scene.file(item(db, scene))
    assert code_of(lambda: claims.reject(scene.leader, claim, "  ", now)) == "reason_missing"
    claims.reject(scene.leader, claim, "照片看不出是哪栋楼", now)
    seen = claims.my_claims(scene.claimant)[0]
    assert (seen.status, seen.reason) == (ClaimStatus.REJECTED, "照片看不出是哪栋楼")
    assert ledger.balance_of(scene.claimant.resident_id) == 0
    assert code_of(lambda: claims.approve(scene.leader, claim, now)) == "claim_state"
    assert db.session.scalars(select(AuditEvent.action)).all() == ["claim_rejected"]


def test_a_claim_withdrawn_while_open_cannot_be_approved_and_a_decided_one_cannot_be_withdrawn(scene, db, now):
    it = item(db, scene)
    claim = scene.file(it)
    claims.withdraw(scene.claimant, claim, now)
    assert claim.status == ClaimStatus.WITHDRAWN
    assert code_of(lambda: claims.approve(scene.leader, claim, now)) == "claim_state"
    other = scene.file(it)
    claims.approve(scene.leader, other, now)
    assert code_of(lambda: claims.withdraw(scene.claimant, other, now)) == "claim_state"
    assert code_of(lambda: claims.withdraw(scene.witness, scene.file(it), now)) == "not_claimant"


def test_a_witness_who_declines_ends_the_claim_with_her_note_and_the_claimant_may_name_another(scene, make, db,
                                                                                                now):
    it = item(db, scene, evidence="witness")
    claim = scene.file(it, witness_phone=scene.witness.phone)
    assert code_of(lambda: claims.confirm_witness(scene.spouse, claim, now)) == "not_found"
    claims.decline_witness(scene.witness, claim, "那天我不在家", now)
    assert (claim.status, claim.reason) == (ClaimStatus.REJECTED, "证明人表示不属实：那天我不在家")
    assert code_of(lambda: claims.confirm_witness(scene.witness, claim, now)) == "claim_state"
    assert code_of(lambda: claims.answer_more(scene.claimant, claim, "我确实做了", (), now)) == "claim_state"
    assert claims.witness_requests(scene.witness) == []
    assert claims.review_queue(scene.leader, now=now) == []
    assert events(claim) == ["filed", "witness_declined"]
    other = make.resident_user(household=make.household(building=scene.b1, room="303"))
    again = scene.file(it, witness_phone=other.phone)
    assert (again.status, again.witness_id) == (ClaimStatus.WITNESS, other.resident_id)


def test_an_answer_never_sends_an_unwitnessed_claim_of_a_witness_item_to_the_queue(scene, db, now):
    claim = scene.file(item(db, scene, evidence="witness"), witness_phone=scene.witness.phone)
    claim.status = ClaimStatus.MORE_INFO  # however it came there (a row from before decline_witness ended claims)
    db.session.flush()
    assert code_of(lambda: claims.answer_more(scene.claimant, claim, "我确实做了", (), now)) == "witness_missing"
    assert claim.status == ClaimStatus.MORE_INFO and claims.review_queue(scene.leader, now=now) == []


def test_a_witness_item_needs_a_witness_and_the_witness_is_neither_the_claimant_nor_her_household(scene, db, now):
    it = item(db, scene, evidence="witness")
    assert code_of(lambda: scene.file(it)) == "witness_required"
    assert code_of(lambda: scene.file(it, witness_phone=scene.spouse.phone)) == "witness_household"
    assert code_of(lambda: scene.file(it, witness_phone=scene.claimant.phone)) == "witness_household"
    assert code_of(lambda: scene.file(it, witness_phone="13800000000")) == "witness_unknown"
    assert code_of(lambda: scene.file(it, witness_phone="12345")) == "invalid_witness_phone"
    # full-width digits from a Chinese input method name the same witness
    wide = scene.witness.phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert scene.file(it, witness_phone=wide).witness_id == scene.witness.resident_id


def test_a_phone_shared_in_a_family_names_the_member_who_logs_in_with_it(scene, make, db, now):
    it = item(db, scene, evidence="witness")
    home = make.household(building=scene.b2, room="505")
    grandma = make.resident(home, name="王奶奶", phone="13912345678")
    son = make.resident(home, name="王建国", phone="13912345678")
    assert code_of(lambda: scene.file(it, witness_phone="13912345678")) == "witness_unknown"
    make.user(name=son.name, resident=son)
    assert scene.file(it, witness_phone="13912345678").witness_id == son.id
    assert grandma.id != son.id


def test_a_resident_who_moved_out_cannot_claim(scene, db, now):
    it = item(db, scene)
    scene.claimant.resident.moved_out_on = now.date()
    assert code_of(lambda: claims.file_claim(scene.admin, scene.claimant.resident, scene.fields(it.id), now)
                   ) == "resident_moved_out"


# ---- who files, who reviews ---------------------------------------------------------------------------

def test_a_building_leader_and_the_grid_worker_file_for_residents_of_their_building_and_grid(scene, make, db, now):
    it = item(db, scene)
    neighbour = make.resident(make.household(building=scene.b1, room="601"), name="赵大爷")  # no phone
    far = make.resident(make.household(building=scene.b2, room="601"), name="钱大妈")
    assert neighbour in claims.fileable_residents(scene.leader)
    assert far not in claims.fileable_residents(scene.leader)
    assert {neighbour, far} <= set(claims.fileable_residents(scene.grid_worker))
    claim = scene.file(it, actor=scene.leader, resident=neighbour)
    assert claim.filed_by_id == scene.leader.id
    assert scene.file(it, actor=scene.grid_worker, resident=far).resident_id == far.id
    assert code_of(lambda: scene.file(it, actor=scene.other_leader, resident=neighbour)) == "forbidden"
    assert code_of(lambda: scene.file(it, actor=scene.witness, resident=neighbour)) == "forbidden"
    assert scene.file(it, actor=scene.admin, resident=neighbour).filed_by_id == scene.admin.id
    # she who filed never reviews it, though she leads the building
    assert code_of(lambda: claims.approve(scene.leader, claim, now)) == "filer_review"
    assert claims.review_queue(scene.leader, now=now) == [] or all(
        row.claim.filed_by_id != scene.leader.id for row in claims.review_queue(scene.leader, now=now))


@pytest.mark.parametrize(("confirmer", "allowed", "refused"), [
    ("building_leader", ["leader", "admin"], ["other_leader", "grid_worker", "lead"]),
    ("grid_worker", ["grid_worker", "admin"], ["leader", "other_leader", "lead"]),
    ("team_lead", ["lead", "admin"], ["leader", "grid_worker", "other_leader"]),
    ("office", ["admin"], ["leader", "grid_worker", "lead", "other_leader"]),
])
def test_the_reviewer_the_item_names_and_the_office_review_and_nobody_else(scene, db, now, confirmer, allowed,
                                                                           refused):
    it = item(db, scene, confirmer=confirmer, team_id=scene.team.id if confirmer == "team_lead" else None)
    claim = scene.file(it)
    for who in allowed:
        user = getattr(scene, who)
        assert claims.may_review(user, claim), who
        assert [row.claim for row in claims.review_queue(user, now=now)] == [claim], who
    for who in refused:
        user = getattr(scene, who)
        assert not claims.may_review(user, claim), who
        assert claims.review_queue(user, now=now) == [], who
        assert code_of(lambda u=user: claims.approve(u, claim, now)) == "forbidden"
    claims.approve(getattr(scene, allowed[0]), claim, now)
    assert claim.status == ClaimStatus.APPROVED


def test_the_claimant_her_household_and_the_witness_never_review_even_as_office(scene, make, db, now):
    it = item(db, scene, confirmer="office")
    for user in (scene.claimant, scene.spouse, scene.witness):
        make.grant(user, "community_admin", scene.community)
    claim = scene.file(it, witness_phone=scene.witness.phone)
    claims.confirm_witness(scene.witness, claim, now)
    assert code_of(lambda: claims.approve(scene.claimant, claim, now)) == "self_review"
    assert code_of(lambda: claims.approve(scene.spouse, claim, now)) == "self_review"
    assert code_of(lambda: claims.reject(scene.witness, claim, "不行", now)) == "witness_review"
    for user in (scene.claimant, scene.spouse, scene.witness):
        assert claims.review_queue(user, now=now) == []
    assert [r.claim for r in claims.review_queue(scene.admin, now=now)] == [claim]


def test_the_witness_household_of_the_reviewer_never_lets_her_review(scene, make, db, now):
    husband = make.resident_user(household=scene.leader.resident.household)  # the 楼栋长's husband
    claim = scene.file(item(db, scene, evidence="witness", confirmer="building_leader"), witness_phone=husband.phone)
    claims.confirm_witness(husband, claim, now)
    assert not claims.may_review(scene.leader, claim)
    assert claims.review_queue(scene.leader, now=now) == []
    assert code_of(lambda: claims.approve(scene.leader, claim, now)) == "witness_household_review"
    assert [r.claim for r in claims.review_queue(scene.admin, now=now)] == [claim]


def test_a_phone_that_cannot_witness_gets_one_refusal_whatever_the_reason(scene, make, db, now):
    it = item(db, scene, evidence="witness")
    no_account = make.resident(make.household(building=scene.b2, room="601"), name="赵丽华", phone="13700000001")
    moved = make.resident_user(household=make.household(building=scene.b2, room="602"))
    moved.resident.moved_out_on = now.date()
    elsewhere = make.resident_user(community=make.community("别的社区"))
    db.session.flush()
    refusals = []
    for phone in ("13800000000", no_account.phone, moved.phone, elsewhere.phone):
        with pytest.raises(DomainError) as err:
            scene.file(it, witness_phone=phone)
        refusals.append((err.value.code, str(err.value)))
    assert {code for code, _ in refusals} == {"witness_unknown"}
    assert len({message for _, message in refusals}) == 1
    assert code_of(lambda: scene.file(it, witness_phone=scene.spouse.phone)) == "witness_household"


def test_a_claim_is_seen_by_those_it_concerns_and_looks_absent_to_others(scene, make, db, now):
    claim = scene.file(item(db, scene), witness_phone=scene.witness.phone, photos=(photo(3),))
    for user in (scene.claimant, scene.witness, scene.leader, scene.admin):
        assert claims.get_claim(user, claim.id) is claim
    stranger = make.resident_user(community=scene.community)
    for user in (stranger, scene.other_leader):
        assert code_of(lambda u=user: claims.get_claim(u, claim.id)) == "not_found"
        assert code_of(lambda u=user: claims.photo_content(u, claim.photos[0].id)) == "not_found"
    assert claims.photo_content(scene.leader, claim.photos[0].id).startswith(b"\xff\xd8")
    assert code_of(lambda: claims.get_claim(scene.admin, 10**20)) == "not_found"
    assert claims.my_claims(scene.witness) == []
    assert claims.my_claims(scene.claimant) == [claim]


def test_the_leader_who_filed_for_a_neighbour_answers_the_question_and_a_city_admin_approves(scene, make, db,
                                                                                              now):
    neighbour = make.resident(make.household(building=scene.b1, room="602"), name="孙奶奶")
    claim = scene.file(item(db, scene, confirmer="office"), actor=scene.leader, resident=neighbour)
    claims.ask_more(scene.admin, claim, "是哪一天？", now)
    assert code_of(lambda: claims.answer_more(scene.claimant, claim, "周日", [], now)) == "not_claimant"
    assert code_of(lambda: claims.answer_more(scene.leader, claim, " ", [], now)) == "answer_missing"
    claims.answer_more(scene.leader, claim, "上周日上午", [], now)
    city = make.city_admin()
    assert [r.claim for r in claims.review_queue(city, now=now)] == [claim]
    claims.approve(city, claim, now)
    assert ledger.balance_of(neighbour.id) == 5


# ---- what may be claimed ------------------------------------------------------------------------------

def test_filing_refuses_what_the_catalogue_and_the_clock_do_not_allow(scene, make, db, now):
    earn = item(db, scene)
    deduct = item(db, scene, kind="deduct", title="高空抛物")
    closed = item(db, scene, active_until=(now - timedelta(days=10)).date())
    elsewhere = item(db, scene, community_id=make.community().id)
    per_hour = item(db, scene, per_hour=True, points=2, hourly_cap=6)
    assert code_of(lambda: scene.file(deduct)) == "not_claimable"
    assert code_of(lambda: scene.file(item(db, scene, claimable=False))) == "not_claimable"
    assert code_of(lambda: scene.file(closed)) == "item_closed"
    assert code_of(lambda: scene.file(elsewhere)) == "unknown_item"
    assert code_of(lambda: scene.file(earn, occurred_at=now + timedelta(minutes=1))) == "occurred_in_future"
    assert code_of(lambda: scene.file(earn, occurred_at=now - timedelta(days=31))) == "occurred_too_long_ago"
    assert code_of(lambda: scene.file(earn, description="字" * 501)) == "description_too_long"
    assert code_of(lambda: scene.file(per_hour)) == "invalid_minutes"
    assert code_of(lambda: scene.file(per_hour, minutes=24 * 60 + 1)) == "invalid_minutes"
    assert code_of(lambda: scene.file(per_hour, minutes=29)) == "too_short"  # 2 points an hour: 29 minutes earn no whole point
    assert scene.file(per_hour, minutes=150).points == 5
    assert scene.file(per_hour, minutes=600, occurred_at=now - timedelta(hours=14)).points == 6  # capped
    assert code_of(lambda: scene.file(item(db, scene, evidence="photo"))) == "photo_required"


def test_hostile_input_gets_a_coded_refusal_never_a_crash(scene, db, now):
    it = item(db, scene, per_hour=True, points=2)
    assert code_of(lambda: scene.file(it, item_id=10**20)) == "unknown_item"
    assert code_of(lambda: scene.file(it, item_id="1; DROP TABLE claim")) == "unknown_item"
    assert code_of(lambda: scene.file(it, occurred_at=datetime(2026, 11, 25, 9))) == "invalid_date"  # no zone
    assert code_of(lambda: scene.file(it, minutes="６０")) == "invalid_minutes"
    assert code_of(lambda: scene.file(it, minutes=True)) == "invalid_minutes"
    assert code_of(lambda: scene.file(it, minutes=60, witness_phone="1" * 10_000)) == "invalid_witness_phone"
    claim = scene.file(it, minutes=60, description="楼道\x00广告\u202e已清理", place="3号楼\n1单元")
    assert (claim.description, claim.place) == ("楼道广告\u202e已清理", "3号楼 1单元")
    assert code_of(lambda: claims.reject(scene.leader, claim, "理" * 501, now)) == "reason_too_long"


# ---- limits ---------------------------------------------------------------------------------------------

def test_the_limit_counts_open_and_approved_claims_at_filing_and_approved_ones_at_approval(scene, db, now):
    it = item(db, scene, limit_count=2, limit_period="month")
    first, second = scene.file(it), scene.file(it)
    assert code_of(lambda: scene.file(it)) == "limit_reached"  # two open claims fill the month
    claims.reject(scene.leader, second, "重复申报", now)
    third = scene.file(it)  # a rejected claim frees its slot
    claims.approve(scene.leader, first, now)
    claims.approve(scene.leader, third, now)
    assert code_of(lambda: scene.file(it)) == "limit_reached"
    with pytest.raises(DomainError) as err:
        scene.file(it)
    assert err.value.params["used"] == 2


def test_approval_refuses_the_claim_past_the_limit_with_how_many_are_used(scene, db, now):
    it = item(db, scene, limit_count=1, limit_period="month")
    first = scene.file(it)
    claims.withdraw(scene.claimant, first, now)
    a = scene.file(it)
    claims.withdraw(scene.claimant, a, now)
    b = scene.file(it)
    # an office correction: a claim already approved in the month (as if approved before the limit was set)
    from pointsapp.claims.models import Claim
    extra = Claim(community_id=b.community_id, resident_id=b.resident_id, item_id=it.id, lineage_id=it.lineage_id,
                  filed_by_id=scene.admin.id, occurred_at=b.occurred_at, points=5, status="approved",
                  submitted_at=now, created_at=now)
    db.session.add(extra)
    db.session.flush()
    with pytest.raises(DomainError) as err:
        claims.approve(scene.leader, b, now)
    assert (err.value.code, err.value.params["used"], err.value.params["limit"]) == ("limit_reached", 1, 1)
    assert b.status == ClaimStatus.PENDING


def test_the_limit_counts_every_version_of_an_item(scene, db, now):
    old = item(db, scene, limit_count=1, limit_period="year")
    claims.approve(scene.leader, scene.file(old), now)
    old.superseded_at = now
    new = item(db, scene, limit_count=1, limit_period="year", version=2)
    new.lineage_id = old.lineage_id
    db.session.flush()
    assert code_of(lambda: scene.file(new)) == "limit_reached"


def test_the_community_earning_cap_leaves_the_claim_pending_with_a_clear_message(scene, db, now):
    scene.community.earn_cap_day = 3
    claim = scene.file(item(db, scene, points=5))
    with pytest.raises(DomainError) as err:
        claims.approve(scene.leader, claim, now)
    assert err.value.code == "cap_reached"
    assert any(words in str(err.value) for words in ("stays in the queue", "仍留在待审核队列"))
    assert claim.status == ClaimStatus.PENDING


# ---- China-time windows ---------------------------------------------------------------------------------

def china(y, mo, d, h=12, mi=0) -> datetime:
    """A China-time wall clock moment, in UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(("period", "done", "later", "same_window"), [
    # month end: 31 Jan 23:30 and 1 Feb 00:10 China time are two months (15:30 and 16:10 UTC on 31 Jan)
    ("month", china(2027, 1, 31, 23, 30), china(2027, 2, 1, 0, 10), False),
    # year end
    ("year", china(2027, 12, 31, 23, 59), china(2028, 1, 1, 0, 1), False),
    # 00:00-08:00 China time is the previous day in UTC, but the same China day
    ("day", china(2027, 3, 10, 0, 30), china(2027, 3, 10, 7, 50), True),
    ("day", china(2027, 3, 9, 23, 50), china(2027, 3, 10, 0, 30), False),
    # 29 February 2028: 17:30 UTC is already 1 March in China
    ("month", datetime(2028, 2, 29, 15, 0, tzinfo=UTC), datetime(2028, 2, 29, 17, 30, tzinfo=UTC), False),
    ("day", china(2028, 2, 29, 0, 5), china(2028, 2, 29, 23, 55), True),
    ("week", china(2027, 3, 14, 23, 0), china(2027, 3, 15, 1, 0), False),  # Sunday night, Monday morning
])
def test_limit_windows_follow_china_time_at_their_edges(scene, db, period, done, later, same_window):
    it = item(db, scene, limit_count=1, limit_period=period, created_at=done - timedelta(days=400))
    scene.now = done + timedelta(minutes=1)
    claims.approve(scene.leader, scene.file(it, occurred_at=done), scene.now)
    scene.now = later + timedelta(minutes=1)
    if same_window:
        assert code_of(lambda: scene.file(it, occurred_at=later)) == "limit_reached"
    else:
        assert scene.file(it, occurred_at=later).status == ClaimStatus.PENDING


# ---- photos ---------------------------------------------------------------------------------------------

def test_the_same_photo_resaved_smaller_is_flagged_and_a_different_one_is_not(scene, db, now):
    it = item(db, scene)
    first = scene.file(it, photos=(photo(5),))
    again = scene.file(it, photos=(photo(5, size=(1000, 750), quality=55),))
    other = scene.file(it, photos=(photo(6),))
    assert not first.has_duplicate_photo
    assert again.has_duplicate_photo and again.photos[0].duplicate_of_id == first.photos[0].id
    assert not other.has_duplicate_photo and other.photos[0].duplicate_of_id is None
    row = next(r for r in claims.review_queue(scene.leader, now=now) if r.claim is again)
    assert row.duplicate_of == [first]


def test_the_same_photo_twice_is_flagged_across_residents_of_the_community(scene, make, db, now):
    it = item(db, scene)
    scene.file(it, photos=(photo(7),))
    neighbour = make.resident(make.household(building=scene.b1, room="702"))
    claim = scene.file(it, actor=scene.leader, resident=neighbour, photos=(photo(7, quality=70),))
    assert claim.has_duplicate_photo


def gps_exif():
    from PIL import ExifTags, Image
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Xiaomi"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (36.0, 58.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (120.0, 42.0, 10.0)
    return exif


def test_a_stored_photo_has_no_exif_or_gps_and_is_at_most_1280_pixels(scene, db, now):
    import io

    from PIL import ExifTags, Image
    sent = photo(8, size=(3000, 2000), exif=gps_exif())
    with Image.open(io.BytesIO(sent)) as original:  # the upload did carry a position
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    claim = scene.file(item(db, scene), photos=(sent,))
    stored = claims.photo_content(scene.claimant, claim.photos[0].id)
    with Image.open(io.BytesIO(stored)) as image:
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
        assert max(image.size) == 1280 and (claim.photos[0].width, claim.photos[0].height) == image.size
    assert b"Exif" not in stored and b"Xiaomi" not in stored


def huge_png(width=20000, height=20000) -> bytes:
    """A PNG whose header claims a huge picture (a decompression bomb is a few hundred KB of this)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
            + chunk(b"IEND", b""))


def test_bad_photos_are_refused_with_a_clear_code(scene, db, now):
    it = item(db, scene)
    assert code_of(lambda: scene.file(it, photos=(huge_png(),))) == "photo_too_large"
    assert code_of(lambda: scene.file(it, photos=(b"%PDF-1.4 not a photo",))) == "invalid_photo"
    assert code_of(lambda: scene.file(it, photos=tuple(photo(i) for i in range(4)))) == "too_many_photos"
    assert scene.file(it, photos=tuple(photo(i) for i in range(3))).photos[2].phash


# ---- the reviewer's queue -------------------------------------------------------------------------------

def test_the_queue_is_oldest_first_and_an_answered_claim_keeps_its_place(scene, db, now):
    it = item(db, scene, limit_count=3, limit_period="month")
    older = scene.file(it)
    scene.now = now + timedelta(minutes=10)
    newer = scene.file(it)
    claims.ask_more(scene.leader, older, "哪一层？", scene.now)
    assert [r.claim for r in claims.review_queue(scene.leader, now=scene.now)] == [newer]
    claims.answer_more(scene.claimant, older, "三楼到六楼", [], scene.now + timedelta(hours=1))
    rows = claims.review_queue(scene.leader, now=scene.now)
    assert [r.claim for r in rows] == [older, newer]
    assert [e.action for e in rows[0].claim.events] == ["filed", "asked", "answered"]


def test_a_queue_row_shows_the_limit_used_and_the_claimants_last_claims_of_the_item(scene, db, now):
    it = item(db, scene, limit_count=10, limit_period="year")
    done = []
    for day in range(7):
        scene.now = now - timedelta(days=20 - day)
        claim = scene.file(it, occurred_at=scene.now - timedelta(hours=1))
        claims.approve(scene.leader, claim, scene.now)
        done.append(claim)
    scene.now = now
    waiting = scene.file(it)
    other_item = scene.file(item(db, scene, title="安全值守"))
    rows = {r.claim.id: r for r in claims.review_queue(scene.leader, now=now)}
    row = rows[waiting.id]
    assert (row.limit_used, row.limit_count) == (7, 10)
    assert row.history == list(reversed(done))[:5]
    assert (rows[other_item.id].limit_used, rows[other_item.id].history) == (None, [])


def test_the_queue_reads_a_fixed_number_of_statements_however_long_it_is(app, scene, make, db, now):
    from .querycount import count_queries

    it = item(db, scene, limit_count=50, limit_period="month")
    witness_item = item(db, scene, title="扶老助弱", limit_count=50, limit_period="week")

    def add(n):
        for i in range(n):
            resident = make.resident(make.household(building=scene.b1, room=str(900 + len(added))))
            claim = scene.file(it if i % 2 else witness_item, actor=scene.leader, resident=resident,
                               photos=(photo(40 + i % 2),))  # duplicates from the third on
            added.append(claim)

    def statements():
        from pointsapp.core.permissions import forget_scopes
        db.session.commit()
        db.session.expire_all()
        forget_scopes(scene.admin)  # both measures read the reviewer's roles afresh
        with app.test_request_context(), count_queries() as log:
            rows = claims.review_queue(scene.admin, scene.community.id, now)
        return len(rows), log.count

    added = []
    add(3)
    assert [c.has_duplicate_photo for c in added] == [False, False, True]  # every batch read has work to do
    few = statements()
    add(17)
    many = statements()
    assert (few[0], many[0]) == (3, 20)
    assert many[1] == few[1], (few, many)
    photo_row = claims.review_queue(scene.admin, scene.community.id, now)[0].claim.photos[0]
    assert "content" not in photo_row.__dict__  # the queue lists photos; their bytes come one by one


# ---- review fixes: hours served once, one claim per form, the reviewer told of a changed item ---------------

def test_per_hour_claims_never_overlap_in_time_whatever_the_item_and_end_by_now(scene, db, now):
    watch = item(db, scene, per_hour=True, points=10, title="安全值守")
    escort = item(db, scene, per_hour=True, points=6, title="护送老人")
    first = scene.file(watch, occurred_at=now - timedelta(hours=3), minutes=60)
    with pytest.raises(DomainError) as err:
        scene.file(watch, occurred_at=now - timedelta(hours=2, minutes=30), minutes=60)
    assert err.value.code == "hours_overlap" and "07:30 – 08:30" in str(err.value)  # her own time, local
    assert code_of(lambda: scene.file(escort, occurred_at=now - timedelta(hours=3, minutes=30), minutes=45)) \
        == "hours_overlap"
    assert code_of(lambda: scene.file(watch, occurred_at=now - timedelta(minutes=30), minutes=60)) \
        == "hours_not_served"
    after = scene.file(watch, occurred_at=now - timedelta(hours=2), minutes=60)  # starts when the first ends
    until_now = scene.file(escort, occurred_at=now - timedelta(hours=1), minutes=60)  # ends at this moment
    claims.withdraw(scene.claimant, first, now)
    again = scene.file(escort, occurred_at=now - timedelta(hours=2, minutes=50), minutes=30)  # a withdrawn one frees it
    assert {after.status, until_now.status, again.status} == {ClaimStatus.PENDING}


def test_approval_refuses_hours_that_overlap_an_approved_claim(scene, db, now):
    watch = item(db, scene, per_hour=True, points=10, title="安全值守")
    early = scene.file(watch, occurred_at=now - timedelta(hours=10), minutes=60)
    late = scene.file(watch, occurred_at=now - timedelta(hours=8), minutes=60)
    late.occurred_at = now - timedelta(hours=9, minutes=30)  # a claim filed before the rule, overlapping
    db.session.flush()
    claims.approve(scene.leader, early, now)
    assert code_of(lambda: claims.approve(scene.leader, late, now)) == "hours_overlap"
    assert late.status == ClaimStatus.PENDING


def test_the_same_form_filed_twice_gives_one_claim(scene, db, now):
    it = item(db, scene, points=5)
    first = scene.file(it, request_key="req-1")
    again = claims.file_claim(scene.claimant, scene.claimant.resident, scene.fields(it.id), now, request_key="req-1")
    assert again.id == first.id
    other = claims.file_claim(scene.claimant, scene.claimant.resident, scene.fields(it.id), now, request_key="req-2")
    assert other.id != first.id
    assert len(db.session.scalars(select(Claim).where(Claim.resident_id == scene.claimant.resident_id)).all()) == 2


def test_the_review_card_says_when_the_item_was_revised_or_retired_and_the_claim_keeps_its_version(scene, db,
                                                                                                   now):
    it = item(db, scene, points=5)
    claim = scene.file(it)
    [row] = claims.review_queue(scene.leader, now=now)
    assert row.item_now is None
    revised = catalogue_items.revise_item(scene.admin, it, replace(catalogue_items.ItemFields.of(it), points=8),
                                          "调整分值", now)
    [row] = claims.review_queue(scene.leader, now=now)
    assert (row.item_now.version, row.item_now.points, row.item_now.retired_at) == (2, 8, None)
    catalogue_items.retire_item(scene.admin, revised, "停用", now)
    [row] = claims.review_queue(scene.leader, now=now)
    assert row.item_now.retired_at is not None
    claims.approve(scene.leader, claim, now)
    assert (claim.points, claim.item_id) == (5, it.id)


def test_a_form_sent_again_for_another_resident_or_item_is_refused_not_answered_with_the_first_claim(scene, db, now):
    """The Back button shows the cached form with its request id: the leader picks another neighbour and sends it.
    That must not come back as the first neighbour's claim with nothing filed for the second."""
    it = item(db, scene, points=5)
    other = item(db, scene, points=3, title="文明倡导")
    first = scene.file(it, actor=scene.leader, resident=scene.claimant.resident, request_key="req-1")
    assert code_of(lambda: scene.file(it, actor=scene.leader, resident=scene.witness.resident,
                                      request_key="req-1")) == "form_reused"
    assert code_of(lambda: scene.file(other, actor=scene.leader, resident=scene.claimant.resident,
                                      request_key="req-1")) == "form_reused"
    assert scene.file(it, actor=scene.leader, resident=scene.claimant.resident, request_key="req-1").id == first.id
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 1


def test_hours_an_activity_paid_for_cannot_be_claimed_again(scene, db, now):
    """She checked in to the team's 安全值守 (its hours are paid by the activity): a per-hour claim of the same hours
    is refused at filing, and at approval when the attendance came after the claim; other hours are fine."""
    from pointsapp.volunteering.services import activities, checkin

    watch = item(db, scene, per_hour=True, points=4, title="安全值守")
    shift = activities.create_activity(scene.lead, scene.team, activities.ActivityFields(
        title="东门值守", kind=activities.labels(scene.community.id, "activity_kind")[0], place="东门",
        starts_at=now - timedelta(hours=5), ends_at=now - timedelta(hours=3)), now - timedelta(days=1))
    checkin.check_in(scene.claimant, scene.claimant.resident, shift, now - timedelta(hours=5))
    with pytest.raises(DomainError) as err:
        scene.file(watch, occurred_at=now - timedelta(hours=4), minutes=60)
    assert err.value.code == "hours_overlap" and "东门值守" in str(err.value)
    later = scene.file(watch, occurred_at=now - timedelta(hours=2), minutes=60)  # after the shift: her own hours
    assert later.status == ClaimStatus.PENDING
    # a claim filed before the lead recorded the attendance is refused at approval
    evening = activities.create_activity(scene.lead, scene.team, activities.ActivityFields(
        title="晚间巡逻", kind=activities.labels(scene.community.id, "activity_kind")[0], place="小区",
        starts_at=now - timedelta(hours=2, minutes=30), ends_at=now - timedelta(minutes=30)), now - timedelta(days=1))
    checkin.check_in(scene.lead, scene.claimant.resident, evening, now - timedelta(hours=2), method="lead_scan")
    assert code_of(lambda: claims.approve(scene.leader, later, now)) == "hours_overlap"
    assert later.status == ClaimStatus.PENDING
