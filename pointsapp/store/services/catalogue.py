"""The supermarket's catalogue and stock: products, photos, restocks and corrections.

Stock changes are conditional updates (… SET stock = stock + :d WHERE id = :id AND stock + :d >= 0),
so stock never goes below zero on either database, and every change writes a StockMovement."""
import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from pointsapp.accounts.models import User
from pointsapp.core import locks, photos
from pointsapp.core.errors import Conflict, InvalidInput, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.permissions import Action, require
from pointsapp.core.unique import insert_if_absent
from pointsapp.core.words import labelled
from pointsapp.store.models import Product, ProductPhoto, StockMovement, Store

PHOTO_MAX_PIXELS = 480
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_MEGAPIXELS = photos.MAX_MEGAPIXELS


class OutOfStock(Conflict):
    code = "out_of_stock"


@dataclass
class ProductFields:
    name: str
    kind: str = "goods"
    category: str = ""
    price: int = 10
    limit_per_week: int | None = None
    limit_per_month: int | None = None
    household_limit_per_month: int | None = None
    barcode: str = ""
    low_stock: int = 5
    is_active: bool = True


def _check(f: ProductFields) -> ProductFields:
    name = (f.name or "").strip()
    if not name:
        raise InvalidInput(_l("Please enter a name."), code="name_missing")
    if f.kind not in ("goods", "service"):
        raise InvalidInput(code="invalid_kind")
    if not isinstance(f.price, int) or not 1 <= f.price <= 100000:
        raise InvalidInput(_l("The price must be between 1 and 100000 points."), code="invalid_price")
    for limit in (f.limit_per_week, f.limit_per_month, f.household_limit_per_month):
        if limit is not None and limit < 1:
            raise InvalidInput(_l("A limit must be at least 1 (leave it empty for no limit)."), code="invalid_limit")
    return ProductFields(**{**f.__dict__, "name": name[:80], "category": (f.category or "").strip()[:40],
                            "barcode": (f.barcode or "").strip()[:40], "low_stock": max(0, f.low_stock or 0)})


def create_product(actor: User, store: Store, fields: ProductFields, stock: int | None, now: datetime) -> Product:
    """Goods start with a stock (logged as a restock); services may be unlimited (stock None).
    Raises forbidden, name_missing, invalid_price, invalid_limit, invalid_stock, already_exists."""
    require(actor, Action.MANAGE_STORE, store)
    f = _check(fields)
    if f.kind == "goods" and (stock is None or stock < 0):
        raise InvalidInput(_l("Goods need a stock (0 or more)."), code="invalid_stock")
    product = Product(community_id=store.community_id, store_id=store.id, created_at=now, stock=(stock or 0) if f.kind == "goods" else stock, **f.__dict__)
    try:
        with db.session.begin_nested():
            db.session.add(product)
    except IntegrityError as exc:
        raise Conflict(_l("This store already has a product with this name."), code="already_exists") from exc
    if product.stock:
        _log(product, product.stock, product.stock, "restock", _l("Opening stock"), actor, now)
    return product


def update_product(actor: User, product: Product, fields: ProductFields, now: datetime) -> Product:
    """Raises forbidden and _check's codes, already_exists. Stock is changed only by movements."""
    require(actor, Action.MANAGE_STORE, product)
    f = _check(fields)
    for key, value in f.__dict__.items():
        setattr(product, key, value)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        raise Conflict(_l("This store already has a product with this name."), code="already_exists") from exc
    return product


def _log(product: Product, change: int, after: int | None, kind: str, reason, actor: User, now: datetime,
         redemption_id: int | None = None) -> StockMovement:
    movement = StockMovement(community_id=product.community_id, store_id=product.store_id, product_id=product.id,
                             change=change, stock_after=after, kind=kind, reason=str(reason)[:300],
                             actor_id=actor.id, redemption_id=redemption_id, created_at=now)
    db.session.add(movement)
    return movement


def move_stock(product: Product, change: int, kind: str, reason, actor: User, now: datetime, *,
               redemption_id: int | None = None) -> int | None:
    """Change stock atomically and log it; unlimited products only log. Raises out_of_stock."""
    if product.stock is None:
        _log(product, change, None, kind, reason, actor, now, redemption_id)
        return None
    result = db.session.execute(
        update(Product).where(Product.id == product.id, Product.stock + change >= 0)
        .values(stock=Product.stock + change).returning(Product.stock))
    row = result.first()
    if row is None:
        raise OutOfStock(_l("Not enough “%(name)s” in stock."), name=product.name)
    product_stock = row[0]
    db.session.expire(product, ["stock"])
    _log(product, change, product_stock, kind, reason, actor, now, redemption_id)
    return product_stock


def restock(actor: User, product: Product, quantity: int, reason: str, now: datetime) -> int | None:
    """Raises forbidden, invalid_quantity, unlimited_product."""
    require(actor, Action.RUN_STORE, product)
    if not isinstance(quantity, int) or not 1 <= quantity <= 100000:
        raise InvalidInput(_l("The quantity must be between 1 and 100000."), code="invalid_quantity")
    if product.stock is None:
        raise InvalidInput(_l("This product has no stock to count."), code="unlimited_product")
    return move_stock(product, quantity, "restock", reason or _l("Restock"), actor, now)


def correct_stock(actor: User, product: Product, counted: int, reason: str, now: datetime) -> int | None:
    """Set the stock to what is on the shelf, with a reason. Raises forbidden, reason_missing,
    invalid_quantity, unlimited_product."""
    require(actor, Action.MANAGE_STORE, product)
    if not (reason or "").strip():
        raise InvalidInput(_l("Please give a reason."), code="reason_missing")
    if not isinstance(counted, int) or counted < 0:
        raise InvalidInput(_l("The quantity must be 0 or more."), code="invalid_quantity")
    if product.stock is None:
        raise InvalidInput(_l("This product has no stock to count."), code="unlimited_product")
    current = locks.lock_row(Product, product.id).stock  # the stock as committed, held until we are done
    if counted == current:
        return current
    return move_stock(product, counted - current, "correction", reason.strip(), actor, now)


def set_photo(actor: User, product: Product, data: bytes, now: datetime, *, max_megapixels: int | None = None) -> None:
    """Resize to at most 480 px and store as JPEG (core.photos). Raises forbidden, invalid_photo,
    photo_too_large."""
    require(actor, Action.MANAGE_STORE, product)
    if max_megapixels is None:  # config PHOTO_MAX_MEGAPIXELS (the store's views pass nothing)
        max_megapixels = current_app.config.get("PHOTO_MAX_MEGAPIXELS", PHOTO_MAX_MEGAPIXELS)
    # a product photo is taken as the file has it: a shop's pictures are not phone snapshots held sideways
    picture = photos.resized(data, PHOTO_MAX_PIXELS, max_megapixels=max_megapixels, max_bytes=PHOTO_MAX_BYTES,
                             upright=False)
    out = picture.content
    values = dict(content=out, updated_at=now)
    photo = db.session.get(ProductPhoto, product.id)
    if photo is not None:
        photo.content, photo.updated_at = values["content"], now
        db.session.flush()
        return
    # two uploads for a product without a photo at once: the second finds the first's row and replaces it
    if not insert_if_absent(ProductPhoto(product_id=product.id, community_id=product.community_id, **values)):
        photo = locks.lock_row(ProductPhoto, product.id)
        photo.content, photo.updated_at = values["content"], now
        db.session.flush()


def products(store_id: int, *, active_only: bool = False) -> list[Product]:
    stmt = select(Product).where(Product.store_id == store_id)
    if active_only:
        stmt = stmt.where(Product.is_active.is_(True))
    return db.session.scalars(stmt.order_by(Product.kind, Product.category, Product.name)).all()


def low_stock(store_id: int) -> list[Product]:
    return db.session.scalars(select(Product).where(Product.store_id == store_id, Product.is_active.is_(True),
                                                    Product.stock.is_not(None), Product.stock <= Product.low_stock)
                              .order_by(Product.stock, Product.name)).all()


def get_product(store: Store, product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or product.store_id != store.id:
        raise NotFound(_l("No such product in this store."))
    return product


def get_store(store_id: int) -> Store:
    store = db.session.get(Store, store_id)
    if store is None:
        raise NotFound(_l("No such store."))
    return store


# What the counter writes into a stock movement's reason (counter.checkout, counter.void, counter.close_shift,
# restock's default); shown in the reader's language by describe_movement, like ledger.services.describe.
_VOIDED = re.compile(r"^作废 (?P<no>\S+)$")  # f"作废 {receipt_no}"
_STOCKTAKE = re.compile(r"^盘点差异：(?P<why>.*)$", re.S)  # f"盘点差异：{typed}"
_RESTOCK_DEFAULTS = {"", "入库", "Restock"}  # restock's default reason, stored in the writer's language


def describe_movement(movement: StockMovement) -> str:
    """A stock movement's reason as the reader should see it: the system's own wording rebuilt from the kind
    and the reference in the reader's language; what a person typed, as typed."""
    reason = (movement.reason or "").strip()
    if movement.kind == "redemption" and movement.redemption_id is not None:
        return _("Receipt %(no)s", no=reason)
    if movement.kind == "void" and (found := _VOIDED.match(reason)):
        return _("Receipt %(no)s voided", no=found["no"])
    if movement.kind == "stocktake" and (found := _STOCKTAKE.match(reason)):
        return labelled(_("Shift stocktake difference"), found["why"])
    if movement.kind == "restock" and reason in _RESTOCK_DEFAULTS:
        return _("Restock")
    return reason
