"""Configuration read from the environment, with safe defaults for a laptop."""
import os
import secrets
from pathlib import Path


def normalise_db_url(url: str) -> str:
    """Route postgresql:// URLs through psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def from_environment(instance_path: str) -> dict:
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'pointsapp.sqlite'}"
    return {
        "SQLALCHEMY_DATABASE_URI": normalise_db_url(db_url),
        "SECRET_KEY": load_secret_key(instance_path),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Login attempts: per client address and per phone number.
        "LOGIN_LIMIT_PER_IP": os.environ.get("LOGIN_LIMIT_PER_IP", "30 per 5 minutes"),
        "LOGIN_LIMIT_PER_ACCOUNT": os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "8 per 5 minutes"),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_BYTES", 8 * 1024 * 1024)),
        "IMPORT_MAX_ROWS": int(os.environ.get("IMPORT_MAX_ROWS", 20000)),
        # PostgreSQL: how long a request waits for a row lock before answering "busy, try again"
        "LOCK_TIMEOUT_MS": int(os.environ.get("LOCK_TIMEOUT_MS", 5000)),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("TIMEZONE", "Asia/Shanghai"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # a form left open at the counter all morning still posts
        # Hosts and proxies (core/hosts.py): QR codes and absolute links name PUBLIC_BASE_URL; Host headers
        # other than its host and TRUSTED_HOSTS ("a,b") are refused; PROXY_COUNT proxies are believed.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "TRUSTED_HOSTS": [h for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()],
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", 0)),
    }
