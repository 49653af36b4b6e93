"""List exports as files (aefi/spreadsheet.py): CSV with a BOM, XLSX through openpyxl, and
no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from aefi.spreadsheet import Column, csv_bytes, safe_cell, table, xlsx_bytes

ROWS = [
    {"n": "330782-2026-0001", "name": "张三", "count": 3},
    {"n": '=HYPERLINK("x")', "name": "-3+cmd|' /C calc'!A0", "count": -2},
]
COLUMNS = [
    Column("编号", lambda r: r["n"]),
    Column("姓名", lambda r: r["name"]),
    Column("数量", lambda r: r["count"]),
]


def test_csv_is_utf8_with_a_bom_and_reads_back():
    header, rows = table(COLUMNS, ROWS)
    data = csv_bytes(header, rows)
    assert data.startswith("\ufeff".encode())
    read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert read[0] == ["编号", "姓名", "数量"]
    assert read[1] == ["330782-2026-0001", "张三", "3"]
    # Formula starts are neutralised in text, numbers stay numbers.
    assert read[2] == ['\'=HYPERLINK("x")', "'-3+cmd|' /C calc'!A0", "-2"]


def test_xlsx_opens_with_openpyxl_with_the_same_cells():
    header, rows = table(COLUMNS, ROWS)
    wb = load_workbook(io.BytesIO(xlsx_bytes(header, rows, sheet="报告/列表")))
    ws = wb.active
    assert ws.title == "报告 列表"  # "/" is refused in a sheet's name
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0] == ["编号", "姓名", "数量"]
    assert values[1] == ["330782-2026-0001", "张三", 3]
    assert values[2][0] == '\'=HYPERLINK("x")' and values[2][2] == -2
    assert ws["A1"].font.bold
    assert ws.freeze_panes == "A2"


def test_safe_cell_leaves_numbers_and_plain_text():
    assert safe_cell(5) == 5 and safe_cell(1.5) == 1.5 and safe_cell(None) is None
    assert safe_cell("甲") == "甲"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
