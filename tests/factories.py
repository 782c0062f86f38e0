"""Small builders for test data; they write through the models and flush (tests commit when needed)."""
from dataclasses import dataclass
from datetime import datetime
from itertools import count

from flask import current_app

from pointsapp.accounts.models import Role, RoleGrant, User
from pointsapp.core.passwords import hash_password
from pointsapp.store.models import Store
from pointsapp.tree.models import Building, Community, Grid, Household, Resident, Subdistrict
from pointsapp.volunteering.models import Team
from pointsapp.volunteering.services import codes

PASSWORD = "secret-pass"  # hashed with the app's method: pbkdf2:sha256:1000 in the suite, a fraction of a ms
_seq = count(1)


@dataclass
class Factory:
    db: object
    now: datetime

    def _add(self, obj):
        self.db.session.add(obj)
        self.db.session.flush()
        return obj

    def subdistrict(self, name=None):
        return self._add(Subdistrict(name=name or f"街道{next(_seq)}", city="莱阳市"))

    def community(self, name=None, subdistrict=None):
        sub = subdistrict or self.subdistrict()
        return self._add(Community(subdistrict_id=sub.id, name=name or f"社区{next(_seq)}", address="", phone=""))

    def grid(self, community, name=None):
        return self._add(Grid(community_id=community.id, name=name or f"第{next(_seq)}网格", worker_name="",
                              worker_phone=""))

    def building(self, community, name=None, grid=None):
        return self._add(Building(community_id=community.id, name=name or f"{next(_seq)}栋",
                                  grid_id=grid.id if grid else None))

    def household(self, community=None, building=None, unit="1", room=None):
        if building is None:
            building = self.building(community or self.community())
        return self._add(Household(community_id=building.community_id, building_id=building.id, unit=unit,
                                   room=room or str(100 + next(_seq)), note=""))

    def resident(self, household=None, name=None, phone="", community=None):
        household = household or self.household(community)
        return self._add(Resident(community_id=household.community_id, household_id=household.id,
                                  name=name or f"居民{next(_seq)}", relation="户主", phone=phone, id_tail="",
                                  created_at=self.now))

    def phone(self) -> str:
        return f"139{next(_seq):08d}"

    def user(self, name="测试用户", resident=None, password=True):
        return self._add(User(phone=resident.phone if resident and resident.phone else self.phone(), name=name,
                              password_hash=hash_password(PASSWORD) if password else None, created_at=self.now,
                              resident_id=resident.id if resident else None))

    def team(self, community, name=None):
        return self._add(Team(community_id=community.id, name=name or f"队{next(_seq)}", category="便民"))

    def store(self, community, name=None):
        return self._add(Store(community_id=community.id, name=name or f"超市{next(_seq)}", address=""))

    def grant(self, user, role, community=None, team=None, store=None):
        return self._add(RoleGrant(user_id=user.id, role=role, community_id=community.id if community else None,
                                   team_id=team.id if team else None, store_id=store.id if store else None,
                                   granted_at=self.now))

    def resident_user(self, community=None, household=None):
        household = household or self.household(community)
        resident = self.resident(household, phone=self.phone())
        return self.user(name=resident.name, resident=resident)

    def admin(self, community):
        user = self.user(name="社区管理员")
        self.grant(user, Role.COMMUNITY_ADMIN, community)
        return user

    def city_admin(self):
        user = self.user(name="市级管理员")
        self.grant(user, Role.CITY_ADMIN)
        return user

    def team_lead(self, community):
        user = self.user(name="队长")
        self.grant(user, Role.TEAM_LEAD, community, team=self.team(community))
        return user

    def identified(self, clerk, store, resident, now=None):
        """The resident identified at the store's counter by the phone's member code: the record a checkout
        names (and uses up)."""
        from pointsapp.store.services import identification

        now = now or self.now
        code = codes.member_phone_code(current_app.secret_key, resident, now)
        return identification.identify_by_code(clerk, store, current_app.secret_key, code, None, now)

    def clerk(self, community):
        user = self.user(name="店员")
        self.grant(user, Role.CLERK, community, store=self.store(community))
        return user
