"""Locust users for the load benchmark (run headless by bench/load/run.py, one scenario per run).

Environment: BENCH_MANIFEST (the city's JSON), BENCH_TARGET (app | minimal), BENCH_SCENARIO (checkout |
checkin | member_code | board), BENCH_USERS, BENCH_DURATION (seconds measured), BENCH_SLOT, BENCH_SLOTS,
BENCH_LOGIN_OFFSET, BENCH_HOT_SPOT, BENCH_OUT (where the samples go as JSON).

The app's flows are a browser's, with its cookies and CSRF tokens, one request at a time, no think time:
  checkout:    the clerk (logged in at start) POSTs the resident's live member code to the counter (identify),
               GETs the counter page (its request id), POSTs the checkout (one product), GETs the receipt
  checkin:     the resident (logged in at start) GETs /c/<code> (the rotating code on the lead's screen),
               GETs the confirm page, POSTs the confirm, GETs the done page
  member_code: the resident GETs /me/code and /me/code.svg
  board:       anybody GETs /board/<community>
Codes are made as the app makes them (pointsapp.volunteering.services.codes, with the app's SECRET_KEY), as a
phone scanning the screen would read them. Redirects are not followed, so every request is measured by its
own name. Samples are kept only from when every user has logged in until BENCH_DURATION seconds later.
"""
from __future__ import annotations

import json
import os
import random
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parents[1]):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import gevent  # noqa: E402
from assign import Assign  # noqa: E402
from city import Manifest  # noqa: E402
from locust import FastHttpUser, events, task  # noqa: E402

from pointsapp.volunteering.services import codes  # noqa: E402

MANIFEST = Manifest.load(Path(os.environ["BENCH_MANIFEST"]))
TARGET = os.environ.get("BENCH_TARGET", "app")
SCENARIO = os.environ.get("BENCH_SCENARIO", "checkout")
USERS = int(os.environ.get("BENCH_USERS", "8"))
DURATION = float(os.environ.get("BENCH_DURATION", "20"))
ASSIGN = Assign(MANIFEST, slot=int(os.environ.get("BENCH_SLOT", "0")), slots=int(os.environ.get("BENCH_SLOTS", "1")),
                login_offset=int(os.environ.get("BENCH_LOGIN_OFFSET", "0")),
                hot_spot=os.environ.get("BENCH_HOT_SPOT") == "1", clients=USERS)
OUT = os.environ.get("BENCH_OUT")

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
REQUEST_ID = re.compile(r'name="request_id"[^>]*value="([^"]+)"')

STATE = {"ready": 0, "start": None, "end": None, "next_user": 0}
SAMPLES: list[tuple[str, float, float, int]] = []  # (name, t from window start, ms, ok)
ERRORS: dict[str, int] = {}


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kw):
    start = STATE["start"]
    if start is None or STATE["end"] is not None:
        return
    t = time.time() - response_time / 1000 - start
    if t < 0:
        return
    SAMPLES.append((name, round(t, 4), round(response_time, 3), 0 if exception else 1))
    if exception:
        key = f"{name}: {str(exception)[:160]}"
        ERRORS[key] = ERRORS.get(key, 0) + 1


def _window(environment) -> None:
    while STATE["ready"] < USERS:
        gevent.sleep(0.05)
    STATE["start"] = time.time()
    gevent.sleep(DURATION)
    STATE["end"] = time.time()
    environment.runner.quit()


@events.test_start.add_listener
def _start(environment, **_kw):
    gevent.spawn(_window, environment)


@events.quitting.add_listener
def _dump(environment, **_kw):
    if OUT:
        Path(OUT).write_text(json.dumps({"samples": SAMPLES, "errors": ERRORS, "ready": STATE["ready"],
                                         "window": [STATE["start"], STATE["end"]]}))


def _fail(resp, why: str) -> None:
    resp.failure(f"{why} (HTTP {resp.status_code})")


class BenchUser(FastHttpUser):
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self) -> None:
        self.w = STATE["next_user"]
        STATE["next_user"] += 1
        self.j = 0
        self.rng = random.Random(self.w)
        self.c = ASSIGN.community(self.w)
        self.csrf = ""
        if TARGET == "app" and SCENARIO == "checkout":
            self._login(ASSIGN.clerk(self.w)[1])
            _c, rid = ASSIGN.checkout_resident(self.w)
            self.resident = SimpleNamespace(id=rid)
            with self.client.get(f"/store/{MANIFEST.stores[self.c]}/counter", name="(counter, first)",
                                 catch_response=True) as resp:  # the login began a new session: a new token
                self.csrf = CSRF.search(resp.text or "").group(1)
        elif TARGET == "app" and SCENARIO in ("checkin", "member_code"):
            login = ASSIGN.login(self.w) if SCENARIO == "checkin" else \
                MANIFEST.logins[self.c][self.w // len(MANIFEST.communities) % len(MANIFEST.logins[self.c])]
            self._login(login[1])
        STATE["ready"] += 1

    def _login(self, phone: str) -> None:
        with self.client.get("/login", name="(login page)", catch_response=True) as resp:
            self.csrf = CSRF.search(resp.text or "").group(1)
        with self.client.post("/login", data={"phone": phone, "password": MANIFEST.password, "csrf_token": self.csrf,
                                              "remember": "y", "next": ""},
                              name="(login)", allow_redirects=False, catch_response=True) as resp:
            if resp.status_code != 302:
                _fail(resp, f"login as {phone} refused")
                raise RuntimeError(f"login as {phone} refused: HTTP {resp.status_code}")

    # ---- the app -------------------------------------------------------------------------------

    def _checkout(self) -> None:
        sid = MANIFEST.stores[self.c]
        base = f"/store/{sid}"
        code = codes.member_phone_code(MANIFEST.secret_key, self.resident, datetime.now(UTC))
        with self.client.post(f"{base}/counter", data={"csrf_token": self.csrf, "code": code, "pin": ""},
                              name="checkout: identify (POST counter)", allow_redirects=False,
                              catch_response=True) as resp:
            if resp.status_code not in (302, 303):
                return _fail(resp, "identify refused")
        with self.client.get(f"{base}/counter", name="checkout: counter page", catch_response=True) as resp:
            m = REQUEST_ID.search(resp.text or "")
            if resp.status_code != 200 or not m:
                title = re.search(r"<title>(.*?)</title>", resp.text or "", re.S)
                flashed = re.search(r'class="flash[^"]*"[^>]*>(.*?)<', resp.text or "", re.S)
                return _fail(resp, f"counter page without the checkout form: {title and title.group(1).strip()!r} "
                                   f"{flashed and flashed.group(1).strip()!r}")
            request_id = m.group(1)
            token = CSRF.search(resp.text)
            self.csrf = token.group(1) if token else self.csrf
        pid = self.rng.choice(MANIFEST.products[self.c])
        with self.client.post(f"{base}/checkout", data={"csrf_token": self.csrf, "request_id": request_id,
                                                        f"qty_{pid}": "1"},
                              name="checkout: POST checkout", allow_redirects=False, catch_response=True) as resp:
            location = resp.headers.get("Location", "") if resp.headers else ""
            if resp.status_code in (302, 303) and "/receipts/" in location:
                receipt = location
            elif resp.status_code == 200 and "receipt" in (resp.text or "").lower():
                return  # a receipt rendered in place
            else:
                return _fail(resp, f"checkout refused, went to {location or '?'}")
        self.client.get(receipt, name="checkout: receipt page")

    def _checkin(self) -> None:
        acts = MANIFEST.activities[self.c]
        aid, salt, seconds = acts[self.j % len(acts)]
        self.j += 1
        now = datetime.now(UTC)
        code = codes.checkin_code(MANIFEST.secret_key, SimpleNamespace(id=aid, code_salt=salt),
                                  codes.step_of(now, seconds))
        with self.client.get(f"/c/{code}", name="check-in: scan (GET /c/<code>)", allow_redirects=False,
                             catch_response=True) as resp:
            if resp.status_code not in (302, 303):
                return _fail(resp, "scan refused")
        with self.client.get("/c/confirm", name="check-in: confirm page", catch_response=True) as resp:
            m = CSRF.search(resp.text or "")
            if resp.status_code != 200 or not m:
                return _fail(resp, "no confirm form")
            self.csrf = m.group(1)
        with self.client.post("/c/confirm", data={"csrf_token": self.csrf}, name="check-in: POST confirm",
                              allow_redirects=False, catch_response=True) as resp:
            location = resp.headers.get("Location", "") if resp.headers else ""
            if resp.status_code in (302, 303) and "/c/done/" in location:
                done = location
            elif resp.status_code == 200 and "/c/confirm" not in (resp.text or ""):
                return
            else:
                return _fail(resp, "check-in refused")
        self.client.get(done, name="check-in: done page")

    def _member_code(self) -> None:
        self.client.get("/me/code", name="member code: page")
        self.client.get("/me/code.svg", name="member code: QR svg")

    def _board(self) -> None:
        self.client.get(f"/board/{self.rng.choice(MANIFEST.communities)}", name="board: /board/<community>")

    # ---- the minimal endpoint ------------------------------------------------------------------

    def _minimal_checkout(self) -> None:
        c, rid = ASSIGN.checkout_resident(self.w)
        self.client.post("/checkout", data={"cid": c, "sid": MANIFEST.stores[c], "rid": rid,
                                            "pid": self.rng.choice(MANIFEST.products[c]),
                                            "clerk": ASSIGN.clerk(self.w)[0], "request_id": uuid.uuid4().hex},
                         name="minimal: POST checkout")

    def _minimal_checkin(self) -> None:
        c, rid, aid = ASSIGN.checkin_pair(self.w, self.j)
        self.j += 1
        self.client.post("/checkin", data={"cid": c, "aid": aid, "rid": rid, "actor": ASSIGN.lead(c)},
                         name="minimal: POST checkin")

    @task
    def work(self) -> None:
        if TARGET == "minimal":
            (self._minimal_checkout if SCENARIO == "checkout" else self._minimal_checkin)()
        else:
            {"checkout": self._checkout, "checkin": self._checkin, "member_code": self._member_code,
             "board": self._board}[SCENARIO]()
