"""The public board and the rankings page: masking, opt-out, freeze, no rooms or phones."""
import re

import pytest

from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.rankings import services as rankings


@pytest.mark.parametrize("name, mode, shown", [("张小明", "middle", "张*明"), ("张小明", "given", "张**"),
                                               ("王伟", "middle", "王*"), ("欧阳小明", "middle", "欧**明"),
                                               ("张小明", "none", "张小明")])
def test_names_are_masked_by_the_community_setting(name, mode, shown):
    assert rankings.mask_name(name, mode) == shown


def visible_text(page: str) -> str:
    """What the screen shows, less the ledger checkpoint's hex root (64 hex digits contain "301" about
    once in 70 boards) and markup."""
    page = re.sub(r"<code>[0-9a-f]{64}</code>", "", page)
    return re.sub(r"<[^>]+>", " ", page)


@pytest.fixture
def scene(make, db, now):
    c = make.community()
    b = make.building(c, "3号楼")
    h = make.household(building=b, unit="1", room="301")
    star = make.resident(h, name="张小明", phone="13912345678")
    shy = make.resident_user(community=c)
    for r, n in ((star, 50), (shy.resident, 80)):
        ledger.post(Posting(r, n, EntryKind.AWARD, "attendance", f"k{r.id}", "楼道广告清理"), None, now)
    _db.session.commit()
    return c, star, shy


def test_board_masks_names_and_never_shows_rooms_or_phones(client, scene):
    c, star, shy = scene
    page = client.get(f"/board/{c.id}").get_data(as_text=True)
    assert "张*明" in page and "张小明" not in page
    assert "13912345678" not in page and "301" not in visible_text(page)


def test_an_opted_out_resident_is_left_off_the_board_but_sees_their_rank(client, login, scene):
    c, star, shy = scene
    login(client, shy)
    client.post("/me/board", data={"hide": "1"})
    board = client.get(f"/board/{c.id}").get_data(as_text=True)
    assert rankings.mask_name(shy.resident.name, "middle") not in board
    page = client.get("/rankings").get_data(as_text=True)
    assert "我的名次" in page and '<p class="value">1</p>' in page


def test_a_frozen_board_hides_places_but_not_own_points(client, login, scene):
    c, star, shy = scene
    c.board_frozen = True
    _db.session.commit()
    assert "张*明" not in client.get(f"/board/{c.id}").get_data(as_text=True)
    login(client, shy)
    page = client.get("/rankings").get_data(as_text=True)
    assert "公布前暂不显示名次" in page and "80" in page and "class=\"ranking\"" not in page


def test_admin_changes_masking_and_freezes(client, login, make, scene):
    c, *_ = scene
    admin = make.admin(c)
    _db.session.commit()
    login(client, admin)
    client.post(f"/admin/c/{c.id}/board", data={"mask": "given", "frozen": ""})
    assert "张**" in client.get(f"/board/{c.id}").get_data(as_text=True)
    bad = client.post(f"/admin/c/{c.id}/board", data={"mask": "everything"}, follow_redirects=True)
    assert bad.status_code == 200 and "未知的姓名显示方式" in bad.get_data(as_text=True)


def test_board_shows_the_star_notice_and_published_honours_masked(client, make, scene, now):
    from datetime import timedelta

    from pointsapp.rankings.services import period_keys
    from pointsapp.recognition.services import honours, stars
    c, star, shy = scene
    admin = make.admin(c)
    rules = stars.create_rule_set(admin, c, "标准", [10, 20, 30, 40, 50], 0, now)
    evaluation = stars.create_evaluation(admin, c, rules, "年度星级文明户", period_keys(now)[2], 7, now)
    stars.start_notice(admin, evaluation, now)
    h = honours.create_list(admin, c, "volunteer", "年度优秀志愿者", period_keys(now)[2], "top", 5, 1, now)
    honours.start_notice(admin, h, now)
    honours.publish(admin, h, now + timedelta(days=2))
    _db.session.commit()
    page = client.get(f"/board/{c.id}").get_data(as_text=True)
    assert "公示：年度星级文明户" in page and "年度优秀志愿者" in page
    assert "张*明" in page and "张小明" not in page and "301" not in visible_text(page)
    assert "公示：年度优秀志愿者" not in page  # published: shown as the list itself
    # an honour list on notice is shown as a notice, with the date objections close
    month = honours.create_list(admin, c, "volunteer", "本月优秀志愿者", period_keys(now)[0], "top", 5, 7, now)
    honours.start_notice(admin, month, now)
    _db.session.commit()
    page = client.get(f"/board/{c.id}").get_data(as_text=True)
    assert "公示：本月优秀志愿者" in page and "异议" in page.split("公示：本月优秀志愿者")[1].split("</section>")[0]
