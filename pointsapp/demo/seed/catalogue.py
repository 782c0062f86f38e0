"""The demo's 积分细则, claims (积分申报) in every state, deductions (负向扣分) and organisation groups, in the
first community (梨园社区), built through the same services as real data. Run after the history and before
the star evaluation (a veto deduction then shows in this year's notice). The caller commits."""
import io
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from pointsapp.accounts.models import Role, RoleGrant, User
from pointsapp.core.extensions import db
from pointsapp.tree.models import Building, Community, Grid, Household, Resident


def demo_photo(seed: int, *, size: tuple[int, int] = (1600, 1200), quality: int = 88) -> bytes:
    """A phone-sized JPEG of a made-up scene (a wall with notices, a door, a bin), different for each seed."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    w, h = 1600, 1200  # drawn at one size, then scaled: the same seed is the same picture at any size
    image = Image.new("RGB", (w, h), tuple(rng.randint(170, 235) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(h * .72), w, h), fill=tuple(rng.randint(90, 150) for _ in range(3)))  # the floor
    for _ in range(rng.randint(4, 9)):  # notices, windows, a door …
        x, y = rng.randint(0, w - 200), rng.randint(0, int(h * .6))
        draw.rectangle((x, y, x + rng.randint(80, 420), y + rng.randint(60, 360)),
                       fill=tuple(rng.randint(0, 255) for _ in range(3)), outline=(40, 40, 40), width=6)
    for _ in range(rng.randint(1, 3)):
        x = rng.randint(0, w - 160)
        draw.ellipse((x, int(h * .62), x + 160, int(h * .62) + 160), fill=tuple(rng.randint(0, 120) for _ in range(3)))
    if size != (w, h):
        image = image.resize(size)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@dataclass
class CatalogueDemo:
    items: int
    claims: int
    deductions: int
    groups: int
    logins: list  # seed.DemoLogin rows for the 楼栋长 and the 网格员


def _admin(community: Community) -> User:
    return db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.community_id == community.id, RoleGrant.role == Role.COMMUNITY_ADMIN).order_by(User.id))


def _login(phone: str) -> User:
    return db.session.scalar(select(User).where(User.phone == phone))


def _reviewers(community: Community, leader: User, worker: User) -> list[User]:
    """Who reviews the demo's claims: the item's named reviewer where there is one, else the office."""
    leads = db.session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.community_id == community.id, RoleGrant.role == Role.TEAM_LEAD).order_by(User.id)).all()
    return [leader, worker, *leads, _admin(community)]


def _review_as(claim, reviewers: list[User]) -> User:
    """The first of `reviewers` the item names who may review the claim, else the first who may (the office)."""
    from pointsapp.claims import services as claims
    from pointsapp.claims.services.access import is_named_reviewer
    allowed = [u for u in reviewers if claims.may_review(u, claim)]
    return next((u for u in allowed if is_named_reviewer(u, claim)), allowed[0])


def _leader_and_worker(community: Community, building: Building, leader_resident: Resident,
                       now: datetime) -> tuple[User, User]:
    """The demo building's 楼栋长 is the team lead 张建国 (he lives there); its grid's 网格员 gets a login (the
    account whose phone is the grid's worker phone)."""
    from pointsapp.core.passwords import hash_password
    from pointsapp.demo.seed import DEMO_PASSWORD

    building.leader_id = leader_resident.id
    leader = db.session.scalar(select(User).where(User.resident_id == leader_resident.id))
    grid = db.session.get(Grid, building.grid_id)
    worker = User(phone=grid.worker_phone, name=grid.worker_name, password_hash=hash_password(DEMO_PASSWORD),
                  created_at=now)
    db.session.add(worker)
    db.session.flush()
    return leader, worker


def _items(community: Community) -> dict[str, object]:
    from pointsapp.catalogue.services import rules as catalogue_rules
    return {item.title: item for item in catalogue_rules.current_items(community.id)}


def build_catalogue_demo(now: datetime, building_name: str) -> CatalogueDemo:
    """梨园社区 adopts the model 积分细则; its residents' claims stand in every state (approved, waiting for the
    楼栋长 or the 网格员, waiting for a witness, asked for more, rejected, withdrawn, one whose photo was sent
    before); the office has recorded two deductions (one owed in part, one a veto in this year's stars)."""
    from pointsapp.catalogue.services.items import adopt_model_catalogue
    from pointsapp.claims import services as claims
    from pointsapp.claims.services import ClaimFields
    from pointsapp.deductions.services import record_deduction
    from pointsapp.demo.seed import DemoLogin
    from pointsapp.ledger.services.posting import balance_of

    community = db.session.scalar(select(Community).order_by(Community.id))
    admin = _admin(community)
    adopt_model_catalogue(admin, community, now - timedelta(days=40))
    items = _items(community)
    building = db.session.scalar(select(Building).where(Building.community_id == community.id,
                                                        Building.name == building_name))
    wang, zhang, li = _login("13800000001"), _login("13800000002"), _login("13800000003")
    leader, worker = _leader_and_worker(community, building, zhang.resident, now)
    reviewers = _reviewers(community, leader, worker)
    neighbours = db.session.scalars(select(Resident).join(Household, Household.id == Resident.household_id).where(
        Household.building_id == building.id, Resident.id.not_in([wang.resident_id, zhang.resident_id,
                                                                  li.resident_id]),
        Resident.moved_out_on.is_(None)).order_by(Household.unit, Household.room, Resident.id)).all()
    made = []

    def claim(actor, resident, title, days_ago, *, photo=None, witness="", minutes=None, place="", text=""):
        moment = now - timedelta(days=days_ago)
        fields = ClaimFields(item_id=items[title].id, occurred_at=moment - timedelta(hours=2), place=place,
                             description=text, minutes=minutes, witness_phone=witness,
                             photos=(photo,) if photo is not None else ())
        made.append(claims.file_claim(actor, resident, fields, moment))
        return made[-1], moment

    def review(c, hours_later, moment, verdict, text=""):
        who = _review_as(c, reviewers)
        when = moment + timedelta(hours=hours_later)
        {"approve": lambda: claims.approve(who, c, when), "reject": lambda: claims.reject(who, c, text, when),
         "ask": lambda: claims.ask_more(who, c, text, when)}[verdict]()

    hallway = demo_photo(1)
    c, at = claim(wang, wang.resident, "楼道广告清理", 9, photo=hallway, place=f"{building_name}1单元楼道",
                  text="清理了1到5楼楼道里的小广告，用铲刀和清洁剂擦干净了。")
    review(c, 20, at, "approve")
    c, at = claim(wang, wang.resident, "扶老助弱", 3, witness=li.phone, place=f"{building_name}2单元",
                  text="帮502的孙大爷买药、送到家里，陪他去社区医院量了血压。")
    claims.confirm_witness(li, c, at + timedelta(hours=3))
    c, at = claim(wang, wang.resident, "夜间帮扶", 6, witness=li.phone, place=f"{building_name}1单元",
                  text="夜里11点多，楼上独居的王奶奶摔倒了，我和邻居把她扶起来，打了120并陪到医院。")
    claims.confirm_witness(li, c, at + timedelta(hours=5))
    review(c, 30, at, "ask", "请补充一下送医的时间和医院名称，有病历照片更好。")
    c, at = claim(wang, wang.resident, "文明倡导", 5, photo=demo_photo(2), place="社区广场",
                  text="在广场上宣传文明养犬。")
    review(c, 26, at, "reject", "这次宣传是乐民文艺队组织的活动，已按活动签到记了积分，不能重复申报。")
    claim(wang, wang.resident, "扶老助弱", 1, witness=li.phone, place=f"{building_name}1单元",
          text="陪301对门的刘奶奶去银行办事。")
    c, at = claim(wang, wang.resident, "楼道广告清理", 4, photo=demo_photo(3), place=f"{building_name}2单元楼道")
    claims.withdraw(wang, c, at + timedelta(hours=1))
    # for neighbours without a phone: the 网格员 and the 楼栋长 file for them
    resaved = demo_photo(1, size=(1200, 900), quality=70)  # the same picture as 王秀英's, sent again
    claim(worker, neighbours[0], "楼道广告清理", 2, photo=resaved, place=f"{building_name}1单元楼道",
          text="清理楼道小广告。")
    claim(zhang, neighbours[1], "环境整治", 2, photo=demo_photo(4), minutes=90, place="小区北侧绿地",
          text="清理绿地里的垃圾和杂草。")
    for n, resident in enumerate(neighbours[2:8]):
        c, at = claim(zhang, resident, "垃圾分类督导", 12 - n, photo=demo_photo(10 + n), minutes=60 + 30 * (n % 3),
                      place="垃圾分类投放点", text="早上在投放点督导分类投放。")
        review(c, 6 + 4 * n, at, "approve" if n % 3 else "reject", "照片看不出是在督导。")
    # the office's deductions: one more than the balance (the rest owed), one a veto in this year's stars
    poorest = min(neighbours[8:20], key=lambda r: (balance_of(r.id), r.id))
    record_deduction(admin, items["乱堆乱放"], resident=poorest, occurred_at=now - timedelta(days=8, hours=3),
                     reason="楼道里堆放纸箱和旧家具，劝说两次未清理。", evidence=demo_photo(30),
                     request_key="demo-deduction-1", now=now - timedelta(days=8))
    vetoed = neighbours[20] if len(neighbours) > 20 else neighbours[-1]
    record_deduction(admin, items["高空抛物"], household=vetoed.household, occurred_at=now - timedelta(days=15),
                     reason="从5楼窗口扔下酒瓶，楼下有人经过，监控可查。", evidence=demo_photo(31),
                     request_key="demo-deduction-2", now=now - timedelta(days=14))
    groups = _groups(community, admin, now)
    logins = [DemoLogin(role="building_leader", name=zhang.name, phone=zhang.phone,
                        note=f"梨园社区 {building_name} 楼栋长（审核本楼的积分申报）"),
              DemoLogin(role="grid_worker", name=worker.name, phone=worker.phone,
                        note=f"梨园社区 {db.session.get(Grid, building.grid_id).name} 网格员")]
    return CatalogueDemo(items=len(items), claims=len(made), deductions=2, groups=groups, logins=logins)


GROUPS = (("梨园社区第一党支部", "party_branch", 18, True), ("梨园社区第二党支部", "party_branch", 15, True),
          ("梨园志愿者协会", "association", 30, True), ("梨园小学家长志愿队", "school", 12, False))


def _groups(community: Community, admin: User, now: datetime) -> int:
    """Two 党支部, a volunteer association and a school's parents, ranked (以党支部为单位排名、晾晒); the school's
    not published yet. Members: residents who have volunteered, drawn without regard to building."""
    from pointsapp.groups import services as groups
    from pointsapp.ledger.models import PointsAccount

    rng = random.Random(14)
    residents = db.session.scalars(select(Resident).join(PointsAccount, PointsAccount.resident_id == Resident.id).where(
        Resident.community_id == community.id, Resident.moved_out_on.is_(None), PointsAccount.earned_total > 0)
        .order_by(Resident.id)).all()
    for name, kind, size, published in GROUPS:
        group = groups.create_group(admin, community, name, kind, now - timedelta(days=30))
        groups.add_members(admin, group, rng.sample(residents, size), now - timedelta(days=30))
        if published:
            groups.set_published(admin, group, True, now - timedelta(days=29))
    return len(GROUPS)
