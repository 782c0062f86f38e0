"""The resident's shelf (我能换什么): her community store's active goods and services with the price, whether
they are in stock (in words, never the exact count beyond a few), whether her balance covers one, and how many
more the store's limits let her take. The limits are the counter's own rule (counter.allowances), so the shelf
never promises what the counter would refuse."""
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from pointsapp.accounts.models import User
from pointsapp.core.errors import InvalidInput
from pointsapp.core.extensions import db
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.models import Product, Store
from pointsapp.store.services.counter import Allowance, allowances

FEW = 5  # at or below this many left, the shelf says "仅剩 N 件"; above it only "有货"


@dataclass
class Item:
    product: Product
    stock: str  # plenty | few | out
    left_in_stock: int | None  # only for "few"
    allowance: Allowance
    affordable: bool  # her balance covers one

    @property
    def can_take(self) -> bool:
        return self.stock != "out" and self.affordable and self.allowance.left != 0


@dataclass
class Group:
    title: str  # the product's category, or goods / services when it has none
    items: list[Item] = field(default_factory=list)


@dataclass
class StoreShelf:
    store: Store
    groups: list[Group]


@dataclass
class Shelf:
    balance: int
    stores: list[StoreShelf]


def stock_word(product: Product) -> tuple[str, int | None]:
    """("plenty", None) for unlimited services and a full shelf, ("few", n) for 1..FEW, ("out", None) for 0."""
    if product.stock is None or product.stock > FEW:
        return "plenty", None
    if product.stock <= 0:
        return "out", None
    return "few", product.stock


def shelf(actor: User, now: datetime) -> Shelf:
    """What the actor (a resident) can get at her community's stores. Raises not_a_resident."""
    resident = actor.resident
    if resident is None:
        raise InvalidInput(_l("This account is not linked to a resident."), code="not_a_resident")
    stores = db.session.scalars(select(Store).where(Store.community_id == resident.community_id)
                                .order_by(Store.id)).all()
    products = db.session.scalars(select(Product).where(
        Product.community_id == resident.community_id, Product.store_id.in_([s.id for s in stores] or [-1]),
        Product.is_active.is_(True)).order_by(Product.kind, Product.category, Product.price, Product.name)).all()
    balance = ledger.balance_of(resident.id)
    limits = allowances(resident, list(products), now)
    out = []
    for store in stores:
        groups: dict[str, Group] = {}
        for p in products:
            if p.store_id != store.id:
                continue
            title = p.category or str(_l("Goods") if p.kind == "goods" else _l("Services"))
            word, few = stock_word(p)
            groups.setdefault(title, Group(title)).items.append(
                Item(p, word, few, limits[p.id], affordable=p.price <= balance))
        if groups:
            out.append(StoreShelf(store, list(groups.values())))
    return Shelf(balance, out)
