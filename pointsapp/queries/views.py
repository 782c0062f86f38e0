"""Queries about points (疑问/申诉): the resident's 我的疑问 pages, the office's queue and answer page, the
lead's queue for missed activities, and the office's phone and hours shown on residents' pages."""
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_moment
from pointsapp.core.lookup import typed_id
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, STAFF, policy
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.ledger.services import posting as ledger
from pointsapp.queries import services as queries
from pointsapp.queries.forms import AnswerForm, ContactForm, EmptyForm, RaiseQueryForm, options
from pointsapp.queries.models import QueryKind, QueryStatus
from pointsapp.tree import services as tree
from pointsapp.tree.models import Community

bp = Blueprint("queries", __name__)



def status_label(query) -> str:
    return {
        QueryStatus.OPEN: _("Waiting for an answer"),
        QueryStatus.AWAITING_SECOND: _("Being checked by a second person"),
        QueryStatus.ANSWERED: _("Answered"),
        QueryStatus.WITHDRAWN: _("Withdrawn"),
    }.get(query.status, query.status)


@bp.app_context_processor
def _helpers():
    def office_contact():
        """The office of the logged-in resident's community (phone and hours on residents' pages)."""
        user = current_user
        if not getattr(user, "is_authenticated", False) or user.resident is None:
            return None
        return db.session.get(Community, user.resident.community_id)
    return {"office_contact": office_contact, "query_status": status_label}


@bp.app_template_global()
def queries_waiting(community_id: int) -> int:
    """The office tab's badge (a global: the admin tabs are an imported macro): queries of the community
    still waiting for the office, one COUNT where the admin tabs are drawn."""
    return queries.waiting_count(current_user, community_id)


# ---- the resident ----------------------------------------------------------------------------------

@bp.route("/me/queries")
@policy(AUTHENTICATED)
def mine():
    return render_template("queries/mine.html", rows=queries.my_queries(actor()), form=EmptyForm(),
                           max_open=queries.MAX_OPEN)


@bp.route("/me/queries/new", methods=["GET", "POST"])
@policy(AUTHENTICATED)
def new():
    user = actor()
    if user.resident is None:
        return render_template("queries/mine.html", rows=[], form=EmptyForm(), max_open=queries.MAX_OPEN)
    form = RaiseQueryForm()
    entry_id = typed_id(form.entry.data if request.method == "POST" else request.args.get("entry"))
    deduction_id = typed_id(form.deduction.data if request.method == "POST" else request.args.get("deduction"))
    entry = deduction = None
    if entry_id is not None:
        entry = queries.own_entry(user, entry_id)
        form.entry.data = str(entry.id)
    elif deduction_id is not None:
        deduction = queries.own_deduction(user, deduction_id)
        form.deduction.data = str(deduction.id)
    activities = [] if entry or deduction else queries.queryable_activities(user.resident, utcnow())
    form.activity.choices = options([("", _("Choose an activity"))] + [
        (str(a.id), f"{format_moment(a.starts_at, 'short_day')} {a.title}") for a in activities])
    if form.validate_on_submit():
        ok, _q = attempt(lambda: queries.raise_query(
            user, form.text.data, utcnow(), entry_id=entry.id if entry else None,
            deduction_id=deduction.id if deduction else None,
            activity_id=None if entry or deduction else (typed_id(form.activity.data) or 0)),
            _("Your query has been sent to the community office. You will see the answer here."))
        if ok:
            return redirect(url_for(".mine"))
    return render_template("queries/new.html", form=form, entry=entry, deduction=deduction, activities=activities), \
        200 if request.method == "GET" else 422


@bp.route("/me/queries/<int:query_id>/withdraw", methods=["POST"])
@policy(AUTHENTICATED)
def withdraw(query_id: int):
    if EmptyForm().validate_on_submit():
        attempt(lambda: queries.withdraw(actor(), query_id, utcnow()), _("Your query is withdrawn."))
    return redirect(url_for(".mine"))


# ---- the office and the lead -----------------------------------------------------------------------

@bp.route("/admin/c/<int:community_id>/queries")
@policy(COMMUNITY_ADMIN)
def queue(community_id: int):
    c = tree.get_community(community_id)
    return render_template("queries/queue.html", community=c, rows=queries.office_queue(actor(), c),
                           answered=queries.office_queue(actor(), c, answered=True, limit=30))


@bp.route("/lead/queries")
@policy(STAFF)
def lead_queue():
    return render_template("queries/queue.html", community=None, rows=queries.lead_queue(actor()), answered=[])


def _actions(query, office: bool) -> list[tuple[str, str]]:
    choices = [("reply", _("Reply only: nothing to correct"))]
    deduction = queries.queried_deduction(query)  # a deduction's entry is undone by withdrawing the deduction
    if office and query.kind == QueryKind.ENTRY and query.correction_entry_id is None and deduction is None:
        choices.append(("reverse", _("Reverse this entry (a correction entry naming this query)")))
    if office:
        choices.append(("award", _("Award points (a manual award naming this query)")))
    if office and deduction is not None and deduction.withdrawn_at is None:
        choices.append(("withdraw", _("Withdraw the deduction (its points are given back, nothing more is owed)")))
    if query.kind == QueryKind.MISSED:
        choices.append(("attendance", _("Record her attendance by hand (it then waits for the office's approval)")))
    return choices


def _answer_page(query, community_id: int | None):
    user = actor()
    office = queries.is_office(user, query)
    form = AnswerForm()
    form.action.choices = options(_actions(query, office))
    if form.validate_on_submit() and query.status == QueryStatus.OPEN:
        chosen, reply, now = form.action.data, form.reply.data, utcnow()
        work = {
            "reply": lambda: queries.answer(user, query, reply, now),
            "reverse": lambda: queries.answer_with_reversal(user, query, reply, now),
            "award": lambda: queries.answer_with_award(user, query, form.points.data or 0, reply, now),
            "attendance": lambda: queries.answer_with_attendance(user, query, reply, now),
            "withdraw": lambda: queries.answer_with_withdrawal(user, query, reply, now),
        }.get(chosen)
        if work is not None:
            ok, _q = attempt(work, _("Answered. The resident sees your reply on her queries page."))
            if ok:
                return redirect(request.path)
    entry_reversed = query.entry is not None and queries.correction_of(query.entry) is not None
    return render_template("queries/answer.html", q=query, form=form, button_form=EmptyForm(), office=office,
                           community_id=community_id, entry_reversed=entry_reversed,
                           balance=ledger.balance_of(query.resident_id)), \
        200 if request.method == "GET" or form.errors == {} else 422


@bp.route("/admin/c/<int:community_id>/queries/<int:query_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def answer(community_id: int, query_id: int):
    return _answer_page(queries.staff_query(actor(), query_id, community_id), community_id)


@bp.route("/lead/queries/<int:query_id>", methods=["GET", "POST"])
@policy(STAFF)
def lead_answer(query_id: int):
    return _answer_page(queries.staff_query(actor(), query_id), None)


@bp.route("/admin/c/<int:community_id>/queries/<int:query_id>/second", methods=["POST"])
@policy(COMMUNITY_ADMIN)
def second(community_id: int, query_id: int):
    """The second office member confirms (or turns down) an award above the ceiling."""
    query = queries.staff_query(actor(), query_id, community_id)
    if EmptyForm().validate_on_submit():
        if request.form.get("decision") == "confirm":
            attempt(lambda: queries.confirm_award(actor(), query, utcnow()), _("Award confirmed and posted."))
        else:
            attempt(lambda: queries.decline_award(actor(), query, utcnow()),
                    _("The award was not confirmed; the query is back in the queue."))
    return redirect(url_for(".answer", community_id=community_id, query_id=query_id))


@bp.route("/admin/c/<int:community_id>/office-contact", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def contact(community_id: int):
    c = tree.get_community(community_id)
    form = ContactForm()
    if request.method == "GET":
        form.phone.data, form.hours.data = c.phone, c.office_hours
    if form.validate_on_submit():
        ok, _r = attempt(lambda: tree.set_office_contact(actor(), c, form.phone.data, form.hours.data, utcnow()),
                         _("Saved. Residents see the phone and hours on their pages."))
        if ok:
            return redirect(url_for(".queue", community_id=c.id))
    return render_template("queries/contact.html", community=c, form=form), \
        200 if request.method == "GET" else 422

