"""aefi/forms.py: a submitted HTML form read into a pydantic model, or what is wrong with it."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pytest
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.datastructures import FormData

from aefi import i18n
from aefi.forms import FormErrors, Tri, read_form
from aefi.types import Day, Id, parse_id


@pytest.fixture(autouse=True)
def english():
    token = i18n.set_locale("en")
    yield
    i18n._current.reset(token)


class Visit(BaseModel):
    on: Day | None = None
    count: int = 0
    note: str = ""
    signs: list[str] = []
    sudden: Tri = None
    site_id: Annotated[int | None, BeforeValidator(lambda v: parse_id(v, "site_id"))] = None
    answer: str = Field("unknown", alias="c.answer")


def test_blank_inputs_of_fields_that_are_not_text_take_their_default():
    got = read_form(FormData([("on", " "), ("count", ""), ("note", "")]), Visit)
    assert isinstance(got, Visit)
    assert got.on is None and got.count == 0 and got.note == ""


def test_values_are_parsed_by_their_types_and_lists_take_every_value():
    form = FormData(
        [
            ("on", "2026-03-01"),
            ("count", "3"),
            ("signs", "rash"),
            ("signs", "wheeze"),
            ("c.answer", "yes"),
            ("csrf_token", "ignored"),
        ]
    )
    got = read_form(form, Visit)
    assert isinstance(got, Visit)
    assert got.on == date(2026, 3, 1) and got.count == 3
    assert got.signs == ["rash", "wheeze"] and got.answer == "yes"


@pytest.mark.parametrize("raw, expected", [("yes", True), ("no", False), ("unknown", None)])
def test_a_yes_no_unknown_group_is_true_false_or_none(raw, expected):
    got = read_form(FormData([("sudden", raw)]), Visit)
    assert isinstance(got, Visit) and got.sudden is expected


def test_a_bad_date_and_a_bad_number_are_named_with_what_to_do_and_the_form_kept():
    form = FormData([("on", "1.3.2026"), ("count", "three"), ("note", "看过")])
    got = read_form(form, Visit)
    assert isinstance(got, FormErrors)
    assert got.fields == {"on": "Enter a date as YYYY-MM-DD.", "count": "Enter a number."}
    assert got.values == {"on": "1.3.2026", "count": "three", "note": "看过"}
    assert got.message == "Some fields need correcting."


def test_a_year_outside_what_aefi_records_is_a_bad_date():
    got = read_form(FormData([("on", "0999-01-01")]), Visit)
    assert isinstance(got, FormErrors) and got.fields == {"on": "Enter a date as YYYY-MM-DD."}


def test_a_validator_that_raises_a_domain_error_gives_its_field_message():
    got = read_form(FormData([("site_id", "١٢")]), Visit)
    assert isinstance(got, FormErrors)
    assert got.fields == {"site_id": "Choose a valid entry."}


def test_a_missing_required_field_is_named():
    class Required(BaseModel):
        status: Id

    got = read_form(FormData([("status", "")]), Required)
    assert isinstance(got, FormErrors) and got.fields == {"status": "Enter a number."}


def test_a_form_named_by_its_data_keeps_the_other_inputs_as_extra():
    class Daily(BaseModel):
        model_config = ConfigDict(extra="allow")
        day: str = ""

    got = read_form(FormData([("day", "2026-03-01"), ("dose:4:1", "12")]), Daily)
    assert isinstance(got, Daily)
    assert got.day == "2026-03-01" and got.model_extra == {"dose:4:1": "12"}
