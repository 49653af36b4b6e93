"""Bounded input types shared by every route and schema, so bad input is a 422, never a 500.

A database id is a positive integer that fits the smallest integer column the app uses
(PostgreSQL's ``integer``, 32 bits; SQLite's are 64). A page number is bounded so that
``(page - 1) * per_page`` stays far inside a 64-bit ``OFFSET``. Hand-parsed integers take
ASCII digits only: ``"²".isdigit()`` is True, and ``int("١٢")`` is 12.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, TypeVar

from annotated_types import Ge, Le
from pydantic import AfterValidator

from aefi.errors import Invalid
from aefi.i18n import N_


class BadValue(Invalid, ValueError):
    """A value that cannot be parsed: a 422 where nobody catches it, and still caught by
    the callers that already handle ``ValueError``."""


MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000

# Path, query and body ids: FastAPI and pydantic refuse anything outside with a 422.
Id = Annotated[int, Ge(1), Le(MAX_ID)]
PageNo = Annotated[int, Ge(1), Le(MAX_PAGE)]


def ascii_int(raw: object) -> int | None:
    """``raw`` as an integer if it is an optional sign and ASCII digits only, else None."""
    text = str(raw if raw is not None else "").strip()
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(text)


def parse_id(raw: object, field: str = "id") -> int | None:
    """A hand-parsed id from a form or query value: None when blank, else a valid id.

    Anything else (letters, unicode digits, zero, too large) raises Invalid naming the
    field, which every page already shows as a correctable input error."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    value = ascii_int(text)
    if value is None or not 1 <= value <= MAX_ID:
        raise BadValue(
            N_("Choose a valid entry for {field}."),
            fields={field: N_("Choose a valid entry.")},
            field=field,
        )
    return value


def page_number(raw: object) -> int:
    """A hand-parsed page number; anything not a sensible page number is the first page."""
    value = ascii_int(raw)
    if value is None or value < 1:
        return 1
    return min(value, MAX_PAGE)


# --- NUL characters ------------------------------------------------------------------------
# PostgreSQL cannot store U+0000 in text at all (the driver refuses the statement); SQLite
# would keep it and hand it to every later reader. No aefi field has a use for it, so any
# statement about to carry one is refused, on both databases, whichever way the text came in
# (JSON, form, query string, CSV upload), before it reaches the driver.


def _has_nul(params: object) -> bool:
    if isinstance(params, str):
        return "\x00" in params
    if isinstance(params, dict):
        return any(_has_nul(v) for v in params.values())
    if isinstance(params, list | tuple):
        return any(_has_nul(v) for v in params)
    return False


def _refuse_nul(conn, cursor, statement, parameters, context, executemany) -> None:
    if parameters and _has_nul(parameters):
        raise BadValue(
            N_("Text may not contain NUL characters (\\0). Remove them and send it again."),
            fields={"text": N_("Remove the NUL characters.")},
        )


def refuse_nul_in_statements() -> None:
    """Install the NUL check on every engine (idempotent)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "before_cursor_execute", _refuse_nul):
        event.listen(Engine, "before_cursor_execute", _refuse_nul)


# --- dates -----------------------------------------------------------------------------------
# Python's dates end at year 1 and 9999; a date there, moved to UTC or a day further, no
# longer exists. Nothing aefi records lies outside 1900–2999.
MIN_YEAR, MAX_YEAR = 1900, 2999


_D = TypeVar("_D", date, datetime)


def sane_year(value: _D) -> _D:
    """``value`` if its year is one aefi can record, else ValueError."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"give a date between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


Day = Annotated[date, AfterValidator(sane_year)]
When = Annotated[datetime, AfterValidator(sane_year)]
