"""Uploads built to exhaust the server (issue 11, finding 9): small files that expand to millions of rows,
one enormous string, or a photo of 144 megapixels. Each is refused with a clear message while the
memory the app takes stays small (tracemalloc's peak), before anything is decoded whole."""
import io
import struct
import tracemalloc
import zipfile
import zlib

import pytest
from openpyxl import Workbook

from pointsapp.core.errors import InvalidInput
from pointsapp.imports import services as imports
from pointsapp.imports.services import sheets
from pointsapp.store.models import Product, ProductPhoto
from pointsapp.store.services import catalogue

from .test_imports import CLEAN, HEADER, csv_file, xlsx

MB = 1024 * 1024

PARTS = {
    "[Content_Types].xml":
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels":
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml":
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="居民" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels":
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
}
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def cells(*indexes) -> str:
    return "".join(f'<c t="s"><v>{i}</v></c>' for i in indexes)


def workbook(sheet_parts, shared_parts) -> bytes:
    """A real .xlsx written part by part (the big parts streamed into the zip, never whole in memory)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in PARTS.items():
            z.writestr(name, text)
        for name, parts in (("xl/worksheets/sheet1.xml", sheet_parts), ("xl/sharedStrings.xml", shared_parts)):
            with z.open(name, "w", force_zip64=True) as out:
                for text in parts:
                    out.write(text.encode())
    return buffer.getvalue()


def million_rows(rows=1_000_000) -> bytes:
    """The issue's file: one resident repeated a million times, a few hundred KB zipped."""
    def sheet():
        yield f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData><row>{cells(0, 1, 2, 3)}</row>'
        row = f"<row>{cells(4, 5, 6, 7)}</row>"
        for _ in range(rows // 1000):
            yield row * 1000
        yield "</sheetData></worksheet>"
    shared = "".join(f"<si><t>{s}</t></si>" for s in ["楼栋", "单元", "房号", "姓名", "3号楼", "1", "301", "王秀英"])
    return workbook(sheet(), [f'<?xml version="1.0" encoding="UTF-8"?><sst {NS}>{shared}</sst>'])


def huge_shared_string(megabytes: int) -> bytes:
    def shared():
        heads = "".join(f"<si><t>{s}</t></si>" for s in ["楼栋", "单元", "房号", "3号楼", "1", "301"])
        yield f'<?xml version="1.0" encoding="UTF-8"?><sst {NS}>{heads}<si><t>'
        for _ in range(megabytes):
            yield "A" * MB
        yield "</t></si></sst>"
    sheet = [f'<?xml version="1.0" encoding="UTF-8"?><worksheet {NS}><sheetData>'
             f'<row>{cells(0, 1, 2)}<c t="inlineStr"><is><t>姓名</t></is></c></row>'
             f"<row>{cells(3, 4, 5, 6)}</row></sheetData></worksheet>"]
    return workbook(sheet, shared())


def png(width: int, height: int) -> bytes:
    """A black RGB PNG of any size, compressed row by row: 12000x12000 is about 400 KB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    compressor, row = zlib.compressobj(9), b"\x00" + bytes(width * 3)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def peak_mb(action) -> tuple[float, BaseException | None]:
    """Run action under tracemalloc: (peak MB allocated by Python while it ran, the error it raised)."""
    tracemalloc.start()
    error = None
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - returned for the test to assert on
        error = exc
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / MB, error


@pytest.fixture
def community(make):
    return make.community("金山社区")


@pytest.fixture
def admin(make, community):
    return make.admin(community)


def upload(admin, community, content, now, filename="居民.xlsx", max_rows=20000):
    return imports.upload(admin, community, filename, content, now, max_rows=max_rows)


# ---- sheets ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bomb() -> bytes:
    return million_rows()


def test_a_small_xlsx_that_unpacks_to_a_million_rows_is_refused_before_it_is_parsed(db, admin, community, now,
                                                                                     bomb):
    assert len(bomb) < 1 * MB
    peak, error = peak_mb(lambda: upload(admin, community, bomb, now))
    assert isinstance(error, InvalidInput) and error.code == "zip_bomb", error
    assert "Excel" in str(error)
    assert peak < 20, f"{peak:.0f} MB"


def test_a_300_mb_shared_string_is_refused_before_openpyxl_loads_it(db, admin, community, now):
    content = huge_shared_string(40)  # over the 16 MB limit of the sharedStrings part (300 MB in the issue)
    assert len(content) < 1 * MB
    peak, error = peak_mb(lambda: upload(admin, community, content, now))
    assert isinstance(error, InvalidInput) and error.code in ("text_too_long", "zip_bomb"), error
    assert peak < 30, f"{peak:.0f} MB"


def test_a_cell_longer_than_any_real_one_refuses_the_file_naming_its_row(db, admin, community, now):
    rows = [list(r) for r in CLEAN]
    rows[2][3] = "王" * (sheets.MAX_CELL_CHARS + 1)
    for filename, content in (("居民.xlsx", xlsx(rows)), ("居民.csv", csv_file(rows))):
        with pytest.raises(InvalidInput) as exc:
            upload(admin, community, content, now, filename=filename)
        assert exc.value.code == "cell_too_long"
        assert "第 4 行" in str(exc.value) and str(sheets.MAX_CELL_CHARS) in str(exc.value)


def test_a_sheet_padded_with_columns_reads_only_the_first_forty(db, admin, community, now):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in CLEAN:
        ws.append(r)
    ws.cell(row=2, column=16000, value="far away")  # the last columns Excel has
    buffer = io.BytesIO()
    wb.save(buffer)
    _job, report = upload(admin, community, buffer.getvalue(), now)
    assert len(report.rows) == len(CLEAN) and not report.errors


def test_reading_stops_one_row_past_the_limit(db, admin, community, now):
    rows = [list(CLEAN[0][:3]) + [f"居民{i}"] + list(CLEAN[0][4:]) for i in range(3000)]
    read = []
    content = xlsx(rows)
    for filename, data in (("居民.xlsx", content), ("居民.csv", csv_file(rows))):
        with pytest.raises(InvalidInput) as exc:
            for number, _cells in sheets.read_rows(filename, data, max_rows=100):
                read.append(number)
        assert exc.value.code == "too_many_rows" and "100" in str(exc.value)
        assert read[-1] == 101  # the header and 100 rows: the 101st row of data was never read
        read.clear()


# ---- product photos ----------------------------------------------------------------------------------

@pytest.fixture
def product(make, community, now):
    store = make.store(community)
    item = Product(community_id=community.id, store_id=store.id, name="香皂", kind="goods", category="", price=10,
                   barcode="", low_stock=5, is_active=True, stock=10, created_at=now)
    make._add(item)
    return item


def test_a_12000_by_12000_png_photo_is_refused_from_its_header_without_decoding_it(db, admin, product, now):
    content = png(12000, 12000)
    assert len(content) < 1 * MB
    peak, error = peak_mb(lambda: catalogue.set_photo(admin, product, content, now))
    assert isinstance(error, InvalidInput) and error.code == "photo_too_large", error
    assert "40" in str(error)
    assert peak < 50, f"{peak:.0f} MB"
    assert db.session.get(ProductPhoto, product.id) is None


def test_a_phone_sized_photo_is_still_shrunk_and_stored(db, admin, product, now):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(buffer, "JPEG")
    catalogue.set_photo(admin, product, buffer.getvalue(), now)
    stored = Image.open(io.BytesIO(db.session.get(ProductPhoto, product.id).content))
    assert max(stored.size) == catalogue.PHOTO_MAX_PIXELS


def test_the_photo_limit_comes_from_config(app, db, admin, product, now):
    app.config["PHOTO_MAX_MEGAPIXELS"] = 1
    try:
        with pytest.raises(InvalidInput) as exc:
            catalogue.set_photo(admin, product, png(1200, 1000), now)
    finally:
        app.config.pop("PHOTO_MAX_MEGAPIXELS")
    assert exc.value.code == "photo_too_large"


def test_a_workbook_that_understates_its_sizes_is_cut_off_at_what_it_declares(db, admin, community, now):
    """The size checks read what the zip declares; a part that lies (declares 1 KB, holds 40 MB) is read no
    further than its declared size by zipfile, so it fails as a damaged file, cheaply."""
    content = bytearray(huge_shared_string(40))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        start = 0
        while (start := content.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            # (a zip64 local header keeps its sizes elsewhere: 0xFFFFFFFF here)
            if content[name_at:name_at + 20] == b"xl/sharedStrings.xml" and (
                    signature == b"PK\x01\x02" or struct.unpack_from("<I", content, start + offset)[0] != 0xFFFFFFFF):
                struct.pack_into("<I", content, start + offset, 1024)
            start += 4
    peak, error = peak_mb(lambda: upload(admin, community, bytes(content), now))
    assert isinstance(error, InvalidInput) and error.code in ("unreadable_file", "zip_bomb"), error
    assert peak < 30, f"{peak:.0f} MB"


def test_an_oversized_styles_part_is_refused_though_it_compresses_modestly(db, admin, community, now):
    """openpyxl parses styles whole: a 6 MB styles.xml of distinct styles (it compresses only ~10x, so the
    ratio check alone would let it in) is refused by its size."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx(CLEAN))) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/styles.xml":
                fonts = "".join(f'<font><sz val="{i % 400 + 1}"/><name val="字体{i:07d}"/></font>'
                                for i in range(120_000))
                data = data.replace(b"<fonts", f"<!-- {fonts} --><fonts".encode(), 1)
            z.writestr(info, data)
    content = buffer.getvalue()
    with pytest.raises(InvalidInput) as exc:
        upload(admin, community, content, now)
    assert exc.value.code == "zip_bomb"
