"""The production server's configuration (pointsapp/serving/gunicorn_conf.py) and `make serve` (issue 13):
what gunicorn reads from the file and the environment, a worker's own database connections after the fork,
and a real gunicorn started as `make serve` starts it: its access log, static files, and the proxy headers it
does not believe."""
import os
import re
import subprocess
import sys
import warnings

import pytest
import requests
from sqlalchemy import text

from pointsapp.core.extensions import db
from pointsapp.serving import after_fork

from .conftest import make_test_app, migrate_to_head
from .servers import COMMAND, ROOT, Server, base_env, free_port


def _settings(**env) -> dict:
    """gunicorn's own reading of the config file (--print-config) under the given environment."""
    output = subprocess.run([*COMMAND[:-1], "--print-config", COMMAND[-1]], cwd=ROOT, env=base_env(**env),
                            capture_output=True, text=True, timeout=120, check=True).stdout
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\w+)\s+= (.*)$", output, re.M)}


def test_gunicorn_reads_the_config_and_the_environment():
    cores = len(os.sched_getaffinity(0))
    default = _settings()
    assert default["workers"] == str(min(2 * cores + 1, 12))
    assert default["threads"] == "1" and default["worker_class"] == "sync"
    assert default["bind"] == "['127.0.0.1:8000']"
    assert default["preload_app"] == "True"
    assert default["timeout"] == "30" and default["graceful_timeout"] == "30" and default["keepalive"] == "5"
    assert default["max_requests"] == "1000" and default["max_requests_jitter"] == "100"
    assert default["worker_tmp_dir"] == ("/dev/shm" if os.access("/dev/shm", os.W_OK) else "None")
    assert default["accesslog"] == "-" and "%(M)sms" in default["access_log_format"]
    assert "%(r)s" not in default["access_log_format"] and "%(q)s" not in default["access_log_format"]
    assert default["forwarded_allow_ips"] == "[]" and default["secure_scheme_headers"] == "{}"

    chosen = _settings(WEB_CONCURRENCY=3, GUNICORN_THREADS=4, PORT=9123, GUNICORN_PRELOAD=0)
    assert chosen["workers"] == "3" and chosen["threads"] == "4"
    assert chosen["bind"] == "['127.0.0.1:9123']"  # PORT alone never opens the app to the network
    assert chosen["preload_app"] == "False"
    assert _settings(BIND="0.0.0.0:8001,unix:/tmp/pointsapp.sock")["bind"] == "['0.0.0.0:8001', 'unix:/tmp/pointsapp.sock']"


def test_a_forked_worker_opens_its_own_database_connection(postgres_url):
    """preload_app forks the master's app: after_fork (post_fork) must leave the master's pooled connection to
    the master. Without it the worker would take the very same connection (one PostgreSQL backend, one socket,
    two processes talking on it)."""
    app = make_test_app(postgres_url)

    def backend_pid() -> int:
        with app.app_context():
            try:
                return db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            finally:
                db.session.remove()  # the connection goes back to the pool, as after a request

    master = backend_pid()
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12 warns about fork with threads
        child = os.fork()
    if child == 0:  # the worker
        try:
            after_fork(app)
            os.write(write, str(backend_pid()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        worker = int(pipe.read() or 0)
    os.waitpid(child, 0)
    assert worker and worker != master
    assert backend_pid() == master  # the master's connection was left open and still works
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{tmp / 'pointsapp.sqlite'}"
    app = make_test_app(url)
    migrate_to_head(app)
    with app.app_context():
        db.engine.dispose()
    server = Server(free_port(), base_env(DATABASE_URL=url, SECRET_KEY="serve-test", POINTSAPP_INSTANCE=tmp,
                                          WEB_CONCURRENCY=2, PUBLIC_BASE_URL="http://127.0.0.1"), tmp / "gunicorn.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_production_server_logs_each_request_with_its_time_and_without_its_query(served):
    response = requests.get(served.url + "/login?next=/me/points&q=13800000001", timeout=30)
    assert response.status_code == 200
    assert response.headers["Server"] == "gunicorn"  # no version
    log = served.log_tail(20_000)
    assert re.search(r'"GET /login HTTP/1\.1" 200 \d+ \d+ms "python-requests/', log), log[-2000:]
    assert "13800000001" not in log and "next=" not in log
    assert log.count("Booting worker") >= 2


def test_the_production_server_serves_versioned_static_files_for_a_year(served):
    page = requests.get(served.url + "/login", timeout=30).text
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert links and all("?v=" in link for link in links), links
    for link in links:
        response = requests.get(served.url + link.replace("&amp;", "&"), timeout=30)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Content-Security-Policy" in response.headers


def test_the_production_server_believes_no_forwarded_scheme_without_proxy_count(served):
    """PROXY_COUNT=0 (nothing in front): a client on the same machine saying X-Forwarded-Proto: https is not
    believed (gunicorn's own default would believe it from 127.0.0.1 and mark the request secure: HSTS,
    secure cookies on plain http)."""
    response = requests.get(served.url + "/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on",
                                                            "X-Forwarded-Protocol": "ssl"}, timeout=30)
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_make_serve_migrates_and_runs_gunicorn_with_the_config_and_seeds_no_demo():
    if subprocess.run(["which", "make"], capture_output=True).returncode:
        pytest.skip("make is not installed")
    plan = subprocess.run(["make", "-n", "serve", f"PY={sys.executable}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=base_env()).stdout
    assert "db upgrade" in plan
    assert "gunicorn -c python:pointsapp.serving.gunicorn_conf 'pointsapp:create_app()'" in plan
    assert " demo" not in plan
    run_plan = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env=base_env()).stdout
    assert "development server" in run_plan and "make serve" in run_plan
