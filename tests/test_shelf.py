"""The resident's shelf (我能换什么): prices, stock in words, what her balance covers, and her allowance under
the store's limits, which is the counter's own rule (China-time weeks and months)."""
from datetime import UTC, datetime, timedelta

import pytest

from pointsapp.core.extensions import db as _db
from pointsapp.core.periods import CHINA
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.services import catalogue, counter, identification
from pointsapp.store.services import shelf as shelf_service
from pointsapp.volunteering.services import codes

SECRET = "test-secret"  # the test app's SECRET_KEY


@pytest.fixture
def shop(make, db, now):
    community = make.community()
    clerk = make.clerk(community)
    admin = make.admin(community)
    user = make.resident_user(community=community)
    ledger.manual(admin, user.resident, 20, "志愿服务", f"seed-{user.resident_id}", now - timedelta(days=60))
    return community, admin, clerk, clerk.grants[0].store, user


def add(admin, store, now, name, *, price=10, stock=10, kind="goods", **fields):
    return catalogue.create_product(admin, store, catalogue.ProductFields(name=name, kind=kind, price=price, **fields),
                                    stock, now)


def redeem(clerk, store, resident, lines, request_id, at):
    who = identification.identify_by_code(clerk, store, SECRET, codes.member_phone_code(SECRET, resident, at), None, at)
    return counter.redeem(clerk, store, who.id, counter.Cart(dict(lines)), request_id, at)


def items(user, now) -> dict[str, shelf_service.Item]:
    return {i.product.name: i for s in shelf_service.shelf(user, now).stores for g in s.groups for i in g.items}


def test_stock_is_told_in_words_never_as_a_count_above_a_few(shop, now):
    _c, admin, _clerk, store, user = shop
    add(admin, store, now, "毛巾", stock=12)
    add(admin, store, now, "香皂", stock=3)
    add(admin, store, now, "洗衣粉", stock=0)
    add(admin, store, now, "理发", kind="service", stock=None)
    got = {name: (i.stock, i.left_in_stock) for name, i in items(user, now).items()}
    assert got == {"毛巾": ("plenty", None), "香皂": ("few", 3), "洗衣粉": ("out", None), "理发": ("plenty", None)}


def test_the_page_shows_prices_balance_stock_words_and_what_she_can_afford(shop, client, login, now):
    _c, admin, _clerk, store, user = shop
    add(admin, store, now, "香皂", price=8, stock=3, category="日用品")
    add(admin, store, now, "大米 5斤", price=30, stock=47, category="粮油")
    add(admin, store, now, "食用油", price=20, stock=0, category="粮油")
    _db.session.commit()
    page = login(client, user).get("/store/shelf").get_data(as_text=True)
    assert "我能换什么" in page and ">20<" in page  # her balance on top
    soap = page[page.index("香皂"):page.index("</li>", page.index("香皂"))]
    assert "8 积分" in soap and "仅剩 3 件" in soap and "积分够兑换" in soap
    rice = page[page.index("大米 5斤"):page.index("</li>", page.index("大米 5斤"))]
    assert "30 积分" in rice and "有货" in rice and "还差 10 积分" in rice and "47" not in rice
    oil = page[page.index("食用油"):page.index("</li>", page.index("食用油"))]
    assert "暂时缺货" in oil and "积分够兑换" in oil
    assert page.index("日用品") < page.index("香皂") and page.index("粮油") < page.index("大米 5斤")
    assert "/store/shelf" in client.get("/").get_data(as_text=True)  # linked from her home


def test_this_weeks_purchase_counts_and_last_weeks_does_not(shop, now):
    _c, admin, clerk, store, user = shop
    eggs = add(admin, store, now, "鸡蛋", price=1, stock=50, limit_per_week=3)
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=CHINA)  # the week of `now` (Wednesday 25th) starts here
    redeem(clerk, store, user.resident, {eggs.id: 1}, "last-week", monday - timedelta(seconds=1))
    assert items(user, now)["鸡蛋"].allowance.left == 3
    redeem(clerk, store, user.resident, {eggs.id: 2}, "this-week", monday)  # Sunday 16:00 UTC
    left = items(user, now)["鸡蛋"].allowance
    assert left.left == 1 and str(left.why) == "本周"
    assert left.left == counter.allowances(user.resident, [eggs], now)[eggs.id].left  # the counter's rule
    assert items(user, monday + timedelta(days=7))["鸡蛋"].allowance.left == 3


def test_this_months_purchase_counts_and_last_months_does_not(shop, now, client, login):
    _c, admin, clerk, store, user = shop
    rice = add(admin, store, now, "大米", price=1, stock=50, limit_per_month=2)
    first = datetime(2026, 11, 1, 0, 0, tzinfo=CHINA)  # 2026-10-31 16:00 UTC
    redeem(clerk, store, user.resident, {rice.id: 2}, "october", first - timedelta(seconds=1))
    assert items(user, now)["大米"].allowance.left == 2
    redeem(clerk, store, user.resident, {rice.id: 2}, "november", first)
    assert items(user, now)["大米"].allowance.left == 0
    assert not items(user, now)["大米"].can_take
    _db.session.commit()
    page = login(client, user).get("/store/shelf").get_data(as_text=True)
    assert "本月可兑换的数量已用完" in page
    assert items(user, datetime(2026, 12, 1, 0, 0, tzinfo=CHINA))["大米"].allowance.left == 2


def test_a_household_limit_counts_the_whole_household(shop, make, now):
    _c, admin, clerk, store, user = shop
    oil = add(admin, store, now, "花生油", price=1, stock=9, household_limit_per_month=1)
    spouse = make.resident(household=user.resident.household)
    ledger.manual(admin, spouse, 5, "志愿服务", "seed-spouse", now - timedelta(days=60))
    redeem(clerk, store, spouse, {oil.id: 1}, "spouse", now - timedelta(hours=1))
    assert items(user, now)["花生油"].allowance.left == 0


def test_another_communitys_products_and_inactive_ones_are_never_shown(shop, make, client, login, now):
    _c, admin, _clerk, store, user = shop
    add(admin, store, now, "香皂")
    hidden = add(admin, store, now, "停售的酱油")
    hidden.is_active = False
    elsewhere = make.community()
    other_store = make.store(elsewhere)
    add(make.admin(elsewhere), other_store, now, "别的社区的挂面")
    assert set(items(user, now)) == {"香皂"}
    _db.session.commit()
    page = login(client, user).get("/store/shelf").get_data(as_text=True)
    assert "香皂" in page and "停售的酱油" not in page and "别的社区的挂面" not in page


def test_staff_without_a_resident_get_a_message(shop, client, login, make, now):
    _c, admin, *_ = shop
    _db.session.commit()
    response = login(client, admin).get("/store/shelf")
    assert response.status_code == 200 and "没有关联居民" in response.get_data(as_text=True)


def test_the_shelf_spans_the_utc_date_line_of_china_time(shop, now):
    """A purchase at 07:00 China time on Monday is Sunday 23:00 UTC: it belongs to Monday's week."""
    _c, admin, clerk, store, user = shop
    soap = add(admin, store, now, "香皂", price=1, stock=20, limit_per_week=1)
    monday_7am = datetime(2026, 11, 23, 7, 0, tzinfo=CHINA)
    assert monday_7am.astimezone(UTC).day == 22
    redeem(clerk, store, user.resident, {soap.id: 1}, "mon-7", monday_7am)
    assert items(user, now)["香皂"].allowance.left == 0
