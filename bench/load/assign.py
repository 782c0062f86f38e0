"""Who each simulated client is, so that clients do not queue on one account and no check-in repeats.

Client w works in community communities[w % C]. Checkout: client w is a clerk of that store (its own clerk
login: the counter's session holds one identification) serving its own resident (one resident per client; with
hot_spot every client serves the same one). Check-in: an attendance is unique per (activity, resident), so each
measurement has a `slot` of its own and client w walks the activities of its community as one resident (app:
a resident with a login, `login_offset` + w // C of the community's logins; baselines: the residents without a
login are split into `slots` equal parts, the slot's part into one block per client of the community, and the
client moves to its block's next resident when the activities run out).
"""
from __future__ import annotations

from dataclasses import dataclass

from city import Manifest

MAX_CLIENTS = 64


@dataclass
class Assign:
    manifest: Manifest
    slot: int = 0  # unique per check-in measurement
    slots: int = 1  # how many there are in the whole run
    login_offset: int = 0  # app check-in: first login of this measurement in each community
    hot_spot: bool = False
    clients: int = MAX_CLIENTS  # of this measurement

    def community(self, w: int) -> int:
        cs = self.manifest.communities
        return cs[w % len(cs)]

    def _others(self, c: int) -> tuple[int, int]:
        first, last = self.manifest.others[c]
        return first, last - first + 1

    def checkout_resident(self, w: int) -> tuple[int, int]:
        c = self.community(0 if self.hot_spot else w)
        first, count = self._others(c)
        return c, first + (0 if self.hot_spot else (w // len(self.manifest.communities)) % count)

    def clerk(self, w: int) -> list:
        c = self.community(w)
        clerks = self.manifest.clerks[c]
        return clerks[(w // len(self.manifest.communities)) % len(clerks)]

    def lead(self, c: int) -> int:
        return self.manifest.leads[c][0][0]

    def checkin_pair(self, w: int, j: int) -> tuple[int, int, int]:
        """(community, resident, activity) for client w's j-th check-in (baselines)."""
        c = self.community(w)
        acts = self.manifest.activities[c]
        first, count = self._others(c)
        per_slot = max(1, count // max(1, self.slots))
        per_community = -(-self.clients // len(self.manifest.communities))
        block = max(1, per_slot // per_community)
        base = (self.slot % max(1, self.slots)) * per_slot + (w // len(self.manifest.communities)) * block
        resident = first + (base + (j // len(acts)) % block) % count
        return c, resident, acts[j % len(acts)][0]

    def login(self, w: int) -> list:
        """[resident id, phone, user id] of the resident client w logs in as (app)."""
        c = self.community(w)
        logins = self.manifest.logins[c]
        return logins[(self.login_offset + w // len(self.manifest.communities)) % len(logins)]
