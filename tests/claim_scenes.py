"""Shared set-up for the claims tests: a community with two buildings in one grid, their leaders, a grid worker,
the office, a team with its lead, and catalogue items; photos made with Pillow."""
import io
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageDraw

from pointsapp.catalogue.models import CatalogueItem
from pointsapp.claims import services as claims
from pointsapp.claims.services import ClaimFields


def item(db, scene, **overrides) -> CatalogueItem:
    """A claimable earn item of the scene's community (a first version: lineage = its own id)."""
    fields = dict(community_id=scene.community.id, lineage_id=0, version=1, kind="earn", category="环境卫生",
                  title="楼道广告清理", description="清理楼道里的小广告", points=5, evidence="none",
                  confirmer="building_leader", claimable=True, created_by_id=scene.admin.id, created_at=scene.now,
                  note="")
    fields.update(overrides)
    row = CatalogueItem(**fields)
    db.session.add(row)
    db.session.flush()
    row.lineage_id = row.id
    db.session.flush()
    return row


def photo(seed: int, size=(1600, 1200), quality=90, fmt="JPEG", exif=None) -> bytes:
    """A picture of coloured shapes, the same for the same seed (re-saved at another size or quality it hashes
    alike; another seed gives another picture)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (800, 600), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(700), rng.randrange(500)
        draw.rectangle((x, y, x + rng.randrange(50, 300), y + rng.randrange(50, 300)),
                       fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = image.resize(size)
    out = io.BytesIO()
    kwargs = {"quality": quality} if fmt == "JPEG" else {}
    if exif is not None:
        kwargs["exif"] = exif
    image.save(out, fmt, **kwargs)
    return out.getvalue()


@dataclass
class Scene:
    now: datetime
    community: object
    grid: object
    b1: object
    b2: object
    claimant: object  # a resident's user in b1
    spouse: object  # her household's other member (a user)
    witness: object  # a neighbour in b1 (a user)
    leader: object  # 楼栋长 of b1 (a user, lives in b1)
    other_leader: object  # 楼栋长 of b2
    grid_worker: object  # the user whose phone is the grid's worker phone
    admin: object
    lead: object  # lead of `team`
    team: object
    make: object

    def fields(self, item_id, **overrides) -> ClaimFields:
        values = dict(item_id=item_id, occurred_at=self.now - timedelta(hours=3), place="3号楼1单元",
                      description="清理了楼道里的小广告")
        values.update(overrides)
        return ClaimFields(**values)

    def file(self, it, actor=None, resident=None, request_key=None, **overrides):
        return claims.file_claim(actor or self.claimant, resident or self.claimant.resident,
                                 self.fields(overrides.pop("item_id", it.id), **overrides), self.now,
                                 request_key=request_key)


def build_scene(make, db, now) -> Scene:
    community = make.community("梨园社区")
    grid = make.grid(community)
    b1 = make.building(community, "3号楼", grid=grid)
    b2 = make.building(community, "5号楼", grid=grid)
    home = make.household(building=b1, room="301")
    claimant = make.resident_user(household=home)
    spouse = make.resident_user(household=home)
    witness = make.resident_user(household=make.household(building=b1, room="302"))
    leader = make.resident_user(household=make.household(building=b1, room="101"))
    other_leader = make.resident_user(household=make.household(building=b2, room="101"))
    b1.leader_id, b2.leader_id = leader.resident_id, other_leader.resident_id
    grid_worker = make.user(name="网格员")
    grid.worker_phone, grid.worker_name = grid_worker.phone, "网格员"
    admin = make.admin(community)
    team = make.team(community)
    lead = make.user(name="队长")
    make.grant(lead, "team_lead", community, team=team)
    db.session.flush()
    return Scene(now, community, grid, b1, b2, claimant, spouse, witness, leader, other_leader, grid_worker, admin,
                 lead, team, make)
