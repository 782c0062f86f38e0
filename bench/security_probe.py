"""Probe a throwaway pointsapp from outside, over real HTTP, for the findings of issue 11.

Not a test. For each --database (SQLite file and/or a throwaway PostgreSQL database, dropped at the
end) it builds an instance in a temp dir (POINTSAPP_INSTANCE, `flask db upgrade`, `flask demo
--buildings 3 --months 1`), serves it on a free port with gunicorn (`-w 4`) when the venv has it, else
with `flask run` (the report says which), with RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/15 when
Redis answers and the venv can talk to it, and drives it from this process with `requests`, logged in
as each demo login (README "Demo logins") and anonymously:

  sweep 1  every rule of the app's url_map x each role x ids {1, 2, 0, -1, 10**20, 2**31} for each
           <int:...> argument (capped per rule); GET routes by GET, POST routes by POST with a valid
           CSRF token (endpoints named *logout*, *revoke*, *session* or *device* are left out: they
           would end the sweep's own sessions or roles);
  sweep 2  hostile fields: each role crawls the pages it can reach (one page per URL pattern), every
           <form> is parsed (logout and language forms skipped, and forms about the demo logins' own
           residents, so the sweep cannot lock itself out) and each field of each POST form is sent in
           turn with each hostile value (NUL, control characters, 10,000 characters, full-width and
           Arabic-Indic digits, spreadsheet formulas, 30 nines, a script tag); search forms get the
           same values in q=;
  sweep 3  the same creating form ten times at once (a star rule set, a team member, a staff role,
           a first password, a word list).

Then the finding checks of issue 11, each PASS or FAIL with one line of figures (balances and stored
text are read from the database with SQLAlchemy; the app is imported only to list its routes):
  F1 a lead's own check-in at three 1000-point activities he creates leaves his balance alone;
  F2 resident_id alone does not open the counter for a card-with-PIN resident, a counter cookie saved
     before a checkout does not buy a second time, the clerk's search list shows no ID-card tails;
  F3 a cookie saved before logout no longer opens /me/points;
  F4 formula names (set through the admin's forms) leave no live formula in the ledger and day-report
     XLSX and no CSV cell starting with = + - @ tab or CR (plain negative numbers are data);
  F5 a NUL in the login phone and in every field of sweep 2 gives no 5xx, and no text column holds one;
  F6 CSP (script-src without 'unsafe-inline'), frame-ancestors or X-Frame-Options, nosniff and
     Referrer-Policy on every HTML page crawled, no-store on personal pages, no version in Server;
  F7 Host: evil.example → 400 (the QR a lead's screen shows is read back when it is not);
  F8 40 wrong passwords for one phone at once from 127.0.0.1: how many got a password check (not 429),
     at most 10; then the owner logs in from 127.0.0.2;
  F9 a 300 MB shared string (.xlsx), a 12000x12000 PNG product photo and a 1M-row .xlsx: each refused
     or handled within 10 s, no 5xx, the server's peak RSS (all its processes, from /proc) +150 MB at most;
  F10 sweep 3 gives no 5xx; F11 123456, password, 111111a are refused as a new password;
  F12 the SQLite file is 0600 or stricter.
Every request is counted and every 5xx recorded (method, path, role, field, value). The Markdown
report is printed and written to --out; the exit code is 1 when a check fails or any 5xx was seen.
The checks run first, then the sweeps, then F8 and F9 (they lock 127.0.0.1 out and load the server).

    .venv/bin/python bench/security_probe.py                       # both databases, full sweep (~10 min)
    .venv/bin/python bench/security_probe.py --database sqlite --quick
    .venv/bin/python bench/security_probe.py --pg-url postgresql://postgres@127.0.0.1:5432 --out /tmp/p.md
    .venv/bin/python bench/security_probe.py --env 'SOME_URL=http://127.0.0.1:{port}'   # more app settings

Needs the dev extra (requests) and the test extra (zxing-cpp reads the member-code QR for F2).
Source addresses 127.0.0.2 (the phone's owner in F8) and 127.0.0.3 (anonymous hostile logins, kept
off 127.0.0.1's login limit) are other loopback addresses: Linux routes all of 127/8 to lo.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine, inspect, text

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
CHINA = timezone(timedelta(hours=8))
PASSWORD = "demo1234"
LOGINS = {"resident": "13800000001", "lead": "13800000002", "clerk": "13800000003",
          "admin1": "13800000004", "admin2": "13800000005", "city": "13800000006"}
ROLES = ["anonymous", *LOGINS]
IDS = [1, 2, 0, -1, 10**20, 2**31]
HOSTILE = ["\x00", "a\x00b", "\x07", "\x1b[2J", "x" * 10000, "１２３", "١٢٣", '=HYPERLINK("http://evil.example/","点我")',
           "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "-1", "9" * 30, "<script>alert(1)</script>"]
QUICK_HOSTILE = ["\x00", "a\x00b", "\x1b[2J", "x" * 10000, "１２３", '=HYPERLINK("http://evil.example/","点我")']
FORMULAS = ['=HYPERLINK("http://evil.example/","点我")', "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1"]
WEAK = ["123456", "password", "111111a"]
# sweep 1 leaves out what would end its own sessions or roles (logout, revoking, ending sessions or devices)
SKIP_ENDPOINTS = re.compile(r"logout|revoke|session|device")
SKIP_LINKS = re.compile(r"/logout|/static/|\.svg|\.xlsx|\.jpg|format=|^/c/|/lang/")


# ---- counting every request ------------------------------------------------------------------

@dataclass
class Stats:
    tried: int = 0
    errors: list = field(default_factory=list)  # (status, method, path, role, field, value)
    no_answer: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, sess, method, url, role, fld=None, value=None, timeout=60, **kw):
        kw.setdefault("allow_redirects", False)
        with self.lock:
            self.tried += 1
        try:
            r = sess.request(method, url, timeout=timeout, **kw)
        except requests.RequestException as exc:
            with self.lock:
                self.no_answer.append((type(exc).__name__, method, urlsplit(url).path, role, fld, value))
            return None
        if r.status_code >= 500:
            with self.lock:
                self.errors.append((r.status_code, method, urlsplit(url).path, role, fld, value))
        return r


class SourceAdapter(HTTPAdapter):
    """Connect from another loopback address, so the app sees another client IP."""

    def __init__(self, source: str, **kw):
        self.source = source
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kw)


def new_session(source: str | None = None, cookies=None) -> requests.Session:
    s = requests.Session()
    if source:
        s.mount("http://", SourceAdapter(source))
    if cookies:
        for c in cookies:
            s.cookies.set(c.name, c.value, domain=c.domain, path=c.path)
    return s


# ---- forms ------------------------------------------------------------------------------------

@dataclass
class Form:
    action: str
    method: str
    enctype: str
    fields: list = field(default_factory=list)  # [name, value, kind]

    def names(self):
        return [f[0] for f in self.fields if f[0] != "csrf_token"]

    def defaults(self) -> dict:
        data, seen_button = {}, False
        for name, value, kind in self.fields:
            if kind in ("submit", "button"):
                if seen_button or name in data:
                    continue
                seen_button = True
            if kind in ("unchecked", "disabled") or name in data:
                continue
            data[name] = value
        return data


class FormParser(HTMLParser):
    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url, self.forms, self.links, self.form = url, [], [], None
        self.select = self.textarea = None
        self.first_option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            self.form = Form(urljoin(self.url, a.get("action") or self.url), (a.get("method") or "get").upper(),
                             a.get("enctype", ""))
            self.forms.append(self.form)
        if self.form is None or "name" not in a:
            if tag == "option" and self.select is not None:
                self._option(a)
            return
        kind = "disabled" if "disabled" in a else (a.get("type") or "text").lower()
        if tag == "input":
            if kind in ("checkbox", "radio") and "checked" not in a:
                kind = "unchecked"
            if kind != "file":
                self.form.fields.append([a["name"], a.get("value", "on" if kind == "checkbox" else ""), kind])
        elif tag == "button":
            self.form.fields.append([a["name"], a.get("value", ""), "submit"])
        elif tag == "select":
            self.select = [a["name"], None, "select"]
            self.first_option = None
            self.form.fields.append(self.select)
        elif tag == "textarea":
            self.textarea = [a["name"], "", "textarea"]
            self.form.fields.append(self.textarea)
        elif tag == "option" and self.select is not None:
            self._option(a)

    def _option(self, a):
        value = a.get("value", "")
        if self.first_option is None:
            self.first_option = value
        if "selected" in a or self.select[1] is None:
            self.select[1] = value

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data


def parse(url: str, html: str) -> FormParser:
    p = FormParser(url)
    p.feed(html)
    return p


def forms_of(r) -> list[Form]:
    if r is None or "html" not in r.headers.get("Content-Type", ""):
        return []
    return parse(r.url, r.text).forms


def find_form(forms, *names, action=None) -> Form | None:
    for f in forms:
        if all(n in f.names() for n in names) and (action is None or re.search(action, f.action)):
            return f
    return None


def csrf_of(r) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', r.text)
    return (m.group(1) or m.group(2)) if m else ""


# ---- the instance -----------------------------------------------------------------------------

@dataclass
class Instance:
    database: str
    url: str  # SQLAlchemy URL of the app's database
    directory: str
    env: dict
    base: str = ""
    server: str = ""
    proc: subprocess.Popen | None = None
    engine: object = None
    pg_admin: str = ""
    pg_name: str = ""
    port: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_answers() -> bool:
    try:
        import redis  # noqa: F401  (flask-limiter's Redis storage needs the client library)
    except ImportError:
        return False
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"*2\r\n$6\r\nSELECT\r\n$2\r\n15\r\n*1\r\n$7\r\nFLUSHDB\r\n")
            answer = b""
            while answer.count(b"\r\n") < 2 and (chunk := s.recv(64)):
                answer += chunk
            return answer == b"+OK\r\n+OK\r\n"
    except OSError:
        return False


def build(database: str, pg_admin: str, extra_env: dict, log) -> Instance:
    directory = tempfile.mkdtemp(prefix=f"probe-{database}-")
    inst = Instance(database, "", directory, {})
    if database == "sqlite":
        inst.url = f"sqlite:///{directory}/pointsapp.sqlite"
    else:
        inst.pg_admin, inst.pg_name = pg_admin.rstrip("/"), "probe_" + secrets.token_hex(4)
        admin = create_engine(psyco(inst.pg_admin + "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{inst.pg_name}"'))
        admin.dispose()
        inst.url = f"{inst.pg_admin}/{inst.pg_name}"
    inst.env = {**os.environ, "POINTSAPP_INSTANCE": directory, "DATABASE_URL": inst.url, "FLASK_DEBUG": "0"}
    inst.env.pop("SECRET_KEY", None)
    inst.port = free_port()
    inst.env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{inst.port}"  # what QR codes and slips name
    inst.env.update({k: v.replace("{port}", str(inst.port)) for k, v in extra_env.items()})
    if redis_answers():
        inst.env["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/15"
    for args in (["db", "upgrade"], ["demo", "--buildings", "3", "--months", "1"]):
        log(f"  flask {' '.join(args)}")
        subprocess.run([str(VENV / "flask"), "--app", "pointsapp", *args], env=inst.env, cwd=ROOT, check=True,
                       capture_output=True)
    inst.engine = create_engine(psyco(inst.url))
    return inst


def psyco(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def serve(inst: Instance, log) -> None:
    port = inst.port
    inst.base = f"http://127.0.0.1:{port}"
    if (VENV / "gunicorn").exists():
        inst.server = "gunicorn -w 4"
        cmd = [str(VENV / "gunicorn"), "-w", "4", "-b", f"127.0.0.1:{port}", "pointsapp:create_app()"]
    else:
        inst.server = "flask run (gunicorn not installed)"
        cmd = [str(VENV / "flask"), "--app", "pointsapp", "run", "--port", str(port), "--with-threads"]
    inst.server += ", limiter " + ("redis" if "RATELIMIT_STORAGE_URI" in inst.env else "memory://")
    log(f"  serving with {inst.server} on {inst.base}")
    with open(Path(inst.directory) / "server.log", "w") as errors:  # the child keeps its own copy
        inst.proc = subprocess.Popen(cmd, env=inst.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
                                     start_new_session=True)
    for _ in range(100):
        try:
            requests.get(inst.base + "/login", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"the server did not start; see {inst.directory}/server.log")


def teardown(inst: Instance) -> None:
    if inst.proc and inst.proc.poll() is None:
        os.killpg(inst.proc.pid, signal.SIGTERM)
        try:
            inst.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(inst.proc.pid, signal.SIGKILL)
    if inst.engine is not None:
        inst.engine.dispose()
    if inst.pg_name:
        admin = create_engine(psyco(inst.pg_admin + "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{inst.pg_name}" WITH (FORCE)'))
        admin.dispose()
    shutil.rmtree(inst.directory, ignore_errors=True)


def server_rss_mb(inst: Instance) -> float:
    """Resident memory of the server and its workers, from /proc."""
    pids, total = {inst.proc.pid}, 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().split(") ")[1].split()[1]) in pids:
                    pids.add(int(p.name))
            except (OSError, IndexError, ValueError):
                continue
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def q(inst: Instance, sql: str, **params):
    with inst.engine.connect() as c:
        return c.execute(text(sql), params).all()


# ---- logging in -------------------------------------------------------------------------------

def login(inst, stats, role, source=None, password=PASSWORD, phone=None):
    s = new_session(source)
    if role == "anonymous":
        stats.call(s, "GET", inst.base + "/login", role)
        return s
    r = stats.call(s, "GET", inst.base + "/login", role)
    f = find_form(forms_of(r), "phone", "password")
    data = {**f.defaults(), "phone": phone or LOGINS[role], "password": password}
    r = stats.call(s, "POST", f.action, role, data=data)
    s.logged_in = r is not None and r.status_code == 302 and "/login" not in r.headers.get("Location", "")
    s.last = r
    return s


def token(inst, stats, s, role) -> str:
    r = stats.call(s, "GET", inst.base + ("/login" if role == "anonymous" else "/"), role, allow_redirects=True)
    return csrf_of(r) if r is not None else ""


def ids(inst):
    """The ids the checks need, read from the database."""
    rows = dict(q(inst, 'SELECT phone, resident_id FROM "user" WHERE phone LIKE :p', p="1380000000%"))
    team = q(inst, "SELECT team_id FROM role_grant g JOIN \"user\" u ON u.id = g.user_id "
                   "WHERE u.phone = :p AND g.team_id IS NOT NULL", p=LOGINS["lead"])
    return {"residents": rows, "team": team[0][0] if team else 1}


# ---- sweep 1: every route x role x id ---------------------------------------------------------

def routes(inst):
    """(endpoint, rule, methods) of the app's url_map: the app is imported only for this."""
    os.environ.update(inst.env)  # the served app's settings (its checks at start-up stay quiet)
    sys.path.insert(0, str(ROOT))
    from pointsapp import create_app
    app = create_app()
    return [(r.endpoint, r.rule, sorted(r.methods - {"HEAD", "OPTIONS"})) for r in app.url_map.iter_rules()]


def fill(rule: str, quick: bool) -> list[str]:
    parts = re.split(r"(<[^>]+>)", rule)
    combos = [""]
    for part in parts:
        if part.startswith("<"):
            values = ([1, 0, 10**20] if quick else IDS) if part.startswith("<int:") else ["x"]
            combos = [c + str(v) for c in combos for v in values]
        else:
            combos = [c + part for c in combos]
    return combos[: 4 if quick else 12]


def sweep_routes(inst, stats, sessions, rules, quick):
    def one(role):
        s = sessions[role]
        tok = token(inst, stats, s, role)
        for endpoint, rule, methods in rules:
            if endpoint == "static" or SKIP_ENDPOINTS.search(endpoint) or "<path:" in rule:
                continue
            for path in fill(rule, quick):
                for method in methods:
                    data = {"csrf_token": tok} if method == "POST" else None
                    stats.call(s, method, inst.base + path, role, data=data)
    with ThreadPoolExecutor(len(ROLES)) as pool:
        list(pool.map(one, ROLES))


# ---- sweep 2: hostile fields ------------------------------------------------------------------

def pattern(url: str) -> str:
    parts = urlsplit(url)
    return re.sub(r"\d+", "N", parts.path) + ("?" + re.sub(r"=[^&]*", "=", parts.query) if parts.query else "")


def crawl(inst, stats, s, role, limit, header_log):
    """The pages a role reaches from its home page, one per URL pattern."""
    start = ["/login", "/activate"] if role == "anonymous" else ["/", "/lead/", "/store/", "/admin/", "/city/",
                                                                  "/me/points", "/me/code", "/rankings"]
    queue, seen, pages = [inst.base + p for p in start], set(), []
    while queue and len(pages) < limit:
        url = queue.pop(0)
        key = pattern(url)
        if key in seen:
            continue
        seen.add(key)
        r = stats.call(s, "GET", url, role)
        if r is None or r.status_code != 200 or "html" not in r.headers.get("Content-Type", ""):
            continue
        header_log.append((url, role, r.headers))
        p = parse(url, r.text)
        pages.append((url, p.forms))
        for href in p.links:
            target = urljoin(url, href).split("#")[0]
            if target.startswith(inst.base) and not SKIP_LINKS.search(target[len(inst.base):]):
                queue.append(target)
    return pages


def sweep_fields(inst, stats, sessions, quick, demo_residents, header_log):
    values = QUICK_HOSTILE if quick else HOSTILE
    own = re.compile(r"/residents/({})(/|$)".format("|".join(str(i) for i in demo_residents if i)))

    coverage = Counter()

    def one(role):
        s = sessions[role]
        done = set()
        pages = crawl(inst, stats, s, role, 20 if quick else 60, header_log)
        coverage["pages"] += len(pages)
        for _url, forms in pages:
            for f in forms:
                if re.search(r"/logout|/lang/", f.action) or own.search(urlsplit(f.action).path):
                    continue
                key = (f.method, pattern(f.action), tuple(sorted(f.names())))
                if key in done:
                    continue
                done.add(key)
                coverage["forms"] += 1
                base = f.defaults()
                if f.method == "GET":
                    if "q" in f.names():
                        for v in values:
                            stats.call(s, "GET", f.action.split("?")[0] + "?" + urlencode({**base, "q": v}), role,
                                       "q", v)
                    continue
                for name in dict.fromkeys(f.names()):
                    for v in values:
                        stats.call(s, "POST", f.action, role, name, v, data={**base, name: v})
    with ThreadPoolExecutor(len(ROLES)) as pool:
        list(pool.map(one, ROLES))
    return coverage


# ---- sweep 3: the same form ten times at once ------------------------------------------------

def burst(stats, s, role, form: Form, data: dict, label: str, n=10) -> Counter:
    clients = [new_session(cookies=s.cookies) for _ in range(n)]
    gate = threading.Barrier(n)

    def fire(c):
        gate.wait()
        r = stats.call(c, form.method, form.action, role, label, "x10", data=data)
        return r.status_code if r is not None else "no answer"
    with ThreadPoolExecutor(n) as pool:
        return Counter(pool.map(fire, clients))


def sweep_same_form(inst, stats, sessions, ctx) -> dict:
    base, out = inst.base, {}
    admin, lead = sessions["admin1"], sessions["lead"]

    def get(s, role, path):
        r = stats.call(s, "GET", base + path, role, allow_redirects=True)
        ctx["last_page"] = r.text if r is not None else ""
        return forms_of(r)
    f = find_form(get(admin, "admin1", "/admin/c/1/stars"), "name", "star1")
    if f:
        out["star rule set"] = burst(stats, admin, "admin1", f, {**f.defaults(), "name": "探针规则"}, "star rule set")
        out["star rule set"] += burst(stats, admin, "admin1", f, {**f.defaults(), "name": "探针规则"}, "star rule set",
                                      n=1)
    f = find_form(get(lead, "lead", f"/lead/teams/{ctx['team']}?q=%E5%88%98"), "resident_id")
    if f:
        out["team member"] = burst(stats, lead, "lead", f, f.defaults(), "team member")
    f = find_form(get(admin, "admin1", "/admin/c/1/staff"), "phone", "role")
    if f:
        scope = next(iter(re.findall(r'value="(store:\d+)"', ctx["last_page"])), "store:1")
        data = {**f.defaults(), "phone": "13900000088", "name": "探针店员", "role": "clerk", "scope": scope}
        out["staff role"] = burst(stats, admin, "admin1", f, data, "staff role")
    f = find_form(get(admin, "admin1", f"/admin/c/1/residents/{ctx['no_account']}"), "password",
                  action=r"/password$")
    if f:
        out["first password"] = burst(stats, admin, "admin1", f, {**f.defaults(), "password": "Lao-Wang-2026-probe"},
                                      "first password")
    f = find_form(get(admin, "admin1", "/admin/c/1/teams"), "labels_group", "labels")
    if f:
        out["word list"] = burst(stats, admin, "admin1", f, {**f.defaults(), "labels": f.defaults()["labels"] + " 探针"},
                                 "word list")
    return out


# ---- the finding checks -----------------------------------------------------------------------

@dataclass
class Check:
    name: str
    ok: bool
    figures: str


def balance(inst, resident_id) -> int:
    rows = q(inst, "SELECT balance FROM points_account WHERE resident_id = :r", r=resident_id)
    return rows[0][0] if rows else 0


def f1_self_award(inst, stats, ctx) -> Check:
    s = login(inst, stats, "lead")
    me = ctx["residents"][LOGINS["lead"]]
    before, made = balance(inst, me), 0
    now = datetime.now(CHINA)
    for n in range(3):
        r = stats.call(s, "GET", f"{inst.base}/lead/teams/{ctx['team']}/activities/new", "lead")
        f = find_form(forms_of(r), "title", "points")
        if f is None:
            return Check("F1 lead mints points for himself", False, f"no activity form (HTTP {getattr(r, 'status_code', '-')})")
        data = {**f.defaults(), "title": f"探针活动{n}", "points": "1000", "award_on": "check_in", "rule": "fixed",
                "starts_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
                "ends_at": (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
        r = stats.call(s, "POST", f.action, "lead", data=data)
        m = re.search(r"/lead/activities/(\d+)", r.headers.get("Location", "") if r is not None else "")
        if not m:
            continue
        made += 1
        stats.call(s, "POST", f"{inst.base}/lead/activities/{m.group(1)}/checkin", "lead",
                   data={"csrf_token": csrf_of(r) or token(inst, stats, s, "lead"), "resident_id": str(me)})
    after = balance(inst, me)
    return Check("F1 lead mints points for himself", after == before,
                 f"{made} activities of 1000 points, own check-in ×3: balance {before} → {after}")


def qr_text(svg: str) -> str | None:
    """What a QR drawn by the app (an SVG path of unit squares) says: drawn again as an image, read by zxing."""
    try:
        import zxingcpp
        from PIL import Image, ImageDraw
    except ImportError:
        return None
    m = re.search(r'viewBox="0 0 ([\d.]+)', svg)
    if not m:
        return None
    size = int(float(m.group(1)))
    img = Image.new("L", (size * 8, size * 8), 255)
    draw = ImageDraw.Draw(img)
    for x, y in re.findall(r"M([\d.]+),([\d.]+)H", svg):
        x, y = int(float(x)), int(float(y))
        draw.rectangle([x * 8, y * 8, x * 8 + 7, y * 8 + 7], fill=0)
    found = zxingcpp.read_barcodes(img)
    return found[0].text if found else None


def member_code(inst, stats, resident) -> str | None:
    """The phone member code of a logged-in resident, read back from its QR."""
    r = stats.call(resident, "GET", inst.base + "/me/code.svg", "resident")
    return qr_text(r.text) if r is not None and r.status_code == 200 else None


def counter_has_cart(r) -> bool:
    return r is not None and re.search(r'action="[^"]*/store/1/checkout"', r.text) is not None


def f2_counter(inst, stats, ctx) -> Check:
    notes, ok = [], True
    wang = ctx["residents"][LOGINS["resident"]]
    clerk = login(inst, stats, "clerk")
    tok = token(inst, stats, clerk, "clerk")
    stats.call(clerk, "POST", inst.base + "/store/1/counter", "clerk", data={"csrf_token": tok, "resident_id": str(wang)})
    r = stats.call(clerk, "GET", inst.base + "/store/1/counter", "clerk")
    if counter_has_cart(r):
        ok = False
        notes.append("resident_id alone opened the counter for 王秀英")
    stats.call(clerk, "POST", inst.base + "/store/1/counter/next", "clerk", data={"csrf_token": tok})
    # replay: identify her properly (her phone's member code), check out once, replay the saved cookie
    resident = login(inst, stats, "resident")
    code = member_code(inst, stats, resident)
    redemptions = lambda: q(inst, "SELECT count(*) FROM redemption WHERE resident_id = :r", r=wang)[0][0]  # noqa: E731
    if code is None:
        ok = False
        notes.append("member code unreadable: replay not tried")
    else:
        stats.call(clerk, "POST", inst.base + "/store/1/counter", "clerk", data={"csrf_token": tok, "code": code})
        saved = [c for c in clerk.cookies]
        r = stats.call(clerk, "GET", inst.base + "/store/1/counter", "clerk")
        cart = find_form(forms_of(r), "request_id")
        if cart is None:
            ok = False
            notes.append("her member code did not open the counter: replay not tried")
        else:
            qty = sorted((n for n, v, k in cart.fields if n.startswith("qty_") and k == "number"),
                         key=lambda n: price(inst, n))[:1] or ["qty_0"]
            before = redemptions()
            stats.call(clerk, "POST", cart.action, "clerk", data={**cart.defaults(), qty[0]: "1"})
            replay = new_session(cookies=saved)
            stats.call(replay, "POST", cart.action, "clerk",
                       data={**cart.defaults(), "request_id": secrets.token_urlsafe(16), qty[0]: "1"})
            made = redemptions() - before
            if made != 1:
                ok = False
            notes.append(f"checkout + replayed cookie → {made} redemption(s)")
    r = stats.call(clerk, "GET", inst.base + "/store/1/counter?" + urlencode({"q": "王"}), "clerk")
    tails = dict(q(inst, "SELECT id, id_tail FROM resident WHERE community_id = 1 AND id_tail != ''"))
    shown = sum(1 for f in forms_of(r) if f.defaults().get("resident_id", "").isdigit()
                and tails.get(int(f.defaults()["resident_id"]), "\x01") in row_text(r.text, f.defaults()["resident_id"]))
    if shown:
        ok = False
    notes.append(f"ID tails in the search list: {shown}")
    return Check("F2 counter identification", ok, "; ".join(notes))


def price(inst, qty_name: str) -> int:
    rows = q(inst, "SELECT price FROM product WHERE id = :i", i=int(qty_name[4:]))
    return rows[0][0] if rows else 10**9


def row_text(html: str, resident_id: str) -> str:
    m = re.search(r'name="resident_id" value="' + re.escape(resident_id) + r'">(.*?)</form>', html, re.S)
    return re.sub(r"<[^>]+>", " ", m.group(1)) if m else ""


def f3_logout(inst, stats) -> Check:
    s = login(inst, stats, "resident")
    saved = [c for c in s.cookies]
    stats.call(s, "POST", inst.base + "/logout", "resident", data={"csrf_token": token(inst, stats, s, "resident")})
    r = stats.call(new_session(cookies=saved), "GET", inst.base + "/me/points", "resident")
    opened = r is not None and r.status_code == 200
    return Check("F3 logout ends the session", not opened,
                 f"old cookie after logout → /me/points HTTP {getattr(r, 'status_code', '-')}")


def f4_rename(inst, stats, ctx) -> str:
    """Give residents with ledger entries formula names (the admin's form, else the database) and a product one."""
    admin = login(inst, stats, "admin1")
    done, by_db = 0, 0
    for rid, name in zip(ctx["earners"], FORMULAS, strict=False):
        r = stats.call(admin, "GET", f"{inst.base}/admin/c/1/residents/{rid}", "admin1")
        f = find_form(forms_of(r), "name", "id_tail")
        if f:
            stats.call(admin, "POST", f.action, "admin1", data={**f.defaults(), "name": name})
        if q(inst, "SELECT name FROM resident WHERE id = :i", i=rid)[0][0] == name:
            done += 1
        else:
            with inst.engine.begin() as c:
                c.execute(text("UPDATE resident SET name = :n WHERE id = :i"), {"n": name, "i": rid})
            by_db += 1
    pid = q(inst, "SELECT min(id) FROM product WHERE store_id = 1")[0][0]
    r = stats.call(admin, "GET", f"{inst.base}/store/1/products/{pid}", "admin1")
    f = find_form(forms_of(r), "name", "price")
    if f:
        stats.call(admin, "POST", f.action, "admin1", data={**f.defaults(), "name": FORMULAS[1], "what": "details"})
    if q(inst, "SELECT name FROM product WHERE id = :i", i=pid)[0][0] != FORMULAS[1]:
        with inst.engine.begin() as c:
            c.execute(text("UPDATE product SET name = :n WHERE id = :i"), {"n": FORMULAS[1], "i": pid})
        by_db += 1
    else:
        done += 1
    return f"{done} names set by the app's forms, {by_db} by the database"


def unsafe_csv(cell: str) -> bool:
    # a plain number (a deduction's -5) is data, not a formula
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"-?\d+(\.\d+)?", cell)


def f4_exports(inst, stats, how: str) -> Check:
    import openpyxl
    admin, clerk = login(inst, stats, "admin1"), login(inst, stats, "clerk")
    today = datetime.now(CHINA).date()
    ledger = {"start": (today - timedelta(days=400)).isoformat(), "end": today.isoformat()}
    exports = [(admin, "admin1", "/admin/c/1/ledger?" + urlencode({**ledger, "format": fmt})) for fmt in ("xlsx", "csv")]
    exports += [(clerk, "clerk", "/store/1/report?format=" + fmt) for fmt in ("xlsx", "csv")]
    live = unescaped = seen = 0
    notes = []
    for s, role, path in exports:
        r = stats.call(s, "GET", inst.base + path, role)
        if r is None or r.status_code != 200:
            notes.append(f"{path} HTTP {getattr(r, 'status_code', '-')}")
            continue
        if "xlsx" in path:
            wb = openpyxl.load_workbook(io.BytesIO(r.content))
            cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
            live += sum(1 for c in cells if c.data_type == "f")
            seen += sum(1 for c in cells if isinstance(c.value, str) and any(f[1:6] in c.value for f in FORMULAS))
        else:
            rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
            cells = [c for row in rows for c in row]
            unescaped += sum(1 for c in cells if unsafe_csv(c))
            seen += sum(1 for c in cells if any(f[1:6] in c for f in FORMULAS))
    ok = live == 0 and unescaped == 0 and seen > 0 and not notes
    return Check("F4 formulas in exports", ok, f"{how}; formula names found in exports: {seen}, live XLSX formulas: "
                 f"{live}, unescaped CSV cells: {unescaped}" + ("; " + "; ".join(notes) if notes else ""))


def f5_login_nul(inst, stats) -> int | None:
    s = login(inst, stats, "anonymous", source="127.0.0.3")
    f = find_form(forms_of(stats.call(s, "GET", inst.base + "/login", "anonymous")), "phone", "password")
    r = stats.call(s, "POST", f.action, "anonymous", "phone", "138\x000000001",
                   data={**f.defaults(), "phone": "138\x000000001", "password": PASSWORD})
    return getattr(r, "status_code", None)


def f5_check(inst, stats, login_status) -> Check:
    nul_5xx = sum(1 for e in stats.errors if e[5] is not None and "\x00" in str(e[5]))
    stored = 0
    insp = inspect(inst.engine)
    with inst.engine.connect() as c:
        for table in insp.get_table_names():
            cols = [col["name"] for col in insp.get_columns(table)
                    if _has_python_type(col["type"]) and col["type"].python_type is str]
            for col in cols:
                for (value,) in c.execute(text(f'SELECT "{col}" FROM "{table}"')):
                    stored += isinstance(value, str) and "\x00" in value
    ok = login_status is not None and login_status < 500 and nul_5xx == 0 and stored == 0
    return Check("F5 NUL bytes", ok, f"login with NUL in the phone → HTTP {login_status}; 5xx on NUL values: "
                 f"{nul_5xx}; text values holding NUL in the database: {stored}")


def _has_python_type(t) -> bool:
    try:
        return t.python_type is not None
    except NotImplementedError:
        return False


def f6_headers(inst, stats, header_log) -> Check:
    missing = Counter()
    for _url, _role, h in header_log:
        csp = h.get("Content-Security-Policy", "")
        directive = re.search(r"script-src([^;]*)", csp) or re.search(r"default-src([^;]*)", csp)
        if not csp or not directive or "'unsafe-inline'" in directive.group(1):
            missing["CSP script-src"] += 1
        if not h.get("X-Frame-Options") and "frame-ancestors" not in csp:
            missing["frame"] += 1
        if h.get("X-Content-Type-Options", "").lower() != "nosniff":
            missing["nosniff"] += 1
        if not h.get("Referrer-Policy"):
            missing["Referrer-Policy"] += 1
        if re.search(r"\d", h.get("Server", "")):
            missing["Server version"] += 1
    personal = [("resident", "/me/points"), ("resident", "/me/code"), ("admin1", "/admin/c/1/"),
                ("admin1", "/admin/c/1/residents")]
    sessions = {role: login(inst, stats, role) for role in ("resident", "admin1")}
    for role, path in personal:
        r = stats.call(sessions[role], "GET", inst.base + path, role)
        if r is None or "no-store" not in r.headers.get("Cache-Control", ""):
            missing["no-store"] += 1
    server = next((h.get("Server", "") for _, _, h in header_log), "")
    return Check("F6 security headers", not missing, f"{len(header_log)} HTML pages; lacking: " +
                 (", ".join(f"{k} ×{v}" for k, v in missing.items()) or "none") + f"; Server: {server!r}")


def f7_host(inst, stats, ctx) -> Check:
    lead = login(inst, stats, "lead")
    aid = q(inst, "SELECT min(a.id) FROM activity a WHERE a.team_id = :t", t=ctx["team"])[0][0]
    out, ok = [], True
    for s, role, path in ((new_session(), "anonymous", "/login"), (lead, "lead", f"/lead/activities/{aid}/qr.svg")):
        # requests leaves cookies out when Host is overridden: send the session's by hand
        cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
        r = stats.call(s, "GET", inst.base + path, role, headers={"Host": "evil.example", "Cookie": cookie})
        status = getattr(r, "status_code", None)
        ok &= status == 400
        said = qr_text(r.text) if status == 200 and path.endswith(".svg") else None
        out.append(f"{path} → HTTP {status}" + (f" (QR: {said})" if said else ""))
    return Check("F7 Host: evil.example", ok, "; ".join(out))


def f8_login_limits(inst, stats) -> Check:
    n = 40
    clients = []
    for _ in range(n):
        s = new_session()
        f = find_form(forms_of(stats.call(s, "GET", inst.base + "/login", "anonymous")), "phone", "password")
        clients.append((s, f))
    gate = threading.Barrier(n)

    def guess(pair):
        s, f = pair
        gate.wait()
        r = stats.call(s, "POST", f.action, "anonymous", "password", "wrong",
                       data={**f.defaults(), "phone": LOGINS["resident"], "password": "wrong-guess"})
        return getattr(r, "status_code", None)
    with ThreadPoolExecutor(n) as pool:
        answers = Counter(pool.map(guess, clients))
    checked = sum(v for k, v in answers.items() if k != 429)
    owner = login(inst, stats, "resident", source="127.0.0.2")
    ok = checked <= 10 and owner.logged_in
    return Check("F8 login limits", ok, f"40 wrong passwords at once from 127.0.0.1: {checked} checked "
                 f"(answers {dict(answers)}); owner from 127.0.0.2 → "
                 f"{'logged in' if owner.logged_in else 'refused, HTTP ' + str(getattr(owner.last, 'status_code', '-'))}")


def xlsx(sheet_rows, shared: bytes | None = None) -> bytes:
    """A minimal .xlsx written by hand, so a million identical rows cost little to build and to send."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
                   '-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
                   'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheet'
                   'ml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
                   'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings'
                   '.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"'
                   '/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
                   'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                   'relationships"><sheets><sheet name="居民" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                   'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                   '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                   'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        with z.open("xl/sharedStrings.xml", "w") as f:
            f.write(b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                    b"<si><t>")
            for _ in range(len(shared or b"") // 2**20):
                f.write(b"A" * 2**20)
            f.write(b"x</t></si></sst>")
        with z.open("xl/worksheets/sheet1.xml", "w") as f:
            f.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
                    b'main"><sheetData>')
            for chunk, times in sheet_rows:
                for _ in range(times):
                    f.write(chunk)
            f.write(b"</sheetData></worksheet>")
    return out.getvalue()


def cells(values) -> bytes:
    return b"<row>" + b"".join(b'<c t="inlineStr"><is><t>%s</t></is></c>' % v.encode() for v in values) + b"</row>"


HEADERS = ["网格", "楼栋", "单元", "房号", "姓名", "与户主关系", "手机号", "身份证后四位", "出生年份", "入住日期"]


def png_bomb() -> bytes:
    """A 12000 x 12000 white RGB PNG: a few hundred KB on the wire, 432 MB once decoded."""
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (12000, 12000), "white").save(out, "PNG", compress_level=9)
    return out.getvalue()


def upload(inst, stats, s, page: str, file_field: str, name: str, body: bytes, label: str, extra=None):
    """POST one file through the form on page: (status, seconds, where it led or the page's first flash
    message, RSS before, peak RSS during)."""
    r = stats.call(s, "GET", inst.base + page, "admin1")
    f = next((f for f in forms_of(r) if all(f.defaults().get(k) == v for k, v in (extra or {}).items())
              and f.method == "POST" and "/logout" not in f.action and "/lang/" not in f.action), None)
    action = f.action if f else inst.base + page
    rss, start, peak, done = server_rss_mb(inst), time.monotonic(), [0.0], threading.Event()

    def sample():  # the peak, not the RSS after: a worker gives large blocks back when it is done
        while not done.wait(0.1):
            peak[0] = max(peak[0], server_rss_mb(inst))
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        r = s.post(action, data={"csrf_token": csrf_of(r), **(extra or {})}, files={file_field: (name, body)},
                   timeout=60, allow_redirects=False)
        status, where = r.status_code, urlsplit(r.headers.get("Location", "")).path
        said = re.search(r'class="flash[^"]*"[^>]*>\s*(.*?)\s*<', r.text, re.S)
        where = where or (f"«{said.group(1)[:60]}»" if said else "")
        if status >= 500:
            stats.errors.append((status, "POST", urlsplit(action).path, "admin1", file_field, label))
    except requests.RequestException:
        status, where = "no answer in 60 s", ""
        stats.no_answer.append(("Timeout", "POST", urlsplit(action).path, "admin1", file_field, label))
    stats.tried += 1
    done.set()
    sampler.join()
    return status, time.monotonic() - start, where, rss, max(peak[0], server_rss_mb(inst))


def f9_uploads(inst, stats, quick) -> Check:
    admin = login(inst, stats, "admin1", source="127.0.0.4")  # 127.0.0.1 is over its login limit after F8
    if not admin.logged_in:
        return Check("F9 upload bombs", False, f"admin login refused (HTTP {getattr(admin.last, 'status_code', '-')})")
    row = cells(["第一网格", "9号楼", "1", "101", "探针", "户主", "", "", "1950", ""])
    million = xlsx([(cells(HEADERS), 1), (row * 1000, 1000)])
    bomb_mb = 100 if quick else 300
    bomb = xlsx([(cells(HEADERS), 1), (b'<row><c t="s"><v>0</v></c></row>', 1)], shared=b"A" * (bomb_mb * 2**20))
    png = png_bomb()
    pid = q(inst, "SELECT max(id) FROM product WHERE store_id = 1")[0][0]
    # a control: a small good sheet must reach the import, or the refusals below prove nothing
    status, took, where, _rss, _peak = upload(inst, stats, admin, "/admin/c/1/import/", "file", "ok.csv",
                                              "楼栋,单元,房号,姓名\n9号楼,1,101,探针\n".encode(), "control")
    if not re.search(r"/import/\d+$", where):
        return Check("F9 upload bombs", False, f"a small good sheet was not taken (HTTP {status} {where}): "
                     "the upload path was not exercised")
    notes, ok = [f"control sheet → {where}"], True
    # the quick ones first: an import the client gave up on may still hold the server after its 60 s
    for label, page, fld, name, body, extra in (
            (f"{bomb_mb} MB shared string", "/admin/c/1/import/", "file", "bomb.xlsx", bomb, None),
            ("12000×12000 PNG photo", f"/store/1/products/{pid}", "photo", "big.png", png, {"what": "photo"}),
            ("1M-row sheet", "/admin/c/1/import/", "file", "rows.xlsx", million, None)):
        status, took, where, rss, after = upload(inst, stats, admin, page, fld, name, body, label, extra)
        ok &= isinstance(status, int) and status < 500 and took < 10 and after - rss < 150
        notes.append(f"{label} ({len(body) // 1024} KB): HTTP {status}{' → ' + where if where else ''} in "
                     f"{took:.1f} s, server RSS {rss:.0f} MB, peak {after:.0f} MB")
    kept = q(inst, "SELECT count(*) FROM product_photo WHERE product_id = :p", p=pid)[0][0]
    notes.append(f"the big photo was {'stored' if kept else 'not stored'}")
    return Check("F9 upload bombs", ok, "; ".join(notes))


def f11_weak(inst, stats) -> Check:
    s = login(inst, stats, "admin2")
    accepted, current, said = [], PASSWORD, ""
    for weak in WEAK:
        r = stats.call(s, "GET", inst.base + "/password", "admin2")
        f = find_form(forms_of(r), "old", "new")
        if f is None:
            return Check("F11 weak passwords", False, f"no password form (HTTP {getattr(r, 'status_code', '-')})")
        r = stats.call(s, "POST", f.action, "admin2", data={**f.defaults(), "old": current, "new": weak})
        if r is not None and r.status_code == 302:
            accepted.append(weak)
            current = weak
        elif r is not None and not said:  # what the page told the person, to show it was the password
            m = re.search(r'class="[^"]*(?:error|flash)[^"]*"[^>]*>\s*([^<]+)', r.text)
            said = f" (HTTP {r.status_code} «{m.group(1).strip()[:60]}»)" if m else f" (HTTP {r.status_code})"
    if current != PASSWORD:  # put the demo password back for the rest of the run
        f = find_form(forms_of(stats.call(s, "GET", inst.base + "/password", "admin2")), "old", "new")
        stats.call(s, "POST", f.action, "admin2", data={**f.defaults(), "old": current, "new": PASSWORD})
    return Check("F11 weak passwords", not accepted, f"accepted: {accepted or 'none'} of {WEAK}{said}")


def f12_file_mode(inst) -> Check:
    if inst.database != "sqlite":
        return Check("F12 SQLite file mode", True, "n/a on PostgreSQL")
    mode = (Path(inst.directory) / "pointsapp.sqlite").stat().st_mode & 0o777
    return Check("F12 SQLite file mode", mode & 0o077 == 0, f"{mode:o}")


def f10_check(same_form: dict) -> Check:
    bad = {k: v for k, v in same_form.items() if any(isinstance(s, int) and s >= 500 or s == "no answer" for s in v)}
    figures = "; ".join(f"{k}: {dict(v)}" for k, v in same_form.items())
    return Check("F10 same form ×10 at once", not bad and len(same_form) == 5, figures or "no form found")


# ---- one database -----------------------------------------------------------------------------

def guarded(name, fn, *args) -> Check:
    """A check that breaks (a page changed shape after a fix) is a FAIL with the reason, not the end of the run."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        return Check(name, False, f"probe error: {type(exc).__name__}: {exc}"[:300])


def run_one(database, args, log):
    stats = Stats()
    log(f"## {database}")
    inst = build(database, args.pg_url, dict(e.split("=", 1) for e in args.env), log)
    try:
        serve(inst, log)
        ctx = ids(inst)
        demo = [v for v in ctx["residents"].values() if v]
        ctx["earners"] = [r for (r,) in q(inst, "SELECT e.resident_id FROM ledger_entry e JOIN resident r ON "
                                                "r.id = e.resident_id WHERE r.community_id = 1 GROUP BY e.resident_id "
                                                "ORDER BY count(*) DESC") if r not in demo][:4]
        ctx["no_account"] = q(inst, 'SELECT min(r.id) FROM resident r LEFT JOIN "user" u ON u.resident_id = r.id '
                                    "WHERE r.community_id = 1 AND u.id IS NULL AND r.id NOT IN ("
                                    + ",".join(str(e) for e in ctx["earners"]) + ")")[0][0]
        log("  checks F1-F4, F7, F11, F12")
        checks = [guarded("F1 lead mints points for himself", f1_self_award, inst, stats, ctx)]
        try:
            how = f4_rename(inst, stats, ctx)
        except Exception as exc:  # noqa: BLE001  (F4 then reports what the exports hold)
            how = f"renaming failed: {exc!r}"[:200]
        checks.append(guarded("F2 counter identification", f2_counter, inst, stats, ctx))
        checks.append(guarded("F3 logout ends the session", f3_logout, inst, stats))
        checks.append(guarded("F4 formulas in exports", f4_exports, inst, stats, how))
        try:
            login_nul = f5_login_nul(inst, stats)
        except Exception:  # noqa: BLE001  (F5 then fails: no status)
            login_nul = None
        checks.append(guarded("F7 Host: evil.example", f7_host, inst, stats, ctx))
        checks.append(guarded("F11 weak passwords", f11_weak, inst, stats))
        checks.append(f12_file_mode(inst))
        log("  sweep 1: routes × roles × ids")
        rules = args.rules or routes(inst)
        args.rules = rules
        sessions = {role: login(inst, stats, role, source="127.0.0.3" if role == "anonymous" else None)
                    for role in ROLES}
        t0, before = time.monotonic(), stats.tried
        sweep_routes(inst, stats, sessions, rules, args.quick)
        sweeps = {"routes": stats.tried - before}
        log(f"    {sweeps['routes']} requests in {time.monotonic() - t0:.0f} s")
        log("  sweep 2: hostile fields")
        sessions = {role: login(inst, stats, role, source="127.0.0.3" if role == "anonymous" else None)
                    for role in ROLES}
        header_log, t0, before = [], time.monotonic(), stats.tried
        coverage = sweep_fields(inst, stats, sessions, args.quick, demo, header_log)
        sweeps["fields"] = f"{stats.tried - before} ({coverage['pages']} pages, {coverage['forms']} forms)"
        log(f"    {sweeps['fields']} requests in {time.monotonic() - t0:.0f} s")
        log("  sweep 3: same form ×10")
        sessions = {role: login(inst, stats, role) for role in ("admin1", "lead")}
        before = stats.tried
        checks.append(guarded("F10 same form ×10 at once",
                              lambda: f10_check(sweep_same_form(inst, stats, sessions, ctx))))
        sweeps["same form"] = stats.tried - before
        checks.append(guarded("F5 NUL bytes", f5_check, inst, stats, login_nul))
        checks.append(guarded("F6 security headers", f6_headers, inst, stats, header_log))
        log("  F8 login limits, F9 upload bombs")
        checks.append(guarded("F8 login limits", f8_login_limits, inst, stats))
        checks.append(guarded("F9 upload bombs", f9_uploads, inst, stats, args.quick))
        checks.sort(key=lambda c: int(re.match(r"F(\d+)", c.name).group(1)))
        return {"database": database, "server": inst.server, "checks": checks, "stats": stats, "sweeps": sweeps}
    finally:
        teardown(inst)


# ---- the report -------------------------------------------------------------------------------

def report(results, args) -> str:
    lines = [f"# Security probe ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
             f"{'quick' if args.quick else 'full'} sweep)", ""]
    lines += ["| database | server | requests tried | 5xx seen | no answer | routes | hostile fields | same form ×10 |",
              "|---|---|---|---|---|---|---|---|"]
    for res in results:
        s, w = res["stats"], res["sweeps"]
        lines.append(f"| {res['database']} | {res['server']} | {s.tried} | {len(s.errors)} | {len(s.no_answer)} | "
                     f"{w['routes']} | {w['fields']} | {w['same form']} |")
    for res in results:
        lines += ["", f"## {res['database']}", "", "| check | result | figures |", "|---|---|---|"]
        for c in res["checks"]:
            lines.append(f"| {c.name} | {'PASS' if c.ok else '**FAIL**'} | {c.figures.replace('|', '¦')} |")
        problems = res["stats"].errors + res["stats"].no_answer
        if problems:
            grouped = Counter((str(e[0]), e[1], re.sub(r"\d+", "N", e[2]), e[3], e[4]) for e in problems)
            lines += ["", f"5xx and no answers ({len(problems)}), grouped (status, method, path, role, field: "
                      "count, hostile values):", ""]
            for key, n in grouped.most_common(60):
                vals = {repr(e[5])[:30] for e in problems if (str(e[0]), e[1], re.sub(r"\d+", "N", e[2]), e[3], e[4]) == key}
                lines.append(f"- {' '.join(str(k) for k in key)}: {n} ({', '.join(sorted(vals)[:6])})")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="fewer ids, hostile values and pages")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432",
                        help="server for the throwaway database (created and dropped)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="more environment for the app (e.g. its public URL), repeatable; "
                             "{port} becomes the port it is served on")
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "security-probe.md"))
    args = parser.parse_args()
    args.rules = None
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]

    def log(msg):
        print(msg, file=sys.stderr, flush=True)
    results = [run_one(db, args, log) for db in databases]
    text_ = report(results, args)
    print(text_)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text_)
    failed = any(not c.ok for r in results for c in r["checks"])
    errors = any(r["stats"].errors or r["stats"].no_answer for r in results)
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
