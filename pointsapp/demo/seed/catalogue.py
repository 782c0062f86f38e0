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
    image = Image.new("RGB", size, tuple(rng.randint(170, 235) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, int(h * .72), w, h), fill=tuple(rng.randint(90, 150) for _ in range(3)))  # the floor
    for _ in range(rng.randint(4, 9)):  # notices, windows, a door …
        x, y = rng.randint(0, w - 200), rng.randint(0, int(h * .6))
        draw.rectangle((x, y, x + rng.randint(80, 420), y + rng.randint(60, 360)),
                       fill=tuple(rng.randint(0, 255) for _ in range(3)), outline=(40, 40, 40), width=6)
    for _ in range(rng.randint(1, 3)):
        x = rng.randint(0, w - 160)
        draw.ellipse((x, int(h * .62), x + 160, int(h * .62) + 160), fill=tuple(rng.randint(0, 120) for _ in range(3)))
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
