"""Certificates printed before their list is published say so on every page (issue 12, item 5).

While a star evaluation or an honour list is a draft or on public notice (公示), each certificate carries a
line at its head and a large diagonal mark (草稿 · 公示期间 未生效); once published, neither. How the mark
looks on paper is checked in tests/browser/test_certificates_print.py."""
import re
from datetime import timedelta

import pytest

from pointsapp.ledger.models import EntryKind
from pointsapp.ledger.services import posting as ledger
from pointsapp.rankings.services import period_keys
from pointsapp.recognition.services import honours, stars

NOTICE_MARK = "草稿 · 公示期间 未生效"
DRAFT_MARK = "草稿 · 未发布 未生效"


def certificates(html: str) -> list[str]:
    return re.findall(r'<section class="cert">(.*?)</section>', html, re.S)


def marked(cert: str) -> bool:
    return 'class="draft-mark"' in cert and 'class="cert-draft"' in cert and "草稿" in cert


@pytest.fixture
def place(make, db, now):
    c = make.community()
    admin = make.admin(c)
    b = make.building(c, "3号楼")
    people = [make.resident(make.household(building=b, unit="1", room=str(101 + i)), name=f"户主{i}") for i in range(3)]
    b.leader_id = people[0].id
    for i, person in enumerate(people):
        ledger.post(ledger.Posting(person, 30 * (i + 1), EntryKind.AWARD, "manual", f"d{person.id}", "好人好事"), None, now)
    db.session.commit()
    return c, admin


def test_star_certificates_carry_the_draft_mark_on_every_page_until_published(client, login, db, place, now):
    c, admin = place
    rules = stars.create_rule_set(admin, c, "年度星级", [10, 20, 40, 80, 100], 0, now)
    e = stars.create_evaluation(admin, c, rules, "2026年度星级文明户", period_keys(now)[2], 7, now)
    db.session.commit()
    login(client, admin)
    url = f"/admin/c/{c.id}/stars/{e.id}/certificates"

    draft = certificates(client.get(url).get_data(as_text=True))
    assert len(draft) == 3 and all(marked(cert) and DRAFT_MARK in cert for cert in draft)

    stars.start_notice(admin, e, now)
    db.session.commit()
    on_notice = certificates(client.get(url).get_data(as_text=True))
    assert len(on_notice) == 3 and all(marked(cert) and NOTICE_MARK in cert for cert in on_notice)
    assert all((now + timedelta(days=7)).strftime("%Y-") in cert for cert in on_notice)  # says until when

    stars.publish(admin, e, now + timedelta(days=8))
    db.session.commit()
    published = certificates(client.get(url).get_data(as_text=True))
    assert len(published) == 3 and not any("草稿" in cert or "draft-mark" in cert for cert in published)


def test_honour_certificates_carry_the_draft_mark_on_every_page_until_published(client, login, db, place, now):
    c, admin = place
    h = honours.create_list(admin, c, "volunteer", "优秀志愿者", period_keys(now)[2], "top", 3, 3, now)
    honours.start_notice(admin, h, now)
    db.session.commit()
    login(client, admin)
    url = f"/admin/c/{c.id}/honours/{h.id}/certificates"

    on_notice = certificates(client.get(url).get_data(as_text=True))
    assert len(on_notice) == 3 and all(marked(cert) and NOTICE_MARK in cert for cert in on_notice)

    honours.publish(admin, h, now + timedelta(days=3))
    db.session.commit()
    published = certificates(client.get(url).get_data(as_text=True))
    assert len(published) == 3 and not any("草稿" in cert or "draft-mark" in cert for cert in published)
