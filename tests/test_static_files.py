"""Static files under versioned URLs (issue 13): every link a page makes to a static file carries the hash of
the file's content (`?v=`), such a request is cached for a year (`immutable`), anything else briefly; the
version follows the content; the security headers stay (core/static_files.py)."""
import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import url_for

from pointsapp.core import static_files
from pointsapp.core.security_headers import CSP
from pointsapp.store.services import catalogue
from pointsapp.volunteering.services import activities, codes

ROOT = Path(__file__).resolve().parent.parent
STATIC, TEMPLATES = ROOT / "static", ROOT / "templates"
LINK = re.compile(r'(?:src|href)="([^"]*/static/[^"]*)"')
YEAR = "public, max-age=31536000, immutable"
SHORT = "public, max-age=600"
SECRET = "test-secret"


def _hash(relative: str) -> str:
    return hashlib.sha256((STATIC / relative).read_bytes()).hexdigest()[:12]


def _fetch(client, url, **kwargs):
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()  # a static file is served from an open file
    return response


@pytest.fixture
def pages(make, db, now):
    """path -> the user who opens it (None: nobody logged in): pages that link every kind of static file
    (base.html's css and js, the board's own, the counter's, the scanner's vendored library, a receipt's)."""
    c = make.community()
    clerk = make.clerk(c)
    store = clerk.grants[0].store
    admin = make.admin(c)
    lead = make.team_lead(c)
    resident = make.resident_user(community=c)
    a = activities.create_activity(lead, lead.grants[0].team, activities.ActivityFields(
        title="楼道清理", kind=activities.labels(c.id, "activity_kind")[0], place="", starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1), award_on="check_in"), now)
    catalogue.create_product(admin, store, catalogue.ProductFields(name="花生油", kind="goods", price=5), 10, now)
    member_code = codes.member_phone_code(SECRET, resident.resident, now)
    db.session.commit()
    counter = f"/store/{store.id}/counter"
    return {"/login": (None, None), f"/board/{c.id}": (None, None), "/": (resident, None), "/me/code": (resident, None),
            counter + "?q=": (clerk, None),  # the identify page
            counter: (clerk, {"code": member_code}),  # the counter, once the resident is identified
            f"/lead/activities/{a.id}": (lead, None), f"/lead/activities/{a.id}/screen": (lead, None),
            f"/c/{codes.checkin_code(SECRET, a, None)}": (None, None)}


def test_every_static_link_on_the_pages_is_versioned_by_the_files_content(app, pages, login):
    seen = set()
    for path, (user, form) in pages.items():
        client = app.test_client()
        if user is not None:
            login(client, user)
        page = client.post(path, data=form, follow_redirects=True) if form else client.get(path, follow_redirects=True)
        assert page.status_code in (200, 400), path  # 400: the poster code of an activity that allows none
        links = LINK.findall(page.get_data(as_text=True))
        assert links or path.startswith("/c/"), f"{path} links no static file"
        for link in links:
            link = link.replace("&amp;", "&")
            match = re.fullmatch(r"/static/([^?]+)\?v=([0-9a-f]{12})", link)
            assert match, f"{path}: unversioned static link {link}"
            assert match.group(2) == _hash(match.group(1)), f"{path}: {link} is not the hash of the file"
            seen.add(match.group(1))
    # the pages above link each kind: base.html's, a page's own stylesheet and script, the vendored scanner
    assert {"css/app.css", "js/app.js", "js/board.js", "js/counter.js", "js/scan.js", "js/screen.js",
            "vendor/html5-qrcode/html5-qrcode.min.js"} <= seen, seen


def test_a_receipt_links_its_paper_widths_stylesheet_by_version(app, make, db, now, login):
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.store.services import counter

    c = make.community()
    clerk, admin = make.clerk(c), make.admin(c)
    store = clerk.grants[0].store
    product = catalogue.create_product(admin, store, catalogue.ProductFields(name="大米", kind="goods", price=5), 10, now)
    resident = make.resident(community=c)
    ledger.manual(admin, resident, 50, "志愿服务", "seed", now - timedelta(days=1))
    who = make.identified(clerk, store, resident)
    done = counter.redeem(clerk, store, who.id, counter.Cart({product.id: 1}), "r-1", now)
    db.session.commit()
    client = login(app.test_client(), clerk)
    for width in ("58", "80"):
        html = client.get(f"/store/{store.id}/receipts/{done.redemption.id}?w={width}").get_data(as_text=True)
        assert f"/static/css/receipt-{width}.css?v={_hash(f'css/receipt-{width}.css')}" in html


def test_a_versioned_file_is_cached_for_a_year_and_anything_else_briefly(client):
    version = _hash("css/app.css")
    current = _fetch(client, f"/static/css/app.css?v={version}")
    assert current.status_code == 200
    assert current.headers["Cache-Control"] == YEAR
    assert current.get_data() == (STATIC / "css/app.css").read_bytes()
    for url in ("/static/css/app.css",  # no version: may change under the same URL
                "/static/css/app.css?v=0123456789ab",  # a page cached from before a deploy names an old one
                "/static/css/app.css?v="):
        response = _fetch(client, url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == SHORT, url
    # a revalidation of the current version keeps the year
    again = _fetch(client, f"/static/css/app.css?v={version}")
    repeat = _fetch(client, f"/static/css/app.css?v={version}", headers={"If-None-Match": again.headers["ETag"]})
    assert repeat.status_code == 304 and repeat.headers["Cache-Control"] == YEAR
    missing = _fetch(client, "/static/css/none.css?v=0123456789ab")
    assert missing.status_code == 404 and "immutable" not in missing.headers.get("Cache-Control", "")


def test_static_files_keep_the_security_headers(client):
    response = _fetch(client, f"/static/js/app.js?v={_hash('js/app.js')}")
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith(CSP.split("'nonce-")[0]) and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_version_follows_the_content(tmp_path):
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "a.css"
    sheet.write_text("body { color: red }")
    first = static_files.StaticVersions(str(tmp_path)).of("css/a.css")
    assert first == hashlib.sha256(b"body { color: red }").hexdigest()[:12]

    sheet.write_text("body { color: blue }")
    production = static_files.StaticVersions(str(tmp_path))  # a new process (a deploy restarts the workers)
    assert production.of("css/a.css") == hashlib.sha256(b"body { color: blue }").hexdigest()[:12] != first
    sheet.write_text("body { color: green; }")
    assert production.of("css/a.css") != first  # hashed once per process: unchanged until the restart
    assert production.of("css/a.css") == hashlib.sha256(b"body { color: blue }").hexdigest()[:12]

    debug = static_files.StaticVersions(str(tmp_path), follow_changes=True)  # flask run --debug
    assert debug.of("css/a.css") == hashlib.sha256(b"body { color: green; }").hexdigest()[:12]
    sheet.write_text("body { color: black; margin: 0 }")
    assert debug.of("css/a.css") == hashlib.sha256(b"body { color: black; margin: 0 }").hexdigest()[:12]

    for name in ("css/none.css", "../secret", "/etc/passwd", "css", "", None):
        assert production.of(name) is None, name


def test_url_for_static_adds_the_version_and_keeps_one_given(app):
    with app.test_request_context():
        assert url_for("static", filename="css/app.css") == f"/static/css/app.css?v={_hash('css/app.css')}"
        assert url_for("static", filename="css/app.css", v="x") == "/static/css/app.css?v=x"
        assert url_for("static", filename="css/none.css") == "/static/css/none.css"


def test_templates_link_static_files_only_through_url_for():
    """A hand-written /static/ path would get no version (and a year's cache would never apply to it)."""
    offenders = [t.relative_to(TEMPLATES).as_posix() for t in TEMPLATES.rglob("*.html")
                 if re.search(r"""["']/static/""", t.read_text())]
    assert offenders == []
