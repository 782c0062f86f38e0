"""The love-points supermarket: products, stock movements, counter identifications, redemptions (兑换单) and
stocktakes."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pointsapp.accounts.models import User
from pointsapp.core import identity
from pointsapp.core.extensions import db
from pointsapp.core.types import UTCDateTime
from pointsapp.tree.models import Household, Resident


class Store(db.Model):  # 爱心积分超市
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    name: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (UniqueConstraint("community_id", "name"),)


class Product(db.Model):  # 商品 / 服务
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10))  # goods | service
    category: Mapped[str] = mapped_column(String(40), default="")
    price: Mapped[int]  # points per unit
    stock: Mapped[int | None]  # None: unlimited (services)
    low_stock: Mapped[int] = mapped_column(default=5)  # listed as low at or below this
    limit_per_week: Mapped[int | None]  # per resident
    limit_per_month: Mapped[int | None]  # per resident
    household_limit_per_month: Mapped[int | None]
    barcode: Mapped[str] = mapped_column(String(40), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    store: Mapped[Store] = relationship()

    __table_args__ = (
        UniqueConstraint("community_id", "store_id", "name"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),  # invariant 5
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("kind IN ('goods', 'service')", name="kind_known"),
    )


class ProductPhoto(db.Model):
    """A resized JPEG, kept in the database so app servers stay stateless."""

    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StockMovement(db.Model):
    """Every change of a product's stock, with why and who (invariant 5)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    change: Mapped[int]
    stock_after: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(12))  # restock | correction | redemption | void | stocktake
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    product: Mapped[Product] = relationship()
    actor: Mapped[User] = relationship()

    __table_args__ = (Index("ix_stock_movement_store_created", "store_id", "created_at"),)


class CounterIdentification(db.Model):
    """A resident identified at a counter: by whom, where, how and when. The session of the clerk's browser
    holds only its id; the checkout it led to consumes it once (a conditional update, in the checkout's
    unit of work), so a saved cookie, another clerk, another store or an old identification charges nothing."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    clerk_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))  # phone_code | card_pin | search (with the ID-card tail)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once: by the checkout that used it (redemption_id), or when the clerk let the resident go
    # ("next customer", another resident identified in the same browser; redemption_id empty).
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))

    resident: Mapped[Resident] = relationship()

    __table_args__ = (
        CheckConstraint("method IN ('phone_code', 'card_pin', 'search')", name="method_known"),
        CheckConstraint("redemption_id IS NULL OR consumed_at IS NOT NULL", name="consumed_by_its_redemption"),
    )


class CounterGuess(db.Model):
    """A wrong PIN or wrong ID-card digits typed at a counter: by which clerk, for whom, where and when. Each
    resident's card locks after five (Resident.pin_failures); these rows give each clerk a budget across all
    residents (store.services.identification.CLERK_GUESS_BUDGET), so five guesses at each of a hundred
    residents, by hand or by a script through the API, are not a way into somebody's points. Kept: the
    office's evidence of who tried."""

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    clerk_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))  # card_pin | search
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("method IN ('card_pin', 'search')", name="method_known"),
        Index("ix_counter_guess_clerk_at", "clerk_id", "at"),
    )


class Redemption(db.Model):  # 兑换单
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    receipt_no: Mapped[str] = mapped_column(String(30))
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    clerk_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    total_points: Mapped[int]
    balance_after: Mapped[int]
    # The checkout form's idempotency key: a double click or a retry finds this row.
    request_id: Mapped[str] = mapped_column(String(64))
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    identified_by: Mapped[str] = mapped_column(String(10))  # phone_code | card_pin | search
    status: Mapped[str] = mapped_column(String(10), default="done")  # done | void
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    void_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    resident: Mapped[Resident] = relationship()
    household: Mapped[Household] = relationship()
    clerk: Mapped[User] = relationship(foreign_keys=[clerk_id])
    store: Mapped[Store] = relationship()
    lines: Mapped[list["RedemptionLine"]] = relationship(back_populates="redemption", order_by="RedemptionLine.id")

    __table_args__ = (
        UniqueConstraint("community_id", "request_id"),
        UniqueConstraint("community_id", "receipt_no"),
        CheckConstraint("total_points > 0", name="total_positive"),
        Index("ix_redemption_store_created", "store_id", "created_at"),
    )


class RedemptionLine(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemption.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))  # as sold
    quantity: Mapped[int]
    unit_price: Mapped[int]
    points: Mapped[int]

    redemption: Mapped[Redemption] = relationship(back_populates="lines")

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class Stocktake(db.Model):  # 交班盘点: 账物相符
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    clerk_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")

    clerk: Mapped[User] = relationship()
    lines: Mapped[list["StocktakeLine"]] = relationship(order_by="StocktakeLine.id")


class StocktakeLine(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktake.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    book_quantity: Mapped[int]
    counted_quantity: Mapped[int]
    difference: Mapped[int]  # counted - book; never silently absorbed: a reason goes with it
    reason: Mapped[str] = mapped_column(Text, default="")

    product: Mapped[Product] = relationship()


# consulted by many services in one request: kept loaded for the unit of work (core.identity)
identity.keep(Store)
