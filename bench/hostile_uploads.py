"""Hostile uploads (issue 11, finding 9): what the app spends on each, in CPU seconds and peak memory.

Not a test. It builds three small files that expand enormously when read:

  - rows_1m.xlsx: one sheet of 1,000,000 resident rows (a few hundred KB zipped);
  - shared_300mb.xlsx: a header, one row, and one 300 MB shared string (the sharedStrings part,
    which openpyxl reads whole even in read-only mode);
  - photo_12000.png: a 12000x12000 RGB PNG (all black: about 400 KB);
  - rows_20k.xlsx: for comparison, the biggest legitimate sheet (20,000 distinct residents), whose check
    runs in the background: the runner is measured too;

then, for each, starts a fresh child process (this script with --measure) that creates the app on a
scratch SQLite database, logs in a community admin through the test client and POSTs the file as the
office would (the import page's upload, the product page's photo), and reports the request's CPU
seconds (time.process_time) and its peak RSS above the RSS before the request (VmHWM after resetting
it through /proc/self/clear_refs), with the status and the message the page shows.

    .venv/bin/python bench/hostile_uploads.py                      # build into /tmp/hostile, run all three
    .venv/bin/python bench/hostile_uploads.py --only photo --dir /tmp/hostile
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '</Types>')
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="居民" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = "</sheetData></worksheet>"
HEADER = ["楼栋", "单元", "房号", "姓名"]


def _cells(row: int, indexes: list[int]) -> str:
    # no r="A2" references (they are optional): identical rows compress about 1000:1, as in the file
    return "".join(f'<c t="s"><v>{s}</v></c>' for s in indexes)


def _shared(strings: list[str]) -> str:
    items = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{items}</sst>')


def _workbook(path: Path, sheet_rows, shared) -> None:
    """An .xlsx written part by part: the sheet's rows (an iterator of XML text) streamed into the zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(SHEET_HEAD.encode())
            for text in sheet_rows:
                out.write(text.encode())
            out.write(SHEET_TAIL.encode())
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
            for text in shared:
                out.write(text.encode())


def build_million_rows(path: Path, rows: int = 1_000_000) -> None:
    # shared strings: the four headers, then 3号楼, 1, 301, 王秀英 (every row the same resident)
    def sheet():
        yield f'<row r="1">{_cells(1, [0, 1, 2, 3])}</row>'
        for r in range(2, rows + 2):
            yield f'<row>{_cells(r, [4, 5, 6, 7])}</row>'
    _workbook(path, sheet(), [_shared([*HEADER, "3号楼", "1", "301", "王秀英"])])


def build_huge_shared_string(path: Path, megabytes: int = 300) -> None:
    def shared():
        yield ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
        yield "".join(f"<si><t>{h}</t></si>" for h in [*HEADER, "3号楼", "1", "301"])
        yield "<si><t>"
        chunk = "A" * (1024 * 1024)
        for _ in range(megabytes):
            yield chunk
        yield "</t></si></sst>"
    rows = [f'<row r="1">{_cells(1, [0, 1, 2, 3])}</row>', f'<row r="2">{_cells(2, [4, 5, 6, 7])}</row>']
    _workbook(path, iter(rows), shared())


def png_bytes(width: int, height: int) -> bytes:
    """A black RGB PNG of any size, compressed row by row (never the whole image in memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    compressor, parts, row = zlib.compressobj(9), [], b"\x00" + bytes(width * 3)
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def build_legitimate(path: Path, rows: int = 20000) -> None:
    """The biggest sheet the office may send: 20,000 distinct residents, as openpyxl writes it."""
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民")
    ws.append(["网格", "楼栋", "单元", "房号", "姓名", "与户主关系", "手机号", "身份证后四位", "出生年份", "入住日期"])
    for i in range(rows):
        ws.append(["第一网格", f"{i % 40 + 1}号楼", str(i // 4000 + 1), str(100 + i // 80), f"居民{i:05d}",
                   "户主" if i % 80 < 40 else "配偶", f"139{i:08d}", f"{i % 10000:04d}", 1940 + i % 60,
                   "2010-05-01"])
    wb.save(path)


def build(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {"rows_1m": directory / "rows_1m.xlsx", "shared_300mb": directory / "shared_300mb.xlsx",
             "photo_12000": directory / "photo_12000.png", "rows_20k": directory / "rows_20k.xlsx"}
    if not files["rows_20k"].exists():
        build_legitimate(files["rows_20k"])
    if not files["rows_1m"].exists():
        build_million_rows(files["rows_1m"])
    if not files["shared_300mb"].exists():
        build_huge_shared_string(files["shared_300mb"])
    if not files["photo_12000"].exists():
        files["photo_12000"].write_bytes(png_bytes(12000, 12000))
    return files


# ---- the child: one request, measured ---------------------------------------------------------------

def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(kind: str, path: Path) -> dict:
    from datetime import UTC, datetime

    from flask_migrate import upgrade

    from pointsapp import create_app
    from pointsapp.core.extensions import db
    from pointsapp.store.models import Product
    from tests.factories import Factory

    workdir = Path(tempfile.mkdtemp(prefix="hostile-"))
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.sqlite'}",
                      "FRIENDLY_500_IN_TESTS": True,
                      "JOBS_URL": "memory://"})  # queued jobs stay in memory: the runner is called below
    now = datetime.now(UTC)
    with app.app_context():
        upgrade()
        make = Factory(db, now)
        community = make.community()
        admin = make.admin(community)
        store = make.store(community)
        product = Product(community_id=community.id, store_id=store.id, name="香皂", kind="goods", category="",
                          price=10, barcode="", low_stock=5, is_active=True, stock=10, created_at=now)
        db.session.add(product)
        db.session.commit()
        ids = dict(community=community.id, store=store.id, product=product.id, user=admin.get_id())
    client = app.test_client()
    from flask_login.utils import _create_identifier  # the identifier "strong" session protection expects
    with app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()
    with client.session_transaction() as sess:
        sess["_user_id"], sess["_fresh"], sess["_id"] = ids["user"], True, identifier
    content = path.read_bytes()
    if kind == "photo":
        url = f"/store/{ids['store']}/products/{ids['product']}"
        data = {"what": "photo", "photo": (io.BytesIO(content), path.name)}
    else:
        url = f"/admin/c/{ids['community']}/import/"
        data = {"file": (io.BytesIO(content), path.name)}
    Path("/proc/self/clear_refs").write_text("5")  # start the peak (VmHWM) from here
    rss_before, cpu_before, wall_before = _rss_kb("VmRSS"), time.process_time(), time.monotonic()
    response = client.post(url, data=data, content_type="multipart/form-data", follow_redirects=True)
    cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
    peak = _rss_kb("VmHWM")
    html = response.get_data(as_text=True)
    messages = re.findall(r'class="flash (?:error|success)"[^>]*>\s*([^<]+)', html) or \
        re.findall(r"<p[^>]*>([^<]{5,200})</p>", html)[:1]
    result = {"status": response.status_code, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
              "peak_above_mb": round((peak - rss_before) / 1024, 1),
              "message": " | ".join(m.strip() for m in messages)}
    try:  # a big legitimate sheet is queued: measure the background runner too, as the worker would run it
        from pointsapp.imports.cli import run_job
        from pointsapp.imports.models import ImportJob
    except ImportError:  # (before the change there was no runner)
        return result
    with app.app_context():
        job = db.session.scalar(db.select(ImportJob).order_by(ImportJob.id.desc()))
        if job is not None and job.status == "queued":
            Path("/proc/self/clear_refs").write_text("5")
            rss_before, cpu_before = _rss_kb("VmRSS"), time.process_time()
            status = run_job(job.id)
            db.session.expire_all()
            result["message"] += (f" | background check: {status}, {job.row_count} rows, "
                                  f"{time.process_time() - cpu_before:.2f} s CPU, "
                                  f"+{(_rss_kb('VmHWM') - rss_before) / 1024:.0f} MB peak")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/hostile")
    parser.add_argument("--only", choices=["rows_1m", "shared_300mb", "photo_12000", "rows_20k"])
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(measure(args.measure[0], Path(args.measure[1])), ensure_ascii=False))
        return
    files = build(Path(args.dir))
    print(f"{'file':<14}{'size':>10}  {'status':>6}{'cpu s':>8}{'wall s':>8}{'peak +MB':>10}  message")
    for name, path in files.items():
        if args.only and name != args.only:
            continue
        kind = "photo" if name.startswith("photo") else "sheet"
        try:
            out = subprocess.run([sys.executable, __file__, "--measure", kind, str(path)], capture_output=True,
                                 text=True, timeout=args.timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            result = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else \
                {"status": "crash", "cpu_s": 0, "wall_s": 0, "peak_above_mb": 0, "message": out.stderr[-300:]}
        except subprocess.TimeoutExpired:
            result = {"status": "timeout", "cpu_s": args.timeout, "wall_s": args.timeout, "peak_above_mb": 0,
                      "message": f"still running after {args.timeout} s"}
        print(f"{name:<14}{path.stat().st_size // 1024:>8}KB  {result['status']!s:>6}{result['cpu_s']:>8}"
              f"{result['wall_s']:>8}{result['peak_above_mb']:>10}  {result['message']}", flush=True)


if __name__ == "__main__":
    main()
