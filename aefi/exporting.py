"""Exporting a filtered list (reports, cases, referrals, signals) as CSV or XLSX.

An export is a read of personal data that leaves the system, so it is bounded and
recorded: :func:`collect` runs the list's own service query (the same filters and the
same county scope as the page) page by page up to :data:`MAX_ROWS`, refuses a larger list
with a message saying to narrow the filter, and writes one audit row naming who exported
what, with which filter, how many rows, in which format. :func:`response` turns the rows
into the file (``aefi.spreadsheet``). A list says once what it exports as
(:class:`ListExport`, in its slice's ``export.py``), and its page and its API answer a
``format`` with :func:`export_list`.

Pages and the API use the same url as the list with ``format=csv`` or ``format=xlsx``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Generic, TypeVar
from urllib.parse import quote

from fastapi import Query
from fastapi.responses import Response
from sqlmodel import Session

from aefi import audit, clock, i18n
from aefi.auth.permissions import Actor
from aefi.errors import Invalid
from aefi.spreadsheet import CSV_TYPE, XLSX_TYPE, Column, csv_bytes, table, xlsx_bytes

T = TypeVar("T")

# A county files ~60 reports a year (DESIGN.md); a province's year is ~20,000. An export
# of more is a job for the upward interchange, not a spreadsheet.
MAX_ROWS = 20_000
_CHUNK = 500


class TooManyRows(Invalid):
    """The filtered list is longer than an export takes."""


# A list API's ``format``: its page as JSON, or the whole filtered list as a file.
ApiFormat = Annotated[str, Query(pattern="^(json|csv|xlsx)$")]

API_RESPONSES = {
    200: {
        "content": {
            "application/json": {},
            "text/csv": {},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
        },
        "description": "The page as JSON; with ``format=csv`` or ``format=xlsx`` the whole "
        f"filtered list (at most {MAX_ROWS:,} rows) as a file, the export audited.",
    }
}


@dataclass(frozen=True)
class ListExport(Generic[T]):
    """What one list exports as: ``what`` names it in the audit row and the file name,
    ``sheet`` is the sheet's title (a msgid), ``columns(session, rows)`` what each row
    shows (it may load what the rows refer to, once for all of them)."""

    what: str
    sheet: str
    columns: Callable[[Session, list[T]], Sequence[Column[T]]]


def collect(
    session: Session,
    actor: Actor,
    query: Callable[[int, int], tuple[list[T], int]],
    *,
    what: str,
    filter_text: str,
    fmt: str,
) -> list[T]:
    """Every row of ``query(page, per_page) -> (rows, total)`` (the list's service function,
    which checks the actor's permission and scope), recorded as an export of ``what``."""
    rows, total = query(1, _CHUNK)
    if total > MAX_ROWS:
        raise TooManyRows(
            "The list has {n} rows; an export takes at most {limit}. "
            "Narrow the filter (a shorter period, one site) and export again.",
            n=total,
            limit=MAX_ROWS,
        )
    out = list(rows)
    page = 1
    while len(out) < total and rows:
        page += 1
        rows, _total = query(page, _CHUNK)
        out.extend(rows)
    audit.record(
        session,
        actor,
        "export",
        f"{what}_list",
        None,
        changes={"filter": filter_text, "rows": len(out), "format": fmt},
        summary=f"{what} list ({fmt}): {len(out)} rows; {filter_text or 'no filter'}",
    )
    session.commit()
    return out


def describe(flt: object) -> str:
    """A service filter (a dataclass) as the audit row names it: the fields that differ
    from their defaults, ``name=value`` joined by ``&``."""
    given = []
    for f in dataclasses.fields(flt):  # type: ignore[arg-type]
        value = getattr(flt, f.name)
        if value in (None, "") or value == f.default:
            continue
        given.append(f"{f.name}={value.isoformat() if isinstance(value, datetime) else value}")
    return "&".join(given)


def file_name(what: str, fmt: str, now: datetime | None = None) -> str:
    """``reports-20261201-2105.csv``: what, when (local time), which format."""
    at = clock.to_local(now or clock.now())
    return f"{what}-{at:%Y%m%d-%H%M}.{fmt}"


def response(
    columns: Sequence[Column[T]], rows: Sequence[T], *, what: str, sheet: str, fmt: str
) -> Response:
    """The rows as a download in ``fmt`` (csv or xlsx)."""
    header, values = table(columns, rows)
    if fmt == "xlsx":
        body, media = xlsx_bytes(header, values, sheet=sheet), XLSX_TYPE
    else:
        body, media = csv_bytes(header, values), CSV_TYPE
    name = quote(file_name(what, fmt))
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "Cache-Control": "no-store",
        },
    )


def export_list(
    session: Session,
    actor: Actor,
    kind: ListExport[T],
    query: Callable[[int, int], tuple[list[T], int]],
    *,
    fmt: str,
    filter_text: str,
) -> Response:
    """The list ``query`` pages through (see :func:`collect`) as a ``fmt`` download,
    the export audited under ``filter_text``."""
    rows = collect(session, actor, query, what=kind.what, filter_text=filter_text, fmt=fmt)
    return response(
        kind.columns(session, rows), rows, what=kind.what, sheet=i18n.gettext(kind.sheet), fmt=fmt
    )
