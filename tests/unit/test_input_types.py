"""The shared input types: ASCII-only integers, bounded ids and pages, sane years."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from aefi.errors import Invalid
from aefi.types import MAX_ID, Day, Id, PageNo, When, ascii_int, page_number, parse_id


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("12", 12),
        (" 7 ", 7),
        ("-3", -3),
        ("+4", 4),
        ("²", None),  # "²".isdigit() is True
        ("١٢", None),  # Arabic-Indic digits: int() would read 12
        ("１２", None),  # full-width digits
        ("", None),
        (None, None),
        ("1e3", None),
        ("9" * 19, None),
        ("12a", None),
    ],
)
def test_ascii_int(raw, expected) -> None:
    assert ascii_int(raw) == expected


def test_parse_id_bounds() -> None:
    assert parse_id("") is None
    assert parse_id(str(MAX_ID)) == MAX_ID
    for bad in ("0", "-1", str(MAX_ID + 1), "²", "x"):
        with pytest.raises(Invalid) as err:
            parse_id(bad, "site_id")
        assert "site_id" in err.value.fields
    with pytest.raises(ValueError):  # still caught where callers catch ValueError
        parse_id("x")


def test_page_number_falls_back_to_the_first_page() -> None:
    assert page_number("3") == 3
    assert [page_number(v) for v in ("", "0", "-2", "²", None)] == [1] * 5
    assert page_number("9" * 18) == 1_000_000


def test_id_and_page_types_refuse_out_of_range() -> None:
    ids, pages = TypeAdapter(Id), TypeAdapter(PageNo)
    assert ids.validate_python(5) == 5
    for bad in (0, -1, 2**31, 2**63):
        with pytest.raises(ValidationError):
            ids.validate_python(bad)
    with pytest.raises(ValidationError):
        pages.validate_python(10**7)


def test_dates_outside_1900_to_2999_are_refused() -> None:
    days, whens = TypeAdapter(Day), TypeAdapter(When)
    assert days.validate_python("2026-12-01") == date(2026, 12, 1)
    for bad in ("0001-01-01", "9999-12-31"):
        with pytest.raises(ValidationError):
            days.validate_python(bad)
    with pytest.raises(ValidationError):
        whens.validate_python("0001-01-01T00:00:00+08:00")
    assert whens.validate_python("2026-12-01T09:00:00+08:00").astimezone(UTC) == datetime(
        2026, 12, 1, 1, 0, tzinfo=UTC
    )
