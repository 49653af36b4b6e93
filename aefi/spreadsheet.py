"""A list as a file for a spreadsheet program: CSV (UTF-8 with a byte-order mark, so that
Excel and WPS read Chinese) and XLSX (openpyxl). Pure: a header and rows of plain values
in, bytes out; no web or database imports.

Every cell goes through :func:`safe_cell`: a text cell that begins with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return would be run as a formula by Excel, WPS or
LibreOffice (OWASP "CSV injection": ``=cmd|' /C calc'!A0``), so it is written with a
leading ``'``, which those programs show as text. Values passed as numbers (int, float,
Decimal) are written as they are, so a negative figure stays a number; a *text* cell is
always neutralised, even "-3", because text comes from users (names, notes, lot numbers)
and a number-looking text may be the start of ``-3+cmd|...``. The same rule holds in XLSX,
where openpyxl would otherwise store a text that begins with ``=`` as a formula, and in
every other CSV aefi writes (:func:`csv_writer`: the reports' tables, downloads, CLI files)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's limit on a sheet's name.
SHEET_NAME_MAX = 31


def safe_cell(value: Any) -> Any:
    """A cell that no spreadsheet will run: text beginning with a formula character gets a
    leading ``'``; numbers (int, float, Decimal) are left as numbers, None as empty."""
    if value is None or isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """``csv.writer`` with every cell passed through :func:`safe_cell`."""

    def __init__(self, fh: Any, **kwargs: Any) -> None:
        self._w = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow([safe_cell(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh: Any, **kwargs: Any) -> SafeWriter:
    """The one way aefi writes CSV (exports, downloads, CLI files)."""
    return SafeWriter(fh, **kwargs)


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of an export: its header (already in the reader's language) and how a
    row gives its value (text or a number, already through the catalogs)."""

    header: str
    value: Callable[[T], Any]


def table(columns: Sequence[Column[T]], rows: Iterable[T]) -> tuple[list[str], list[list[Any]]]:
    """The header and the values of each row."""
    return [c.header for c in columns], [[c.value(r) for c in columns] for r in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The header and rows as CSV in UTF-8 with a byte-order mark."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv_writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([_plain(c) for c in row])
    return buf.getvalue().encode("utf-8")


def xlsx_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str) -> bytes:
    """The header (bold, frozen) and rows as one sheet of an XLSX workbook."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_sheet_name(sheet))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for h in header:
        cell = WriteOnlyCell(ws, value=safe_cell(h))
        cell.font = bold
        head.append(cell)
    ws.append(head)
    for row in rows:
        ws.append([safe_cell(_plain(c)) for c in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_name(name: str) -> str:
    # Excel refuses these characters in a sheet's name.
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in name).strip()
    return (cleaned or "Sheet")[:SHEET_NAME_MAX]
