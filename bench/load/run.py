"""The load benchmark (`make bench`): a synthetic city, the app under its production gunicorn, a real load
generator, and the same transactions as raw SQL and as a minimal Flask endpoint, interleaved in one run.

    .venv/bin/python bench/load/run.py                       # PostgreSQL, 100,000 residents, 5,000,000 entries
    .venv/bin/python bench/load/run.py --small               # a quick run (a few minutes)
    .venv/bin/python bench/load/run.py --backend sqlite      # SQLite, 4 workers
    .venv/bin/python bench/load/run.py --residents 20000 --entries 500000 --rounds 2 --duration 15

1. Seeds a fresh database (PostgreSQL: a database named bench_load_…, dropped at the end unless --keep;
   SQLite: a temporary file) with bench/load/city.py, with progress bars.
2. Counts the SQL statements of one request of each hot path in-process (SQLAlchemy before_cursor_execute,
   as tests/querycount.py), for the app and the minimal endpoint.
3. Serves the app with `gunicorn -c python:pointsapp.serving.gunicorn_conf 'pointsapp:create_app()'` (plain
   `-w N` flags when that module is missing) and the minimal endpoint (bench/load/minimal_app.py) with the same
   settings, on free ports.
4. For each round, for 8 and 32 clients: checkout and check-in as app (locust, headless), minimal endpoint
   (locust), raw SQL (bench/load/raw_sql.py, N processes), then the member-code page and the board (app).
   The gunicorn workers' RSS is sampled during the app's runs.
5. Checks the ledger with verify() after all that writing, prints the tables, and (unless --no-docs) writes
   them and a latency chart into docs/performance.md (between this backend's markers in the section
   "## Load: checkout, check-in, member code, board") and docs/img/.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (HERE, ROOT / "bench", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import city  # noqa: E402
import raw_sql  # noqa: E402
import txn  # noqa: E402
from assign import MAX_CLIENTS, Assign  # noqa: E402
from docs_block import write_block  # noqa: E402

PG_SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BIN = Path(sys.executable).parent
SECTION = "## Load: checkout, check-in, member code, board"
HEADLINE = {  # the request whose rate is "checkouts/s" etc., per target and scenario
    ("app", "checkout"): "checkout: POST checkout", ("app", "checkin"): "check-in: POST confirm",
    ("app", "member_code"): "member code: page", ("app", "board"): "board: /board/<community>",
    ("minimal", "checkout"): "minimal: POST checkout", ("minimal", "checkin"): "minimal: POST checkin",
}
SCENARIO_LABEL = {"checkout": "counter checkout", "checkin": "QR check-in confirm", "member_code": "member-code page",
                  "board": "public board", "checkout_hot": "checkout, all clients one resident"}


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- database

class Database:
    def __init__(self, backend: str, keep: bool):
        self.backend, self.keep = backend, keep
        self.tmp = Path(tempfile.mkdtemp(prefix="pointsapp-load-"))
        if backend == "sqlite":
            self.url = f"sqlite:///{self.tmp / 'city.sqlite'}"
            self.name = str(self.tmp / "city.sqlite")
        else:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            base = make_url(PG_SERVER_URL).set(drivername="postgresql+psycopg")
            self.name = f"bench_load_{uuid.uuid4().hex[:8]}"
            self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = base.set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.keep:
            log(f"kept the database: {self.url} (manifest in {self.tmp})")
            return
        if self.backend == "postgresql":
            from sqlalchemy import text

            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- statements per request

def count_statements(manifest: city.Manifest) -> dict:
    """One request of each hot path, in-process, with the production settings (CSRF on), counted."""
    import re

    import minimal_app

    from pointsapp import create_app
    from pointsapp.core.extensions import db
    from pointsapp.volunteering.services import codes
    from tests.querycount import count_queries

    app = create_app({"SQLALCHEMY_DATABASE_URI": manifest.url, "SECRET_KEY": manifest.secret_key,
                      "PUBLIC_BASE_URL": "http://localhost", "TRUSTED_HOSTS": ["localhost"]})
    csrf = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
    rid_re = re.compile(r'name="request_id"[^>]*value="([^"]+)"')
    c = manifest.communities[0]
    out: dict[str, int] = {}

    def login(client, phone):
        token = csrf.search(client.get("/login").get_data(as_text=True)).group(1)
        r = client.post("/login", data={"phone": phone, "password": manifest.password, "csrf_token": token,
                                        "remember": "y", "next": ""})
        assert r.status_code == 302, r.status_code

    with app.app_context():
        engine = db.engine

    def counted(name, method, *args, **kwargs):
        with count_queries(engine) as q:
            r = method(*args, **kwargs)
        out[name] = q.count
        return r

    from types import SimpleNamespace

    with app.test_client() as clerk:  # the counter, twice: the second is counted (caches warm)
        login(clerk, manifest.clerks[c][-1][1])
        resident = SimpleNamespace(id=manifest.others[c][1])
        pid = manifest.products[c][0]
        for _ in range(2):
            code = codes.member_phone_code(manifest.secret_key, resident, datetime.now(UTC))
            page = clerk.get(f"/store/{manifest.stores[c]}/counter").get_data(as_text=True)
            token = csrf.search(page).group(1)
            counted("checkout: identify (POST counter)", clerk.post, f"/store/{manifest.stores[c]}/counter",
                    data={"csrf_token": token, "code": code, "pin": ""})
            page = counted("checkout: counter page", clerk.get, f"/store/{manifest.stores[c]}/counter")
            body = page.get_data(as_text=True)
            r = counted("checkout: POST checkout", clerk.post, f"/store/{manifest.stores[c]}/checkout",
                        data={"csrf_token": csrf.search(body).group(1), "request_id": rid_re.search(body).group(1),
                              f"qty_{pid}": "1"})
            assert "/receipts/" in r.headers.get("Location", ""), (r.status_code, r.headers.get("Location"))
            counted("checkout: receipt page", clerk.get, r.headers["Location"])
    with app.test_client() as person:
        login(person, manifest.logins[c][-1][1])
        for aid, salt, seconds in manifest.activities[c][-2:]:
            code = codes.checkin_code(manifest.secret_key, SimpleNamespace(id=aid, code_salt=salt),
                                      codes.step_of(datetime.now(UTC), seconds))
            counted("check-in: scan (GET /c/<code>)", person.get, f"/c/{code}")
            page = counted("check-in: confirm page", person.get, "/c/confirm")
            token = csrf.search(page.get_data(as_text=True)).group(1)
            r = counted("check-in: POST confirm", person.post, "/c/confirm", data={"csrf_token": token})
            assert "/c/done/" in r.headers.get("Location", ""), (r.status_code, r.headers.get("Location"))
            counted("check-in: done page", person.get, r.headers["Location"])
        for _ in range(2):
            counted("member code: page", person.get, "/me/code")
            counted("member code: QR svg", person.get, "/me/code.svg")
    with app.test_client() as anyone:
        for _ in range(2):
            counted("board: /board/<community>", anyone.get, f"/board/{c}")
    engine.dispose()

    mini = minimal_app.create(manifest.url)
    engine = mini.config["ENGINE"]
    assign = Assign(manifest, slot=10_000)  # far from every measurement's residents
    statements = []
    from sqlalchemy import event

    def before(_c, _cur, statement, *_a):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    with mini.test_client() as client:
        cid, rid = assign.checkout_resident(0)
        statements.clear()
        r = client.post("/checkout", data={"cid": cid, "sid": manifest.stores[cid], "rid": rid, "pid": pid,
                                           "clerk": manifest.clerks[cid][0][0], "request_id": uuid.uuid4().hex})
        assert r.status_code == 200, r.get_data(as_text=True)
        out["minimal: POST checkout"] = len(statements)
        cid, rid, aid = manifest.communities[0], manifest.others[c][1], manifest.activities[c][-1][0]
        statements.clear()
        r = client.post("/checkin", data={"cid": cid, "aid": aid, "rid": rid, "actor": manifest.leads[cid][0][0]})
        assert r.status_code == 200, r.get_data(as_text=True)
        out["minimal: POST checkin"] = len(statements)
    engine.dispose()
    out["raw: checkout"], out["raw: checkin"] = txn.CHECKOUT_STATEMENTS, txn.CHECKIN_STATEMENTS
    return out


# --------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def has_production_config() -> bool:
    try:
        return importlib.util.find_spec("pointsapp.serving.gunicorn_conf") is not None
    except ModuleNotFoundError:
        return False


class Server:
    def __init__(self, label: str, app: str, manifest: city.Manifest, workdir: Path, workers: int | None,
                 extra_path: Path | None = None):
        self.label, self.port = label, free_port()
        self.log_path = workdir / f"gunicorn-{label}.log"
        cmd = [str(BIN / "gunicorn")]
        self.config = "python:pointsapp.serving.gunicorn_conf" if has_production_config() else None
        if self.config:
            cmd += ["-c", self.config]
        if workers or not self.config:
            cmd += ["-w", str(workers or os.cpu_count() or 2)]
        cmd += ["-b", f"127.0.0.1:{self.port}"]
        if extra_path:
            cmd += ["--pythonpath", str(extra_path)]
        cmd.append(app)
        self.cmd = cmd
        real = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME", "FAKETIME_NO_CACHE")}
        instance = workdir / f"instance-{label}"
        instance.mkdir(exist_ok=True)
        env = {**real, "DATABASE_URL": manifest.url, "MINIMAL_DATABASE_URL": manifest.url,
               "SECRET_KEY": manifest.secret_key, "POINTSAPP_INSTANCE": str(instance),
               "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}", "TRUSTED_HOSTS": "127.0.0.1,localhost",
               "BIND": f"127.0.0.1:{self.port}"}
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self, path: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + path, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.label} server did not start ({' '.join(self.cmd)}):\n"
                                 + self.log_path.read_text()[-3000:])
            time.sleep(0.3)

    def workers(self) -> list:
        import psutil

        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> list[float]:
        out = []
        for p in self.workers():
            with contextlib.suppress(Exception):  # a worker restarting
                out.append(p.memory_info().rss / 2**20)
        return out

    def log_size(self) -> int:
        self._log.flush()
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        self._log.flush()
        with self.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class RssSampler:
    def __init__(self, server: Server):
        self.server, self.peak, self.workers, self._stop = server, 0.0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.server.rss_mb()
            self.peak, self.workers = max([self.peak, *rss]), max(self.workers, len(rss))
            self._stop.wait(0.5)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


# --------------------------------------------------------------------------- one measurement

def run_locust(server: Server, manifest_path: Path, target: str, scenario: str, clients: int, duration: float,
               workdir: Path, assign: Assign) -> dict:
    out = workdir / f"locust-{uuid.uuid4().hex[:8]}.json"
    env = {**os.environ, "BENCH_MANIFEST": str(manifest_path), "BENCH_TARGET": target, "BENCH_SCENARIO": scenario,
           "BENCH_USERS": str(clients), "BENCH_DURATION": str(duration), "BENCH_SLOT": str(assign.slot),
           "BENCH_SLOTS": str(assign.slots), "BENCH_LOGIN_OFFSET": str(assign.login_offset),
           "BENCH_HOT_SPOT": "1" if assign.hot_spot else "0", "BENCH_OUT": str(out)}
    cmd = [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(clients), "-r",
           str(clients), "--run-time", f"{int(duration + 180)}s", "-H", server.url, "--loglevel", "WARNING",
           "--only-summary", "--stop-timeout", "10", "--exit-code-on-error", "0"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if not out.exists():
        raise SystemExit(f"locust wrote no results ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(out.read_text())
    out.unlink()
    if data["ready"] < clients or data["window"][0] is None:
        raise SystemExit(f"only {data['ready']} of {clients} locust users started:\n{proc.stderr[-3000:]}")
    window = (data["window"][1] or time.time()) - data["window"][0]
    by_name: dict[str, list] = {}
    for name, t, ms, ok in data["samples"]:
        by_name.setdefault(name, []).append((t, ms, ok))
    return {"by_name": by_name, "errors": data["errors"], "elapsed": window}


def measure(target: str, scenario: str, clients: int, duration: float, *, servers: dict, manifest_path: Path,
            workdir: Path, assign: Assign) -> dict:
    rss = locked = None
    if target == "raw":
        r = raw_sql.run(assign, scenario, clients, duration)
        by_name = {"raw": [(t, ms, 1) for t, ms in r["samples"]]}
        result = {"by_name": by_name, "errors": r["errors"], "elapsed": r["elapsed"]}
        headline = "raw"
    else:
        server = servers[target]
        offset = server.log_size()
        sampler = RssSampler(server) if target == "app" else None
        result = run_locust(server, manifest_path, target, scenario, clients, duration, workdir, assign)
        rss = sampler.stop() if sampler else None
        result["workers"] = sampler.workers if sampler else None
        locked = server.log_since(offset).count("database is locked")
        headline = HEADLINE[(target, scenario)]
    rows = result["by_name"].get(headline, [])
    lat = sorted(ms for _t, ms, _ok in rows)
    ok = sum(1 for *_x, good in rows if good)
    failed = sum(result["errors"].values())
    all_requests = sum(len(v) for v in result["by_name"].values())
    return {"target": target, "scenario": scenario, "clients": clients, "elapsed": result["elapsed"],
            "rate": ok / result["elapsed"], "requests_per_s": all_requests / result["elapsed"], "lat": lat,
            "errors": failed, "error_kinds": result["errors"], "rss_peak_mb": rss, "locked": locked,
            "workers": result.get("workers"),
            "names": {n: _pcts(sorted(ms for _t, ms, _ok in v)) | {"n": len(v)} for n, v in result["by_name"].items()},
            "series": [(t, ms) for t, ms, _ok in rows]}


def _pct(lat: list[float], q: float) -> float:
    if not lat:
        return float("nan")
    return lat[min(len(lat) - 1, int(round(q / 100 * (len(lat) - 1))))]


def _pcts(lat: list[float]) -> dict:
    return {"p50": _pct(lat, 50), "p95": _pct(lat, 95), "p99": _pct(lat, 99), "max": lat[-1] if lat else float("nan")}


# --------------------------------------------------------------------------- report

def summarise(results: list[dict]) -> dict:
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["scenario"], r["clients"], r["target"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        lat = sorted(x for r in rs for x in r["lat"])
        rates = [r["rate"] for r in rs]
        out[key] = {"rates": rates, "rate": statistics.median(rates), **_pcts(lat),
                    "errors": sum(r["errors"] for r in rs), "n": len(lat),
                    "rss": max((r["rss_peak_mb"] or 0) for r in rs) or None,
                    "locked": sum(r["locked"] or 0 for r in rs),
                    "error_kinds": _merge([r["error_kinds"] for r in rs])}
    return out


def _merge(dicts: list[dict]) -> dict:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def _range(rates: list[float]) -> str:
    if len(rates) == 1:
        return f"{rates[0]:,.0f}"
    return f"{statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"


def _ms(x: float) -> str:
    return "–" if x != x else (f"{x:,.0f}" if x >= 10 else f"{x:.1f}")


def tables(summary: dict, clients: list[int], statements: dict, backend: str, workers_note: str) -> str:
    lines = []
    lines.append(f"| {backend}, {workers_note} | clients | app: per s (median, range) | app p50 / p95 / p99 / max ms | "
                 "app errors | minimal: per s | minimal p99 ms | raw SQL: tps | raw p99 ms | app / raw | app / minimal |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scenario in ("checkout", "checkin"):
        for n in clients:
            a, m, r = (summary.get((scenario, n, t)) for t in ("app", "minimal", "raw"))
            if not a:
                continue
            lines.append(
                f"| {SCENARIO_LABEL[scenario]} | {n} | {_range(a['rates'])} | {_ms(a['p50'])} / {_ms(a['p95'])} / "
                f"{_ms(a['p99'])} / {_ms(a['max'])} | {a['errors']} | {_range(m['rates']) if m else '–'} | "
                f"{_ms(m['p99']) if m else '–'} | {_range(r['rates']) if r else '–'} | {_ms(r['p99']) if r else '–'} | "
                f"{100 * a['rate'] / r['rate']:.0f} % | {100 * a['rate'] / m['rate']:.0f} % |"
                if m and r and r["rate"] and m["rate"] else
                f"| {SCENARIO_LABEL[scenario]} | {n} | {_range(a['rates'])} | {_ms(a['p50'])} / {_ms(a['p95'])} / "
                f"{_ms(a['p99'])} / {_ms(a['max'])} | {a['errors']} | – | – | – | – | – | – |")
    for scenario in ("checkout_hot", "member_code", "board"):
        for n in clients:
            a = summary.get((scenario, n, "app"))
            if a:
                lines.append(f"| {SCENARIO_LABEL[scenario]} | {n} | {_range(a['rates'])} | {_ms(a['p50'])} / "
                             f"{_ms(a['p95'])} / {_ms(a['p99'])} / {_ms(a['max'])} | {a['errors']} | – | – | – | – | – | – |")
    lines.append("")
    lines.append("SQL statements per request (transaction control left out; counted in-process on the seeded "
                 "database, second request of each kind):")
    lines.append("")
    lines.append("| request | statements |")
    lines.append("|---|---:|")
    for name, n in statements.items():
        lines.append(f"| {name} | {n} |")
    return "\n".join(lines)


def chart(summary: dict, clients: list[int], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in ("checkout", "checkin", "member_code", "board")
                 if any((s, n, "app") in summary for n in clients)]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(4.2 * len(scenarios), 4.2), squeeze=False)
    colours = {"p50": "#4C72B0", "p95": "#DD8452", "p99": "#C44E52"}
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        labels, groups = [], []
        for n in clients:
            for target in ("app", "minimal", "raw"):
                s = summary.get((scenario, n, target))
                if s:
                    labels.append(f"{target}\n{n} cl.")
                    groups.append(s)
        width = 0.27
        for k, q in enumerate(("p50", "p95", "p99")):
            ax.bar([i + (k - 1) * width for i in range(len(groups))], [max(g[q], 0.01) for g in groups], width,
                   label=q, color=colours[q])
        ax.set_xticks(range(len(groups)), labels, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylim(bottom=1)
        ax.set_ylabel("latency, ms (log)")
        ax.set_title(SCENARIO_LABEL[scenario])
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(block: str, backend: str) -> Path:
    return write_block(block, f"<!-- load-bench:{backend}:begin -->", f"<!-- load-bench:{backend}:end -->", SECTION,
                       INTRO)


INTRO = """`make bench` (bench/load/run.py; `make bench ARGS=--small` for a quick run, `ARGS="--backend sqlite"` for
SQLite) seeds a synthetic city, serves the app with its production gunicorn configuration, drives it with locust
(headless) from a second process, and runs the same transactions as raw SQL (psycopg / sqlite3, N processes) and
as a minimal Flask + SQLAlchemy Core endpoint (same gunicorn settings, same load generator), interleaved in one
run: for each round and each client count, app, minimal, raw. Each simulated client is its own clerk serving its
own resident, or its own resident checking in, so clients do not queue on one account. Rates are per second of
the measured window (after every client has logged in); "app" counts the flow's headline request (the checkout
POST, the check-in confirm POST, the member-code page, the board), and each checkout / check-in flow also makes
its other requests (identify, counter page, receipt; scan, confirm page, done page), listed per request in the
run's output. Figures below are from the machine named with them; the other blocks are replaced only by a run
on their backend.

How to read it, and what the run does not do:

- The headline rate is completed flows per second (checkouts, check-ins), or pages per second; the app's flows
  make 4 requests each, the minimal endpoint and raw SQL one transaction each, as the issue's comparison does.
  "app / raw" and "app / minimal" are the ratios of those medians (the issue's targets: ≥ 25 % and ≥ 50 %).
- Latencies are of the headline request alone (the checkout POST, the confirm POST), pooled over the rounds.
- Codes are made by the load generator with the app's secret (as a phone reads them off the lead's screen and
  the resident's 会员码), not decoded from the QR images.
- The seeded ledger is the generator of bench/ledger_verify.py, checked there against post() and verify(); each
  chain starts with an opening award of 100,000 points (so checkouts never run out) and ends shortly before the
  run, so this month's boards have rows. Earning totals are computed from the ledger in SQL. After the run
  `ledger verify` checks every chain, including what the app and both baselines wrote (skip with --no-verify).
- Login limits use the default memory:// storage (the app warns: per worker); the login is outside the window.
- On a 2-core machine the load generator, the server and the database share the CPUs; other work on the machine
  shows in the load average noted with each run. Rerun on a quiet machine before comparing with targets."""


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "?"
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--small", action="store_true",
                    help="quick preset: 5,000 residents, 100,000 entries, 1 round of 8 s (unless given)")
    ap.add_argument("--residents", type=int, help="default 100,000 (--small: 5,000)")
    ap.add_argument("--entries", type=int, help="default 5,000,000 (--small: 100,000)")
    ap.add_argument("--communities", type=int, help="default: one per 10,000 residents, at least 2")
    ap.add_argument("--clients", default="8,32", help="client counts, comma-separated (default 8,32)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --small: 1)")
    ap.add_argument("--duration", type=float, help="seconds measured per run (default 20; --small: 8)")
    ap.add_argument("--workers", type=int, help="gunicorn workers (default: the production config's; SQLite: 4)")
    ap.add_argument("--hot-spot", action="store_true", help="also: every app client checks out the same resident")
    ap.add_argument("--only", help="targets to run, comma-separated (app,minimal,raw)", default="app,minimal,raw")
    ap.add_argument("--scenarios", default="checkout,checkin,member_code,board",
                    help="scenarios to run, comma-separated (default: all four)")
    ap.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    ap.add_argument("--no-verify", action="store_true", help="skip `ledger verify` after the run")
    ap.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    args = ap.parse_args()

    import logging

    logging.disable(logging.INFO)
    residents = args.residents or (5_000 if args.small else 100_000)
    entries = args.entries if args.entries is not None else (100_000 if args.small else 5_000_000)
    communities = args.communities or max(2, residents // 10_000)
    rounds = args.rounds or (1 if args.small else 3)
    duration = args.duration or (8.0 if args.small else 20.0)
    clients = [int(x) for x in args.clients.split(",")]
    targets = [t for t in ("app", "minimal", "raw") if t in args.only.split(",")]
    scenarios = args.scenarios.split(",")
    if max(clients) > MAX_CLIENTS:
        raise SystemExit(f"at most {MAX_CLIENTS} clients")
    workers = args.workers or (4 if args.backend == "sqlite" else None)
    per_c = [-(-n // communities) for n in clients]
    warm = min(4, max(clients))  # clients of the warm-up pass (not measured)
    logins = rounds * sum(per_c) + max(per_c) + -(-warm // communities) + 4
    activities = 300 if not args.small else 150
    clerks = max(per_c) + 1

    log(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}")
    log(f"seeding {args.backend}: {residents:,} residents, {entries:,} entries, {communities} communities")
    db = Database(args.backend, args.keep)
    servers: dict[str, Server] = {}
    try:
        manifest = city.seed(db.url, args.backend, residents=residents, entries=entries, communities=communities,
                             secret_key=secrets.token_hex(32), clerks=clerks, logins=logins, activities=activities)
        manifest_path = db.tmp / "city.json"
        manifest.save(manifest_path)
        log("counting SQL statements per request (in-process) …")
        statements = count_statements(manifest)
        for name, n in statements.items():
            log(f"  {n:3d}  {name}")

        servers["app"] = Server("app", "pointsapp:create_app()", manifest, db.tmp, workers)
        if "minimal" in targets:
            servers["minimal"] = Server("minimal", "minimal_app:create()", manifest, db.tmp, workers, HERE)
        servers["app"].wait("/login")
        if "minimal" in servers:
            servers["minimal"].wait("/ping")
        app_server = servers["app"]
        n_workers = len(app_server.workers())
        how = (f"gunicorn -c {app_server.config}" if app_server.config else "gunicorn (no pointsapp.serving.gunicorn_conf: plain flags)")
        workers_note = f"{n_workers} workers"
        log(f"serving: {' '.join(app_server.cmd)} → {n_workers} workers, RSS idle "
            f"{', '.join(f'{x:.0f}' for x in app_server.rss_mb())} MB")

        results = []
        checkin_slots = rounds * len(clients) * len(targets) + 2
        slot = login_offset = 0
        plan = []  # first a warm-up pass (every worker imports, compiles templates, opens connections)
        for scenario in ("checkout", "checkin", "member_code", "board"):
            for target in ("app", "minimal"):
                if target in targets and scenario in scenarios and (target == "app" or scenario in ("checkout", "checkin")):
                    plan.append((-1, warm, scenario, target, -1))
        for rnd in range(rounds):
            for i, n in enumerate(clients):
                for scenario in ("checkout", "checkin"):
                    for target in targets:
                        if scenario in scenarios:
                            plan.append((rnd, n, scenario, target, i))
                if "app" in targets:
                    plan += [(rnd, n, s, "app", i) for s in ("member_code", "board") if s in scenarios]
                    if args.hot_spot:
                        plan.append((rnd, n, "checkout_hot", "app", i))
        for k, (rnd, n, scenario, target, i) in enumerate(plan, 1):
            assign = Assign(manifest, slot=slot, slots=checkin_slots, login_offset=login_offset,
                            hot_spot=scenario == "checkout_hot", clients=n)
            log(f"[{k}/{len(plan)}] {'warm-up' if rnd < 0 else f'round {rnd + 1}'}, {n} clients: {scenario} on "
                f"{target} …")
            r = measure(target, "checkout" if scenario == "checkout_hot" else scenario, n,
                        min(duration, 4.0) if rnd < 0 else duration,
                        servers=servers, manifest_path=manifest_path, workdir=db.tmp, assign=assign)
            r["scenario"], r["round"] = scenario, rnd
            if scenario == "checkin":
                slot += 1
                if target == "app":
                    login_offset += per_c[i] if i >= 0 else -(-warm // communities)
            lat = r["lat"]
            log(f"    {r['rate']:8.1f}/s  p50 {_ms(_pct(lat, 50))}  p99 {_ms(_pct(lat, 99))}  max "
                f"{_ms(lat[-1] if lat else float('nan'))} ms  errors {r['errors']}"
                + (f"  RSS peak {r['rss_peak_mb']:.0f} MB" if r["rss_peak_mb"] else "")
                + (f"  'database is locked' {r['locked']}" if r["locked"] else ""))
            for kind, count in list(r["error_kinds"].items())[:3]:
                log(f"      {count}× {kind}")
            if rnd >= 0:
                results.append(r)

        rss_idle = app_server.rss_mb()
        for s in servers.values():
            s.stop()
        servers.clear()
        verified = None
        if not args.no_verify:
            log("ledger verify on the database after the run …")
            ok, n_entries, problems = city.verify(manifest.url)
            verified = (ok, n_entries)
            log(f"  verify: {'OK' if ok else 'PROBLEMS'}, {n_entries:,} entries {problems if problems else ''}")

        n_workers = max([n_workers, *(r["workers"] or 0 for r in results)])
        workers_note = f"{n_workers} workers"
        summary = summarise(results)
        table = tables(summary, clients, statements, "PostgreSQL" if args.backend == "postgresql" else "SQLite",
                       workers_note)
        peak = max((r["rss_peak_mb"] or 0) for r in results)
        locked = sum(r["locked"] or 0 for r in results)
        worst = max((r["lat"][-1] for r in results if r["target"] == "app" and r["lat"]), default=float("nan"))
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        notes = [
            f"Run {when} on {machine()}, load average {os.getloadavg()[0]:.2f} at the end; "
            f"{_pg_version(db) if args.backend == 'postgresql' else 'SQLite ' + sqlite3.sqlite_version}; "
            f"`{how}`, {n_workers} workers.",
            f"City: {manifest.residents:,} residents, {manifest.entries:,} ledger entries, {communities} communities, "
            f"seeded in {manifest.seconds['total']:.0f} s (tree and ledger {manifest.seconds['tree_and_ledger']:.0f} s, "
            f"earning totals {manifest.seconds['earning_totals']:.0f} s). {rounds} round(s) of {duration:.0f} s per "
            f"measurement, interleaved app, minimal, raw.",
            f"Gunicorn workers' RSS: idle after the run {', '.join(f'{x:.0f}' for x in rss_idle)} MB; peak during "
            f"the app's runs {peak:.0f} MB.",
            f"Slowest app request of the run: {_ms(worst)} ms; \"database is locked\" in the app's log: {locked}.",
        ]
        if verified:
            notes.append(f"`ledger verify` after the run: {'OK' if verified[0] else 'FAILED'} "
                         f"({verified[1]:,} entries).")
        errs = _merge([r["error_kinds"] for r in results])
        if errs:
            notes.append("Errors: " + "; ".join(f"{v}× {k}" for k, v in sorted(errs.items(), key=lambda x: -x[1])[:6]))
        per_request = ["", "Every request of the app's flows (all rounds, all client counts):", "",
                       "| request | clients | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|---:|"]
        merged: dict[tuple, list] = {}
        for r in results:
            if r["target"] == "app":
                for name, p in r["names"].items():
                    merged.setdefault((name, r["clients"]), []).append(p)
        for (name, n), ps in sorted(merged.items()):
            if name.startswith("("):
                continue
            per_request.append(f"| {name} | {n} | {sum(p['n'] for p in ps):,} | {_ms(statistics.median(p['p50'] for p in ps))} | "
                               f"{_ms(statistics.median(p['p95'] for p in ps))} | {_ms(statistics.median(p['p99'] for p in ps))} | "
                               f"{_ms(max(p['max'] for p in ps))} |")
        img = ROOT / "docs" / "img" / f"load-latency-{args.backend}.png"
        block = "\n".join([f"### {'PostgreSQL' if args.backend == 'postgresql' else 'SQLite'}", "",
                           *[f"- {n}" for n in notes], "", table, *per_request, "",
                           f"![latency percentiles, {args.backend}](img/{img.name})", "",
                           f"Reproduce: `make bench{_args_for_docs()}`"])
        print(block)
        if not args.no_docs:
            chart(summary, clients, img, f"pointsapp load, {args.backend}, {when}")
            doc = write_docs(block, args.backend)
            log(f"wrote {doc.relative_to(ROOT)} and {img.relative_to(ROOT)}")
        if args.json:
            Path(args.json).write_text(json.dumps({"results": [{k: v for k, v in r.items() if k != "series"}
                                                               for r in results], "statements": statements,
                                                   "manifest_seconds": manifest.seconds}, default=str))
    finally:
        for s in servers.values():
            s.stop()
        db.drop()


def _args_for_docs() -> str:
    """This run's options as `make bench ARGS=…` takes them, without the ones that only name local files."""
    argv, out = sys.argv[1:], []
    while argv:
        a = argv.pop(0)
        if a == "--json":
            argv = argv[1:]
        elif not a.startswith("--json="):
            out.append(a)
    return f' ARGS="{" ".join(out)}"' if out else ""


def _pg_version(db: Database) -> str:
    from sqlalchemy import text

    with db.admin.connect() as conn:
        return "PostgreSQL " + conn.execute(text("SHOW server_version")).scalar().split()[0]


if __name__ == "__main__":
    main()
