"""The office's catalogue reports on a hand-built data set: every number checked, on the page's service and in
the XLSX read back; the statements stay the same whatever the amount of data."""
import io
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from openpyxl import load_workbook

from pointsapp.catalogue.models import CatalogueItem
from pointsapp.claims.models import Claim
from pointsapp.core.errors import PermissionDenied
from pointsapp.deductions.models import Deduction
from pointsapp.ledger.models import EntryKind, LedgerEntry
from pointsapp.ledger.services import posting as ledger
from pointsapp.ledger.services.posting import Posting
from pointsapp.reports import services as reports
from pointsapp.volunteering.services import activities, checkin
from tests.querycount import count_queries

MONTHS = ["2026-10", "2026-11"]
_keys = count(1)


def at(month, day, hour=0):
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Data:
    """Builds catalogue items, claims, deductions and ledger entries through the models."""

    def __init__(self, make, db, c, admin):
        self.make, self.db, self.c, self.admin = make, db, c, admin

    def item(self, title, category, kind="earn", lineage=None, version=1, superseded_at=None, points=5):
        row = CatalogueItem(community_id=self.c.id, lineage_id=lineage or 0, version=version, kind=kind,
                            category=category, title=title, points=points, created_by_id=self.admin.id,
                            created_at=at(1, 1), superseded_at=superseded_at)
        self.db.session.add(row)
        self.db.session.flush()
        if lineage is None:
            row.lineage_id = row.id
            self.db.session.flush()
        return row

    def claim(self, resident, item, status, created, hours=None, reviewer=None, points=5):
        decided = created + timedelta(hours=hours) if hours is not None else None
        row = Claim(community_id=self.c.id, resident_id=resident.id, item_id=item.id, lineage_id=item.lineage_id,
                    filed_by_id=self.admin.id, occurred_at=created, points=points, status=status,
                    submitted_at=created, created_at=created, reviewer_id=reviewer.id if reviewer else None,
                    decided_at=decided)
        self.db.session.add(row)
        self.db.session.flush()
        if status == "approved":
            row.entry_id = ledger.post(Posting(resident, points, EntryKind.AWARD, "claim", f"claim:{row.id}",
                                               source_id=str(row.id)), reviewer, decided).id
        return row

    def deduction(self, resident, item, points, when):
        row = Deduction(community_id=self.c.id, item_id=item.id, household_id=resident.household_id,
                        resident_id=resident.id, points=points, taken=points, owed=0, occurred_at=when,
                        reason="高空抛物", request_key=f"d{next(_keys)}", created_by_id=self.admin.id,
                        created_at=when)
        self.db.session.add(row)
        self.db.session.flush()
        ledger.post(Posting(resident, -points, EntryKind.DEDUCTION, "deduction", f"deduction:{row.id}",
                            source_id=str(row.id)), self.admin, when)
        return row


@pytest.fixture
def data(make, db, now):
    """October and November 2026 (the range), September outside it. See each test for the figures."""
    c = make.community()
    admin = make.admin(c)
    r1, r2 = make.user(name="楼栋长老李"), make.user(name="网格员小王")
    d = Data(make, db, c, admin)
    worker = make.resident(community=c, name="张小明")
    old = d.item("楼道广告清理", "环境整治", superseded_at=at(11, 1))
    new = d.item("楼道广告清理（每周）", "环境卫生", lineage=old.lineage_id, version=2)
    formula = d.item("=1+1", "邻里互助", points=3)
    sorting = d.item("垃圾分类", "环境卫生", points=7)
    throwing = d.item("高空抛物", "文明行为", kind="deduct", points=4)
    # lineage 楼道广告清理: 6 claims in the range (2 approved, 1 rejected, 1 withdrawn, 2 open) and 1 in September
    c1 = d.claim(worker, old, "approved", at(10, 10), hours=2, reviewer=r1)
    c2 = d.claim(worker, new, "approved", at(11, 2), hours=4, reviewer=r1)
    d.claim(worker, new, "rejected", at(11, 3), hours=10, reviewer=r2)
    d.claim(worker, new, "withdrawn", at(11, 4))
    d.claim(worker, new, "pending", at(11, 4))
    d.claim(worker, new, "more_info", at(11, 5))
    d.claim(worker, old, "approved", at(9, 5), hours=1, reviewer=r2)
    # lineage "=1+1": 2 approved
    d.claim(worker, formula, "approved", at(11, 5), hours=5, reviewer=r2, points=3)
    d.claim(worker, formula, "approved", at(11, 6), hours=3, reviewer=r2, points=3)
    # an activity following 垃圾分类 (7 points, November) and one with its own rule (4 points, October)
    lead = make.team_lead(c)
    team = lead.grants[0].team
    volunteer = make.resident_user(community=c)
    follows = activities.create_activity(lead, team, activities.ActivityFields(
        title="垃圾分类督导", kind="垃圾分类督导", place="", starts_at=at(11, 20), ends_at=at(11, 20, 2), points=7),
        at(11, 1))
    follows.catalogue_item_id = sorting.id
    own = activities.create_activity(lead, team, activities.ActivityFields(
        title="安全值守", kind="安全值守", place="", starts_at=at(10, 20), ends_at=at(10, 20, 2), points=4),
        at(10, 1))
    db.session.flush()
    checkin.check_in(volunteer, volunteer.resident, follows, at(11, 20, 1))
    checkin.check_in(volunteer, volunteer.resident, own, at(10, 20, 1))
    # a deduction of 4 (November), a manual award of 6, a spend of 3 (not in the table), c2's award reversed
    d.deduction(worker, throwing, 4, at(11, 8))
    ledger.post(Posting(worker, 6, EntryKind.MANUAL_AWARD, "manual", "m1", "表扬"), admin, at(11, 9))
    ledger.post(Posting(worker, -3, EntryKind.REDEMPTION, "redemption", "r1"), None, at(11, 10))
    ledger.reverse(admin, db.session.get(LedgerEntry, c2.entry_id), "重复申报", at(11, 12))
    # another community's claims and points count nowhere here
    elsewhere = make.community()
    d2 = Data(make, db, elsewhere, make.admin(elsewhere))
    stranger = make.resident(community=elsewhere)
    d2.claim(stranger, d2.item("楼道广告清理", "环境卫生"), "approved", at(11, 2), hours=1, reviewer=r1)
    db.session.commit()
    return {"c": c, "admin": admin, "r1": r1, "r2": r2, "old": old, "formula": formula, "c1": c1, "d": d,
            "worker": worker}


def test_claims_per_item_count_every_state_and_time_to_decision(data):
    report = reports.build(data["admin"], data["c"].id, MONTHS)
    rows = {r.title: r for r in report.items}
    assert list(rows) == ["楼道广告清理（每周）", "=1+1"]  # the current version's title; the busiest first
    lane = rows["楼道广告清理（每周）"]
    assert (lane.lineage_id, lane.category) == (data["old"].lineage_id, "环境卫生")
    assert (lane.filed, lane.approved, lane.rejected, lane.withdrawn, lane.open) == (6, 2, 1, 1, 2)
    assert lane.approval_rate == pytest.approx(2 / 3)
    assert lane.median_hours == pytest.approx(4)  # of 2, 4, 10
    assert lane.p90_hours == pytest.approx(8.8)  # 4 + 0.8 × (10 − 4)
    eq = rows["=1+1"]
    assert (eq.filed, eq.approved, eq.rejected, eq.withdrawn, eq.open, eq.approval_rate) == (2, 2, 0, 0, 0, 1.0)
    assert eq.median_hours == pytest.approx(4) and eq.p90_hours == pytest.approx(4.8)  # of 3, 5


def test_claims_per_reviewer_count_decisions_made_in_the_range(data):
    report = reports.build(data["admin"], data["c"].id, MONTHS)
    assert [(r.name, r.decided, r.approved, r.rejected, r.median_hours) for r in report.reviewers] == [
        ("网格员小王", 3, 2, 1, pytest.approx(5)),  # 10 h, 5 h, 3 h (September's decision is outside)
        ("楼栋长老李", 2, 2, 0, pytest.approx(3))]  # 2 h, 4 h (another community's decision is not here)


def test_points_by_category_per_month(data):
    report = reports.build(data["admin"], data["c"].id, MONTHS)
    assert [(r.kind, r.category, r.by_month, r.total) for r in report.categories] == [
        (reports.CATEGORY, "环境卫生", [0, 7], 7),  # claim 5, activity 7, the claim's award reversed −5
        (reports.CATEGORY, "邻里互助", [0, 6], 6),
        (reports.CATEGORY, "环境整治", [5, 0], 5),  # the category of the version claimed under
        (reports.CATEGORY, "文明行为", [0, -4], -4),  # a deduction
        (reports.OWN_RULES, "", [4, 0], 4),
        (reports.MANUAL, "", [0, 6], 6)]


def test_a_month_is_counted_in_china_time(data):
    worker = data["worker"]
    last_second = datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on 31 October in China
    ledger.post(Posting(worker, 1, EntryKind.MANUAL_AWARD, "manual", "edge1", "x"), data["admin"], last_second)
    ledger.post(Posting(worker, 10, EntryKind.MANUAL_AWARD, "manual", "edge2", "x"),
                data["admin"], last_second + timedelta(seconds=1))
    ledger.post(Posting(worker, 100, EntryKind.MANUAL_AWARD, "manual", "edge3", "x"), data["admin"],
                datetime(2026, 9, 30, 16, 0, tzinfo=UTC))  # 1 October 00:00 in China
    ledger.post(Posting(worker, 1000, EntryKind.MANUAL_AWARD, "manual", "edge4", "x"), data["admin"],
                datetime(2026, 9, 30, 15, 59, tzinfo=UTC))  # still September in China
    manual = next(r for r in reports.build(data["admin"], data["c"].id, MONTHS).categories
                  if r.kind == reports.MANUAL)
    assert manual.by_month == [101, 16]


def test_only_the_office_reads_the_reports(data, make):
    for who in (make.admin(make.community()), make.resident_user(community=data["c"])):
        with pytest.raises(PermissionDenied):
            reports.build(who, data["c"].id, MONTHS)


def test_the_default_range_is_the_last_six_months_in_china_time():
    moment = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 1 December in China
    assert reports.month_range(None, None, moment) == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11",
                                                       "2026-12"]
    assert reports.month_range("2026-10", "2026-11", moment) == MONTHS


def test_the_page_shows_the_three_tables(data, client, login):
    login(client, data["admin"])
    page = client.get(f"/admin/c/{data['c'].id}/reports?from=2026-10&to=2026-11").get_data(as_text=True)
    for text in ("楼道广告清理（每周）", "=1+1", "67%", "8.8", "网格员小王", "环境整治", "文明行为", "-4"):
        assert text in page
    assert client.get(f"/admin/c/{data['c'].id}/reports").status_code == 200  # the last six months
    refused = client.get(f"/admin/c/{data['c'].id}/reports?from=2026-13&to=2026-11",
                         follow_redirects=True)
    assert refused.status_code == 200 and "flash error" in refused.get_data(as_text=True)
    too_long = client.get(f"/admin/c/{data['c'].id}/reports?from=2020-01&to=2026-11",
                          follow_redirects=True)
    assert "flash error" in too_long.get_data(as_text=True)


def read_back(response):
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    return load_workbook(io.BytesIO(response.data))


def test_the_xlsx_holds_the_same_three_tables_with_headers_in_the_readers_language(data, client, login):
    login(client, data["admin"])
    url = f"/admin/c/{data['c'].id}/reports.xlsx?from=2026-10&to=2026-11"
    book = read_back(client.get(url))
    assert book.sheetnames == ["按项目的申报", "按审核人的申报", "按类别的积分"]
    items = [[cell.value for cell in row] for row in book["按项目的申报"].iter_rows()]
    assert items[0] == ["积分细则项目", "类别", "申报", "通过", "驳回", "已撤回", "待处理", "通过率", "处理时长中位数（小时）",
                        "处理时长第90百分位（小时）"]
    assert items[1] == ["楼道广告清理（每周）", "环境卫生", 6, 2, 1, 1, 2, 0.6667, 4, 8.8]
    assert items[2] == ["'=1+1", "邻里互助", 2, 2, 0, 0, 0, 1, 4, 4.8]
    cell = book["按项目的申报"]["A3"]
    assert cell.data_type == "s"  # text, never a formula
    reviewers = [[cell.value for cell in row] for row in book["按审核人的申报"].iter_rows()]
    assert reviewers == [["审核人", "已处理", "通过", "驳回", "处理时长中位数（小时）"], ["网格员小王", 3, 2, 1, 5],
                         ["楼栋长老李", 2, 2, 0, 3]]
    categories = [[cell.value for cell in row] for row in book["按类别的积分"].iter_rows()]
    assert categories == [["类别", "2026年10月", "2026年11月", "合计"], ["环境卫生", 0, 7, 7], ["邻里互助", 0, 6, 6],
                          ["环境整治", 5, 0, 5], ["文明行为", 0, -4, -4], ["活动（自定规则）", 4, 0, 4],
                          ["手动奖励", 0, 6, 6]]
    client.post("/lang/en", data={"next": "/"})
    book = read_back(client.get(url))
    assert book.sheetnames == ["Claims by item", "Claims by reviewer", "Points by category"]
    assert book["Points by category"]["A1"].value == "Category"
    assert book["Points by category"]["B1"].value == "October 2026"
    assert book["Points by category"]["A6"].value == "Activities (own rules)"


def test_the_download_is_recorded_in_the_audit_log(data, client, login, db):
    from sqlalchemy import select

    from pointsapp.audit.models import AuditEvent
    login(client, data["admin"])
    client.get(f"/admin/c/{data['c'].id}/reports.xlsx")
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.community_id == data["c"].id,
                                                              AuditEvent.action == "data_exported")).all()


def test_the_statements_do_not_grow_with_the_data(data, client, login, make, db):
    c, d = data["c"], data["d"]
    login(client, data["admin"])

    def statements():
        with count_queries() as log:
            assert client.get(f"/admin/c/{c.id}/reports?from=2026-10&to=2026-11").status_code == 200
            assert client.get(f"/admin/c/{c.id}/reports.xlsx?from=2026-10&to=2026-11").status_code == 200
        return log.count

    few = statements()
    reviewers = [make.user(name=f"审核人{i}") for i in range(4)]
    for i in range(6):
        item = d.item(f"扶老助弱{i}", f"类别{i % 3}")
        for j, reviewer in enumerate(reviewers):
            d.claim(data["worker"], item, "approved" if j % 2 else "rejected", at(11, 1 + i, j), hours=j + 1,
                    reviewer=reviewer)
    db.session.commit()
    assert statements() == few


def test_the_claims_and_deductions_services_feed_the_reports_and_the_group_boards(make, db, now):
    """End to end through the other features' services: a claim filed and approved, a deduction recorded."""
    from pointsapp.claims import services as claims
    from pointsapp.deductions import services as deductions
    from pointsapp.groups import services as groups

    c = make.community()
    admin = make.admin(c)
    d = Data(make, db, c, admin)
    earn_item = d.item("扶老助弱", "邻里互助", points=5)
    deduct_item = d.item("乱堆乱放", "文明行为", kind="deduct", points=4)
    neighbour = make.resident_user(community=c)
    claim = claims.file_claim(neighbour, neighbour.resident, claims.ClaimFields(item_id=earn_item.id,
                                                                                occurred_at=now), now)
    claims.approve(admin, claim, now + timedelta(hours=3))
    deductions.record_deduction(admin, deduct_item, resident=neighbour.resident, occurred_at=now, reason="楼道堆物",
                                evidence=None, request_key="e2e-1", now=now + timedelta(hours=4))
    branch = groups.create_group(admin, c, "第一党支部", "party_branch", now)
    groups.add_members(admin, branch, [neighbour.resident], now)
    report = reports.build(admin, c.id, ["2026-11"])
    assert [(r.title, r.filed, r.approved, r.median_hours) for r in report.items] == [("扶老助弱", 1, 1, 3.0)]
    assert [(r.name, r.decided) for r in report.reviewers] == [(admin.name, 1)]
    assert [(r.category, r.by_month) for r in report.categories] == [("邻里互助", [5]), ("文明行为", [-4])]
    # the deduction counts against her earning (the catalogue says so by default): the group has 5 − 4
    assert [(p.group_name, p.total) for p in groups.group_board(c.id, "M2026-11")] == [("第一党支部", 1)]
