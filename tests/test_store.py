"""The supermarket's catalogue and stock: products, restocks, corrections, shift close and photos
(DESIGN.md invariant 5: stock is never negative and every change is logged)."""
import io
import struct
import threading
import zlib
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from pointsapp.accounts.models import User
from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.models import Product, ProductPhoto, StockMovement, Stocktake, StocktakeLine, Store
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter, identification
from pointsapp.store.services.catalogue import ProductFields
from pointsapp.tree.models import Resident
from pointsapp.volunteering.services import codes


@pytest.fixture
def shop(make, db, now):
    community = make.community()
    clerk = make.clerk(community)
    return community, make.admin(community), clerk, clerk.grants[0].store


def add_product(shop, now, name="花生油", *, stock=10, kind="goods", price=10, **fields):
    _, admin, _, store = shop
    return store_service.create_product(admin, store, ProductFields(name=name, kind=kind, price=price, **fields),
                                        stock, now)


def refused(code, fn, *args, **kwargs):
    with pytest.raises(DomainError) as err:
        fn(*args, **kwargs)
    assert err.value.code == code, (err.value.code, str(err.value))
    return err.value


def count(model, *where):
    return _db.session.scalar(select(func.count()).select_from(model).where(*where))


def stock_of(product_id):
    return _db.session.scalar(select(Product.stock).where(Product.id == product_id))


def movements(product_id):
    return _db.session.scalars(select(StockMovement).where(StockMovement.product_id == product_id)
                               .order_by(StockMovement.id)).all()


def assert_books_balance(product_id):
    """Invariant 5: the stock is what its logged movements add up to, and never negative."""
    stock = stock_of(product_id)
    moves = movements(product_id)
    assert stock >= 0
    assert sum(m.change for m in moves) == stock
    assert not moves or moves[-1].stock_after == stock
    assert all(m.stock_after >= 0 for m in moves)


# ---- products ----------------------------------------------------------------------------------------

def test_goods_start_with_a_logged_opening_stock_and_services_may_be_unlimited(shop, now):
    _, admin, _, _ = shop
    oil = add_product(shop, now, "花生油", stock=12)
    assert [(m.change, m.stock_after, m.kind, m.actor_id) for m in movements(oil.id)] == [(12, 12, "restock", admin.id)]
    empty = add_product(shop, now, "挂面", stock=0)
    assert stock_of(empty.id) == 0 and movements(empty.id) == []
    haircut = add_product(shop, now, "理发服务", kind="service", stock=None)
    assert stock_of(haircut.id) is None and movements(haircut.id) == []


def test_product_fields_are_checked_and_only_an_admin_manages_products(shop, now):
    _, admin, clerk, store = shop
    add_product(shop, now, "花生油")
    refused("already_exists", add_product, shop, now, "花生油")
    refused("name_missing", add_product, shop, now, "   ")
    refused("invalid_price", add_product, shop, now, "香皂", price=0)
    refused("invalid_limit", add_product, shop, now, "香皂", limit_per_week=0)
    refused("invalid_stock", add_product, shop, now, "香皂", stock=None)
    refused("invalid_stock", add_product, shop, now, "香皂", stock=-1)
    refused("forbidden", store_service.create_product, clerk, store, ProductFields(name="香皂"), 5, now)
    assert count(Product) == 1


# ---- restock and corrections -----------------------------------------------------------------------------

def test_restock_is_logged_with_its_reason_and_the_stock_after(shop, now):
    _, _, clerk, _ = shop
    p = add_product(shop, now, stock=3)
    assert store_service.restock(clerk, p, 20, "街道慈善捐赠", now + timedelta(hours=1)) == 23
    assert store_service.restock(clerk, p, 2, "", now + timedelta(hours=2)) == 25
    last_two = movements(p.id)[-2:]
    assert [(m.change, m.stock_after, m.kind, m.actor_id) for m in last_two] == [
        (20, 23, "restock", clerk.id), (2, 25, "restock", clerk.id)]
    assert last_two[0].reason == "街道慈善捐赠"
    assert last_two[1].reason in ("入库", "Restock")  # no reason given: a default one, never empty
    assert p.stock == 25  # the loaded object sees the new stock
    assert_books_balance(p.id)


def test_restock_refuses_bad_quantities_unlimited_products_and_strangers(make, shop, now):
    community, _, clerk, _ = shop
    p = add_product(shop, now, stock=3)
    service = add_product(shop, now, "理发服务", kind="service", stock=None)
    for bad in (0, -5, 100001, "3", 1.5):
        refused("invalid_quantity", store_service.restock, clerk, p, bad, "到货", now)
    refused("unlimited_product", store_service.restock, clerk, service, 5, "到货", now)
    refused("forbidden", store_service.restock, make.clerk(community), p, 5, "到货", now)  # another store's clerk
    assert stock_of(p.id) == 3 and len(movements(p.id)) == 1


def test_correction_sets_the_stock_to_the_count_and_logs_the_reason(shop, now):
    _, admin, _, _ = shop
    p = add_product(shop, now, stock=10)
    assert store_service.correct_stock(admin, p, 7, "  老鼠咬坏三袋  ", now) == 7
    m = movements(p.id)[-1]
    assert (m.change, m.stock_after, m.kind, m.reason, m.actor_id) == (-3, 7, "correction", "老鼠咬坏三袋", admin.id)
    assert store_service.correct_stock(admin, p, 9, "找到两袋", now) == 9
    assert store_service.correct_stock(admin, p, 9, "复核无误", now) == 9  # no change, nothing to log
    assert len(movements(p.id)) == 3
    assert_books_balance(p.id)


def test_correction_without_a_reason_or_by_a_clerk_is_refused(shop, now):
    _, admin, clerk, _ = shop
    p = add_product(shop, now, stock=10)
    for blank in ("", "   ", None):
        refused("reason_missing", store_service.correct_stock, admin, p, 7, blank, now)
    refused("forbidden", store_service.correct_stock, clerk, p, 7, "盘点", now)
    refused("invalid_quantity", store_service.correct_stock, admin, p, -1, "盘点", now)
    assert stock_of(p.id) == 10 and len(movements(p.id)) == 1


def test_stock_never_goes_below_zero(shop, now):
    _, _, clerk, _ = shop
    p = add_product(shop, now, stock=5)
    refused("out_of_stock", store_service.move_stock, p, -6, "redemption", "test", clerk, now)
    assert stock_of(p.id) == 5 and len(movements(p.id)) == 1  # the refused move logged nothing
    assert store_service.move_stock(p, -5, "redemption", "test", clerk, now) == 0
    refused("out_of_stock", store_service.move_stock, p, -1, "redemption", "test", clerk, now)
    assert stock_of(p.id) == 0
    assert_books_balance(p.id)
    _db.session.commit()
    # the database itself refuses a negative stock, whatever the code path
    with pytest.raises(IntegrityError):
        _db.session.execute(text("UPDATE product SET stock = -1 WHERE id = :id"), {"id": p.id})
        _db.session.flush()
    _db.session.rollback()
    assert stock_of(p.id) == 0


def test_concurrent_stock_takes_never_oversell(app, shop, now):
    n, stock = 8, 5
    _, _, clerk, _ = shop
    p = add_product(shop, now, stock=stock)
    _db.session.commit()
    pid, clerk_id = p.id, clerk.id
    _db.session.rollback()
    barrier = threading.Barrier(n)
    outcomes = []

    def take():
        with app.app_context():
            try:
                barrier.wait()  # before the first query: on SQLite a query begins the write transaction
                store_service.move_stock(_db.session.get(Product, pid), -1, "redemption", "test",
                                         _db.session.get(User, clerk_id), now)
                _db.session.commit()
                outcomes.append("ok")
            except DomainError as exc:
                _db.session.rollback()
                outcomes.append(exc.code)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=take) for _ in range(n)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert sorted(outcomes) == ["ok"] * stock + ["out_of_stock"] * (n - stock)
    _db.session.expire_all()
    assert stock_of(pid) == 0
    assert_books_balance(pid)


# ---- shift close (交班盘点) ----------------------------------------------------------------------------

def test_close_shift_records_differences_with_reasons_and_the_books_follow_the_count(shop, now):
    _, _, clerk, store = shop
    oil = add_product(shop, now, "花生油", stock=10)
    soap = add_product(shop, now, "香皂", stock=5)
    rice = add_product(shop, now, "大米", stock=4)
    take = counter.close_shift(clerk, store, {oil.id: 8, soap.id: 5, rice.id: 6},
                               {oil.id: " 破损两瓶 ", rice.id: "上一班漏记到货"}, "晚班交接", now)
    lines = {line.product_id: line for line in take.lines}
    assert [(lines[p.id].book_quantity, lines[p.id].counted_quantity, lines[p.id].difference, lines[p.id].reason)
            for p in (oil, soap, rice)] == [(10, 8, -2, "破损两瓶"), (5, 5, 0, ""), (4, 6, 2, "上一班漏记到货")]
    assert (take.clerk_id, take.closed_at, take.note) == (clerk.id, now, "晚班交接")
    assert (stock_of(oil.id), stock_of(soap.id), stock_of(rice.id)) == (8, 5, 6)
    m = movements(oil.id)[-1]
    assert (m.change, m.stock_after, m.kind, m.actor_id) == (-2, 8, "stocktake", clerk.id) and "破损两瓶" in m.reason
    assert len(movements(soap.id)) == 1  # no difference, no movement
    for p in (oil, soap, rice):
        assert_books_balance(p.id)


def test_close_shift_refuses_a_difference_without_a_reason_and_writes_nothing(shop, now):
    _, _, clerk, store = shop
    oil = add_product(shop, now, "花生油", stock=10)
    soap = add_product(shop, now, "香皂", stock=5)
    _db.session.commit()
    refused("reason_missing", counter.close_shift, clerk, store, {oil.id: 10, soap.id: 4}, {soap.id: "  "}, "", now)
    _db.session.rollback()
    assert count(Stocktake) == 0 and count(StocktakeLine) == 0
    assert (stock_of(oil.id), stock_of(soap.id)) == (10, 5)
    assert count(StockMovement, StockMovement.kind == "stocktake") == 0


def test_close_shift_requires_a_count_of_every_active_goods_product(shop, now):
    _, admin, clerk, store = shop
    oil = add_product(shop, now, "花生油", stock=10)
    soap = add_product(shop, now, "香皂", stock=5)
    old = add_product(shop, now, "月饼", stock=3)
    store_service.update_product(admin, old, ProductFields(name="月饼", is_active=False), now)
    add_product(shop, now, "理发服务", kind="service", stock=None)
    _db.session.commit()
    err = refused("missing_count", counter.close_shift, clerk, store, {oil.id: 10}, {}, "", now)
    assert "香皂" in str(err) and "花生油" not in str(err)
    _db.session.rollback()
    assert count(Stocktake) == 0
    refused("invalid_quantity", counter.close_shift, clerk, store, {oil.id: 10, soap.id: -1}, {soap.id: "?"}, "", now)
    _db.session.rollback()
    # inactive goods and services need no count
    take = counter.close_shift(clerk, store, {oil.id: 10, soap.id: 5}, {}, "", now)
    assert sorted(line.product_id for line in take.lines) == sorted([oil.id, soap.id])


def test_only_the_stores_own_staff_close_its_shift(make, shop, now):
    community, _, _, store = shop
    p = add_product(shop, now, stock=1)
    refused("forbidden", counter.close_shift, make.clerk(community), store, {p.id: 1}, {}, "", now)
    refused("forbidden", counter.close_shift, make.admin(make.community()), store, {p.id: 1}, {}, "", now)


def test_close_shift_counts_against_the_books_as_they_are_when_it_closes(app, make, shop, now):
    """The shift page lists the products (book stock 10); a sale at the other counter commits; the clerk,
    who counted the shelf after that sale, submits 9. The books say 9 by then: no difference."""
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite the shift's transaction holds the write lock from its first read")
    community, admin, clerk, store = shop
    p = add_product(shop, now, stock=10)
    r = make.resident(community=community)
    ledger.manual(admin, r, 100, "志愿服务", "seed", now)
    _db.session.commit()
    pid, rid, store_id, clerk_id = p.id, r.id, store.id, clerk.id

    assert [x.stock for x in store_service.products(store_id)] == [10]  # the shift page, in this transaction

    def sale_at_the_other_counter():
        with app.app_context():
            c, s = _db.session.get(User, clerk_id), _db.session.get(Store, store_id)
            code = codes.member_phone_code(app.secret_key, _db.session.get(Resident, rid), now)
            who = identification.identify_by_code(c, s, app.secret_key, code, None, now)
            counter.redeem(c, s, who.id, counter.Cart({pid: 1}), "other-counter", now)
            _db.session.commit()
            _db.session.remove()

    t = threading.Thread(target=sale_at_the_other_counter)
    t.start()
    t.join(30)
    take = counter.close_shift(clerk, store, {pid: 9}, {}, "", now)
    line = take.lines[0]
    assert (line.book_quantity, line.counted_quantity, line.difference) == (9, 9, 0)
    _db.session.commit()
    assert stock_of(pid) == 9
    assert_books_balance(pid)


# ---- photos --------------------------------------------------------------------------------------------

def png(width, height, mode="RGB"):
    image = Image.new(mode, (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill="red")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def stored(product_id):
    photo = _db.session.get(ProductPhoto, product_id)
    return Image.open(io.BytesIO(photo.content))


def test_photo_is_stored_as_a_jpeg_at_most_480_pixels_on_its_longer_side(shop, now):
    _, admin, _, _ = shop
    p = add_product(shop, now)
    store_service.set_photo(admin, p, png(2000, 1500), now)
    image = stored(p.id)
    assert (image.format, image.size) == ("JPEG", (480, 360))
    assert _db.session.get(ProductPhoto, p.id).content[:3] == b"\xff\xd8\xff"

    later = now + timedelta(hours=1)
    store_service.set_photo(admin, p, png(900, 2700, "RGBA"), later)  # a new photo replaces the old one
    image = stored(p.id)
    assert (image.format, image.size, image.mode) == ("JPEG", (160, 480), "RGB")
    assert count(ProductPhoto) == 1 and _db.session.get(ProductPhoto, p.id).updated_at == later

    store_service.set_photo(admin, p, png(300, 200), later)  # small photos are not blown up
    assert stored(p.id).size == (300, 200)


def _bomb_png(width, height):
    """A tiny PNG whose header claims a huge image (a decompression bomb)."""
    data = png(1, 1)
    ihdr = bytearray(data[8:33])  # length, type, 13 bytes of data, crc
    ihdr[8:16] = struct.pack(">II", width, height)
    ihdr[21:25] = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return data[:8] + bytes(ihdr) + data[33:]


@pytest.mark.parametrize("data", [
    b"this is not an image",
    b"",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,  # a PNG signature and nothing valid after it
    png(400, 300)[:200],  # cut off mid-upload
    b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024),  # over 5 MB
], ids=["text", "empty", "bad-png", "truncated", "too-big"])
def test_a_file_that_is_not_a_usable_photo_is_refused(shop, now, data):
    _, admin, _, _ = shop
    p = add_product(shop, now)
    refused("invalid_photo", store_service.set_photo, admin, p, data, now)
    assert _db.session.get(ProductPhoto, p.id) is None


def test_a_decompression_bomb_photo_is_refused_as_too_large(shop, now):
    _, admin, _, _ = shop
    p = add_product(shop, now)
    refused("photo_too_large", store_service.set_photo, admin, p, _bomb_png(40000, 40000), now)
    assert _db.session.get(ProductPhoto, p.id) is None


def test_only_an_admin_sets_a_photo(shop, now):
    _, _, clerk, _ = shop
    p = add_product(shop, now)
    refused("forbidden", store_service.set_photo, clerk, p, png(100, 100), now)
    assert _db.session.get(ProductPhoto, p.id) is None
