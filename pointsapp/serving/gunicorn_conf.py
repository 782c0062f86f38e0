"""gunicorn's configuration for pointsapp in production.

    gunicorn -c python:pointsapp.serving.gunicorn_conf 'pointsapp:create_app()'

`make serve` runs exactly this after migrating the database. Every setting can be changed from the
environment without editing this file:

| variable | default | meaning |
|---|---|---|
| `WEB_CONCURRENCY` | 2 × cores + 1 (at most 12) | worker processes |
| `GUNICORN_THREADS` | 1 | threads per worker (more than 1 switches to the gthread worker) |
| `BIND` | `127.0.0.1:$PORT` | where to listen (`0.0.0.0:8000`, `unix:/run/pointsapp.sock`, or several, comma-separated) |
| `PORT` | 8000 | the port when `BIND` is not set (unlike gunicorn's own default, still on 127.0.0.1 only) |
| `GUNICORN_TIMEOUT` | 30 | seconds a worker may stay silent (one request) before the master kills and replaces it |
| `GUNICORN_GRACEFUL_TIMEOUT` | 30 | seconds running requests get to finish on a restart (HUP) or stop (TERM) |
| `GUNICORN_MAX_REQUESTS` | 1000 | a worker is replaced after this many requests (0: never), ± `GUNICORN_MAX_REQUESTS_JITTER` (100) |
| `GUNICORN_PRELOAD` | 1 | 0 builds the app in each worker instead of once in the master |
| `LOG_LEVEL` | info | gunicorn's error log level |

gunicorn also reads `GUNICORN_CMD_ARGS` (command-line options, which win over this file).
"""
import os

# ---- processes ---------------------------------------------------------------------------------------


def _cores() -> int:
    """The cores this process may run on (a container's CPU set or `taskset`), not all the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Sync workers, one per request at a time, 2n + 1 of them: a request here is mostly CPU (issue 13 measured
# 17-34 ms of CPU per check-in and checkout, most of it SQLAlchemy and psycopg) plus short waits on the
# database, so processes, not threads, scale it (threads in one process share one GIL); the +1 and the
# second per core cover the waits. Capped: each worker holds its own pool of database connections.
workers = _int("WEB_CONCURRENCY", min(2 * _cores() + 1, 12))
threads = _int("GUNICORN_THREADS", 1)

wsgi_app = "pointsapp:create_app()"  # the command line's app argument, when given, wins
proc_name = "pointsapp"

# ---- where to listen ---------------------------------------------------------------------------------

# gunicorn's own default listens on 0.0.0.0:$PORT whenever PORT is set; here the app stays on the loopback
# (nginx in front, docs/deploy.md) unless BIND says otherwise.
bind = [b.strip() for b in os.environ.get("BIND", "").split(",") if b.strip()] or [
    f"127.0.0.1:{_int('PORT', 8000)}"]

# Which proxies may say "this came over https": nobody, to gunicorn. The app's PROXY_COUNT (werkzeug's
# ProxyFix, core/hosts.py) is the one place that decides whether X-Forwarded-Proto and X-Forwarded-For are
# believed; gunicorn's default would also believe them from 127.0.0.1 and from any unix-socket peer.
forwarded_allow_ips = ""
secure_scheme_headers = {}

# ---- timeouts and restarts ---------------------------------------------------------------------------

timeout = _int("GUNICORN_TIMEOUT", 30)  # longer than LOCK_TIMEOUT_MS (5 s) and SQLite's busy timeout (10 s)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5  # seconds an idle keep-alive connection is kept (gthread workers; sync workers close after each)

# A worker is replaced after so many requests, so a slow leak (a cache, a fragmented heap) cannot grow
# without end; the jitter keeps the workers from all restarting at the same moment.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# The heartbeat file each worker touches: on tmpfs, so a slow or full disk never makes the master think a
# busy worker hung (gunicorn's advice for containers, whose /tmp is often an overlay on disk).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

# ---- preloading --------------------------------------------------------------------------------------

# preload_app: the app is built once in the master and the workers are forks of it. Why:
# - a worker starts in milliseconds instead of ~1.5 s of imports and create_app(): max_requests replaces
#   workers all day, and a crashed worker is back at once;
# - a broken configuration (a bad PUBLIC_BASE_URL, a cheap PASSWORD_HASH_METHOD) stops the master at start
#   with one message, instead of every worker dying in a loop;
# - instance/secret_key, when SECRET_KEY is not set, is generated once: without preload, workers starting
#   together on a fresh install could each write and read a different key (sessions then valid on one
#   worker only);
# - the imported code is shared copy-on-write between the workers.
# Templates are not compiled in the master beforehand: compiling all 79 took 0.46 s of CPU (up to 1.8 s on
# a busy machine) before the first worker could start, a good part of the start-up after a crash, to save
# a fresh worker about 6 ms on the first use of each template it needs.
# The price: database connections must not cross the fork. create_app() opens none, and post_fork below
# gives every worker an empty pool anyway (pointsapp.serving.after_fork: engine.dispose(close=False));
# tests/test_serving.py checks that a worker's connection is not the master's. The Redis client for the
# login limits (accounts/services/throttle.py) makes its connections lazily, and redis-py's pool starts
# over in a process whose pid differs from its creator's.
# The same holds for anything create_app() might one day start: a thread started there runs in the master only
# (threads do not survive a fork), so a background runner must be started per worker, from post_fork.
# Also the price: `kill -HUP` re-forks workers from the same preloaded code, so a deploy of new code is a
# restart of gunicorn (systemctl restart, or USR2 then TERM to the old master), not a HUP.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"


def post_fork(server, worker):
    """A new worker: drop any database connection inherited from the master."""
    app = getattr(worker.app, "callable", None)  # the preloaded Flask app; None without preload_app
    if app is not None:
        from pointsapp.serving import after_fork

        after_fork(app)


# ---- logging -----------------------------------------------------------------------------------------

# The access log goes to stdout (journald or the container's log collects it), errors to stderr. One line a
# request, with how long it took in milliseconds (%(M)s). The path is logged without its query string:
# the counter's search sends names, rooms and phone numbers as ?q=, which have no place in a log; nor the
# Referer, which carries the same.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
