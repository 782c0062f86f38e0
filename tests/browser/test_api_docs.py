"""/api/v1/docs renders the app's OpenAPI document (Swagger UI from static/vendor/, no CDN) under the app's
Content-Security-Policy: every operation of the document is listed, no CSP violation, no request leaves
the server."""
import json
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from playwright.sync_api import expect

from .test_csp import Watcher

pytestmark = pytest.mark.browser


def _operations(live_server) -> list[tuple[str, str]]:
    with urlopen(f"{live_server.url}/api/v1/openapi.json") as response:
        document = json.load(response)
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")]


def test_the_api_reference_lists_every_operation_without_a_csp_violation(new_context, live_server):
    operations = _operations(live_server)
    assert operations, "the document has no operations"
    page = new_context("desktop").new_page()
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    watcher = Watcher(page)
    watcher.visit("/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    for method, path in operations:
        block = page.locator(f".opblock-{method.lower()}", has=page.locator(f"[data-path='{path}']"))
        expect(block.first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("pointsapp")
    page.locator(".opblock-summary").first.click()  # an operation opens (its responses and schemas)
    expect(page.locator(".opblock-body").first).to_be_visible()
    watcher.collect("after opening an operation")
    watcher.assert_clean()
    server = urlsplit(live_server.url).netloc
    foreign = [url for url in requested if urlsplit(url).netloc not in (server, "") and not url.startswith("data:")]
    assert foreign == [], f"the page fetched from elsewhere: {foreign}"
