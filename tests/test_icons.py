"""/favicon.ico and /apple-touch-icon.png answer with a real icon, cached for long (issue 12, item 10): browsers
ask for /favicon.ico on every page, and a 404 filled the logs and left a blank tab."""
import pytest

PAGES_LINK_IT = ["/login", "/privacy"]


@pytest.mark.parametrize(("path", "mimetype", "magic"), [
    ("/favicon.ico", "image/vnd.microsoft.icon", b"\x00\x00\x01\x00"),
    ("/apple-touch-icon.png", "image/png", b"\x89PNG\r\n\x1a\n"),
])
@pytest.mark.parametrize("logged_in", [False, True], ids=["visitor", "resident"])
def test_the_site_icon_is_served_and_cached(client, login, make, path, mimetype, magic, logged_in):
    if logged_in:
        login(client, make.resident_user())
    response = client.get(path)
    body = response.get_data()

    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert body[:len(magic)] == magic
    cache = response.headers.get("Cache-Control", "")
    assert "no-store" not in cache and "max-age=2592000" in cache, cache


@pytest.mark.parametrize("path", PAGES_LINK_IT)
def test_pages_link_the_icon(client, path):
    html = client.get(path).get_data(as_text=True)

    assert '<link rel="icon" href="/favicon.ico"' in html
    assert '<link rel="apple-touch-icon" href="/apple-touch-icon.png">' in html
