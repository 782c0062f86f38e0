"""Benchmark claims (积分申报, issue 14): the photo, filing, approval, the reviewer's queue and the duplicate-photo
scan, on SQLite and PostgreSQL in one run (`make bench-claims`, about 3-5 minutes on 2 cores).

    .venv/bin/python bench/claims.py                      # both databases, writes docs/performance.md
    .venv/bin/python bench/claims.py --backend sqlite --no-docs --calls 5   # a quick look
    .venv/bin/python bench/claims.py --profile            # also cProfile a queue of 200 and a filing

1. Photos, in a fresh child process each (so the peak RSS is this work's alone): core.photos.resized(…, 1280) and
   perceptual_hash() of a 4000x3000 camera-like JPEG (texture, sensor noise; 3-5 MB, what a phone sends when the
   page's shrinking did not run) and of the 1600 px JPEG static/js/claims.js sends (quality 0.85). Median ms and
   peak RSS growth (ru_maxrss after the calls minus before them: Pillow's buffers are not seen by tracemalloc).
2. For each database: a throwaway database (PostgreSQL: pointsapp_bench_claims_…, dropped) seeded by
   bench/synthetic.py with 2 communities of --residents residents each (5 ledger entries each), logins for the
   first residents, the office (a community admin) and four catalogue items. Then, timed per call in a fresh app
   context (a fresh session, as a request has), the actor, resident and claim loaded before the clock starts,
   the commit included:
   - claims.services.file_claim: 1 photo of 1600 px (a different picture each call), by the resident herself;
   - claims.services.approve of those claims by the office (posts the award);
   - claims.services.review_queue(office, community, now) with 20 and with 200 pending claims (bulk-inserted,
     each with a photo, a "filed" event, 1 in 10 flagged as a duplicate), interleaved call by call with one
     hand-written raw SQL query reading the same rows (claims joined to resident and catalogue item, oldest
     first, limit 200) on the DBAPI connection; the claim ids of both are checked to be the same;
   - file_claim again once the community has 10,000 photo hashes from the last 365 days (bulk-inserted claims
     of other items, each with one photo of random hash and a few bytes of content), and the near-match scan of
     filing.add_photos alone: its SELECT of the year's hashes, and its Python loop of hash_distance().
   SQL statements are counted with a before_cursor_execute listener on the app's engine, as tests/querycount.py
   does (transaction control left out, an executemany counted once).
3. Prints the table and (unless --no-docs) rewrites the block between `<!-- claims-bench:start -->` and
   `<!-- claims-bench:end -->` in docs/performance.md (section "## Claims (积分申报)").
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from docs_block import write_block  # noqa: E402
from synthetic import NOW, Databases, dispose, generate, make_app  # noqa: E402

SECTION = "## Claims (积分申报)"
BEGIN, END = "<!-- claims-bench:start -->", "<!-- claims-bench:end -->"
BACKGROUND_PHOTOS = 10_000
QUEUE_SIZES = (20, 200)
SCAN_TARGET_MS = 50.0
ENTRIES_PER_RESIDENT = 5
WARMUP = 2  # untimed calls before each timed series (first statements compiled, lazy imports)
TINY = b"\xff\xd8bench\xff\xd9"  # the background photos' content: only their hashes matter here


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def median(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


# --------------------------------------------------------------------------- photos

def camera_jpeg(width: int, height: int, seed: int, quality: int = 92, noise: int = 8) -> bytes:
    """A camera-like JPEG: a wall lit from above with shapes on it (doors, notices, a bin), blurred as a lens
    does, with sensor noise in brightness and colour (JPEG size comes from that noise: 4000x3000 is ~3.5 MB)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    r = np.random.default_rng(seed)
    sw, sh = width // 8, height // 8
    small = Image.new("RGB", (sw, sh))
    draw = ImageDraw.Draw(small)
    for y in range(sh):
        c = int(150 + 60 * y / sh)
        draw.line((0, y, sw, y), fill=(c, c - 10, c - 25))
    for _ in range(40):
        x, y = int(r.integers(0, sw)), int(r.integers(0, sh))
        draw.rectangle((x, y, x + int(r.integers(5, sw // 4)), y + int(r.integers(5, sh // 4))),
                       fill=tuple(int(v) for v in r.integers(20, 235, 3)))
    big = np.asarray(small.filter(ImageFilter.GaussianBlur(1)).resize((width, height), Image.BILINEAR),
                     dtype=np.int16)
    big += r.integers(-noise, noise + 1, (height, width, 1), dtype=np.int16)
    big += r.integers(-(noise // 2), noise // 2 + 1, (height, width, 3), dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def browser_jpeg(camera: bytes) -> bytes:
    """What static/js/claims.js sends for a camera photo: the longer side 1600 px, JPEG quality 0.85."""
    from PIL import Image

    with Image.open(io.BytesIO(camera)) as image:
        image.thumbnail((1600, 1600), Image.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> int:
    """The current RSS in KB, after resetting the peak to it (Linux: `5` to /proc/self/clear_refs); elsewhere
    the lifetime peak (ru_maxrss), so the growth shown is then a lower bound."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmRSS") or 0
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss() -> int:
    return _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def photo_child(path: str, calls: int) -> None:
    """(child process) time resized(…, 1280) + perceptual_hash() of the file; print JSON."""
    import imagehash  # noqa: F401  (imported before the baseline: the import is not the photo's cost)
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401

    from pointsapp.claims.services.filing import PHOTO_PIXELS
    from pointsapp.core import photos

    data = Path(path).read_bytes()
    tiny = io.BytesIO()
    PIL.Image.new("RGB", (64, 48), (120, 130, 140)).save(tiny, "JPEG")
    photos.perceptual_hash(photos.resized(tiny.getvalue(), PHOTO_PIXELS).content)  # warm-up on a tiny photo
    before = reset_peak_rss()
    times, out = [], None
    for _ in range(calls):
        t = time.perf_counter()
        out = photos.resized(data, PHOTO_PIXELS)
        photos.perceptual_hash(out.content)
        times.append((time.perf_counter() - t) * 1000)
    after = peak_rss()
    print(json.dumps({"ms": median(times), "rss_mb": (after - before) / 1024, "bytes": len(data),
                      "out_bytes": len(out.content), "out": f"{out.width}x{out.height}", "calls": calls}))


def measure_photos(camera: bytes, browser: bytes, calls: int) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, n in (("camera", camera, max(3, calls // 2)), ("browser", browser, calls)):
            path = Path(tmp) / f"{name}.jpg"
            path.write_bytes(data)
            run = subprocess.run([sys.executable, __file__, "--photo-child", str(path), "--calls", str(n)],
                                 capture_output=True, text=True, check=True)
            results[name] = json.loads(run.stdout.strip().splitlines()[-1])
            log(f"  photo {name}: {results[name]}")
    return results


# --------------------------------------------------------------------------- statement counting

class Statements:
    """Statements sent through the engine while `on`, transaction control left out (as tests/querycount.py)."""
    CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)

    def __init__(self, engine):
        from sqlalchemy import event

        self.count, self.on = 0, False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_):
        if self.on and not self.CONTROL.match(statement):
            self.count += 1

    def start(self) -> None:
        self.count, self.on = 0, True

    def stop(self) -> int:
        self.on = False
        return self.count


# --------------------------------------------------------------------------- the community

class World:
    def __init__(self, app, backend: str, residents: int):
        self.app, self.backend, self.residents = app, backend, residents
        self.office = 1  # synthetic.generate(): community 1's admin user
        self.community = 1
        self.item = None  # the item claimed (photo evidence, limit 4 a month)
        self.others = []  # items of the background claims


def seed(url: str, backend: str, residents: int, logins: int) -> World:
    from pointsapp.accounts.models import RoleGrant, User
    from pointsapp.catalogue.models import CatalogueItem
    from pointsapp.core.extensions import db

    t = time.perf_counter()
    generate(url, residents=2 * residents, entries=2 * residents * ENTRIES_PER_RESIDENT, communities=2,
             quiet=True)
    app = make_app(url)
    world = World(app, backend, residents)
    with app.app_context():
        s = db.session
        s.add(RoleGrant(user_id=world.office, role="community_admin", community_id=1, granted_at=NOW))
        # logins for the first residents of community 1 (ids 1…): their own phone, as activation gives
        s.execute(User.__table__.insert(), [
            {"phone": f"13{rid:09d}", "name": f"居民{rid}", "password_hash": None, "resident_id": rid,
             "is_enabled": True, "created_at": NOW - timedelta(days=400)} for rid in range(1, logins + 1)])
        items = []
        for title, category, evidence, limit in (("楼道广告清理", "环境卫生", "photo", 4), ("垃圾分类", "环境卫生", "photo", None),
                                                 ("扶老助弱", "邻里互助", "witness", None), ("安全值守", "平安守护", "none", 8)):
            item = CatalogueItem(community_id=1, lineage_id=0, version=1, kind="earn", category=category, title=title,
                                 description=title, points=5, evidence=evidence, confirmer="building_leader",
                                 claimable=True, limit_count=limit, limit_period="month" if limit else None,
                                 created_by_id=world.office, created_at=NOW - timedelta(days=400), note="")
            s.add(item)
            s.flush()
            item.lineage_id = item.id
            items.append(item.id)
        s.commit()
        world.item, world.others = items[0], items[1:]
    log(f"  seeded {2 * residents:,} residents, {2 * residents * ENTRIES_PER_RESIDENT:,} entries, {logins} logins "
        f"in {time.perf_counter() - t:.1f} s")
    return world


def bump_sequences(session, tables) -> None:
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                 f"(SELECT max(id) FROM \"{table}\"))"))


def insert_claims(world: World, rows: list[dict], photo_rows: list[dict], events: bool) -> None:
    """Bulk-insert claims (explicit ids), one photo each, and (events) a "filed" event each."""
    from sqlalchemy import text

    from pointsapp.claims.models import Claim, ClaimEvent, ClaimPhoto
    from pointsapp.core.extensions import db

    with world.app.app_context():
        s = db.session
        for chunk in range(0, len(rows), 5000):
            s.execute(Claim.__table__.insert(), rows[chunk:chunk + 5000])
        for chunk in range(0, len(photo_rows), 5000):
            s.execute(ClaimPhoto.__table__.insert(), photo_rows[chunk:chunk + 5000])
        if events:
            s.execute(ClaimEvent.__table__.insert(), [
                {"community_id": r["community_id"], "claim_id": r["id"], "actor_id": r["filed_by_id"],
                 "action": "filed", "note": "", "created_at": r["submitted_at"]} for r in rows])
        bump_sequences(s, ("claim", "claim_photo"))
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("ANALYZE claim; ANALYZE claim_photo; ANALYZE claim_event"))
        s.commit()


def next_ids(world: World) -> tuple[int, int]:
    from sqlalchemy import func, select

    from pointsapp.claims.models import Claim, ClaimPhoto
    from pointsapp.core.extensions import db

    with world.app.app_context():
        return ((db.session.scalar(select(func.max(Claim.id))) or 0) + 1,
                (db.session.scalar(select(func.max(ClaimPhoto.id))) or 0) + 1)


def claim_row(cid: int, rid: int, user_id: int, item: int, status: str, at: datetime) -> dict:
    return {"id": cid, "community_id": 1, "resident_id": rid, "item_id": item, "lineage_id": item,
            "filed_by_id": user_id, "occurred_at": at - timedelta(hours=2), "minutes": None, "place": "3号楼1单元",
            "description": "清理了楼道里的小广告", "points": 5, "witness_id": None, "witnessed_at": None,
            "status": status, "submitted_at": at, "created_at": at, "reviewer_id": None, "decided_at": None,
            "reason": "", "entry_id": None, "has_duplicate_photo": False}


def photo_row(pid: int, cid: int, at: datetime, phash: str, duplicate_of: int | None = None) -> dict:
    return {"id": pid, "community_id": 1, "claim_id": cid, "content": TINY, "width": 1280, "height": 960,
            "phash": phash, "duplicate_of_id": duplicate_of, "created_at": at}


def user_of(rid: int) -> int:
    """The login of resident rid (seed(): inserted after synthetic's 6 staff users, in resident order)."""
    return 6 + rid


# --------------------------------------------------------------------------- the timed calls

def time_filing(world: World, counter: Statements, calls: list[tuple[bytes, int, str]], now: datetime,
                label: str, warmup: int = 0) -> dict:
    """file_claim for each (photo, resident id, series); the first `warmup` calls are not timed. Figures per
    series."""
    from pointsapp.accounts.models import User
    from pointsapp.claims import services as claims
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Resident

    times, stmts, ids, flagged = {}, {}, [], {}
    for i, (data, rid, series) in enumerate(calls):
        at = now + timedelta(seconds=i)
        with world.app.app_context():
            actor = db.session.get(User, user_of(rid))
            list(actor.grants)  # loaded by the request's policy check before the view runs
            resident = db.session.get(Resident, rid)
            fields = claims.ClaimFields(item_id=world.item, occurred_at=at - timedelta(hours=3), place="3号楼1单元",
                                        description="清理了楼道里的小广告", photos=(data,))
            counter.start()
            t = time.perf_counter()
            claim = claims.file_claim(actor, resident, fields, at)
            db.session.commit()
            ms = (time.perf_counter() - t) * 1000
            n = counter.stop()
            ids.append(claim.id)
            if i >= warmup:
                times.setdefault(series, []).append(ms)
                stmts.setdefault(series, []).append(n)
                flagged[series] = flagged.get(series, 0) + int(claim.has_duplicate_photo)
    out = {series: {"ms": median(times[series]), "stmts": median(stmts[series]), "calls": len(times[series]),
                    "flagged": flagged[series]} for series in times}
    for series, r in out.items():
        log(f"  {label} ({series}): median {r['ms']:.1f} ms, {r['stmts']:.0f} statements ({r['calls']} calls, "
            f"{r['flagged']} flagged as duplicates)")
    out["ids"] = ids
    return out


def time_approve(world: World, counter: Statements, claim_ids: list[int], now: datetime, warmup: int = 0) -> dict:
    from pointsapp.accounts.models import User
    from pointsapp.claims import services as claims
    from pointsapp.claims.models import Claim
    from pointsapp.core.extensions import db

    times, stmts = [], []
    for i, cid in enumerate(claim_ids):
        with world.app.app_context():
            actor = db.session.get(User, world.office)
            list(actor.grants)
            claim = db.session.get(Claim, cid)
            counter.start()
            t = time.perf_counter()
            claims.approve(actor, claim, now + timedelta(minutes=5, seconds=i))
            db.session.commit()
            ms = (time.perf_counter() - t) * 1000
            n = counter.stop()
            if i >= warmup:
                times.append(ms)
                stmts.append(n)
    log(f"  approve: median {median(times):.1f} ms, {median(stmts):.0f} statements ({len(times)} calls)")
    return {"ms": median(times), "stmts": median(stmts), "calls": len(times)}


RAW_QUEUE = """
SELECT c.id, c.resident_id, c.item_id, c.occurred_at, c.minutes, c.place, c.description, c.points,
       c.witness_id, c.status, c.submitted_at, c.has_duplicate_photo,
       r.name, r.phone, r.household_id, i.title, i.category, i.points, i.limit_count, i.limit_period
FROM claim c
JOIN resident r ON r.id = c.resident_id
JOIN catalogue_item i ON i.id = c.item_id
WHERE c.community_id = {p} AND c.status = 'pending'
ORDER BY c.submitted_at, c.id
LIMIT 200"""


def time_queue(world: World, counter: Statements, now: datetime, calls: int, pending: int) -> dict:
    from pointsapp.accounts.models import User
    from pointsapp.claims import services as claims
    from pointsapp.core.extensions import db

    sql = RAW_QUEUE.format(p="%s" if world.backend == "postgresql" else "?")
    q_times, q_stmts, r_times = [], [], []
    with world.app.app_context():
        raw = db.engine.raw_connection()  # one pooled connection, as a request would have
    try:
        for i in range(calls + 2):  # 2 untimed warm-up calls
            with world.app.app_context():
                actor = db.session.get(User, world.office)
                list(actor.grants)
                counter.start()
                t = time.perf_counter()
                rows = claims.review_queue(actor, world.community, now)
                db.session.commit()
                q_ms = (time.perf_counter() - t) * 1000
                n = counter.stop()
                queue_ids = [r.claim.id for r in rows]
            t = time.perf_counter()
            cur = raw.cursor()
            cur.execute(sql, (world.community,))
            raw_rows = cur.fetchall()
            cur.close()
            raw.commit()
            r_ms = (time.perf_counter() - t) * 1000
            if [r[0] for r in raw_rows] != queue_ids or len(queue_ids) != pending:
                raise SystemExit(f"the queue and the raw query disagree: {len(queue_ids)} vs {len(raw_rows)} rows")
            if i >= 2:
                q_times.append(q_ms)
                q_stmts.append(n)
                r_times.append(r_ms)
    finally:
        raw.close()
    out = {"ms": median(q_times), "stmts": median(q_stmts), "raw_ms": median(r_times), "calls": calls,
           "ratio": median(q_times) / median(r_times)}
    log(f"  queue of {pending}: median {out['ms']:.1f} ms, {out['stmts']:.0f} statements; raw {out['raw_ms']:.2f} ms; "
        f"{out['ratio']:.0f}x")
    return out


def time_scan(world: World, now: datetime, calls: int) -> dict:
    """filing.add_photos' near-match scan alone: its SELECT of the year's hashes, then its Python loop."""
    from sqlalchemy import select

    from pointsapp.claims.models import ClaimPhoto
    from pointsapp.claims.services.filing import DUPLICATE_DAYS, DUPLICATE_DISTANCE
    from pointsapp.core import photos as core_photos
    from pointsapp.core.extensions import db

    probe = f"{random.Random(7).getrandbits(64):016x}"
    q_times, loop_times, n = [], [], 0
    for _ in range(calls):
        with world.app.app_context():
            t = time.perf_counter()
            recent = db.session.execute(
                select(ClaimPhoto.id, ClaimPhoto.phash)
                .where(ClaimPhoto.community_id == world.community, ClaimPhoto.claim_id != -1,
                       ClaimPhoto.created_at >= now - timedelta(days=DUPLICATE_DAYS))
                .order_by(ClaimPhoto.id)).all()
            q_times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            next((pid for pid, phash in recent if core_photos.hash_distance(phash, probe) <= DUPLICATE_DISTANCE), None)
            loop_times.append((time.perf_counter() - t) * 1000)
            n = len(recent)
            db.session.rollback()
    out = {"select_ms": median(q_times), "loop_ms": median(loop_times), "hashes": n}
    log(f"  scan alone: select {out['select_ms']:.1f} ms + loop {out['loop_ms']:.1f} ms over {n:,} hashes")
    return out


def profile_filing(world: World, data: bytes, rid: int, now: datetime) -> str:
    from pointsapp.accounts.models import User
    from pointsapp.claims import services as claims
    from pointsapp.core.extensions import db
    from pointsapp.tree.models import Resident

    with world.app.app_context():
        actor = db.session.get(User, user_of(rid))
        list(actor.grants)
        resident = db.session.get(Resident, rid)
        fields = claims.ClaimFields(item_id=world.item, occurred_at=now - timedelta(hours=3), photos=(data,))
        prof = cProfile.Profile()
        prof.enable()
        claims.file_claim(actor, resident, fields, now)
        db.session.commit()
        prof.disable()
    return stats(prof)


def stats(prof: cProfile.Profile, lines: int = 22) -> str:
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def profile_queue(world: World, now: datetime) -> str:
    from pointsapp.accounts.models import User
    from pointsapp.claims import services as claims
    from pointsapp.core.extensions import db

    with world.app.app_context():
        actor = db.session.get(User, world.office)
        list(actor.grants)
        prof = cProfile.Profile()
        prof.enable()
        claims.review_queue(actor, world.community, now)
        db.session.commit()
        prof.disable()
    return stats(prof)


# --------------------------------------------------------------------------- one database

def run_backend(backend: str, dbs: Databases, args, photos: list[bytes]) -> dict:
    from pointsapp.core.extensions import db

    log(f"{backend}:")
    url = dbs.new(backend, "claims")
    calls = args.calls
    logins = QUEUE_SIZES[-1] + 2 * (calls + WARMUP) + 50
    world = seed(url, backend, args.residents, logins)
    with world.app.app_context():
        counter = Statements(db.engine)
    result = {"residents": args.residents}
    rng = random.Random(3)
    now = NOW

    # 2. filing and approval on the community as it is (a few hundred claims a year in the end)
    # (residents 1…calls + WARMUP file one claim each; the first WARMUP calls of each kind are not timed)
    filed = time_filing(world, counter, [(photos[i], 1 + i, "new photo") for i in range(calls + WARMUP)], now,
                        "file_claim", warmup=WARMUP)
    result["approve"] = time_approve(world, counter, filed.pop("ids"), now, warmup=WARMUP)
    result["file"] = filed["new photo"]

    # 3. the reviewer's queue: 20, then 200 pending claims of residents 21… (some with a history from 2.)
    cid, pid = next_ids(world)
    made, earlier = 0, pid - 1  # photos 1…earlier: those of the claims filed above
    for size in QUEUE_SIZES:
        rows, photo_rows = [], []
        for k in range(made, size):
            rid = 1 + k
            at = now - timedelta(days=20) + timedelta(minutes=7 * k)
            rows.append(claim_row(cid, rid, user_of(rid), world.item, "pending", at))
            duplicate = 1 + k % earlier if k % 10 == 9 and earlier else None  # 1 in 10 flagged: the queue names the earlier claim
            rows[-1]["has_duplicate_photo"] = duplicate is not None
            photo_rows.append(photo_row(pid, cid, at, f"{rng.getrandbits(64):016x}", duplicate))
            cid, pid = cid + 1, pid + 1
        insert_claims(world, rows, photo_rows, events=True)
        made = size
        result[f"queue{size}"] = time_queue(world, counter, now, calls, size)
        if args.profile and size == QUEUE_SIZES[-1]:
            result["profile_queue"] = profile_queue(world, now)
            log(result["profile_queue"])

    # 4. 10,000 photo hashes in the last 365 days (claims of the other items, approved), then file again
    cid, pid = next_ids(world)
    rows, photo_rows = [], []
    for _ in range(BACKGROUND_PHOTOS):
        rid = rng.randint(1, args.residents)
        at = now - timedelta(days=364) + timedelta(seconds=rng.randrange(364 * 86400))
        rows.append(claim_row(cid, rid, world.office, rng.choice(world.others), "approved", at))
        photo_rows.append(photo_row(pid, cid, at, f"{rng.getrandbits(64):016x}"))
        cid, pid = cid + 1, pid + 1
    t = time.perf_counter()
    insert_claims(world, rows, photo_rows, events=False)
    log(f"  {BACKGROUND_PHOTOS:,} background claims with photos inserted in {time.perf_counter() - t:.1f} s")
    later = now + timedelta(hours=1)
    # interleaved: a new photo (no exact match: the year's hashes are scanned) and a photo sent before with
    # 2. (found through ix_claim_photo_hash: no scan); residents with no open claim
    first = QUEUE_SIZES[-1] + 1
    plan = []
    for i in range(2 * (calls + WARMUP)):
        if i % 2 == 0:
            plan.append((photos[calls + WARMUP + i // 2], first + i, "new photo"))
        else:
            plan.append((photos[(i // 2) % (calls + WARMUP)], first + i, "photo sent before"))
    filed = time_filing(world, counter, plan, later, f"file_claim with {BACKGROUND_PHOTOS:,} hashes",
                        warmup=2 * WARMUP)
    result["file10k"], result["file10k_exact"] = filed["new photo"], filed["photo sent before"]
    result["scan"] = time_scan(world, later, calls)
    if args.profile:
        result["profile"] = profile_filing(world, photos[-1], first + 2 * (calls + WARMUP) + 1, later + timedelta(minutes=1))
        log(result["profile"])
    dispose(world.app)
    dbs.drop(url)
    return result


# --------------------------------------------------------------------------- output

def table(photo: dict, results: dict) -> str:
    backends = list(results)
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    head = "| what | " + " | ".join(f"{names[b]} ms | {names[b]} statements" for b in backends) + " |"
    sep = "|---|" + "---:|---:|" * len(backends)
    lines = [head, sep]

    def row(label, cells):
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    for key, label in (("camera", "photo 4000x3000 ({mb:.1f} MB) → resized 1280 px + perceptual_hash (no database)"),
                       ("browser", "photo 1600 px ({mb:.2f} MB, as claims.js sends it) → the same (no database)")):
        p = photo[key]
        row(label.format(mb=p["bytes"] / 1e6), [f"{p['ms']:.0f}", "–"] * len(backends))
    row("`file_claim`, 1 photo of 1600 px (photo work included), + commit",
        [c for b in backends for c in (f"{results[b]['file']['ms']:.1f}", f"{results[b]['file']['stmts']:.0f}")])
    row("`approve` (award posted, audit), + commit",
        [c for b in backends for c in (f"{results[b]['approve']['ms']:.1f}", f"{results[b]['approve']['stmts']:.0f}")])
    for size in QUEUE_SIZES:
        q = f"queue{size}"
        row(f"`review_queue`, {size} pending",
            [c for b in backends for c in (f"{results[b][q]['ms']:.1f}", f"{results[b][q]['stmts']:.0f}")])
        row(f"raw SQL, the same {size} rows (1 query)",
            [c for b in backends for c in (f"{results[b][q]['raw_ms']:.2f}", "1")])
        row(f"ratio `review_queue` / raw, {size} pending",
            [c for b in backends for c in (f"{results[b][q]['ratio']:.0f}×", "")])
    row(f"`file_claim` with {BACKGROUND_PHOTOS:,} photo hashes in the year, + commit",
        [c for b in backends for c in (f"{results[b]['file10k']['ms']:.1f}", f"{results[b]['file10k']['stmts']:.0f}")])
    row("the same, with a photo sent before (exact match through the index: no scan), interleaved",
        [c for b in backends for c in (f"{results[b]['file10k_exact']['ms']:.1f}",
                                       f"{results[b]['file10k_exact']['stmts']:.0f}")])
    row(f"  the near-match scan alone: SELECT of the year's {BACKGROUND_PHOTOS:,} hashes",
        [c for b in backends for c in (f"{results[b]['scan']['select_ms']:.1f}", "1")])
    row("  the near-match scan alone: Python hash_distance() loop",
        [c for b in backends for c in (f"{results[b]['scan']['loop_ms']:.1f}", "")])
    return "\n".join(lines)


def block(photo: dict, results: dict, header: str, args) -> str:
    backends = list(results)
    cam, br = photo["camera"], photo["browser"]
    lines = [
        f"- Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {header}; load average {os.getloadavg()[0]:.2f} "
        "at the end.",
        f"- Community 1 of 2, {args.residents:,} residents each, {ENTRIES_PER_RESIDENT} ledger entries a resident; "
        f"medians of {args.calls} calls after {WARMUP} untimed ones (photos: {cam['calls']} and {br['calls']} "
        "calls, in a child process each). The filings' photos are a different 1600x1200 picture each, "
        f"{photo['filing_kb']:.0f} KB.",
        "",
        table(photo, results),
        "",
        f"- Peak RSS growth of the photo work: {cam['rss_mb']:.0f} MB for the 4000x3000 photo, "
        f"{br['rss_mb']:.0f} MB for the 1600 px one (the stored photo: {cam['out']}, "
        f"{cam['out_bytes'] / 1024:.0f} KB and {br['out_bytes'] / 1024:.0f} KB).",
    ]
    for b in backends:
        r = results[b]
        alone = r["scan"]["select_ms"] + r["scan"]["loop_ms"]
        in_service = r["file10k"]["ms"] - r["file10k_exact"]["ms"]
        verdict = "above" if max(alone, in_service) > SCAN_TARGET_MS else "below"
        lines.append(f"- {b}: the queue takes {r['queue20']['ratio']:.0f}× the raw query's time at 20 pending and "
                     f"{r['queue200']['ratio']:.0f}× at 200, in {r['queue20']['stmts']:.0f} and "
                     f"{r['queue200']['stmts']:.0f} statements. The near-match scan over {r['scan']['hashes']:,} "
                     f"hashes costs {in_service:.0f} ms inside file_claim (new photo minus photo sent before) and "
                     f"{alone:.0f} ms alone: {verdict} {SCAN_TARGET_MS:.0f} ms.")
    return "\n".join(lines)


INTRO = """`make bench-claims` (bench/claims.py; its docstring has every detail; about 3-5 minutes) measures, in one
run on SQLite and PostgreSQL, what a claim costs the server: the photo work per uploaded phone photo
(`core.photos.resized` to 1280 px and `perceptual_hash`), `claims.services.file_claim` with one 1600 px photo,
`approve`, the reviewer's queue (`review_queue`) at 20 and 200 (`QUEUE_MAX`) pending claims next to one
hand-written SQL query that reads the same rows, and filing when the community already has 10,000 photo
hashes from the last year (the near-match scan of `filing.add_photos`). Each service call runs in a fresh app
context with its actor and objects loaded before the clock starts, and includes the commit; statements are
counted as tests/querycount.py counts them. The block below is rewritten by each run."""


def write_docs(text_block: str) -> Path:
    return write_block(text_block, BEGIN, END, SECTION, INTRO)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--residents", type=int, default=4000, help="residents per community (2 communities)")
    ap.add_argument("--calls", type=int, default=15, help="timed calls per measurement (default 15)")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile one queue of 200 and one filing with 10,000 hashes (stderr)")
    ap.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    ap.add_argument("--keep", action="store_true", help="keep the databases (their names are printed)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--photo-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.photo_child:
        photo_child(args.photo_child, args.calls)
        return

    import logging

    logging.disable(logging.INFO)
    started = time.perf_counter()
    log("making photos")
    camera = camera_jpeg(4000, 3000, 1)
    browser = browser_jpeg(camera)
    # the filings' photos: a different picture each, as claims.js sends them (1600 px, quality 0.85)
    photos = [camera_jpeg(1600, 1200, 100 + i, quality=85, noise=3) for i in range(2 * (args.calls + WARMUP) + 1)]
    photo = measure_photos(camera, browser, args.calls)
    photo["filing_kb"] = median([len(p) for p in photos]) / 1024
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    dbs = Databases(keep=args.keep)
    results = {}
    try:
        for backend in backends:
            results[backend] = run_backend(backend, dbs, args, photos)
    finally:
        dbs.close()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "?"
    from ledger_verify import machine

    header = f"{commit}; {machine()}"
    if "postgresql" in results:
        from ledger_verify import pg_version

        header += f", PostgreSQL {pg_version()}"
    out = block(photo, results, header, args)
    print(out)
    log(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"photo": photo, "results": results}, indent=1, default=str))
    if not args.no_docs:
        log(f"wrote {write_docs(out)}")


if __name__ == "__main__":
    main()
