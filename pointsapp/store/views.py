"""The love-points supermarket: the clerk's counter, receipts, voids, products, shift close, reports."""
import secrets

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from pointsapp.audit import services as audit
from pointsapp.core import spreadsheets
from pointsapp.core.errors import DomainError, NotFound
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.localtime import format_local
from pointsapp.core.periods import local_date
from pointsapp.core.permissions import (
    AUTHENTICATED,
    STAFF,
    Action,
    admin_community_ids,
    can,
    clerk_store_ids,
    policy,
    require,
)
from pointsapp.core.schemas import load_or_error, read_query
from pointsapp.core.uow import attempt, settle
from pointsapp.core.web import actor, utcnow
from pointsapp.core.words import list_sep
from pointsapp.ledger.services import posting as ledger
from pointsapp.store.forms import ProductForm, StockForm
from pointsapp.store.models import CounterIdentification, ProductPhoto, StockMovement, Store
from pointsapp.store.schemas import (
    CloseShiftSchema,
    CustomerSchema,
    FindCustomerSchema,
    IdentifyCustomerSchema,
    PrintReceiptSchema,
    RedeemCartSchema,
    ShowReportSchema,
    VoidReceiptSchema,
)
from pointsapp.store.services import catalogue as store_service
from pointsapp.store.services import counter, identification
from pointsapp.store.services import shelf as shelf_service
from pointsapp.tree.services import search

bp = Blueprint("store", __name__, url_prefix="/store")


def _store(store_id: int, action: str = Action.RUN_STORE) -> Store:
    s = store_service.get_store(store_id)
    require(actor(), action, s)
    return s


@bp.route("/")
@policy(STAFF)
def index():
    ids = admin_community_ids(actor())
    stmt = select(Store).order_by(Store.community_id, Store.name)
    if ids is not None:
        stmt = stmt.where(Store.community_id.in_(ids or [-1]) | Store.id.in_(clerk_store_ids(actor()) or [-1]))
    stores = db.session.scalars(stmt).all()
    if len(stores) == 1:
        return redirect(url_for(".counter_page", store_id=stores[0].id))
    return render_template("store/index.html", stores=stores)


# ---- the counter ---------------------------------------------------------------------------

def _held() -> int | None:
    """The id of the identification this browser holds for the counter: the session keeps nothing else; the
    record (who, where, when, used or not) is the server's."""
    data = session.get("counter")
    held = data.get("identification_id") if isinstance(data, dict) else None
    return held if isinstance(held, int) else None


def _identified(s: Store) -> CounterIdentification | None:
    """The resident at the counter: identified by this clerk at this store less than 10 minutes ago and not
    yet checked out; or None."""
    who = identification.current(actor(), s, _held(), utcnow())
    if who is None:
        session.pop("counter", None)
    return who


def _remember(who: CounterIdentification) -> None:
    previous = _held()
    if previous is not None and previous != who.id:  # one resident at a time per browser
        identification.release(actor(), previous, utcnow())
    session["counter"] = {"identification_id": who.id}


def _identify_page(s: Store, *, q: str = "", code: str = "", need_pin: bool = False, chosen: int | None = None):
    """The identify page: the code form and the search, whose list shows no ID digits (CustomerSchema)."""
    result = search.find_residents(s.community_id, q) if q else None
    found = CustomerSchema("counter").dump(result.residents if result else [], many=True)
    if chosen is None and not need_pin:  # after a search the clerk types ID digits next: the first row's field
        chosen = next((r["id"] for r in found if r["has_id_tail"]), None)
    return render_template("store/identify.html", store=s, form=EmptyForm(), q=q, code=code, need_pin=need_pin,
                           found=found, chosen=chosen, note=result.note if result else "")


@bp.route("/<int:store_id>/counter", methods=["GET", "POST"])
@policy(STAFF)
def counter_page(store_id: int):
    s = _store(store_id)
    now = utcnow()
    if request.method == "POST" and EmptyForm().validate_on_submit():
        given = {"code": "", "q": "", "resident_id": None}
        try:
            given = load_or_error(IdentifyCustomerSchema, request.form)
            if given["resident_id"] is not None and not given["code"]:  # a scanned code always needs its PIN
                who = identification.identify_by_search(actor(), s, given["resident_id"], given["id_tail"], now)
            else:
                who = identification.identify_by_code(actor(), s, current_app.secret_key, given["code"],
                                                      given["pin"] or None, now)
        except DomainError as exc:
            settle(exc)  # a wrong PIN or wrong ID digits are committed: they count towards the lockout
            flash(str(exc), "error")
            if given["resident_id"] is not None and not given["code"]:
                return _identify_page(s, q=given["q"], chosen=given["resident_id"])
            need_pin = exc.code in ("pin_required", "wrong_pin", "pin_locked", "pin_not_set")
            keep = need_pin or exc.code in ("ambiguous_card_number", "unknown_card")  # to add the dash
            return _identify_page(s, code=given["code"] if keep else "", need_pin=need_pin)
        _remember(who)
        return redirect(url_for(".counter_page", store_id=s.id))
    wanted = load_or_error(FindCustomerSchema, request.args)
    if wanted["identification"] is not None:  # the page identified her through the API: hold it here
        adopted = identification.current(actor(), s, wanted["identification"], now)
        if adopted is not None:
            _remember(adopted)
        else:
            flash(_("This identification can no longer be used. Please identify the resident again."), "error")
        return redirect(url_for(".counter_page", store_id=s.id))
    who = _identified(s)
    q = wanted["q"]
    if who is None or q is not None:
        return _identify_page(s, q=q or "")
    items = store_service.products(s.id, active_only=True)
    room = counter.allowances(who.resident, items, now)
    return render_template("store/counter.html", store=s, who=who, resident=who.resident, items=items, room=room,
                           balance=ledger.balance_of(who.resident.id), form=EmptyForm(),
                           request_id=secrets.token_urlsafe(16))


@bp.route("/<int:store_id>/counter/next", methods=["POST"])
@policy(STAFF)
def next_customer(store_id: int):
    _store(store_id)
    if EmptyForm().validate_on_submit():
        identification.release(actor(), _held(), utcnow())
        session.pop("counter", None)
    return redirect(url_for(".counter_page", store_id=store_id))


@bp.route("/<int:store_id>/checkout", methods=["POST"])
@policy(STAFF)
def checkout(store_id: int):
    s = _store(store_id)
    ok, cart = attempt(lambda: load_or_error(RedeemCartSchema, request.form))
    if not ok:
        return redirect(url_for(".counter_page", store_id=s.id))
    done = counter.find_by_request(s, cart["request_id"])
    if done is not None:  # a retry or a second click after the first went through
        # this response lets her go too (its cookie, sent after the first one's, must not hold her again),
        # unless the browser holds somebody else by now (an old form sent again from the history)
        _identified(s)
        flash(_("This checkout had already gone through; nothing was charged twice."), "info")
        return redirect(url_for(".receipt", store_id=s.id, redemption_id=done.id))
    if not EmptyForm().validate_on_submit():
        return redirect(url_for(".counter_page", store_id=s.id))
    # the service uses the identification up (or refuses a used, old or foreign one) with the checkout
    ok, result = attempt(lambda: counter.redeem(actor(), s, _held(), counter.Cart(cart["lines"]), cart["request_id"],
                                               utcnow(), request_seen=True))
    if not ok:
        return redirect(url_for(".counter_page", store_id=s.id))
    session.pop("counter", None)
    if result.repeated:
        flash(_("This checkout had already gone through; nothing was charged twice."), "info")
    return redirect(url_for(".receipt", store_id=s.id, redemption_id=result.redemption.id))


@bp.route("/<int:store_id>/receipts/<int:redemption_id>")
@policy(STAFF)
def receipt(store_id: int, redemption_id: int):
    s = _store(store_id)
    r = counter.get_redemption(s, redemption_id)
    return render_template("store/receipt.html", store=s, r=r, form=EmptyForm(),
                           width=read_query(PrintReceiptSchema, request.args)["w"])


@bp.route("/<int:store_id>/receipts/<int:redemption_id>/void", methods=["POST"])
@policy(STAFF)
def void(store_id: int, redemption_id: int):
    s = _store(store_id)
    r = counter.get_redemption(s, redemption_id)
    if EmptyForm().validate_on_submit():
        reason = load_or_error(VoidReceiptSchema, request.form)["reason"]
        attempt(lambda: counter.void(actor(), r, reason, utcnow()),
               _("Receipt %(no)s is void; points and stock are back.", no=r.receipt_no))
    return redirect(url_for(".receipt", store_id=s.id, redemption_id=r.id))


# ---- products and stock ----------------------------------------------------------------------

def _product_fields(form: ProductForm) -> store_service.ProductFields:
    return store_service.ProductFields(
        name=form.name.data, kind=form.kind.data, category=form.category.data or "", price=form.price.data,
        limit_per_week=form.limit_per_week.data, limit_per_month=form.limit_per_month.data,
        household_limit_per_month=form.household_limit_per_month.data, barcode=form.barcode.data or "",
        low_stock=form.low_stock.data or 0, is_active=bool(form.is_active.data))


@bp.route("/<int:store_id>/products", methods=["GET", "POST"])
@policy(STAFF)
def products(store_id: int):
    s = _store(store_id)
    form = ProductForm()
    if form.validate_on_submit():
        ok, p = attempt(lambda: store_service.create_product(actor(), s, _product_fields(form), form.stock.data,
                                                            utcnow()),
                       _("Product added."))
        if ok:
            return redirect(url_for(".products", store_id=s.id))
    return render_template("store/products.html", store=s, form=form, items=store_service.products(s.id),
                           low=store_service.low_stock(s.id), can_manage=_can_manage(s))


def _can_manage(s: Store) -> bool:
    return can(actor(), Action.MANAGE_STORE, s)


@bp.route("/<int:store_id>/products/<int:product_id>", methods=["GET", "POST"])
@policy(STAFF)
def product(store_id: int, product_id: int):
    s = _store(store_id)
    p = store_service.get_product(s, product_id)
    form = ProductForm(obj=p)
    if request.method == "POST" and request.form.get("what") == "details" and form.validate_on_submit():
        ok, _p = attempt(lambda: store_service.update_product(actor(), p, _product_fields(form), utcnow()), _("Saved."))
        if ok:
            return redirect(url_for(".product", store_id=s.id, product_id=p.id))
    elif request.method == "POST" and request.form.get("what") in ("restock", "correct"):
        stock_form = StockForm()
        if stock_form.validate_on_submit():
            if request.form.get("what") == "restock":
                attempt(lambda: store_service.restock(actor(), p, stock_form.quantity.data, stock_form.reason.data or "",
                                                     utcnow()), _("Stock added."))
            else:
                attempt(lambda: store_service.correct_stock(actor(), p, stock_form.quantity.data,
                                                           stock_form.reason.data or "", utcnow()), _("Stock corrected."))
        else:
            for errors in stock_form.errors.values():
                for message in errors:
                    flash(message, "error")
        return redirect(url_for(".product", store_id=s.id, product_id=p.id))
    elif request.method == "POST" and request.form.get("what") == "photo":
        upload = request.files.get("photo")
        if EmptyForm().validate_on_submit():
            attempt(lambda: store_service.set_photo(actor(), p, upload.read() if upload else b"", utcnow()),
                   _("Photo saved."))
        return redirect(url_for(".product", store_id=s.id, product_id=p.id))
    movements = db.session.scalars(select(StockMovement).where(StockMovement.product_id == p.id)
                                   .order_by(StockMovement.id.desc()).limit(50)).all()
    return render_template("store/product.html", store=s, p=p, form=form, stock_form=StockForm(formdata=None),
                           button_form=EmptyForm(), movements=movements, can_manage=_can_manage(s),
                           describe_movement=store_service.describe_movement,
                           has_photo=db.session.get(ProductPhoto, p.id) is not None)


@bp.route("/<int:store_id>/products/<int:product_id>/photo.jpg")
@policy(STAFF)
def photo(store_id: int, product_id: int):
    s = _store(store_id)
    p = store_service.get_product(s, product_id)
    image = db.session.get(ProductPhoto, p.id)
    if image is None:
        raise NotFound(_("No photo."))
    return current_app.response_class(image.content, mimetype="image/jpeg",
                                      headers={"Cache-Control": "private, max-age=300"})


# ---- shift close and reports ---------------------------------------------------------------------

@bp.route("/<int:store_id>/shift", methods=["GET", "POST"])
@policy(STAFF)
def shift(store_id: int):
    s = _store(store_id)
    goods = counter.shelf_goods(s)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        ok, shelf = attempt(lambda: load_or_error(CloseShiftSchema, request.form))
        if ok:
            counted, reasons = counter.counts_for(goods, shelf["counts"], shelf["reasons"])
            ok, take = attempt(lambda: counter.close_shift(actor(), s, counted, reasons, shelf["note"], utcnow()),
                               _("Shift closed. The books now match the shelf."))
            if ok:
                return redirect(url_for(".report", store_id=s.id))
    return render_template("store/shift.html", store=s, goods=goods, form=EmptyForm(), values=request.form)


@bp.route("/<int:store_id>/report")
@policy(STAFF)
def report(store_id: int):
    s = _store(store_id)
    wanted = read_query(ShowReportSchema, request.args)
    day = wanted["day"] or local_date(utcnow())
    data = counter.day_report(s, day, actor())
    fmt = wanted["format"]
    if fmt in ("csv", "xlsx"):
        audit.record_read(actor(), "data_exported", s, utcnow(), what="store_report", day=day, format=fmt)
        return _export(s, day, data, fmt)
    return render_template("store/report.html", store=s, day=day, data=data,
                           items=store_service.products(s.id), low=store_service.low_stock(s.id))


def _export(s: Store, day, data: dict, fmt: str):
    rows = [[_("Receipt no."), _("Time"), _("Resident"), _("Clerk"), _("Points"), _("Status"), _("Items")]]
    for r in data["receipts"]:
        rows.append([r.receipt_no, format_local(r.created_at, "%Y-%m-%d %H:%M"), r.resident.name,
                     r.clerk.name, r.total_points, _("Voided") if r.status == "void" else _("In force"),
                     list_sep().join(f"{x.name}×{x.quantity}" for x in r.lines)])
    name = f"store-{s.id}-{day:%Y%m%d}.{fmt}"
    if fmt == "csv":
        return spreadsheets.download(spreadsheets.csv_bytes(rows), name)
    stock = [[_("Product"), _("Kind"), _("Points"), _("Stock")]]
    stock += [[p.name, _("Goods") if p.kind == "goods" else _("Service"), p.price,
               _("Unlimited") if p.stock is None else p.stock] for p in store_service.products(s.id)]
    return spreadsheets.download(spreadsheets.xlsx_bytes([(_("Redemption records"), rows), (_("Stock"), stock)]), name)


# ---- the resident's shelf --------------------------------------------------------------------------

@bp.route("/shelf")
@policy(AUTHENTICATED)
def shelf():
    """我能换什么: the resident's own community stores, her balance, prices, stock in words, her limits."""
    if current_user.resident is None:
        return render_template("store/shelf.html", shelf=None)
    return render_template("store/shelf.html", shelf=shelf_service.shelf(actor(), utcnow()))
