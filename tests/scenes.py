"""A community with an entry from every writer of ledger reasons (check-in, the lead's approval and
rejection, the office's award and correction, the counter's checkout and void, expiry): the data the
language tests render. The words a person typed are module constants, so tests can tell data from labels."""
from dataclasses import dataclass
from datetime import timedelta

from pointsapp.core.extensions import db as _db
from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.store.services import catalogue, counter
from pointsapp.volunteering.services import activities, checkin

TITLE, PLACE, PRODUCT = "梨园楼道清理", "3号楼", "挂面"
TYPED_AWARD, TYPED_VOID, TYPED_REJECT, TYPED_FIX, TYPED_SMALL = "好人好事", "顾客退货", "未到场", "重复登记", "补录"
TYPED = [TITLE, PLACE, PRODUCT, TYPED_AWARD, TYPED_VOID, TYPED_REJECT, TYPED_FIX, TYPED_SMALL]


@dataclass
class Scene:
    community: object
    team: object
    lead: object
    admin: object
    clerk: object
    store: object
    user: object  # the resident's login
    activity: object
    entries: list
    receipt: str


def every_kind_of_entry(make, now) -> Scene:
    c = make.community()
    team = make.team(c)
    lead = make.user(name="队长")
    make.grant(lead, "team_lead", c, team=team)
    admin, clerk = make.admin(c), make.clerk(c)
    user = make.resident_user(community=c)
    r = user.resident
    fields = dict(title=TITLE, kind="楼道广告清理", place=PLACE, starts_at=now - timedelta(minutes=30),
                  ends_at=now + timedelta(hours=2), rule="fixed", points=10, award_on="check_in")
    activity = activities.create_activity(lead, team, activities.ActivityFields(**fields), now)
    approval = activities.create_activity(lead, team, activities.ActivityFields(**{
        **fields, "award_on": "approval", "title": TITLE + "2"}), now)
    # lapses below: spending takes the oldest points first, and 100 is more than is spent here
    ledger.post(Posting(r, 100, EntryKind.AWARD, "attendance", "old", "安全值守"), None, now - timedelta(days=800))
    checkin.check_in(user, r, activity, now)
    held = checkin.check_in(user, r, approval, now).attendance
    checkin.approve(lead, approval, [held.id], now)
    checkin.reject(lead, approval, [held.id], TYPED_REJECT, now)
    ledger.manual(admin, r, 50, TYPED_AWARD, "manual-1", now)
    fixed = ledger.manual(admin, r, 5, TYPED_SMALL, "manual-2", now)
    ledger.reverse_by_admin(admin, fixed.id, c.id, TYPED_FIX, now)
    store = clerk.grants[0].store
    product = catalogue.create_product(admin, store, catalogue.ProductFields(name=PRODUCT, kind="goods", price=10),
                                       10, now)
    who = make.identified(clerk, store, r)
    checkout = counter.redeem(clerk, store, who.id, counter.Cart({product.id: 1}), "req-1", now)
    counter.void(clerk, checkout.redemption, TYPED_VOID, now)
    c.points_expire_months = 24
    ledger_audit.expire(c.id, now)
    _db.session.commit()
    entries = _db.session.query(LedgerEntry).filter_by(resident_id=r.id).order_by(LedgerEntry.seq).all()
    return Scene(c, team, lead, admin, clerk, store, user, activity, entries, checkout.redemption.receipt_no)
