"""`flask demo` (what `make run` builds) on both databases: a small demo, through the real command,
then the pages a first visitor opens. A broken demo is the first thing a new user would see."""
from sqlalchemy import func, select

from pointsapp.accounts.models import User
from pointsapp.audit.models import AuditEvent
from pointsapp.catalogue.models import CatalogueItem
from pointsapp.claims.models import Claim, ClaimStatus
from pointsapp.deductions.models import Deduction
from pointsapp.ledger.models import LedgerEntry
from pointsapp.ledger.services import audit as ledger_audit
from pointsapp.recognition.models import Evaluation, HonourList, StarResult
from pointsapp.tree.models import Resident
from pointsapp.volunteering.models import Attendance


def test_the_demo_builds_verifies_and_shows_every_part(app, client, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "--buildings", "3", "--months", "2"])
    assert result.exit_code == 0, result.output
    assert "13800000001" in result.output and "13800000006" in result.output  # the logins are listed

    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Resident)) > 50
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) > 100
    assert ledger_audit.verify().ok
    # the office's corrections went through its service: the audit log has them
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "entry_reversed")) > 0
    statuses = dict(db.session.execute(select(Evaluation.community_id, Evaluation.status)).all())
    assert sorted(statuses.values()) == ["draft", "notice"]  # one to look at, one to walk through
    assert sorted(db.session.scalars(select(HonourList.status))) == ["notice", "published"]
    # the office's award review has a hand record and the lead's own check-in waiting
    assert sorted(db.session.scalars(select(Attendance.hold).where(Attendance.hold != ""))) == ["manual", "self"]

    # 积分细则 and claims in every state, one with a photo sent before; a deduction owed, a veto in the stars
    assert set(db.session.scalars(select(Claim.status))) == {s.value for s in ClaimStatus}
    assert db.session.scalar(select(func.count()).select_from(Claim).where(Claim.has_duplicate_photo)) == 1
    assert db.session.scalar(select(func.sum(Deduction.owed))) > 0
    assert db.session.scalar(select(func.count()).select_from(StarResult).where(StarResult.vetoed)) >= 1
    assert db.session.scalar(select(func.count()).select_from(CatalogueItem).where(CatalogueItem.kind == "deduct")) > 0

    # the hall's board shows this month's leaders, the star notice and the published honours
    board = client.get("/board/1").get_data(as_text=True)
    assert "公示" in board and "月优秀志愿者" in board
    # every demo login works with the documented password
    for phone in ("13800000001", "13800000002", "13800000003", "13800000004", "13800000005", "13800000006"):
        client.post("/logout")
        page = client.post("/login", data={"phone": phone, "password": "demo1234"}, follow_redirects=True)
        assert page.status_code == 200 and "退出登录" in page.get_data(as_text=True), phone
    assert db.session.scalar(select(func.count()).select_from(User).where(User.phone.like("138000000%"))) == 6
    worker = next(line.split()[0] for line in result.output.splitlines() if "grid_worker" in line)
    client.post("/logout")
    queue = client.post("/login", data={"phone": worker, "password": "demo1234"}, follow_redirects=True)
    assert queue.status_code == 200 and "退出登录" in queue.get_data(as_text=True)  # the 网格员 reviews claims

    # a second run leaves the data alone (make run runs it every time)
    again = runner.invoke(args=["demo", "--if-empty"])
    assert again.exit_code == 0 and "not rebuilt" in again.output
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0 and "empty database" in refused.output
