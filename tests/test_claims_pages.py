"""积分申报 pages through the test client (both databases): a resident files with a photo (multipart), the office
sees it in its queue and approves, her balance moves; a reason reaches the claimant; a witness confirms; hostile
input gets a message in her language; other communities and unrelated residents see nothing."""
import io
import re
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from pointsapp.catalogue.models import CatalogueItem
from pointsapp.catalogue.services import items as catalogue_items
from pointsapp.claims import services as claims
from pointsapp.claims.models import Claim, ClaimStatus
from pointsapp.ledger.services import posting as ledger


def jpeg(color=(200, 40, 40), size=(640, 480), pattern: int = 0) -> bytes:
    """A small photo; `pattern` draws stripes so two photos differ to a perceptual hash, not only in colour."""
    image = Image.new("RGB", size, color)
    if pattern:
        for x in range(0, size[0], pattern):
            for y in range(size[1]):
                image.putpixel((x, y), (255, 255, 255))
        for y in range(0, size[1], pattern * 2):
            for x in range(size[0]):
                image.putpixel((x, y), (0, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def catalogue_item(community, admin, now, **kw) -> CatalogueItem:
    """A current, claimable earning item, through the catalogue's own service."""
    fields = dict(kind="earn", category="邻里互助", title="扶老助弱", description="帮行动不便的邻居买菜、取药", points=5,
                  evidence="photo", confirmer="office", claimable=True)
    fields.update(kw)
    return catalogue_items.create_item(admin, community, catalogue_items.ItemFields(**fields), now)


def claim_in_world(resident_user, admin, now):
    """tests/test_permissions.py's claim: the world's resident claims an office-reviewed item with a photo."""
    resident = resident_user.resident
    item = catalogue_item(resident.community, admin, now)
    return claims.file_claim(resident_user, resident, claims.ClaimFields(
        item_id=item.id, occurred_at=now, place="3号楼", description="扶王奶奶下楼", photos=(jpeg(),)), now)


@pytest.fixture
def here(make, db, now):
    c = make.community("梨园社区")
    building = make.building(c, "3号楼", grid=make.grid(c))
    her = make.resident_user(household=make.household(building=building, unit="1", room="301"))
    neighbour = make.resident_user(household=make.household(building=building, unit="2", room="502"))
    admin = make.admin(c)
    item = catalogue_item(c, admin, now, limit_count=4, limit_period="month")
    witnessed = catalogue_item(c, admin, now, title="楼道广告清理", category="环境卫生", points=3, evidence="witness")
    db.session.commit()
    return SimpleNamespace(community=c, building=building, her=her, neighbour=neighbour, admin=admin, item=item,
                           witnessed=witnessed)


def _form(chosen, **kw):
    data = {"item": str(chosen.id), "day": "2026-11-25", "time": "09:00", "place": "3号楼1单元", "description": "扶王奶奶下楼",
            "witness_phone": "", "minutes": ""}
    data.update(kw)
    return data


def _file(client, chosen, photos=(), **kw):
    return _multipart(client, "/me/claims/new", _form(chosen, **kw), photos)


def _multipart(client, url, fields, photos):
    """A multipart POST as a phone's browser sends it, encoded here in memory (the test client would spool a
    body of several MB to a temporary file that it never closes)."""
    data = MultiDict(fields)
    for n, p in enumerate(photos):
        data.add("photos", FileStorage(io.BytesIO(p), filename=f"photo{n}.jpg", content_type="image/jpeg"))
    boundary, body = encode_multipart(data)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _claims(db):
    db.session.expire_all()
    return list(db.session.scalars(select(Claim).order_by(Claim.id)))


def _count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Claim))


def test_a_resident_files_with_a_photo_the_office_approves_and_her_balance_moves(app, here, login, db):
    resident = login(app.test_client(), here.her)
    form = resident.get(f"/me/claims/new?item={here.item.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'accept="image/*"' in form and " multiple" in form
    assert re.search(rf'id="item-{here.item.id}"[^>]*checked', form)  # the catalogue's link preselects it
    assert "环境卫生" in form and "邻里互助" in form  # grouped by category
    sent = _file(resident, here.item, [jpeg()])
    assert sent.status_code == 302 and "filed=1" in sent.headers["Location"]
    [claim] = _claims(db)
    assert (claim.status, claim.resident_id, len(claim.photos)) == (ClaimStatus.PENDING, here.her.resident_id, 1)
    done = resident.get(sent.headers["Location"]).get_data(as_text=True)
    assert "已提交" in done and "等待社区审核" in done

    office = login(app.test_client(), here.admin)
    queue = office.get(f"/admin/c/{here.community.id}/claims").get_data(as_text=True)
    assert "扶王奶奶下楼" in queue and here.her.resident.name in queue
    assert f"/claims/photos/{claim.photos[0].id}.jpg" in queue
    assert "已用 0" in queue or "已用0" in queue  # the limit used, 0 of 4 this month
    photo = office.get(f"/claims/photos/{claim.photos[0].id}.jpg")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg" and photo.data[:2] == b"\xff\xd8"
    # never kept by a shared cache (the app's headers make any logged-in response no-store)
    assert re.search(r"\b(private|no-store)\b", photo.headers["Cache-Control"])
    before = ledger.balance_of(here.her.resident_id)
    decided = office.post(f"/claims/{claim.id}/decide", data={"decision": "approve",
                                                              "next": f"/admin/c/{here.community.id}/claims"})
    assert decided.status_code == 302 and decided.headers["Location"].endswith(f"/admin/c/{here.community.id}/claims")
    db.session.expire_all()
    assert ledger.balance_of(here.her.resident_id) == before + 5
    mine = resident.get("/me/claims").get_data(as_text=True)
    assert "已通过" in mine and "+5" in mine


def test_a_rejection_shows_her_the_reason_and_a_question_lets_her_add_more(app, here, login, db, now):
    claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.item.id, occurred_at=now, description="帮邻居取药", photos=(jpeg(),)), now)
    db.session.commit()
    office = login(app.test_client(), here.admin)
    resident = login(app.test_client(), here.her)
    office.post(f"/claims/{claim.id}/decide", data={"decision": "ask", "reason": "请补充一张药店小票的照片"})
    assert _claims(db)[0].status == ClaimStatus.MORE_INFO
    mine = resident.get("/me/claims").get_data(as_text=True)
    assert "需要补充" in mine and "请补充一张药店小票的照片" in mine
    _multipart(resident, f"/me/claims/{claim.id}/answer", {"text": "小票照片在这里"}, [jpeg((20, 90, 200), pattern=8)])
    assert _claims(db)[0].status == ClaimStatus.PENDING
    no_reason = office.post(f"/claims/{claim.id}/decide", data={"decision": "reject", "reason": ""})
    assert no_reason.status_code == 302 and _claims(db)[0].status == ClaimStatus.PENDING  # a reason is required
    office.post(f"/claims/{claim.id}/decide", data={"decision": "reject", "reason": "当天没有人看到"})
    assert _claims(db)[0].status == ClaimStatus.REJECTED
    mine = resident.get("/me/claims").get_data(as_text=True)
    assert "未通过" in mine and "当天没有人看到" in mine


def test_a_witness_confirms_with_one_tap(app, here, login, db):
    resident = login(app.test_client(), here.her)
    # her neighbour's phone typed with a Chinese input method's full-width digits
    wide = here.neighbour.phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    sent = _file(resident, here.witnessed, [], witness_phone=wide, minutes="")
    assert sent.status_code == 302, sent.get_data(as_text=True)
    [claim] = _claims(db)
    assert (claim.status, claim.witness_id) == (ClaimStatus.WITNESS, here.neighbour.resident_id)
    assert "等待作证" in resident.get("/me/claims").get_data(as_text=True)
    witness = login(app.test_client(), here.neighbour)
    page = witness.get("/me/witness").get_data(as_text=True)
    assert "扶王奶奶下楼" in page and "属实，我作证" in page
    witness.post(f"/me/witness/{claim.id}", data={"answer": "true"})
    assert _claims(db)[0].status == ClaimStatus.PENDING


def test_a_witness_who_says_it_is_not_true_must_say_why(app, here, login, db, now):
    claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.witnessed.id, occurred_at=now, witness_phone=here.neighbour.phone), now)
    db.session.commit()
    witness = login(app.test_client(), here.neighbour)
    witness.post(f"/me/witness/{claim.id}", data={"answer": "false", "reason": ""})
    assert _claims(db)[0].status == ClaimStatus.WITNESS
    witness.post(f"/me/witness/{claim.id}", data={"answer": "false", "reason": "那天我不在家"})
    assert _claims(db)[0].status == ClaimStatus.REJECTED
    mine = login(app.test_client(), here.her).get("/me/claims").get_data(as_text=True)
    assert "证明人表示不属实：那天我不在家" in mine and "填写其他证明人" in mine


def test_she_withdraws_her_claim(app, here, login, db, now):
    claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.item.id, occurred_at=now, photos=(jpeg(),)), now)
    db.session.commit()
    resident = login(app.test_client(), here.her)
    resident.post(f"/me/claims/{claim.id}/withdraw")
    assert _claims(db)[0].status == ClaimStatus.WITHDRAWN
    assert "已撤回" in resident.get("/me/claims").get_data(as_text=True)


def _zip_bomb_png() -> bytes:
    """A 15000x15000 black PNG: a few hundred KB on the wire, 225 megapixels once decoded."""
    out = io.BytesIO()
    Image.new("1", (15000, 15000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(("what", "change", "photos", "says"), [
    ("a 10k description", {"description": "长" * 10_000}, [jpeg()], "最多"),
    ("minutes in full-width digits out of range", {"minutes": "９９９９９"}, [jpeg()], "分钟"),
    ("a phone that is not a phone", {"witness_phone": "１２３"}, [jpeg()], "11位"),
    ("no item", {"item": ""}, [jpeg()], "请选择"),
    ("an item id no column can hold", {"item": "1" + "0" * 20}, [jpeg()], None),
    ("a date that does not exist", {"day": "2026-13-45"}, [jpeg()], None),
    ("a time that does not exist", {"time": "99:99"}, [jpeg()], None),
    ("a year no one means", {"day": "0001-01-01"}, [jpeg()], "1900"),
    ("10 MB of garbage as a photo", {}, ["garbage"], "MB"),
    ("a PNG with huge dimensions", {}, ["zip-bomb"], "像素"),
    ("too many photos", {}, [jpeg()] * (claims.MAX_PHOTOS + 1), f"最多 {claims.MAX_PHOTOS} 张"),
])
def test_hostile_input_gets_a_message_in_her_language_never_a_500(app, here, login, db, what, change, photos, says):
    made = {"zip-bomb": _zip_bomb_png, "garbage": lambda: b"\x00garbage" * (10 * 1024 * 1024 // 8)}
    photos = [made[p]() if isinstance(p, str) else p for p in photos]
    client = login(app.test_client(), here.her)
    response = _file(client, here.item, photos, **change)
    assert response.status_code == 422, what
    page = response.get_data(as_text=True)
    if says:
        assert says in page, what
    assert _count(db) == 0


def test_a_nul_character_is_refused_at_the_edge(app, here, login, db):
    client = login(app.test_client(), here.her)
    response = _file(client, here.item, [jpeg()], description="扶王奶奶\x00下楼")
    assert response.status_code == 400 and "不能识别的字符" in response.get_data(as_text=True)
    assert _count(db) == 0


def test_full_width_minutes_are_read_as_digits(app, here, login, db, now):
    hourly = catalogue_item(here.community, here.admin, now, title="安全值守", category="平安守护", points=2,
                            per_hour=True, hourly_cap=8, evidence="none")
    db.session.commit()
    client = login(app.test_client(), here.her)
    # (08:00 to 10:00 China time, before the test's now of 10:30: the hours must be over when claimed)
    assert _file(client, hourly, [], minutes="１２０", time="08:00").status_code == 302
    assert [(c.minutes, c.points) for c in _claims(db)] == [(120, 4)]


def test_another_communitys_office_sees_nothing_of_the_claim(app, here, make, login, db, now):
    claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.item.id, occurred_at=now, description="扶王奶奶下楼", photos=(jpeg(),)), now)
    other = make.community("鹤山社区")
    stranger = make.admin(other)
    db.session.commit()
    client = login(app.test_client(), stranger)
    assert client.get(f"/admin/c/{here.community.id}/claims").status_code == 403
    assert "扶王奶奶下楼" not in client.get(f"/admin/c/{other.id}/claims").get_data(as_text=True)
    assert "扶王奶奶下楼" not in client.get("/claims/review").get_data(as_text=True)
    assert client.get(f"/claims/{claim.id}").status_code in (403, 404)
    assert client.get(f"/claims/photos/{claim.photos[0].id}.jpg").status_code in (403, 404)
    client.post(f"/claims/{claim.id}/decide", data={"decision": "approve"})
    assert _claims(db)[0].status == ClaimStatus.PENDING


def test_a_photo_is_not_served_to_an_unrelated_resident(app, here, make, login, db, now):
    claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.item.id, occurred_at=now, photos=(jpeg(),)), now)
    db.session.commit()
    assert login(app.test_client(), here.her).get(f"/claims/photos/{claim.photos[0].id}.jpg").status_code == 200
    client = login(app.test_client(), here.neighbour)
    assert client.get(f"/claims/photos/{claim.photos[0].id}.jpg").status_code in (403, 404)
    assert client.get(f"/claims/{claim.id}").status_code in (403, 404)
    assert client.post(f"/claims/{claim.id}/decide", data={"decision": "approve"}).status_code == 302
    assert _claims(db)[0].status == ClaimStatus.PENDING
    assert client.get("/claims/photos/99999999999999999999.jpg").status_code == 404


def test_a_building_leader_files_for_a_resident_and_sees_the_review_link(app, here, make, login, db, now):
    leader = make.resident_user(household=make.household(building=here.building, unit="1", room="302"))
    here.building.leader_id = leader.resident_id
    db.session.commit()
    client = login(app.test_client(), leader)
    assert "/claims/review" in client.get("/").get_data(as_text=True)
    form = client.get("/me/claims/new").get_data(as_text=True)
    assert f'value="{here.her.resident_id}"' in form  # "for whom": she is one of the building's residents
    sent = _file(client, here.item, [jpeg()], resident=str(here.her.resident_id))
    assert sent.status_code == 302, sent.get_data(as_text=True)
    [claim] = _claims(db)
    assert (claim.resident_id, claim.filed_by_id) == (here.her.resident_id, leader.id)


def test_the_review_link_is_only_for_those_who_review(app, here, login, db):
    assert "/claims/review" not in login(app.test_client(), here.her).get("/").get_data(as_text=True)
    assert "/claims/review" in login(app.test_client(), here.admin).get("/").get_data(as_text=True)


def test_the_queue_page_asks_the_same_number_of_statements_for_3_and_12_claims(app, here, make, login, db, now):
    from .querycount import count_queries

    office = login(app.test_client(), here.admin)
    url = f"/admin/c/{here.community.id}/claims"
    counts = []
    for n in range(12):
        household = make.household(building=make.building(here.community), unit="1", room=str(200 + n))
        person = make.resident_user(household=household)
        claims.file_claim(person, person.resident, claims.ClaimFields(
            item_id=here.item.id, occurred_at=now, photos=(jpeg((n * 20, 40, 40), pattern=3 + n),)), now)
        db.session.commit()
        if n + 1 in (3, 12):
            with count_queries() as log:
                assert office.get(url).status_code == 200
            counts.append(log.count)
    assert counts[0] == counts[1], log.report()


def test_her_claims_page_asks_the_same_number_of_statements_for_2_and_8_claims(app, here, login, db, now):
    from .querycount import count_queries

    client = login(app.test_client(), here.her)
    counts = []
    for n in range(8):
        claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
            item_id=here.witnessed.id, occurred_at=now, witness_phone=here.neighbour.phone), now)
        claims.withdraw(here.her, claim, now)
        db.session.commit()
        if n + 1 in (2, 8):
            with count_queries() as log:
                assert client.get("/me/claims").status_code == 200
            counts.append(log.count)
    assert counts[0] == counts[1], log.report()


def test_her_home_page_tells_her_what_waits_for_her_and_stops_once_done(app, here, login, db, now):
    """A question from the reviewer and a neighbour's request to witness are shown where she starts, until answered."""
    asked = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.item.id, occurred_at=now, description="帮邻居取药", photos=(jpeg(),)), now)
    witnessed = claims.file_claim(here.neighbour, here.neighbour.resident, claims.ClaimFields(
        item_id=here.witnessed.id, occurred_at=now, description="扫楼道", witness_phone=here.her.phone), now)
    claims.ask_more(here.admin, asked, "请补充一张药店小票的照片", now)
    db.session.commit()
    resident = login(app.test_client(), here.her)
    home = resident.get("/").get_data(as_text=True)
    assert "1 条申报：审核人请您补充材料" in home and "1 位邻居请您作证" in home
    neighbour_home = login(app.test_client(), here.neighbour).get("/").get_data(as_text=True)
    assert "等您处理" not in neighbour_home  # nothing waits for him: his claim waits for her
    claims.answer_more(here.her, asked, "小票照片在这里", [], now)
    claims.confirm_witness(here.her, witnessed, now)
    db.session.commit()
    assert "等您处理" not in resident.get("/").get_data(as_text=True)


# ---- review fixes --------------------------------------------------------------------------------------

def test_the_same_form_sent_twice_files_one_claim(app, here, login, db):
    resident = login(app.test_client(), here.her)
    form = resident.get("/me/claims/new").get_data(as_text=True)
    request_id = re.search(r'name="request_id"[^>]*value="([0-9a-f]{32})"', form).group(1)
    first = _file(resident, here.item, [jpeg()], request_id=request_id)
    again = _file(resident, here.item, [jpeg()], request_id=request_id)
    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert _count(db) == 1


def test_a_resident_not_on_the_leaders_list_is_refused_never_filed_for_someone_else(app, here, make, login, db, now):
    leader = make.resident_user(household=make.household(building=here.building, unit="1", room="302"))
    here.building.leader_id = leader.resident_id
    gone = make.resident(make.household(building=here.building, unit="3", room="402"), name="孙奶奶")
    db.session.commit()
    client = login(app.test_client(), leader)
    assert f'value="{gone.id}"' in client.get("/me/claims/new").get_data(as_text=True)
    gone.moved_out_on = now.date()  # off her list while the form is open
    db.session.commit()
    for chosen in (str(gone.id), "999999", "", "1" + "0" * 20):
        sent = _file(client, here.item, [jpeg()], resident=chosen)
        assert sent.status_code == 422 and "请重新选择" in sent.get_data(as_text=True), chosen
    assert _count(db) == 0


def test_the_claimant_reads_the_witness_name_masked_until_she_confirms(app, here, login, db, now):
    here.neighbour.resident.name = "赵丽华"
    claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.witnessed.id, occurred_at=now, witness_phone=here.neighbour.phone), now)
    db.session.commit()
    resident = login(app.test_client(), here.her)
    for url in (f"/claims/{claim.id}", "/me/claims"):
        page = resident.get(url).get_data(as_text=True)
        assert "赵丽华" not in page and "赵*华" in page, url
    claims.confirm_witness(here.neighbour, claims.get_claim(here.neighbour, claim.id), now)
    db.session.commit()
    assert "赵丽华" in resident.get(f"/claims/{claim.id}").get_data(as_text=True)


def test_a_phone_that_cannot_witness_gets_the_same_message_on_the_page(app, here, make, login, db):
    no_account = make.resident(make.household(building=here.building, unit="4", room="101"), phone="13700000001")
    db.session.commit()
    resident = login(app.test_client(), here.her)
    said = set()
    for phone in ("13800000000", no_account.phone):
        page = _file(resident, here.witnessed, [], witness_phone=phone).get_data(as_text=True)
        said.add(bool(re.search("这个手机号不能作为证明人", page)))
    assert said == {True} and _count(db) == 0


def test_the_review_card_says_the_item_was_changed_since_the_claim_was_filed(app, here, login, db, now):
    from dataclasses import replace
    claim = claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.item.id, occurred_at=now, photos=(jpeg(),)), now)
    fields = catalogue_items.ItemFields.of(here.item)
    revised = catalogue_items.revise_item(here.admin, here.item, replace(fields, points=8), "调整分值", now)
    db.session.commit()
    office = login(app.test_client(), here.admin)
    queue = office.get(f"/admin/c/{here.community.id}/claims").get_data(as_text=True)
    assert "此项目已修改为第2版（现为8分）" in queue and "+5" in queue  # judged under the version it was filed under
    catalogue_items.retire_item(here.admin, revised, "停用", now)
    db.session.commit()
    assert "此项目已停用" in office.get(f"/admin/c/{here.community.id}/claims").get_data(as_text=True)
    assert "此项目已停用" in office.get(f"/claims/{claim.id}").get_data(as_text=True)  # its page, as she reviews
    assert claim.points == 5


def test_withdrawing_asks_first_with_a_clearly_labelled_second_button(app, here, login, db, now):
    claims.file_claim(here.her, here.her.resident, claims.ClaimFields(
        item_id=here.item.id, occurred_at=now, photos=(jpeg(),)), now)
    db.session.commit()
    page = login(app.test_client(), here.her).get("/me/claims").get_data(as_text=True)
    confirm = re.search(r'<details class="withdraw">\s*<summary>[^<]+</summary>\s*<form method="post" '
                        r'action="/me/claims/\d+/withdraw">.*?</form>\s*</details>', page, re.S)
    assert confirm and "确定撤回这条申报" in confirm.group(0)
