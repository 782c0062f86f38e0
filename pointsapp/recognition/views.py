"""Star civilised household evaluations: the admin's pages, the public notice, certificates, export."""

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from pointsapp.audit import services as audit
from pointsapp.core import spreadsheets
from pointsapp.core.errors import NotFound
from pointsapp.core.extensions import db
from pointsapp.core.forms import EmptyForm
from pointsapp.core.lookup import get_row
from pointsapp.core.permissions import AUTHENTICATED, COMMUNITY_ADMIN, policy
from pointsapp.core.schemas import load_or_error
from pointsapp.core.uow import attempt
from pointsapp.core.web import actor, utcnow
from pointsapp.rankings import services as rankings
from pointsapp.recognition.models import Evaluation, HonourList, Objection, StarRuleSet, StarVeto
from pointsapp.recognition.schemas import (
    AnswerObjectionSchema,
    CreateEvaluationSchema,
    CreateHonourListSchema,
    CreateRuleSetSchema,
    LiftVetoSchema,
    LodgeObjectionSchema,
    RemoveHonourEntrySchema,
    VetoHouseholdSchema,
)
from pointsapp.recognition.services import honours, objections, stars
from pointsapp.tree import services as tree
from pointsapp.tree.models import Household, Resident
from pointsapp.tree.services import get_community

bp = Blueprint("stars", __name__)


def _evaluation(community_id: int, evaluation_id: int) -> Evaluation:
    return stars.evaluation_in(community_id, evaluation_id)


def _answer_objection(subject: Evaluation | HonourList) -> None:
    """The office answers one of the subject's objections (the form's objection_id)."""
    def work():
        given = load_or_error(AnswerObjectionSchema, request.form)
        objection = get_row(Objection, given["objection_id"])
        if objection is None or objections.subject_of(objection) is not subject:
            raise NotFound(_("No such objection."))
        objections.answer(actor(), objection, given["answer"], utcnow())
    attempt(work, _("Answer saved."))


def _resident_of(subject: Evaluation | HonourList | None, missing: str):
    """The current resident, when the subject is on notice or published in her community; else 404."""
    resident = current_user.resident
    if subject is None or subject.status == "draft" or resident is None or resident.community_id != subject.community_id:
        raise NotFound(missing)
    return resident


def _lodge(subject: Evaluation | HonourList, *, about_household: bool = False) -> None:
    """A resident's objection (to an evaluation: about one household, when the form names it)."""
    def work():
        given = load_or_error(LodgeObjectionSchema, request.form)
        about = {"household_id": given["household_id"]} if about_household else {}
        return objections.lodge(current_user._get_current_object(), subject, given["text"], utcnow(), **about)
    if EmptyForm().validate_on_submit():
        attempt(work, _("Your objection has been sent. The community office will answer it."))


@bp.route("/admin/c/<int:community_id>/stars", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def index(community_id: int):
    c = get_community(community_id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        if request.form.get("what") == "rules":
            def rule_set():
                given = load_or_error(CreateRuleSetSchema, request.form)
                return stars.create_rule_set(actor(), c, given["name"], given["thresholds"], given["min_attendances"],
                                             utcnow())
            attempt(rule_set, _("Rule set saved."))
        else:
            def evaluation():
                given = load_or_error(CreateEvaluationSchema, request.form)
                rules = get_row(StarRuleSet, given["rule_set_id"])
                if rules is None or rules.community_id != c.id:
                    raise NotFound(_("No such rule set."))
                return stars.create_evaluation(actor(), c, rules, given["title"], given["period"],
                                               given["notice_days"], utcnow())
            ok, e = attempt(evaluation, _("Evaluation created as a draft."))
            if ok:
                return redirect(url_for(".evaluation", community_id=c.id, evaluation_id=e.id))
        return redirect(url_for(".index", community_id=c.id))
    periods = rankings.current_periods(utcnow())
    return render_template("stars/index.html", community=c, form=EmptyForm(), periods=periods,
                           rule_sets=db.session.scalars(select(StarRuleSet).where(StarRuleSet.community_id == c.id)).all(),
                           evaluations=stars.evaluations_of(c.id))


@bp.route("/admin/c/<int:community_id>/stars/<int:evaluation_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def evaluation(community_id: int, evaluation_id: int):
    c = get_community(community_id)
    e = _evaluation(c.id, evaluation_id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        what = request.form.get("what")
        if what == "veto":
            def veto():
                given = load_or_error(VetoHouseholdSchema, request.form)
                household = tree.get_in_community(Household, c.id, given["household_id"])
                return stars.veto(actor(), e, household, given["reason"], utcnow())
            attempt(veto, _("Veto recorded."))
        elif what == "lift":
            attempt(lambda: stars.lift_veto(actor(), e, load_or_error(LiftVetoSchema, request.form)["veto_id"],
                                            utcnow()), _("Veto lifted."))
        elif what == "notice":
            attempt(lambda: stars.start_notice(actor(), e, utcnow()), _("The ratings are on public notice."))
        elif what == "publish":
            attempt(lambda: stars.publish(actor(), e, utcnow()), _("Published. The ratings can no longer change."))
        elif what == "answer":
            _answer_objection(e)
        return redirect(url_for(".evaluation", community_id=c.id, evaluation_id=e.id))
    if request.args.get("format") == "xlsx":
        audit.record_read(actor(), "data_exported", e, utcnow(), what="star_ratings", format="xlsx")
        return _xlsx(e)
    return render_template("stars/evaluation.html", community=c, e=e, form=EmptyForm(),
                           rows=stars.results(e), counts=stars.distribution(e),
                           vetoes=db.session.scalars(select(StarVeto).where(StarVeto.evaluation_id == e.id)).all(),
                           objections=objections.of(e))


@bp.route("/admin/c/<int:community_id>/stars/<int:evaluation_id>/certificates")
@policy(COMMUNITY_ADMIN)
def certificates(community_id: int, evaluation_id: int):
    c = get_community(community_id)
    e = _evaluation(c.id, evaluation_id)
    return render_template("stars/certificates.html", community=c, e=e, rows=stars.results(e, min_stars=1))


@bp.route("/admin/c/<int:community_id>/stars/<int:evaluation_id>/public")
@policy(COMMUNITY_ADMIN)
def evaluation_public(community_id: int, evaluation_id: int):
    """The notice as the public sees it (the public-name rule), printed to post in the community."""
    c = get_community(community_id)
    e = _evaluation(c.id, evaluation_id)
    return render_template("stars/public_list.html", community=c, subject=e, stars=True, unnamed=0,
                           rows=rankings.starred_households(c, stars.results(e, min_stars=1)),
                           back=url_for(".evaluation", community_id=c.id, evaluation_id=e.id))


def _xlsx(e: Evaluation):
    rows = [["住址", "户主", "积分", "参加次数", "星级", "一票否决", "说明"]]
    rows += [[r.address, r.head, r.points, r.attendances, r.stars, "是" if r.vetoed else "", r.note]
             for r in stars.results(e)]
    return spreadsheets.download(spreadsheets.xlsx_bytes([("星级文明户", rows)]), f"stars-{e.id}.xlsx")


@bp.route("/stars/<int:evaluation_id>", methods=["GET", "POST"])
@policy(AUTHENTICATED)
def notice(evaluation_id: int):
    """The public notice (公示) for residents; they may lodge an objection while it runs."""
    e = db.session.get(Evaluation, evaluation_id)
    resident = _resident_of(e, _("No such evaluation."))
    if request.method == "POST":
        _lodge(e, about_household=True)
        return redirect(url_for(".notice", evaluation_id=e.id))
    rows = rankings.starred_households(resident.community, stars.results(e, min_stars=1))
    return render_template("stars/notice.html", e=e, rows=rows, form=EmptyForm(),
                           mine=objections.of(e, resident_id=resident.id))


# ---- honours: outstanding volunteers and building leaders --------------------------------------

def _honour(community_id: int, honour_id: int) -> HonourList:
    honour = db.session.get(HonourList, honour_id)
    if honour is None or honour.community_id != community_id:
        raise NotFound(_("No such list."))
    return honour


@bp.route("/admin/c/<int:community_id>/honours", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def honours_index(community_id: int):
    c = get_community(community_id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        def create():
            given = load_or_error(CreateHonourListSchema, request.form)
            return honours.create_list(actor(), c, given["kind"], given["title"], given["period"], given["rule"],
                                       given["value"], given["notice_days"], utcnow())
        ok, h = attempt(create, _("List created as a draft."))
        if ok:
            return redirect(url_for(".honour", community_id=c.id, honour_id=h.id))
        return redirect(url_for(".honours_index", community_id=c.id))
    return render_template("stars/honours.html", community=c, form=EmptyForm(),
                           periods=rankings.current_periods(utcnow()),
                           lists=db.session.scalars(select(HonourList).where(HonourList.community_id == c.id)
                                                    .order_by(HonourList.created_at.desc())).all())


@bp.route("/admin/c/<int:community_id>/honours/<int:honour_id>", methods=["GET", "POST"])
@policy(COMMUNITY_ADMIN)
def honour(community_id: int, honour_id: int):
    c = get_community(community_id)
    h = _honour(c.id, honour_id)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        if request.form.get("what") == "notice":
            attempt(lambda: honours.start_notice(actor(), h, utcnow()), _("The list is on public notice."))
        elif request.form.get("what") == "publish":
            attempt(lambda: honours.publish(actor(), h, utcnow()), _("Published. The list can no longer change."))
        elif request.form.get("what") == "remove":
            def remove():
                given = load_or_error(RemoveHonourEntrySchema, request.form)
                return honours.remove_entry(actor(), h, given["resident_id"], given["reason"], utcnow())
            attempt(remove, _("Taken off the list."))
        elif request.form.get("what") == "answer":
            _answer_objection(h)
        return redirect(url_for(".honour", community_id=c.id, honour_id=h.id))
    rows = honours.entries(h)
    gone = honours.removed(h)
    people = {r.id: r for r in db.session.scalars(select(Resident).where(
        Resident.id.in_([x[1] for x in rows] + [e.resident_id for e in gone] or [-1]))
        .options(joinedload(Resident.household).joinedload(Household.building)))}  # the list shows addresses
    return render_template("stars/honour.html", community=c, h=h, rows=rows, people=people, removed=gone,
                           objections=objections.of(h), form=EmptyForm())


@bp.route("/admin/c/<int:community_id>/honours/<int:honour_id>/certificates")
@policy(COMMUNITY_ADMIN)
def honour_certificates(community_id: int, honour_id: int):
    c = get_community(community_id)
    h = _honour(c.id, honour_id)
    rows = honours.entries(h)
    names = dict(db.session.execute(select(Resident.id, Resident.name).where(
        Resident.id.in_([x[1] for x in rows] or [-1]))).all())
    return render_template("stars/honour_certificates.html", community=c, h=h,
                           rows=[(names.get(rid, ""), detail) for _rank, rid, _value, detail in rows])


@bp.route("/admin/c/<int:community_id>/honours/<int:honour_id>/public")
@policy(COMMUNITY_ADMIN)
def honour_public(community_id: int, honour_id: int):
    """The list as the public sees it (the public-name rule), printed to post in the community."""
    c = get_community(community_id)
    h = _honour(c.id, honour_id)
    rows, unnamed = rankings.public_rows(c, honours.entries(h))
    return render_template("stars/public_list.html", community=c, subject=h, stars=False, rows=rows, unnamed=unnamed,
                           back=url_for(".honour", community_id=c.id, honour_id=h.id))


@bp.route("/honours/<int:honour_id>", methods=["GET", "POST"])
@policy(AUTHENTICATED)
def honour_notice(honour_id: int):
    """An honour list on public notice (or published) for residents: masked names; objections while it runs."""
    h = db.session.get(HonourList, honour_id)
    resident = _resident_of(h, _("No such list."))
    if request.method == "POST":
        _lodge(h)
        return redirect(url_for(".honour_notice", honour_id=h.id))
    rows, unnamed = rankings.public_rows(resident.community, honours.entries(h))
    return render_template("stars/honour_notice.html", h=h, form=EmptyForm(), rows=rows, unnamed=unnamed,
                           mine=objections.of(h, resident_id=resident.id))
