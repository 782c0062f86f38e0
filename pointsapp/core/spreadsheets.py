"""Every spreadsheet the app writes (CSV and XLSX exports, the import template) goes through here, so no
name a resident or an office typed can become a formula in the office's Excel (OWASP "CSV injection").

- `safe_cell(value)`: numbers, dates and empty cells stay as they are (a sum over the points column
  still works); text that starts with = + - @, a tab, a carriage return or a line feed gets a leading
  apostrophe, and control characters that no spreadsheet can hold are dropped.
- `csv_bytes(rows)`: UTF-8 with a BOM, which Excel on Chinese Windows needs to read UTF-8 at all.
- `xlsx_bytes(sheets)`: every text cell is stored as a string cell (type "s"), never a formula.

Why the apostrophe in XLSX too, where the string type alone already stops evaluation: a text cell
that starts with "=" becomes a live formula as soon as somebody edits it (F2, Enter) or saves the
sheet as CSV and opens that; with the apostrophe both formats read the same and stay inert in
every later step. The cost is a visible ' in front of a name that really starts with "-" or "+",
which is rare and harmless. tests/test_one_rule.py fails if any other module writes csv or xlsx.
"""
import csv
import io
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from flask import current_app

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# what the XML inside an .xlsx cannot hold (openpyxl refuses it), and the C1 controls: never meant
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def safe_cell(value):
    """A value as a spreadsheet may hold it: text never starts a formula; anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = _UNWRITABLE.sub("", value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_bytes(rows: Iterable[Sequence]) -> bytes:
    """Rows as CSV in UTF-8 with a BOM (what Excel reads as UTF-8), every cell through safe_cell."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return buf.getvalue().encode("utf-8-sig")


def xlsx_bytes(sheets: Sequence[tuple[str, Iterable[Sequence]]], *, widths: dict[str, float] | None = None) -> bytes:
    """[(sheet title, rows), …] as an .xlsx: text cells are strings (type "s"), numbers numbers.
    `widths`: column letter -> width, for every sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)  # rows are streamed out: a three-year ledger does not sit in memory twice
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for column, width in (widths or {}).items():
            ws.column_dimensions[column].width = width
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(ws, value=safe_cell(value))
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # openpyxl would read a leading "=" as a formula
                cells.append(cell)
            ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def download(body: bytes, filename: str):
    """A response that saves `body` as `filename` (.csv or .xlsx; Chinese names kept, RFC 5987)."""
    ext = filename.rsplit(".", 1)[-1]
    ascii_name = filename if filename.isascii() else f"download.{ext}"
    disposition = f"attachment; filename={ascii_name}"
    if not filename.isascii():
        disposition += f"; filename*=UTF-8''{quote(filename)}"
    return current_app.response_class(body, mimetype=MIME[ext], headers={"Content-Disposition": disposition})


__all__ = ["FORMULA_STARTS", "csv_bytes", "download", "safe_cell", "xlsx_bytes"]
