"""xlsx: a worksheet through fastexcel, every cell as text, rows numbered as in the sheet.

The workbook's size is checked before it is read (:func:`check_xlsx_size`): a small file
can unpack to a sheet far larger than memory. ``sheet`` picks a worksheet by name (the
first one otherwise).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import IngestError, quote
from analysis.limits import limit
from analysis.sources.registry import Format
from analysis.sources.sniff import require_signature
from analysis.sources.table import RawTable, clean_names, empty_rejects, first_line, row_numbers

if TYPE_CHECKING:
    from analysis.config import Source


def read_xlsx(path: Path, source: Source) -> RawTable:
    """A worksheet through fastexcel, every cell as text, rows numbered as in the sheet."""
    import fastexcel

    require_signature(path, b"PK\x03\x04", "an xlsx workbook", "zip")
    check_xlsx_size(path)
    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
        if source.sheet is not None and source.sheet not in names:
            raise IngestError(f"{path}: no sheet named {source.sheet!r}; the workbook has: {', '.join(names)}")
        sheet = source.sheet if source.sheet is not None else 0
        grid = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    except fastexcel.FastExcelError as exc:
        raise IngestError(f"{path}: cannot read as xlsx: {first_line(exc)}") from None
    if grid.height == 0:
        raise IngestError(f"{path}: the sheet is empty")
    header = [v if v is not None else "" for v in grid.row(0)]
    table = grid.slice(1)
    table = table.rename(dict(zip(table.columns, clean_names([str(h) for h in header]), strict=True)))
    first = _xlsx_first_row(path, sheet if isinstance(sheet, str) else names[0])
    table = row_numbers(table, first + 1)
    return RawTable(table, empty_rejects())


_CELL_REF = re.compile(rb" r=\"([A-Z]{1,4})([0-9]{1,9})\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]{0,200}?\bref=\"[A-Z]{0,4}\d{0,9}:?([A-Z]{0,4})(\d{0,9})\"")


def _column_number(letters: bytes) -> int:
    n = 0
    for c in letters:
        n = n * 26 + (c - 64)
    return n


def check_xlsx_size(path: Path) -> None:
    """Refuse a workbook whose sheets would take far more memory than the file, before reading it.

    Each part of the zip is decompressed as a stream (declared sizes can lie) and counted
    against ``POSTMORTEM_MAX_XLSX_XML_MB``; worksheet cell addresses and ``<dimension ref>``
    give the rows × columns the reader would allocate, held to ``POSTMORTEM_MAX_XLSX_CELLS``.
    A 1.5 KB file with one cell at ZZ1000000 is refused here, not after 23 GB.
    """
    cap = int(limit("MAX_XLSX_XML_MB") * (1 << 20))
    max_cells = int(limit("MAX_XLSX_CELLS"))
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.is_dir():
                    continue
                sheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
                size, rows, cols, tail, in_data = 0, 0, 0, b"", False
                with z.open(info) as fh:
                    while chunk := fh.read(1 << 20):
                        size += len(chunk)
                        if size > cap:
                            raise IngestError(
                                f"{path}: part {quote(info.filename, 80)} of the workbook unpacks to more than "
                                f"{cap >> 20} MB (limit POSTMORTEM_MAX_XLSX_XML_MB; see docs/security.md)"
                            )
                        if sheet:
                            text = tail + chunk
                            if not in_data:  # <dimension> comes before the cells
                                for m in _DIMENSION.finditer(text):
                                    cols = max(cols, _column_number(m.group(1)))
                                    rows = max(rows, int(m.group(2) or 0))
                                in_data = b"sheetData" in text
                            refs = _CELL_REF.findall(text)
                            if refs:
                                letters = {r[0] for r in refs}
                                cols = max(cols, *map(_column_number, letters))
                                rows = max(rows, max(map(int, (r[1] for r in refs))))  # noqa: PLW3301
                            tail = text[-300:]
                if sheet and rows * max(cols, 1) > max_cells:
                    raise IngestError(
                        f"{path}: sheet part {quote(info.filename, 80)} spans {rows:,} rows × {max(cols, 1):,} columns, "
                        f"more than {max_cells:,} cells (limit POSTMORTEM_MAX_XLSX_CELLS; a stray cell far from the "
                        "data? delete it, or see docs/security.md)"
                    )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise IngestError(f"{path}: cannot read as xlsx: {first_line(exc)}") from None


def _xlsx_first_row(path: Path, sheet_name: str) -> int:
    """The sheet row number of the first row holding a value (the header), 1 if unknown.

    The reader starts at the first non-empty row; this keeps reported row numbers equal
    to the ones a person sees in the spreadsheet when a sheet starts with blank rows.
    """
    try:
        with zipfile.ZipFile(path) as z:
            workbook = z.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            rid = None
            for m in re.finditer(r"<(?:\w+:)?sheet\b([^>]*)/?>", workbook):
                attrs = m.group(1)
                name = re.search(r'\bname="([^"]*)"', attrs)
                if name and _xml_unescape(name.group(1)) == sheet_name:
                    found = re.search(r'\br:id="([^"]*)"', attrs) or re.search(r'\b\w+:id="([^"]*)"', attrs)
                    rid = found.group(1) if found else None
                    break
            target = None
            for m in re.finditer(r"<Relationship\b([^>]*)/?>", rels):
                attrs = m.group(1)
                if re.search(rf'\bId="{re.escape(rid or "")}"', attrs):
                    t = re.search(r'\bTarget="([^"]*)"', attrs)
                    target = t.group(1) if t else None
            if target is None:
                return 1
            member = target.lstrip("/") if target.startswith("/") else "xl/" + target
            with z.open(member) as fh:
                buf = b""
                while chunk := fh.read(1 << 16):
                    buf += chunk
                    for row in re.finditer(rb"<row\b[^>]*\br=\"(\d+)\"[^>]*>(.*?)</row>", buf, re.S):
                        if re.search(rb"<(?:\w+:)?v>|<(?:\w+:)?t[ >]", row.group(2)):
                            return int(row.group(1))
                    if len(buf) > 1 << 24:
                        return 1
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return 1
    return 1


def _xml_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")


FORMAT = Format("xlsx", read_xlsx, suffixes=(".xlsx",), magic=(b"PK\x03\x04",))
