"""The catalogue's items and their versions: create, revise (a new row), retire, history; the model catalogue
drawn from the seeds; and the item's terms in plain words for residents (`describe`).

A revision never rewrites the row it replaces: it inserts the next version (same lineage) and stamps the old
row `superseded_at`, nothing else, so a claim, a deduction or an activity made under the old version keeps its
points. Two revisions of one version at once: the old row's conditional stamp lets one through (PostgreSQL's
row lock makes the other re-check and find it stamped), and the unique (community, lineage, version) backs it
up; the loser gets Conflict `item_changed`, never a 500.
"""
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from pointsapp.audit import services as audit
from pointsapp.audit.models import AuditAction
from pointsapp.catalogue.models import CatalogueItem, Confirmer, Evidence, ItemKind, LimitPeriod
from pointsapp.catalogue.services import rules as catalogue_rules
from pointsapp.core import locks
from pointsapp.core.errors import Conflict, InvalidInput
from pointsapp.core.extensions import db
from pointsapp.core.localtime import format_moment
from pointsapp.core.permissions import Action, require
from pointsapp.core.unique import insert_unique
from pointsapp.tree.models import Community

TITLE_MAX, CATEGORY_MAX, DESCRIPTION_MAX, NOTE_MAX = 80, 40, 1000, 200
POINTS_MAX = 1000
HOURLY_CAP_MAX = POINTS_MAX * 24
LIMIT_MAX = 1000
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class ItemFields:
    """What the office types for an item (a new one, or the next version of one)."""
    kind: str
    category: str
    title: str
    points: int
    description: str = ""
    per_hour: bool = False
    hourly_cap: int | None = None
    evidence: str = Evidence.NONE
    confirmer: str = Confirmer.OFFICE
    team_id: int | None = None  # confirmer team_lead: the team whose leads confirm
    claimable: bool = True
    limit_count: int | None = None
    limit_period: str | None = None
    active_from: date | None = None
    active_until: date | None = None
    is_veto: bool = False  # deductions: 一票否决 in the star evaluation
    counts_against_earning: bool = True  # deductions: taken off what rankings count as earned

    @classmethod
    def of(cls, item: CatalogueItem) -> "ItemFields":
        """The fields of an existing version (the edit form starts from them)."""
        return cls(**{f.name: getattr(item, f.name) for f in fields(cls)})


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _team_community(team_id) -> int | None:
    # The team table is read through the metadata: the volunteering feature uses the catalogue (an activity
    # takes an item's rule), so importing its models here would make the features a circle.
    team = db.metadata.tables["team"]
    if not _whole(team_id, 1, 2**31 - 1):
        return None
    return db.session.scalar(select(team.c.community_id).where(team.c.id == team_id))


def _check(f: ItemFields, community_id: int) -> ItemFields:
    """The fields made clean, or InvalidInput with one of the codes below."""
    if f.kind not in (ItemKind.EARN, ItemKind.DEDUCT):
        raise InvalidInput(_l("Choose whether the item earns or takes points."), code="invalid_kind")
    title, category = (f.title or "").strip(), (f.category or "").strip()
    description = (f.description or "").strip()
    if not title:
        raise InvalidInput(_l("Please enter a title."), code="title_missing")
    if len(title) > TITLE_MAX:
        raise InvalidInput(_l("The title may have at most %(n)d characters."), code="title_too_long", n=TITLE_MAX)
    if not category:
        raise InvalidInput(_l("Please enter a category."), code="category_missing")
    if len(category) > CATEGORY_MAX:
        raise InvalidInput(_l("The category may have at most %(n)d characters."), code="category_too_long",
                           n=CATEGORY_MAX)
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(_l("The description may have at most %(n)d characters."), code="description_too_long",
                           n=DESCRIPTION_MAX)
    if not _whole(f.points, 1, POINTS_MAX):
        raise InvalidInput(_l("Points must be between 1 and %(max)d."), code="invalid_points", max=POINTS_MAX)
    if f.evidence not in set(Evidence):
        raise InvalidInput(_l("Choose what proof is needed."), code="invalid_evidence")
    if f.confirmer not in set(Confirmer):
        raise InvalidInput(_l("Choose who confirms."), code="invalid_confirmer")
    hourly_cap = f.hourly_cap if f.per_hour else None
    if hourly_cap is not None and not _whole(hourly_cap, f.points, HOURLY_CAP_MAX):
        raise InvalidInput(_l("The most points per claim must be at least the points of one hour."),
                           code="invalid_cap")
    if (f.limit_count is None) != (f.limit_period is None):
        raise InvalidInput(_l("A limit needs both a number of times and a period."), code="limit_incomplete")
    if f.limit_count is not None and not _whole(f.limit_count, 1, LIMIT_MAX):
        raise InvalidInput(_l("The limit must be between 1 and %(max)d times."), code="invalid_limit", max=LIMIT_MAX)
    if f.limit_period is not None and f.limit_period not in set(LimitPeriod):
        raise InvalidInput(_l("Choose a period for the limit."), code="invalid_limit")
    if any(d is not None and not FIRST_YEAR <= d.year <= LAST_YEAR for d in (f.active_from, f.active_until)):
        raise InvalidInput(_l("Please enter a date between %(first)d and %(last)d."), code="invalid_dates",
                           first=FIRST_YEAR, last=LAST_YEAR)
    if f.active_from and f.active_until and f.active_until < f.active_from:
        raise InvalidInput(_l("The last day must not be before the first day."), code="invalid_dates")
    team_id = f.team_id if f.confirmer == Confirmer.TEAM_LEAD else None
    if f.confirmer == Confirmer.TEAM_LEAD and _team_community(team_id) != community_id:
        raise InvalidInput(_l("Choose one of this community's teams whose leads confirm."), code="invalid_team")
    if f.kind == ItemKind.DEDUCT:
        if f.per_hour:
            raise InvalidInput(_l("A deduction takes a fixed number of points."), code="invalid_rule")
        if f.claimable:
            raise InvalidInput(_l("Residents cannot claim a deduction."), code="deduction_not_claimable")
        if f.confirmer != Confirmer.OFFICE:
            raise InvalidInput(_l("Deductions are recorded by the community office."), code="deduction_confirmer")
        if f.limit_count is not None:
            raise InvalidInput(_l("A deduction has no limit per resident."), code="invalid_limit")
    elif f.is_veto:
        raise InvalidInput(_l("Only a deduction can be a veto."), code="veto_only_deductions")
    return replace(f, kind=str(f.kind), title=title, category=category, description=description,
                   hourly_cap=hourly_cap, team_id=team_id, per_hour=bool(f.per_hour),
                   claimable=bool(f.claimable) and f.kind == ItemKind.EARN,
                   is_veto=bool(f.is_veto) and f.kind == ItemKind.DEDUCT,
                   counts_against_earning=bool(f.counts_against_earning) or f.kind == ItemKind.EARN,
                   evidence=str(f.evidence), confirmer=str(f.confirmer),
                   limit_period=str(f.limit_period) if f.limit_period else None)


def _note(note) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(_l("The note may have at most %(n)d characters."), code="note_too_long", n=NOTE_MAX)
    return note


def _changed() -> Conflict:
    return Conflict(_l("Someone changed this item meanwhile. Look at its current version and try again."),
                    code="item_changed")


def create_item(actor, community: Community, f: ItemFields, now: datetime, note: str = "") -> CatalogueItem:
    """A new item (version 1, its own lineage). Raises forbidden and _check's codes (title_missing, …)."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    clean = _check(f, community.id)
    item = CatalogueItem(community_id=community.id, lineage_id=0, version=1, created_by_id=actor.id, created_at=now,
                         note=_note(note), **asdict(clean))
    db.session.add(item)
    db.session.flush()
    item.lineage_id = item.id  # the first version names the lineage
    db.session.flush()
    audit.record(actor, AuditAction.CATALOGUE_ITEM_CREATED, item, now, title=item.title, kind=item.kind,
                 points=item.points)
    return item


def revise_item(actor, item: CatalogueItem, f: ItemFields, note: str, now: datetime) -> CatalogueItem:
    """The item's next version (a new row); the old row is only stamped superseded_at. Raises forbidden,
    item_changed (not the current version, or revised at the same moment), kind_fixed, note_missing and
    _check's codes."""
    require(actor, Action.MANAGE_COMMUNITY, item)
    if f.kind != item.kind:
        raise InvalidInput(_l("An item cannot change between earning and taking points; retire it and add a new "
                              "one."), code="kind_fixed")
    note = _note(note)
    if not note:
        raise InvalidInput(_l("Please say what changed."), code="note_missing")
    clean = _check(f, item.community_id)
    if not item.is_current:
        raise _changed()
    stamped = db.session.execute(
        update(CatalogueItem).where(CatalogueItem.id == item.id, CatalogueItem.superseded_at.is_(None),
                                    CatalogueItem.retired_at.is_(None))
        .values(superseded_at=now).execution_options(synchronize_session=False))
    if stamped.rowcount != 1:
        raise _changed()
    new = CatalogueItem(community_id=item.community_id, lineage_id=item.lineage_id, version=item.version + 1,
                        created_by_id=actor.id, created_at=now, note=note, **asdict(clean))
    insert_unique(new, _changed())
    db.session.refresh(item)
    changed = sorted(k for k, v in asdict(clean).items() if getattr(item, k) != v)
    audit.record(actor, AuditAction.CATALOGUE_ITEM_REVISED, new, now, title=new.title, version=new.version,
                 previous_id=item.id, changed=changed, note=note)
    return new


def retire_item(actor, item: CatalogueItem, note: str, now: datetime) -> CatalogueItem:
    """Take the item out of the catalogue (its rows stay, for what was awarded under them). Raises forbidden,
    item_changed, note_too_long."""
    require(actor, Action.MANAGE_COMMUNITY, item)
    note = _note(note)
    retired = db.session.execute(
        update(CatalogueItem).where(CatalogueItem.id == item.id, CatalogueItem.superseded_at.is_(None),
                                    CatalogueItem.retired_at.is_(None))
        .values(retired_at=now).execution_options(synchronize_session=False))
    if retired.rowcount != 1:
        raise _changed()
    db.session.refresh(item)
    audit.record(actor, AuditAction.CATALOGUE_ITEM_RETIRED, item, now, title=item.title, version=item.version,
                 note=note)
    return item


def versions(item: CatalogueItem) -> list[CatalogueItem]:
    """Every version of the item's lineage, newest first."""
    return list(db.session.scalars(select(CatalogueItem).where(CatalogueItem.community_id == item.community_id,
                                                               CatalogueItem.lineage_id == item.lineage_id)
                                   .order_by(CatalogueItem.version.desc())))


def retired_items(community_id: int) -> list[CatalogueItem]:
    """Items taken out of the catalogue (their last version), newest first."""
    return list(db.session.scalars(select(CatalogueItem).where(CatalogueItem.community_id == community_id,
                                                               CatalogueItem.superseded_at.is_(None),
                                                               CatalogueItem.retired_at.is_not(None))
                                   .order_by(CatalogueItem.retired_at.desc()).limit(100)))


def latest_change(community_id: int) -> datetime | None:
    """When the community's catalogue last changed (the printed version's date): an item added or revised,
    or one retired."""
    added, retired = db.session.execute(select(db.func.max(CatalogueItem.created_at), db.func.max(
        CatalogueItem.retired_at)).where(CatalogueItem.community_id == community_id,
                                         CatalogueItem.superseded_at.is_(None))).one()
    return max((moment for moment in (added, retired) if moment is not None), default=None)


# ---- the model catalogue ----------------------------------------------------------------------------
# Drawn from the seeds: Laiyang's 楼道广告清理 and 安全值守, the 便民·安民·助民·乐民 teams' 环境整治, 扶老助弱,
# 文明倡导, 垃圾分类 and 文明养犬劝阻, Zhucheng's building leaders watching for 乱扔杂物、乱停车辆 (随手拍), and the
# deductions village points schemes publish (负向扣分). Points are what such schemes give: a few points a deed,
# per hour for watches, a handful a month at most.
_E, _D = ItemKind.EARN, ItemKind.DEDUCT
MODEL_CATALOGUE: tuple[dict, ...] = (
    dict(kind=_E, category="环境卫生", title="楼道广告清理", points=5, evidence=Evidence.PHOTO,
         confirmer=Confirmer.BUILDING_LEADER, limit_count=4, limit_period=LimitPeriod.MONTH,
         description="清理本楼道张贴的小广告，拍一张清理后的照片。"),
    dict(kind=_E, category="环境卫生", title="环境整治", points=4, per_hour=True, hourly_cap=12,
         evidence=Evidence.PHOTO, confirmer=Confirmer.GRID_WORKER, limit_count=8, limit_period=LimitPeriod.MONTH,
         description="参加小区卫生清扫、清理杂物和卫生死角。"),
    dict(kind=_E, category="环境卫生", title="垃圾分类督导", points=3, per_hour=True, hourly_cap=9,
         evidence=Evidence.PHOTO, confirmer=Confirmer.GRID_WORKER, limit_count=10, limit_period=LimitPeriod.MONTH,
         description="在垃圾投放点值守，指导邻居分类投放。"),
    dict(kind=_E, category="平安守护", title="安全值守", points=4, per_hour=True, hourly_cap=16,
         evidence=Evidence.WITNESS, confirmer=Confirmer.GRID_WORKER, limit_count=8, limit_period=LimitPeriod.MONTH,
         description="在小区门岗、卡口或夜间巡逻值守。"),
    dict(kind=_E, category="平安守护", title="随手拍：不文明行为", points=2, evidence=Evidence.PHOTO,
         confirmer=Confirmer.GRID_WORKER, limit_count=5, limit_period=LimitPeriod.MONTH,
         description="拍下乱扔杂物、乱停车辆、楼道堆物等不文明行为或安全隐患，注明地点。"),
    dict(kind=_E, category="邻里互助", title="扶老助弱", points=5, evidence=Evidence.WITNESS,
         confirmer=Confirmer.BUILDING_LEADER, limit_count=8, limit_period=LimitPeriod.MONTH,
         description="帮独居、空巢老人和行动不便的邻居买菜、取药、陪同就医。"),
    dict(kind=_E, category="邻里互助", title="夜间帮扶", points=8, evidence=Evidence.WITNESS,
         confirmer=Confirmer.BUILDING_LEADER, limit_count=4, limit_period=LimitPeriod.MONTH,
         description="夜间邻居有急事（老人摔倒、突发疾病等）时上门帮忙、送医。"),
    dict(kind=_E, category="邻里互助", title="调解邻里矛盾", points=5, evidence=Evidence.WITNESS,
         confirmer=Confirmer.OFFICE, limit_count=2, limit_period=LimitPeriod.MONTH,
         description="协助社区化解邻里纠纷。"),
    dict(kind=_E, category="文明倡导", title="文明倡导", points=3, evidence=Evidence.PHOTO,
         confirmer=Confirmer.BUILDING_LEADER, limit_count=4, limit_period=LimitPeriod.MONTH,
         description="参加文明养犬劝阻、移风易俗等宣传倡导活动。"),
    dict(kind=_E, category="志愿服务", title="志愿服务活动", points=10, claimable=False,
         confirmer=Confirmer.OFFICE,
         description="参加志愿服务队组织的活动，签到后由队长确认，无需申报。"),
    dict(kind=_D, category="平安守护", title="高空抛物", points=20, evidence=Evidence.PHOTO, is_veto=True,
         description="从楼上向外抛掷物品，危及他人安全。"),
    dict(kind=_D, category="环境卫生", title="乱堆乱放", points=5, evidence=Evidence.PHOTO,
         description="在楼道、消防通道堆放杂物，经提醒不清理。"),
    dict(kind=_D, category="环境卫生", title="楼道乱贴小广告", points=5, evidence=Evidence.PHOTO,
         description="在楼道、单元门张贴或喷涂小广告。"),
    dict(kind=_D, category="文明行为", title="不文明养犬", points=5, evidence=Evidence.PHOTO,
         description="遛狗不拴绳、不清理犬只粪便。"),
    dict(kind=_D, category="环境卫生", title="破坏绿化", points=5, evidence=Evidence.PHOTO,
         description="毁坏绿地、私自在公共绿地种菜。"),
    dict(kind=_D, category="环境卫生", title="私搭乱建", points=10, evidence=Evidence.PHOTO, is_veto=True,
         description="在楼道、绿地等公共区域私自搭建。"),
)


def model_fields() -> list[ItemFields]:
    """The model catalogue as fields (deductions are never claimable and are recorded by the office)."""
    return [ItemFields(**({"claimable": False} if row["kind"] == ItemKind.DEDUCT else {}), **row)
            for row in MODEL_CATALOGUE]


def adopt_model_catalogue(actor, community: Community, now: datetime) -> list[CatalogueItem]:
    """Start the community's catalogue from the model one. Raises forbidden, catalogue_not_empty."""
    require(actor, Action.MANAGE_COMMUNITY, community)
    locks.lock_row(Community, community.id)  # two clicks at once: one adds the items, the other finds them
    if catalogue_rules.current_items(community.id):
        raise Conflict(_l("This community already has a catalogue: edit its items instead."),
                       code="catalogue_not_empty")
    return [create_item(actor, community, f, now, note=_("From the model catalogue")) for f in model_fields()]


# ---- in plain words -----------------------------------------------------------------------------------

def _limit_words(item: CatalogueItem) -> str:
    n = item.limit_count
    return {LimitPeriod.DAY: _("At most %(n)d times a day", n=n), LimitPeriod.WEEK: _("At most %(n)d times a week", n=n),
            LimitPeriod.MONTH: _("At most %(n)d times a month", n=n),
            LimitPeriod.YEAR: _("At most %(n)d times a year", n=n)}[LimitPeriod(item.limit_period)]


def _date_words(item: CatalogueItem) -> str | None:
    first, last = item.active_from, item.active_until
    if first and last:
        return _("From %(first)s to %(last)s", first=format_moment(first, "day"), last=format_moment(last, "day"))
    if first:
        return _("From %(first)s", first=format_moment(first, "day"))
    if last:
        return _("Until %(last)s", last=format_moment(last, "day"))
    return None


def describe(item: CatalogueItem) -> list[str]:
    """The item's terms as short sentences a resident reads (每次 5 分, 需要照片, 由楼栋长确认 …)."""
    words = []
    if item.kind == ItemKind.DEDUCT:
        words.append(_("%(n)d points taken each time", n=item.points))
        if item.is_veto:
            words.append(_("Veto: no star household rating for the period"))
        if item.counts_against_earning:
            words.append(_("Also taken off the points counted for rankings"))
        words.append({Evidence.PHOTO: _("The community office records it, with a photo"),
                      Evidence.WITNESS: _("The community office records it, with a witness"),
                      Evidence.NONE: _("Recorded by the community office")}[Evidence(item.evidence)])
    else:
        if item.per_hour and item.hourly_cap:
            words.append(_("%(n)d points an hour, at most %(cap)d points each time", n=item.points,
                           cap=item.hourly_cap))
        elif item.per_hour:
            words.append(_("%(n)d points an hour", n=item.points))
        else:
            words.append(_("%(n)d points each time", n=item.points))
        if item.limit_count:
            words.append(_limit_words(item))
        if not item.claimable:
            words.append(_("Earned at volunteer activities: no claim needed"))
        else:
            words.append({Evidence.PHOTO: _("A photo is needed"),
                          Evidence.WITNESS: _("A neighbour must confirm as a witness"),
                          Evidence.NONE: _("No photo or witness needed")}[Evidence(item.evidence)])
            words.append({Confirmer.BUILDING_LEADER: _("Confirmed by the building leader"),
                          Confirmer.GRID_WORKER: _("Confirmed by the grid worker"),
                          Confirmer.OFFICE: _("Confirmed by the community office"),
                          Confirmer.TEAM_LEAD: _("Confirmed by the volunteer team's lead")}[Confirmer(item.confirmer)])
    dates = _date_words(item)
    if dates:
        words.append(dates)
    return words


def public_catalogue(community_id: int, today: date) -> dict[str, list[tuple[str, list]]]:
    """The current catalogue for the public pages, without items whose last day has passed:
    {kind: [(category, [(item, words)])]}, earn items first."""
    grouped: dict[str, dict[str, list]] = {ItemKind.EARN: {}, ItemKind.DEDUCT: {}}
    for item in catalogue_rules.current_items(community_id):
        if item.active_until is not None and item.active_until < today:
            continue
        grouped[item.kind].setdefault(item.category, []).append((item, describe(item)))
    return {kind: list(categories.items()) for kind, categories in grouped.items()}
