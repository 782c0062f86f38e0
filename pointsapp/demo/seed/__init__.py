"""A believable demo: one subdistrict of Laiyang, two communities, their buildings and people.

Deterministic (seeded), built through the same services as real data where they exist."""
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from pointsapp.accounts.models import Role, RoleGrant, User
from pointsapp.core.extensions import db
from pointsapp.core.passwords import hash_password
from pointsapp.recognition.models import Evaluation
from pointsapp.store.models import Store
from pointsapp.tree.models import Building, Community, Grid, Household, Resident, Subdistrict
from pointsapp.volunteering.models import Team

DEMO_PASSWORD = "demo1234"

SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
            "阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文")
ELDER_F = ("秀英", "桂英", "玉兰", "秀兰", "凤英", "淑珍", "玉梅", "秀珍", "桂兰", "春兰", "素芳", "翠花", "玉珍", "金凤")
ELDER_M = ("建国", "国强", "德明", "永福", "志刚", "长河", "振华", "洪涛", "玉山", "庆丰", "文斌", "宝山", "树林", "家兴")
MID_F = ("丽娟", "红梅", "海燕", "晓燕", "静", "艳", "丽丽", "春燕", "雪梅", "慧敏", "秀梅", "丹")
MID_M = ("伟", "强", "军", "磊", "涛", "海波", "志强", "建华", "立新", "勇", "明", "晓东")
YOUNG = ("浩然", "子涵", "欣怡", "梓萱", "宇轩", "一诺", "雨桐", "思远", "俊杰", "佳怡", "子墨", "若曦", "嘉豪", "诗涵")

TEAMS = (("便民服务队", "便民"), ("安民巡逻队", "安民"), ("助民帮扶队", "助民"), ("乐民文艺队", "乐民"))


@dataclass
class DemoLogin:
    role: str
    name: str
    phone: str
    note: str


@dataclass
class DemoResult:
    communities: int
    buildings: int
    households: int
    residents: int
    logins: list[DemoLogin]


def is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Community))


def _name(rng: random.Random, age_group: str, female: bool) -> str:
    pool = {"elder": ELDER_F if female else ELDER_M, "mid": MID_F if female else MID_M, "young": YOUNG}[age_group]
    return rng.choice(SURNAMES) + rng.choice(pool)


def _phone(rng: random.Random, used: set) -> str:
    while True:
        p = rng.choice("3579") and f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        if p not in used:
            used.add(p)
            return p


def _household_people(rng: random.Random, surname: str, today: date, used_phones: set) -> Iterable[dict]:
    """A family: an older couple, a couple with children, or someone living alone."""
    shape = rng.choices(("elder_couple", "family", "alone", "three_gen"), weights=(35, 35, 12, 18))[0]
    members: list[tuple[str, str, bool, int]] = []  # relation, age group, female, birth year
    if shape in ("elder_couple", "alone", "three_gen"):
        members.append(("户主", "elder", False, rng.randint(1940, 1962)))
        if shape != "alone":
            members.append(("配偶", "elder", True, rng.randint(1942, 1964)))
    if shape in ("family", "three_gen"):
        relation = "户主" if shape == "family" else "子女"
        members.append((relation, "mid", False, rng.randint(1972, 1990)))
        members.append(("配偶" if shape == "family" else "儿媳", "mid", True, rng.randint(1974, 1992)))
        for _ in range(rng.choice((0, 1, 1, 2))):
            members.append(("子女" if shape == "family" else "孙子女", "young", rng.random() < 0.5,
                            rng.randint(2008, 2019)))
    if shape == "alone" and rng.random() < 0.6:
        members[0] = ("户主", "elder", True, members[0][3])
    moved_in = date(rng.randint(1995, 2022), rng.randint(1, 12), rng.randint(1, 28))
    names: set[str] = set()
    for relation, group, female, birth_year in members:
        name = ""
        while not name or name in names:  # no two people of one household share a name
            name = (surname if relation in ("户主", "子女", "孙子女") else rng.choice(SURNAMES)) + \
                _name(rng, group, female)[1:]
        names.add(name)
        has_phone = group == "mid" or (group == "elder" and rng.random() < 0.55)
        yield {
            "name": name, "relation": relation, "birth_year": birth_year, "moved_in_on": moved_in,
            "phone": _phone(rng, used_phones) if has_phone else "",
            "id_tail": f"{rng.randrange(1000):03d}{rng.choice('0123456789X')}",
        }


# Households kept empty for the demo logins (first community, demo_building()).
RESERVED = {("1", "301"), ("1", "302"), ("2", "501")}


def demo_building(buildings_per_community: int) -> str:
    return f"{min(3, buildings_per_community)}号楼"


COMMUNITIES = (
    ("梨园社区", "莱阳市城厢街道梨园路18号", "0535-7211801"),
    ("鹤山社区", "莱阳市城厢街道鹤山路66号", "0535-7211802"),
)


def build_demo(now: datetime, progress: Callable[[int], None] = lambda n: None, *, seed: int = 2026,
               buildings_per_community: int = 12) -> DemoResult:
    """Create the demo tree and logins. The caller commits. progress(n) is told as buildings finish."""
    rng = random.Random(seed)
    today = now.date()
    sub = Subdistrict(name="城厢街道", city="莱阳市")
    db.session.add(sub)
    db.session.flush()
    used_phones: set[str] = {f"1380000000{i}" for i in range(10)}
    totals = {"buildings": 0, "households": 0, "residents": 0}
    communities = []
    for cname, address, phone in COMMUNITIES:
        community = Community(subdistrict_id=sub.id, name=cname, address=address, phone=phone,
                              office_hours="周一至周五 8:30-12:00，14:00-17:30")
        db.session.add(community)
        db.session.flush()
        communities.append(community)
        grids = [Grid(community_id=community.id, name=f"第{n}网格", worker_name=_name(rng, "mid", rng.random() < .6),
                      worker_phone=_phone(rng, used_phones)) for n in "一二三四"]
        db.session.add_all(grids)
        for team_name, category in TEAMS:
            db.session.add(Team(community_id=community.id, name=f"{cname[:2]}{team_name}", category=category))
        db.session.add(Store(community_id=community.id, name=f"{cname}爱心积分超市", address=address))
        db.session.flush()
        for b in range(1, buildings_per_community + 1):
            building = Building(community_id=community.id, name=f"{b}号楼", grid_id=grids[(b - 1) // 3].id)
            db.session.add(building)
            db.session.flush()
            leader = None
            for unit in ("1", "2"):
                for floor in range(1, 6):
                    for door in ("01", "02"):
                        household = Household(community_id=community.id, building_id=building.id, unit=unit,
                                              room=f"{floor}{door}", note="")
                        db.session.add(household)
                        db.session.flush()
                        surname = rng.choice(SURNAMES)
                        people = _household_people(rng, surname, today, used_phones)
                        if communities == [community] and building.name == demo_building(buildings_per_community) \
                                and (unit, f"{floor}{door}") in RESERVED:
                            people = list(people)[:0]  # the demo logins move in here
                        for person in people:
                            resident = Resident(community_id=community.id, household_id=household.id,
                                                created_at=now, **person)
                            db.session.add(resident)
                            totals["residents"] += 1
                            if leader is None and person["phone"] and person["relation"] == "户主":
                                leader = resident
                        totals["households"] += 1
            db.session.flush()
            building.leader_id = leader.id if leader else None
            totals["buildings"] += 1
            progress(1)
    logins = _demo_logins(communities, now, demo_building(buildings_per_community))
    return DemoResult(communities=len(communities), logins=logins, **totals)


def _demo_logins(communities: list[Community], now: datetime, building_name: str) -> list[DemoLogin]:
    liyuan, heshan = communities[0], communities[1]
    password_hash = hash_password(DEMO_PASSWORD)  # one KDF run shared by every demo login
    team = db.session.scalar(select(Team).where(Team.community_id == liyuan.id, Team.category == "便民"))
    store = db.session.scalar(select(Store).where(Store.community_id == liyuan.id))
    building3 = db.session.scalar(select(Building).where(Building.community_id == liyuan.id,
                                                         Building.name == building_name))
    h301 = db.session.scalar(select(Household).where(Household.building_id == building3.id,
                                                     Household.unit == "1", Household.room == "301"))
    h302 = db.session.scalar(select(Household).where(Household.building_id == building3.id,
                                                     Household.unit == "1", Household.room == "302"))
    h501 = db.session.scalar(select(Household).where(Household.building_id == building3.id,
                                                     Household.unit == "2", Household.room == "501"))

    def person(household, name, relation, phone, birth_year):
        r = Resident(community_id=household.community_id, household_id=household.id, name=name, relation=relation,
                     phone=phone, id_tail="0425", birth_year=birth_year, moved_in_on=date(2008, 5, 1), created_at=now)
        db.session.add(r)
        db.session.flush()
        return r

    rows = [
        # role, name, phone, resident household, note
        (Role.RESIDENT, "王秀英", "13800000001", (h301, "户主", 1952), f"梨园社区 {building_name}1单元301"),
        (Role.TEAM_LEAD, "张建国", "13800000002", (h302, "户主", 1958), "梨园便民服务队 队长"),
        (Role.CLERK, "李秀兰", "13800000003", (h501, "户主", 1965), "梨园社区爱心积分超市 店员"),
        (Role.COMMUNITY_ADMIN, "刘红梅", "13800000004", None, "梨园社区 管理员"),
        (Role.COMMUNITY_ADMIN, "陈立新", "13800000005", None, "鹤山社区 管理员"),
        (Role.CITY_ADMIN, "孙志刚", "13800000006", None, "市级管理员（所有社区）"),
    ]
    logins = []
    for role, name, phone, home, note in rows:
        resident = person(home[0], name, home[1], phone, home[2]) if home else None
        user = User(phone=phone, name=name, password_hash=password_hash, created_at=now,
                    resident_id=resident.id if resident else None)
        db.session.add(user)
        db.session.flush()
        if role == Role.TEAM_LEAD:
            db.session.add(RoleGrant(user_id=user.id, role=role, community_id=liyuan.id, team_id=team.id, granted_at=now))
        elif role == Role.CLERK:
            db.session.add(RoleGrant(user_id=user.id, role=role, community_id=liyuan.id, store_id=store.id, granted_at=now))
        elif role == Role.COMMUNITY_ADMIN:
            cid = liyuan.id if "梨园" in note else heshan.id
            db.session.add(RoleGrant(user_id=user.id, role=role, community_id=cid, granted_at=now))
        elif role == Role.CITY_ADMIN:
            db.session.add(RoleGrant(user_id=user.id, role=role, granted_at=now))
        logins.append(DemoLogin(role=str(role), name=name, phone=phone, note=note))
    db.session.flush()
    return logins


ACTIVITIES = (("楼道广告清理", 10), ("安全值守", 15), ("环境整治", 10), ("扶老助弱", 20), ("文明倡导", 5),
              ("垃圾分类督导", 8), ("文艺汇演", 10))
GOODS = (("食用油", 50), ("洗衣粉", 20), ("挂面", 10), ("香皂", 8), ("大米5斤", 30), ("理发服务", 15), ("家电维修", 25))


# What each team ran in the past months: kind, place, rule, points, hourly cap, award on, hours
PAST_PLANS = {
    "便民": [("楼道广告清理", "各楼楼道", "fixed", 10, None, "check_in", 2), ("环境整治", "小区绿地", "fixed", 10, None, "check_in", 2)],
    "安民": [("安全值守", "小区东门岗亭", "hourly", 5, 20, "check_out", 3)],
    "助民": [("扶老助弱", "社区日间照料中心", "fixed", 20, None, "approval", 2),
             ("垃圾分类督导", "垃圾分类投放点", "fixed", 8, None, "check_in", 1)],
    "乐民": [("文明倡导", "社区广场", "fixed", 5, None, "check_in", 2), ("文艺汇演", "社区活动室", "fixed", 10, None, "check_in", 3)],
}


def _past_activities(now: datetime, start: datetime, rng: random.Random) -> dict[int, list]:
    """Every team ran an activity about once a week since `start`. Returns community id -> activities."""
    import secrets

    from pointsapp.core.periods import CHINA
    from pointsapp.volunteering.models import Activity

    made: dict[int, list] = {}
    for team in db.session.scalars(select(Team).order_by(Team.id)).all():
        creator = db.session.scalar(select(RoleGrant.user_id).where(RoleGrant.team_id == team.id)) or \
            db.session.scalar(select(RoleGrant.user_id).where(RoleGrant.community_id == team.community_id,
                                                              RoleGrant.role == Role.COMMUNITY_ADMIN))
        day = start.astimezone(CHINA).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=rng.randint(0, 6))
        while day < now - timedelta(days=2):
            kind, place, rule, points, cap, award_on, hours = rng.choice(PAST_PLANS[team.category])
            starts = (day + timedelta(hours=rng.choice((8, 9, 14, 15)))).astimezone(now.tzinfo)
            ends = starts + timedelta(hours=hours)
            activity = Activity(
                community_id=team.community_id, team_id=team.id, title=f"{team.name[:2]}{kind}", kind=kind, place=place,
                description="", starts_at=starts, ends_at=ends, checkin_opens_at=starts - timedelta(minutes=30),
                checkin_closes_at=ends + timedelta(minutes=30), capacity=None, rule=rule, points=points,
                hourly_cap=cap, award_on=award_on, allow_poster=False, code_seconds=30,
                code_salt=secrets.token_hex(8), is_cancelled=False, created_by_id=creator,
                created_at=starts - timedelta(days=3))
            db.session.add(activity)
            made.setdefault(team.community_id, []).append((activity, creator))
            day += timedelta(days=rng.randint(5, 9))
    db.session.flush()
    return made


def build_history(now: datetime, progress: Callable[[int], None] = lambda n: None, *, seed: int = 7,
                  months: int = 8, share: float = 0.4) -> int:
    """Months of volunteering and spending: past activities of every team, residents' attendances at
    them (scanned by the team lead for residents without a phone, checked out of hourly ones, approved
    where the activity asks for it) with their awards, a few awards by the office, redemptions and a
    few reversals, all posted through the ledger service so the demo verifies clean and the rankings
    by hours and attendances, the star ratings and service records have something to show. Returns
    the number of entries written. The caller commits."""
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services.audit import checkpoint
    from pointsapp.ledger.services.posting import InsufficientPoints, Posting, post, reverse, reverse_by_admin
    from pointsapp.volunteering.models import Attendance
    from pointsapp.volunteering.services.checkin import points_for

    rng = random.Random(seed)
    admins = {g.community_id: g.user for g in db.session.scalars(
        select(RoleGrant).where(RoleGrant.role == Role.COMMUNITY_ADMIN))}
    users = dict(db.session.execute(select(User.resident_id, User.id).where(User.resident_id.is_not(None))).all())
    residents = db.session.scalars(select(Resident).where(Resident.moved_out_on.is_(None))
                                   .order_by(Resident.id)).all()
    written = 0
    start = now - timedelta(days=30 * months)
    past = _past_activities(now, start, rng)
    for resident in residents:
        progress(1)
        if resident.id not in users and (resident.birth_year or 2000) > 2007 or \
                resident.id not in users and rng.random() > share:
            continue
        events = []
        offered = past.get(resident.community_id, [])
        for choice in rng.sample(range(len(offered)), min(len(offered), rng.randint(2, 11) if resident.id not in users
                                                          else 14)):
            activity, lead = offered[choice]
            checked_in = activity.starts_at + timedelta(minutes=rng.randint(-10, 20))
            checked_out = activity.ends_at - timedelta(minutes=rng.randint(0, 40)) if activity.rule == "hourly" else None
            reviewed = activity.ends_at + timedelta(hours=20) if activity.award_on == "approval" else None
            # events go in the order their points are posted: at check-in, check-out or approval
            events.append((reviewed or checked_out or checked_in, "attend", (activity, lead, checked_in, checked_out)))
        for _ in range(rng.randint(0, 3)):
            when = start + timedelta(minutes=rng.randint(0, months * 30 * 24 * 60))
            events.append((when, "award", rng.choice(ACTIVITIES)))
        for _ in range(rng.randint(0, 4)):
            when = start + timedelta(days=rng.randint(20, months * 30))
            events.append((when, "spend", rng.choice(GOODS)))
        events.sort(key=lambda e: e[0])
        last_award = None
        for n, (when, what, detail) in enumerate(events):
            if what == "attend":
                activity, lead, checked_in, checked_out = detail
                own_phone = resident.id in users and rng.random() < 0.8
                attendance = Attendance(
                    community_id=activity.community_id, activity_id=activity.id, resident_id=resident.id,
                    checked_in_at=checked_in, checked_out_at=checked_out,
                    method="self_scan" if own_phone else "lead_scan",
                    recorded_by_id=users[resident.id] if own_phone else lead, manual_reason="", status="approved",
                    reviewed_by_id=lead if activity.award_on == "approval" else None,
                    reviewed_at=when if activity.award_on == "approval" else None, reject_reason="", points_awarded=0)
                db.session.add(attendance)
                db.session.flush()
                amount = points_for(activity, checked_in, checked_out)
                last_award = post(Posting(resident, amount, EntryKind.AWARD, "attendance", f"attendance:{attendance.id}",
                                          f"{activity.kind}：{activity.title}", str(attendance.id)), None, when)
                attendance.ledger_entry_id, attendance.points_awarded = last_award.id, amount
            elif what == "award":
                label, points = detail
                post(Posting(resident, points, EntryKind.AWARD, "demo", f"demo-a-{resident.id}-{n}", label, label),
                     None, when)
            else:
                label, points = detail
                try:
                    post(Posting(resident, -points, EntryKind.REDEMPTION, "demo", f"demo-r-{resident.id}-{n}",
                                 f"兑换：{label}", label), None, when)
                except InsufficientPoints:
                    continue
            written += 1
        if last_award is not None and rng.random() < 0.03:
            try:
                admin, when = admins.get(resident.community_id), last_award.created_at + timedelta(days=1)
                if admin is not None:  # through the office's service, so the audit log shows it too
                    reverse_by_admin(admin, last_award.id, resident.community_id, "重复登记，予以冲正", when)
                else:
                    reverse(None, last_award, "重复登记，予以冲正", when)
                rejected = db.session.get(Attendance, int(last_award.source_id))
                rejected.status, rejected.reject_reason = "rejected", "重复登记"
                written += 1
            except InsufficientPoints:
                pass
    for community_id in admins:
        checkpoint(community_id, now)
    return written


def build_activities(now: datetime, *, seed: int = 11) -> int:
    """Teams with members, activities happening today, so `make run` shows the whole check-in
    flow, and one a week for the next three weeks (the residents' sign-ups). Returns the number of activities. The caller commits."""
    import secrets
    from datetime import timedelta

    from pointsapp.core.periods import CHINA
    from pointsapp.volunteering.models import Activity, TeamMember

    rng = random.Random(seed)
    today = now.astimezone(CHINA).replace(minute=0, second=0, microsecond=0)
    made = 0
    for team in db.session.scalars(select(Team).order_by(Team.id)).all():
        lead = db.session.scalar(select(RoleGrant).where(RoleGrant.team_id == team.id))
        creator = lead.user_id if lead else db.session.scalar(
            select(RoleGrant.user_id).where(RoleGrant.community_id == team.community_id,
                                            RoleGrant.role == Role.COMMUNITY_ADMIN))
        residents = db.session.scalars(select(Resident.id).where(Resident.community_id == team.community_id)
                                       .order_by(Resident.id)).all()
        for rid in rng.sample(residents, 12):
            db.session.add(TeamMember(community_id=team.community_id, team_id=team.id, resident_id=rid, joined_at=now))
        plans = {
            "便民": [("楼道广告清理", "3号楼、5号楼楼道", "fixed", 10, None, "check_in", -1, 3, False, None)],
            "安民": [("安全值守", "小区东门岗亭", "hourly", 5, 20, "check_out", -2, 4, False, None)],
            "助民": [("扶老助弱", "社区日间照料中心", "fixed", 15, None, "approval", 1, 3, False, 20)],
            "乐民": [("文明倡导", "社区广场", "fixed", 5, None, "check_in", -3, 9, True, None)],
        }[team.category]
        for kind, place, rule, points, cap, award_on, start_h, hours, poster, capacity in plans:
            starts = (today + timedelta(hours=start_h)).astimezone(now.tzinfo)
            db.session.add(Activity(
                community_id=team.community_id, team_id=team.id, title=f"{team.name[:2]}{kind}", kind=kind,
                place=place, description="", starts_at=starts, ends_at=starts + timedelta(hours=hours),
                checkin_opens_at=starts - timedelta(minutes=30), checkin_closes_at=starts + timedelta(hours=hours, minutes=30),
                capacity=capacity, rule=rule, points=points, hourly_cap=cap, award_on=award_on, allow_poster=poster,
                code_seconds=30, code_salt=secrets.token_hex(8), is_cancelled=False, created_by_id=creator,
                created_at=now))
            made += 1
            for week in range(3):  # and one in each of the next three weeks, to sign up for (报名)
                day = (today + timedelta(days=2 + 7 * week + team.id % 3)).replace(hour=9)
                starts = day.astimezone(now.tzinfo)
                db.session.add(Activity(
                    community_id=team.community_id, team_id=team.id, title=f"{team.name[:2]}{kind}（{day.month}月{day.day}日）",
                    kind=kind, place=place, description="", starts_at=starts, ends_at=starts + timedelta(hours=2),
                    checkin_opens_at=starts - timedelta(minutes=30), checkin_closes_at=starts + timedelta(hours=2, minutes=30),
                    capacity=capacity or (10 if week == 0 else None), rule=rule, points=points, hourly_cap=cap,
                    award_on=award_on, allow_poster=False, code_seconds=30, code_salt=secrets.token_hex(8),
                    is_cancelled=False, created_by_id=creator, created_at=now))
                made += 1
    db.session.flush()
    return made


def build_points_rules(now: datetime) -> int:
    """After build_activities: every community's points rules (ceiling 30, at most 60 points a day and 400 a
    month per resident), and in the first community two records the office's award review shows: a hand record
    by the lead and the lead's own check-in at his activity. Returns the number of held records. The caller
    commits."""
    from pointsapp.volunteering.models import Activity
    from pointsapp.volunteering.services import checkin

    for community in db.session.scalars(select(Community)).all():
        community.award_ceiling, community.earn_cap_day, community.earn_cap_month = 30, 60, 400
    lead = db.session.scalar(select(User).where(User.phone == "13800000002"))
    grant = next((g for g in lead.grants if g.team_id), None) if lead else None
    if grant is None or lead.resident is None:
        return 0
    activity = db.session.scalar(select(Activity).where(Activity.team_id == grant.team_id,
                                                        Activity.starts_at <= now, Activity.ends_at > now)
                                 .order_by(Activity.id))
    if activity is None:
        return 0
    elder = db.session.scalar(select(Resident).where(Resident.community_id == activity.community_id,
                                                     Resident.household_id != lead.resident.household_id,
                                                     Resident.phone == "").order_by(Resident.id))
    held = 0
    if elder is not None:
        checkin.record_manual(lead, elder, activity, activity.starts_at, activity.ends_at, "老人没有手机，现场登记", now)
        held += 1
    checkin.check_in(lead, lead.resident, activity, now, method="lead_scan")
    return held + 1


PRODUCTS = (
    # name, kind, category, price, stock, per week, per month, household per month, barcode
    ("食用油 1.8L", "goods", "粮油", 50, 20, None, 1, 2, "6901234500011"),
    ("大米 5斤", "goods", "粮油", 30, 30, None, 2, None, "6901234500028"),
    ("挂面", "goods", "粮油", 10, 60, 3, None, None, "6901234500035"),
    ("洗衣粉", "goods", "日用品", 20, 25, None, 2, None, "6901234500042"),
    ("香皂", "goods", "日用品", 8, 40, None, None, None, "6901234500059"),
    ("毛巾", "goods", "日用品", 12, 3, None, None, None, "6901234500066"),
    ("理发服务", "service", "社区服务", 15, None, 1, None, None, ""),
    ("家电维修", "service", "社区服务", 25, None, None, 1, None, ""),
)
DEMO_PIN = "2468"


def build_store(now: datetime) -> int:
    """Stock every store with the demo catalogue (logged as opening stock) and give the demo resident
    a card PIN. Returns the number of products. The caller commits."""
    from pointsapp.store.services.catalogue import ProductFields, create_product

    made = 0
    for store in db.session.scalars(select(Store).order_by(Store.id)).all():
        admin = db.session.scalar(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
            RoleGrant.role == Role.COMMUNITY_ADMIN, RoleGrant.community_id == store.community_id))
        for name, kind, category, price, stock, week, month, household, barcode in PRODUCTS:
            create_product(admin, store, ProductFields(name=name, kind=kind, category=category, price=price,
                                                       limit_per_week=week, limit_per_month=month,
                                                       household_limit_per_month=household, barcode=barcode),
                           stock, now)
            made += 1
    demo_resident = db.session.scalar(select(Resident).join(User, User.resident_id == Resident.id)
                                      .where(User.phone == "13800000001"))
    if demo_resident is not None:
        demo_resident.pin_hash = hash_password(DEMO_PIN)
    db.session.flush()
    return made


def build_stars(now: datetime) -> int:
    """A yearly star rule set per community and a draft evaluation of this year. The caller commits."""
    from pointsapp.rankings.services import period_keys
    from pointsapp.recognition.services.stars import create_evaluation, create_rule_set

    made = 0
    for grant in db.session.scalars(select(RoleGrant).where(RoleGrant.role == Role.COMMUNITY_ADMIN)
                                    .order_by(RoleGrant.community_id)).all():
        community = db.session.get(Community, grant.community_id)
        rules = create_rule_set(grant.user, community, "年度星级文明户标准", [30, 60, 100, 150, 200], 0, now)
        year = period_keys(now)[2]
        create_evaluation(grant.user, community, rules, f"{year[1:]}年度星级文明户评定", year, 7, now)
        made += 1
    return made


def build_notices(now: datetime) -> None:
    """After build_stars: in the first community, this year's star evaluation and outstanding building
    leaders on public notice (the board shows them, residents can object) and last month's outstanding
    volunteers published; the other communities keep their draft to walk through. The caller commits."""
    from pointsapp.rankings.services import last_months, period_keys
    from pointsapp.recognition.services import honours
    from pointsapp.recognition.services.stars import start_notice

    grant = db.session.scalars(select(RoleGrant).where(RoleGrant.role == Role.COMMUNITY_ADMIN)
                               .order_by(RoleGrant.community_id)).first()
    if grant is None:
        return
    community = db.session.get(Community, grant.community_id)
    evaluation = db.session.scalar(select(Evaluation).where(Evaluation.community_id == community.id,
                                                            Evaluation.status == "draft"))
    if evaluation is not None:
        start_notice(grant.user, evaluation, now)
    month, year = last_months(now, 2)[0], period_keys(now)[2]
    volunteers = honours.create_list(grant.user, community, "volunteer", f"{int(month[6:])}月优秀志愿者", month,
                                     "top", 10, 3, now - timedelta(days=20))
    honours.start_notice(grant.user, volunteers, now - timedelta(days=20))
    honours.publish(grant.user, volunteers, now - timedelta(days=16))
    leaders = honours.create_list(grant.user, community, "building_leader", f"{year[1:]}年度优秀楼栋长", year,
                                  "top", 5, 7, now)
    honours.start_notice(grant.user, leaders, now)
