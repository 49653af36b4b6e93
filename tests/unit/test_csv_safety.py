"""Every CSV aefi writes neutralises cells a spreadsheet would run as formulas (OWASP CSV
injection): text starting with =, +, -, @, tab or CR gets a leading apostrophe."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from aefi import spreadsheet
from aefi.reporting import exports

ATTACKS = ["=cmd|' /C calc'!A0", "=1+1", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("cell", ATTACKS)
def test_formula_text_is_neutralised(cell):
    assert spreadsheet.safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["张三", "13800000000", "a=b", "", " =x", "LOT-1"])
def test_plain_text_is_kept(cell):
    assert spreadsheet.safe_cell(cell) == cell


def test_numbers_stay_numbers():
    assert spreadsheet.safe_cell(-3) == -3
    assert spreadsheet.safe_cell(-1.5) == -1.5
    assert spreadsheet.safe_cell(Decimal("-2")) == Decimal("-2")
    assert spreadsheet.safe_cell(None) is None
    assert spreadsheet.safe_cell("-3") == "'-3"  # text that looks like a number is still text


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_sectioned_tables_and_row_exports_are_safe():
    tables = [("=title", ["=h", "ok"], [["=1+1", "x"], ["@a", "-1"]])]
    assert _cells(exports.to_csv(tables)) == [
        ["'=title"],
        ["'=h", "ok"],
        ["'=1+1", "x"],
        ["'@a", "'-1"],
    ]
    out = exports.rows_csv(["name", "phone"], [{"name": ATTACKS[0], "phone": "+86 138"}])
    assert _cells(out) == [["name", "phone"], ["'" + ATTACKS[0], "'+86 138"]]
    with pytest.raises(ValueError):
        exports.rows_csv(["name"], [{"name": "a", "other": "b"}])
    buf = io.StringIO()
    spreadsheet.csv_writer(buf).writerows([["=x", 2, -2]])
    assert buf.getvalue().strip() == "'=x,2,-2"
