"""Real gunicorn servers for tests, started with the production configuration (pointsapp/serving/gunicorn_conf.py)
exactly as `make serve` starts it, each in a process group of its own so that a test can SIGKILL the master and
its workers at once, as a power cut or the OOM killer would.

Used by tests/test_crash_safety.py, tests/test_two_instances.py and tests/test_serving.py.
"""
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from .conftest import ON_CI

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "gunicorn", "-c", "python:pointsapp.serving.gunicorn_conf", "pointsapp:create_app()"]
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra) -> dict:
    """The test process's environment without Debian's faketime (README: date edges): libfaketime's
    LD_PRELOAD breaks gunicorn's forked workers at import. The servers run on the real clock."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "FAKETIME", "FAKETIME_NO_CACHE", "GUNICORN_CMD_ARGS", "BIND", "PORT")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of the group that have not exited (a zombie waiting for its parent holds no files, locks or
    sockets any more, so it counts as gone)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            alive.append(int(entry.name))
    return alive


@dataclass
class Server:
    """One gunicorn instance: start(), kill() (SIGKILL to master and workers), stop() (TERM, graceful)."""

    port: int
    env: dict
    log_path: Path
    process: subprocess.Popen | None = None
    starts: int = 0
    _log: object = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> float:
        """Start and wait until a page is served; returns the seconds that took."""
        import requests

        started = time.monotonic()
        self._log = self.log_path.open("a")
        # under pytest-xdist the other workers run too, among them the browser tests' (a camera must read a code
        # within 30 s): the servers yield the CPU to them, as conftest's database workers do
        command = ["nice", "-n", "5", *COMMAND] if os.environ.get("PYTEST_XDIST_WORKER") else COMMAND
        self.process = subprocess.Popen(command, cwd=ROOT, env={**self.env, "BIND": f"127.0.0.1:{self.port}"},
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        while True:
            try:
                if requests.get(self.url + "/login", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() - started > timeout:
                self.kill()
                pytest.fail(f"gunicorn did not start on port {self.port}:\n{self.log_tail()}", pytrace=False)
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL to the whole process group, and wait until every process of it has died."""
        if self.process is None:
            return
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 10
        while _alive_in_group(pgid) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.process = None
        self._log.close()

    def stop(self) -> None:
        """A graceful stop (TERM to the master), SIGKILL after 30 s."""
        if self.process is None:
            return
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text()[-chars:] if self.log_path.exists() else ""


def csrf_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(session, base: str, phone: str, password: str) -> None:
    """Log in through the login form (CSRF on, as in production)."""
    page = session.get(base + "/login", timeout=30)
    response = session.post(base + "/login", data={"phone": phone, "password": password, "remember": "y",
                                                   "csrf_token": csrf_token(page.text)},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 302, (response.status_code, response.text[:500])


def require_postgres():
    """(admin engine, url) on TEST_DATABASE_URL's server, or a skip (a failure under CI): conftest's."""
    from .conftest import require_postgres as required

    return required()


def postgres_database(prefix: str):
    """A context: a new PostgreSQL database named prefix_<random> (its URL), dropped afterwards."""
    @contextlib.contextmanager
    def made():
        engine, url = require_postgres()
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()

    return made()


def require_redis(url: str):
    """A Redis client for url; skips outside CI when Redis is not there, fails under CI."""
    try:
        import redis

        client = redis.Redis.from_url(url)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Redis here"
        message = f"Redis not reachable at {url}: {exc.__class__.__name__}"
        if ON_CI:
            pytest.fail(message + " (CI=true requires Redis: .ci/ensure-services starts it)", pytrace=False)
        pytest.skip(message)
    return client
