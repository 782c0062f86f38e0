"""Security headers on every response (issue 11, finding 6); tests/browser/test_csp.py checks that the
pages really pass the CSP in Chromium."""
import re
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from pointsapp.core.extensions import db as _db
from pointsapp.volunteering.services import activities, codes

from .conftest import make_test_app

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pytest.fixture
def people(make, db, now):
    c = make.community()
    admin = make.admin(c)
    lead = make.team_lead(c)
    resident = make.resident_user(community=c)
    a = activities.create_activity(admin, lead.grants[0].team, activities.ActivityFields(
        title="楼道清理", kind=activities.labels(c.id, "activity_kind")[0], place="",
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1), award_on="check_in"), now)
    db.session.commit()
    return {"community": c, "admin": admin, "resident": resident, "activity": a}


def _get(client, path, **kwargs):
    """client.get, with the response's file closed (static files are served from an open file)."""
    response = client.get(path, **kwargs)
    response.get_data()
    response.close()
    return response


def _common(response):
    h = response.headers
    csp = h["Content-Security-Policy"]
    for part in ("default-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
                 "form-action 'self'", "object-src 'none'", "connect-src 'self'"):
        assert part in csp
    assert re.search(r"script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}'", csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Permissions-Policy"].startswith("camera=(self)")
    assert "Strict-Transport-Security" not in h  # plain http here


def test_every_kind_of_response_carries_the_headers(client, login, people):
    c = people["community"]
    anonymous = [client.get("/login"), client.get(f"/board/{c.id}"), _get(client, "/static/css/app.css"),
                 client.get("/no-such-page"), client.get("/login", headers={"Host": "evil.example"})]
    for response in anonymous:
        _common(response)
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "no-store" not in anonymous[1].headers.get("Cache-Control", "")  # the public board may be cached
    assert "no-store" not in anonymous[2].headers.get("Cache-Control", "")  # static files too
    login(client, people["resident"])
    for path in ("/", "/me/points", "/me/code", "/static/css/app.css"):
        response = _get(client, path)
        assert response.status_code == 200, path
        _common(response)
        if path.startswith("/static"):
            assert "no-store" not in response.headers.get("Cache-Control", "")
        else:
            assert response.headers["Cache-Control"] == "no-store", path
    nonces = {client.get("/me/points").headers["Content-Security-Policy"] for _ in range(2)}
    assert len(nonces) == 2  # a fresh nonce per request


def test_an_admin_page_and_a_download_are_not_stored(client, login, people):
    c = people["community"]
    login(client, people["admin"])
    for path in (f"/admin/c/{c.id}/residents", f"/admin/c/{c.id}/ledger?start=2026-11-01&end=2026-11-30&format=csv"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", path


def test_a_url_with_a_check_in_code_sends_no_referrer(app, client, login, people, now):
    code = codes.checkin_code(app.secret_key, people["activity"], codes.step_of(now, people["activity"].code_seconds))
    for who in (None, people["resident"]):
        if who:
            login(client, who)
        response = client.get(f"/c/{code}")
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"  # the scan is kept in the session


def test_hsts_only_over_https_and_behind_a_proxy_only_when_trusted(client, database_url, db):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert client.get("/login", base_url="https://localhost").headers["Strict-Transport-Security"].startswith("max-age=")
    forwarded = {"X-Forwarded-Proto": "https"}
    assert "Strict-Transport-Security" not in client.get("/login", headers=forwarded).headers  # no proxy trusted
    app = make_test_app(database_url, PROXY_COUNT=1)
    try:
        assert "Strict-Transport-Security" in app.test_client().get("/login", headers=forwarded).headers
    finally:
        _dispose(app)


def _dispose(app):
    with app.app_context():
        _db.engine.dispose()  # this app's own pool: close it now, not at garbage collection


def test_the_development_server_names_no_versions(database_url, db):
    app = make_test_app(database_url, PUBLIC_BASE_URL="http://127.0.0.1")
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/login") as response:
            banner = response.headers["Server"]
    finally:
        server.shutdown()
        server.server_close()
        _dispose(app)
    assert banner and not re.search(r"\d|werkzeug|python", banner, re.I), banner


def test_templates_hold_no_inline_script_handler_or_style():
    """What the CSP refuses: inline event handlers, style attributes and <style> blocks, inline scripts
    without the request's nonce."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern in (r"\son[a-z]+\s*=", r"\sstyle\s*=", r"<style", r"<script(?![^>]*\bsrc=)(?![^>]*csp_nonce)[^>]*>",
                        r"javascript:"):
            found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)!r}" for m in re.finditer(pattern, text, re.I)]
    assert found == [], "\n".join(found)
