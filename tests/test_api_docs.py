"""docs/api.md and /api/v1/docs: the guide's webhook check works as written, the page is served within the app's
CSP from vendored files (the browser half is tests/browser/test_api_docs.py), and README points to both."""
import hashlib
import hmac
import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "api.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_guides_webhook_check_accepts_a_good_signature_and_refuses_the_rest():
    namespace: dict = {}
    blocks = [b for b in _python_blocks(GUIDE.read_text(encoding="utf-8")) if "def verify" in b]
    assert len(blocks) == 1
    exec(blocks[0], namespace)  # noqa: S102 - our own document's example
    verify = namespace["verify"]
    secret, body = "whsec-test", b'{"event": "points.awarded", "id": 7}'
    t = str(int(time.time()))
    good = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert verify(secret, f"t={t},v1={good}", body)
    assert not verify(secret, f"t={t},v1={good}", body + b" ")  # another body
    assert not verify("another-secret", f"t={t},v1={good}", body)
    old = str(int(time.time()) - 3600)
    stale = hmac.new(secret.encode(), f"{old}.".encode() + body, hashlib.sha256).hexdigest()
    assert not verify(secret, f"t={old},v1={stale}", body)  # a replay of an old delivery
    assert not verify(secret, "v1=" + good, body)  # no timestamp
    assert not verify(secret, "garbage", body)


def test_the_guide_has_the_curl_examples_and_the_readme_points_to_it():
    guide = GUIDE.read_text(encoding="utf-8")
    for needed in ('-H "Authorization: Bearer $TOKEN"', '"$API/checkin"', '{"code": ', '"$API/stores/3/checkout"',
                   "Idempotency-Key: $KEY", '"identification_id"', '"request_id"', '"lines"', "X-Pointsapp-Signature",
                   "Retry-After", "idempotency_key_reused", "/me/tokens", "/api/v1/docs"):
        assert needed in guide, needed
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/api.md" in readme and "/api/v1/docs" in readme


def test_the_docs_page_is_public_uses_vendored_files_and_keeps_the_csp(client):
    from pointsapp.core.security_headers import CSP

    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)[1]
    assert csp == CSP.format(nonce=nonce)  # the app's policy, not relaxed for this page
    page = response.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(s.startswith("/") for s in sources), sources  # nothing from elsewhere (no CDN)
    assert "<script>" not in page and " style=" not in page
    for path in ("vendor/swagger-ui/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui.css",
                 "vendor/swagger-ui/LICENSE", "js/api-docs.js"):
        assert (ROOT / "static" / path).is_file(), path
        if not path.endswith("LICENSE"):
            assert any(s.startswith(f"/static/{path}") for s in sources), path
    assert 'data-spec-url="/api/v1/openapi.json"' in page
