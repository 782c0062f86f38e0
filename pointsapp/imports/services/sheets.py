"""Reading an uploaded sheet without letting it exhaust the server.

An .xlsx is a zip of XML parts: a few hundred KB can expand to a million rows or to one 300 MB
string, and openpyxl reads some parts whole (sharedStrings, styles) even in read-only mode. So,
before openpyxl sees the file:

- every member's declared size and compression ratio are checked (a zip bomb is refused at once).
  The declared sizes are enough: Python's zipfile never returns more than a member's declared size
  (a file that understates it is cut off there and fails its CRC: "could not be read");

and then the rows are streamed (openpyxl read_only, at most MAX_COLUMNS columns), stopping at the row
limit (one row past it, to say "too many rows") and at the first cell longer than MAX_CELL_CHARS.
A CSV is decoded line by line (UTF-8, else GB18030/GBK) under the same limits.
"""
import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime

from flask_babel import lazy_gettext as _l

from pointsapp.core.errors import InvalidInput

MAX_CELL_CHARS = 200  # the longest column (a building's name) is 40: 200 leaves room for stray spaces
MAX_COLUMNS = 40  # the template has 10; columns beyond these are never read
# Parts of a workbook, inflated. A worksheet is streamed (a 20,000-row sheet of the template's columns is
# about 11 MB of XML); every other XML part openpyxl parses whole, even in read-only mode, at about
# 0.2 s of CPU per MB for shared strings: a 20,000-row sheet's are under 2 MB, its styles a few KB.
MAX_PART_BYTES = 32 * 1024 * 1024  # a worksheet: three times the biggest allowed sheet; one cell can be no bigger
MAX_SHARED_STRINGS_BYTES = 4 * 1024 * 1024
MAX_XML_PART_BYTES = 4 * 1024 * 1024  # styles, workbook, relationships, theme …
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_RATIO = 100  # Excel's own files compress 5-20 times; a part inflating more than this is a bomb
RATIO_FROM_BYTES = 1024 * 1024  # small parts (a few repeated tags) may compress far better: ignore them
MAX_MEMBERS = 1000
BLANK_ROWS_ALLOWED = 1000  # blank rows between residents that are skipped (and not counted)


class FileRefused(InvalidInput):
    """A sheet that would cost more to read than any real one: nothing of it was checked."""
    code = "file_too_big"


def _too_big() -> FileRefused:
    return FileRefused(_l("This file unpacks to far more data than a residents' sheet can hold, so it was not "
                          "read. Please save the sheet again in Excel, or split it into smaller files."),
                       code="zip_bomb")


def _unreadable_xlsx() -> InvalidInput:
    return InvalidInput(_l("This file could not be read as an Excel (.xlsx) workbook."), code="unreadable_file")


def guard_xlsx(content: bytes) -> None:
    """Refuse a workbook whose parts are too big to read, from the sizes the zip declares. Raises
    unreadable_file, zip_bomb, text_too_long."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable_xlsx() from exc
    with archive:
        members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise _too_big()
    declared = 0
    for info in members:
        declared += info.file_size
        name = info.filename.lower()
        if name.endswith("sharedstrings.xml") and info.file_size > MAX_SHARED_STRINGS_BYTES:
            raise FileRefused(_l("This file holds more text than any residents' sheet (over %(mb)d MB), so it was "
                                 "not read. Please split it into smaller files."), code="text_too_long",
                              mb=MAX_SHARED_STRINGS_BYTES // (1024 * 1024))
        if info.file_size > MAX_PART_BYTES or declared > MAX_TOTAL_BYTES:
            raise _too_big()
        streamed = name.startswith("xl/worksheets/") and name.endswith(".xml")
        if name.endswith((".xml", ".rels")) and not streamed and info.file_size > MAX_XML_PART_BYTES:
            raise _too_big()
        if info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _too_big()


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


def _limited(rows: Iterator[list[str]], max_rows: int) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) for the header and each row, refusing a long cell and stopping one
    non-blank row past max_rows. Blank rows are skipped and not counted, up to BLANK_ROWS_ALLOWED."""
    counted = blanks = 0
    for number, cells in enumerate(rows, start=1):
        cells = cells[:MAX_COLUMNS]
        for index, text in enumerate(cells):
            if len(text) > MAX_CELL_CHARS:
                raise InvalidInput(_l("Row %(row)d, column %(col)d has %(n)d characters; a cell may hold at most "
                                      "%(max)d. Please check the file."), code="cell_too_long", row=number,
                                   col=index + 1, n=len(text), max=MAX_CELL_CHARS)
        if number > 1 and not any(cells):
            blanks += 1
            if blanks > BLANK_ROWS_ALLOWED + max_rows:
                return  # a sheet padded with empty rows: nothing more will come
            continue
        if number > 1:
            counted += 1
            if counted > max_rows:
                raise InvalidInput(_l("The file has more than %(max)d rows; at most %(max)d can be imported at "
                                      "once. Please split it into smaller files."), code="too_many_rows",
                                   max=max_rows)
        yield number, cells


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    guard_xlsx(content)
    from openpyxl import load_workbook  # imported here: only imports need it
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise _unreadable_xlsx() from exc
    try:
        if not wb.worksheets:
            raise _unreadable_xlsx()
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # read-only mode parses the sheet only now, so damage shows up here
                raise _unreadable_xlsx() from exc
            yield [cell_text(v) for v in values]
    finally:
        wb.close()


def _csv_encoding(content: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030 (Excel on Chinese Windows saves CSV as GBK), decided by
    decoding in steps without keeping the text. Raises unreadable_file."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(content), 256 * 1024):
                decoder.decode(content[start:start + 256 * 1024])
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise InvalidInput(_l("This CSV file is neither UTF-8 nor GBK text."), code="unreadable_file")


def _csv_rows(content: bytes) -> Iterator[list[str]]:
    text = io.TextIOWrapper(io.BytesIO(content), encoding=_csv_encoding(content), newline="")
    reader = csv.reader(text)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # among others, a field over csv's own limit (128 KB)
            raise InvalidInput(_l("This CSV file could not be read."), code="unreadable_file") from exc
        yield [c.strip() for c in row[:MAX_COLUMNS]]


def read_rows(filename: str, content: bytes, *, max_rows: int) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) for the header row and every non-blank row after it, streamed.
    Raises unsupported_file, unreadable_file, zip_bomb, text_too_long, cell_too_long, too_many_rows."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _limited(_xlsx_rows(content), max_rows)
    if name.endswith(".csv"):
        return _limited(_csv_rows(content), max_rows)
    raise InvalidInput(_l("Please upload an .xlsx or .csv file."), code="unsupported_file")


def count_rows(filename: str, content: bytes, *, max_rows: int, up_to: int) -> int:
    """Non-blank rows below the header, counting no further than up_to + 1 (cheap: decides whether a sheet
    is checked at once or in the background). Raises read_rows's codes."""
    count = 0
    for number, _cells in read_rows(filename, content, max_rows=max_rows):
        if number > 1:
            count += 1
            if count > up_to:
                break
    return count
