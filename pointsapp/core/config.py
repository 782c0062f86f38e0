"""Configuration read from the environment, with safe defaults for a laptop."""
import os
import secrets
from datetime import timedelta
from pathlib import Path


def normalise_db_url(url: str) -> str:
    """Route postgresql:// URLs through psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_engines(cfg: dict) -> None:
    """The engines' options, from the settings (docs/deploy.md), set into `cfg` before the engines exist.

    - DATABASE_PGBOUNCER=1: the app reaches PostgreSQL through PgBouncer in transaction mode, where each
      transaction may run on another server connection. psycopg 3 prepares a statement on the server after
      it has run 5 times on a connection ("_pg3_0" …); the next server connection does not know it. So
      prepared statements are off (prepare_threshold=None). Nothing else in the app keeps state in the
      server session: the lock timeout is SET LOCAL in every transaction here (core.locks.install), and no advisory lock is held past its
      transaction.
    - DATABASE_REPLICA_URL: a read replica, the engine of bind "replica" with the same options; which reads
      go there is core.replica's business."""
    options = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if cfg.get("DATABASE_PGBOUNCER") and str(cfg.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        options["connect_args"] = {**options.get("connect_args", {}), "prepare_threshold": None}
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if cfg.get("DATABASE_REPLICA_URL"):
        binds = dict(cfg.get("SQLALCHEMY_BINDS") or {})
        binds["replica"] = {**options, "url": normalise_db_url(cfg["DATABASE_REPLICA_URL"])}
        cfg["SQLALCHEMY_BINDS"] = binds


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
        # several machines (docs/deploy.md): through PgBouncer in transaction mode; boards and reports from a replica
        "DATABASE_PGBOUNCER": os.environ.get("DATABASE_PGBOUNCER", "") == "1",
        "DATABASE_REPLICA_URL": os.environ.get("DATABASE_REPLICA_URL") or None,
        "SECRET_KEY": load_secret_key(instance_path),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Failed logins (and activation codes): free tries per (phone, client address) and per address, then
        # each further try waits 2, 4, 8 ... seconds up to the cap (accounts/services/throttle.py).
        "LOGIN_FREE_TRIES": int(os.environ.get("LOGIN_FREE_TRIES", 5)),
        "LOGIN_MAX_DELAY_SECONDS": int(os.environ.get("LOGIN_MAX_DELAY_SECONDS", 900)),
        "LOGIN_FREE_TRIES_PER_IP": int(os.environ.get("LOGIN_FREE_TRIES_PER_IP", 100)),
        "LOGIN_MAX_DELAY_SECONDS_PER_IP": int(os.environ.get("LOGIN_MAX_DELAY_SECONDS_PER_IP", 60)),
        # Login sessions (accounts/services/sessions.py): ended after so long unused, and at the latest after
        # the maximum; anyone holding a staff role, or who unticked "keep me logged in", gets the short rule.
        # The login form promises residents this many days ("保持登录 30 天"), each use starting them anew.
        "RESIDENT_SESSION_IDLE_DAYS": float(os.environ.get("RESIDENT_SESSION_IDLE_DAYS", 30)),
        "RESIDENT_SESSION_MAX_DAYS": float(os.environ.get("RESIDENT_SESSION_MAX_DAYS", 365)),
        "STAFF_SESSION_IDLE_HOURS": float(os.environ.get("STAFF_SESSION_IDLE_HOURS", 12)),
        "STAFF_SESSION_MAX_HOURS": float(os.environ.get("STAFF_SESSION_MAX_HOURS", 7 * 24)),
        # a resident's cookie outlives the browser (the server's rule above decides when the login ends);
        # staff cookies end with the browser
        "PERMANENT_SESSION_LIFETIME": timedelta(days=float(os.environ.get("RESIDENT_SESSION_IDLE_DAYS", 30))),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_BYTES", 8 * 1024 * 1024)),
        "IMPORT_MAX_ROWS": int(os.environ.get("IMPORT_MAX_ROWS", 20000)),
        # a sheet with more rows is checked and imported in the background (imports/services/jobs.py)
        "IMPORT_SYNC_ROWS": int(os.environ.get("IMPORT_SYNC_ROWS", 2000)),
        # the job queue (pointsapp/jobs): unset = SQLite file in the instance folder; redis://… in production
        "JOBS_URL": os.environ.get("JOBS_URL", ""),
        # webhooks (integrations/services/webhooks.py) go to https:// addresses only; plain http (and addresses of
        # this machine or network) only to these hosts ("a,b"), e.g. a receiver on the same server
        # the JSON API's limits for a logged-in user's own pages and for anonymous callers (a token has its own)
        "API_RATE_LIMIT_USER": os.environ.get("API_RATE_LIMIT_USER", "600/minute"),
        "API_RATE_LIMIT_ANONYMOUS": os.environ.get("API_RATE_LIMIT_ANONYMOUS", "120/minute"),
        # bearer tokens that are unknown, expired or revoked, per client address: past it, 429 before any lookup
        "API_RATE_LIMIT_BAD_TOKENS": os.environ.get("API_RATE_LIMIT_BAD_TOKENS", "30/minute"),
        "WEBHOOK_ALLOW_HTTP_HOSTS": [h.strip() for h in os.environ.get("WEBHOOK_ALLOW_HTTP_HOSTS", "").split(",")
                                     if h.strip()],
        # a ledger export of more entries is made by the job worker (ledger/services/export_jobs.py)
        "LEDGER_EXPORT_SYNC_ROWS": int(os.environ.get("LEDGER_EXPORT_SYNC_ROWS", 20000)),
        # product photos: refused above this many megapixels, read from the header before decoding
        "PHOTO_MAX_MEGAPIXELS": int(os.environ.get("PHOTO_MAX_MEGAPIXELS", 40)),
        # PostgreSQL: how long a request waits for a row lock before answering "busy, try again"
        "LOCK_TIMEOUT_MS": int(os.environ.get("LOCK_TIMEOUT_MS", 5000)),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("TIMEZONE", "Asia/Shanghai"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The cookie is sent when the session changed, or when its login session's use is recorded (every 5 min,
        # accounts.views.load_user: its expiry moves on with the server's row). Sent with every response, a
        # slow answer (a favicon, a poll) could put back the session as it was before a faster one changed it
        # (a scanned check-in code lost between /c/<code> and its confirm page).
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,  # a form left open at the counter all morning still posts
        # Hosts and proxies (core/hosts.py): QR codes and absolute links name PUBLIC_BASE_URL; Host headers
        # other than its host and TRUSTED_HOSTS ("a,b") are refused; PROXY_COUNT proxies are believed.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        "TRUSTED_HOSTS": [h for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()],
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", 0)),
        # Backups (backups/services.py): the folder (default instance/backups), how many of the newest to keep,
        # the folder of pg_dump/pg_restore when those on PATH are not of the server's major version, and the
        # database reached directly when DATABASE_URL goes through PgBouncer
        "BACKUP_DIR": os.environ.get("BACKUP_DIR") or None,
        "BACKUP_KEEP": int(os.environ.get("BACKUP_KEEP", 14)),
        "BACKUP_PG_BINDIR": os.environ.get("BACKUP_PG_BINDIR") or None,
        "BACKUP_DATABASE_URL": os.environ.get("BACKUP_DATABASE_URL") or None,  # PostgreSQL directly, not PgBouncer
    }
