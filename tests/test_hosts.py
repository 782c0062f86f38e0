"""The app serves its own host only, and every QR and absolute link names PUBLIC_BASE_URL, whatever Host
a request claims (issue 11, finding 7); ProxyFix believes only as many proxies as configured.

The test app's PUBLIC_BASE_URL is https://jifen.example.cn and it also trusts "localhost" (the test
client's host); QR codes are decoded from the server's real SVG by zxing-cpp."""
import re
from datetime import timedelta

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from pointsapp.core.hosts import check_base_url, trusted_hosts
from pointsapp.volunteering.services import activities

from .conftest import make_test_app

BASE = "https://jifen.example.cn"


def decode_svg_qr(svg: bytes | str) -> str:
    """The text of the QR in one of our SVGs (qrcode's path image: one "M x,y" square per dark module),
    drawn as pixels and read by zxing-cpp as a phone would."""
    text = svg.decode() if isinstance(svg, bytes) else svg
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', text)[1])
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y in re.findall(r"M(\d+),(\d+)H", text):
        x, y = int(x) * scale, int(y) * scale
        draw.rectangle([x, y, x + scale - 1, y + scale - 1], fill=0)
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, f"decoded {len(found)} codes"
    return found[0].text


@pytest.fixture
def activity(make, db, now):
    c = make.community()
    lead = make.team_lead(c)
    team = lead.grants[0].team
    admin = make.admin(c)
    a = activities.create_activity(admin, team, activities.ActivityFields(
        title="楼道清理", kind=activities.labels(c.id, "activity_kind")[0], place="3号楼",
        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1), award_on="check_in",
        allow_poster=True), now)
    db.session.commit()
    return lead, a


def test_an_unknown_host_is_refused_with_a_400_page(client, db):
    for host in ("evil.example", "jifen.example.cn.evil.example", "evil.example:5000"):
        response = client.get("/login", headers={"Host": host})
        assert response.status_code == 400, host
        assert "请" in response.get_data(as_text=True)  # a page in the reader's language, not a traceback
    assert client.get("/login", headers={"Host": "jifen.example.cn"}).status_code == 200
    assert client.get("/login").status_code == 200  # localhost, trusted in tests


def test_the_poster_and_screen_qr_point_to_the_public_base_url_not_the_host_header(client, login, activity):
    lead, a = activity
    login(client, lead)
    poster = client.get(f"/lead/activities/{a.id}/poster")  # asked for as http://localhost/…
    assert poster.status_code == 200
    svg = re.search(r"<svg.*?</svg>", poster.get_data(as_text=True), re.S)[0]
    assert decode_svg_qr(svg).startswith(f"{BASE}/c/a{a.id}.")
    screen = client.get(f"/lead/activities/{a.id}/qr.svg")
    assert decode_svg_qr(screen.data).startswith(f"{BASE}/c/a{a.id}.")
    evil = client.get(f"/lead/activities/{a.id}/poster", headers={"Host": "evil.example"})
    assert evil.status_code == 400 and b"<svg" not in evil.data


def test_the_activation_slip_names_the_public_site(client, login, make, db):
    c = make.community()
    admin = make.admin(c)
    resident = make.resident(community=c, phone="13805351234")
    db.session.commit()
    login(client, admin)
    page = client.post(f"/admin/c/{c.id}/residents/{resident.id}/activation").get_data(as_text=True)
    assert f"{BASE}/activate" in page and "localhost" not in page


def test_the_base_url_must_be_a_site_and_hosts_derive_from_it():
    assert check_base_url("https://jifen.example.cn/") == BASE
    for bad in ("jifen.example.cn", "ftp://x", "https://x/path", "https://user@x", ""):
        with pytest.raises(ValueError):
            check_base_url(bad)
    assert trusted_hosts(BASE, "localhost, 10.0.0.5") == ["jifen.example.cn", "localhost", "10.0.0.5"]
    assert trusted_hosts(BASE, None) == ["jifen.example.cn"]


def _whoami(app):
    @app.get("/__whoami", endpoint="whoami")
    def whoami():
        from flask import request
        return f"{request.remote_addr} {request.scheme}"

    app.view_functions["whoami"].access_policy = "public"


@pytest.mark.parametrize(("proxies", "seen"), [(0, "127.0.0.1 http"), (1, "203.0.113.9 https")])
def test_forwarded_headers_count_only_with_a_configured_proxy(database_url, proxies, seen):
    from pointsapp.core.extensions import db

    app = make_test_app(database_url, PROXY_COUNT=proxies)
    _whoami(app)
    try:
        response = app.test_client().get("/__whoami", headers={"X-Forwarded-For": "203.0.113.9",
                                                                "X-Forwarded-Proto": "https"})
    finally:
        with app.app_context():
            db.engine.dispose()  # this app's own pool: close it now, not at garbage collection
    assert response.get_data(as_text=True) == seen
