"""One way to serve a list page: a filter dataclass read from the query string, typed
paging, one ``Page`` result, and the context the one pager (components/pager.html) reads.

A list declares its filter as a frozen dataclass next to its view (the domain's slice)::

    @dataclass(frozen=True)
    class ClusterQuery:
        status: str = listing.choice(("open", "closed", ""), default="open")

and its GET handler reads ``flt = listing.read(ClusterQuery, request.query_params)``, runs
``listing.fetch(query, listing.paging(request.query_params))`` (or ``Page.whole(rows)`` for
a list shown whole) and renders ``{**listing.context(path, flt, page), ...}`` with
``block="results"``. The results block is the swapped element itself
(``<div id="results">``, ``hx-swap="outerHTML"``); the filters push their url, and
``web.render`` answers htmx's history restore with the whole page.

Bad values are refused with a message naming the field (a 422 page, never a 500):
a date that is not a date, an id that is not an id, a choice not offered, an over-long
text. A page number is navigation rather than data, so it is normalised instead: anything
that is not a page number is the first page, a page past the end is the last page.

Sorting: a list's filter declares which shown columns sort with ``listing.sorting``::

    sort: str = listing.sorting(("number", "reported", "patient"), default="-reported")

``sort`` then takes ``number`` (ascending) or ``-number`` (descending) and nothing else;
the service turns it into ``ORDER BY`` with ``listing.order_by`` (always ending with the
id, so equal values keep one order from page to page); ``listing.context`` gives the
template each column's header link and ``aria-sort`` (components/sort.html). The sort is
part of the filter, so the pager's links and the pushed url keep it.

A list's JSON API declares its query parameters once, too: a frozen dataclass whose fields
are the parameters (``Annotated`` with ``Query`` where a value is constrained), taken by
the route as a dependency (``flt: Annotated[CaseParams, Depends()]``) beside
:data:`ApiPaging` (:func:`api_paging`); FastAPI validates them (API.md's 422) and the
OpenAPI names them.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query

from aefi.i18n import N_
from aefi.types import MAX_PAGE, BadValue, PageNo, page_number, parse_id

T = TypeVar("T")
F = TypeVar("F")

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
# A search box or a code: longer than this is not a search anybody typed.
MAX_TEXT = 200

_TRUE = ("1", "on", "true", "yes")
_FALSE = ("0", "off", "false", "no")


# --- paging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    """Which page of a list to show; ``per_page`` is the list's own, bounded."""

    page: PageNo = 1
    per_page: int = DEFAULT_PER_PAGE

    def __post_init__(self) -> None:
        if not 1 <= self.page <= MAX_PAGE:
            raise ValueError(f"page {self.page} outside 1..{MAX_PAGE}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page {self.per_page} outside 1..{MAX_PER_PAGE}")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def paging(params: Mapping[str, Any], *, per_page: int = DEFAULT_PER_PAGE) -> Paging:
    """The page asked for in the query string (``page``), normalised."""
    return Paging(page_number(_last(params, "page")), per_page)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, how many there are in all, which page of how many."""

    items: list[T]
    total: int
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @classmethod
    def whole(cls, items: Iterable[T]) -> Page[T]:
        """A list shown whole (a queue, the latest notifications): one page of everything."""
        listed = list(items)
        return cls(listed, len(listed), 1, max(1, len(listed)))


def fetch(query: Callable[[int, int], tuple[list[T], int]], at: Paging) -> Page[T]:
    """Run ``query(page, per_page) -> (items, total)``; a page past the end shows the last."""
    items, total = query(at.page, at.per_page)
    last = max(1, math.ceil(total / at.per_page))
    page = at.page
    if page > last:
        page = last
        items, total = query(page, at.per_page)
    return Page(list(items), total, page, at.per_page)


def api_paging(per_page: int = DEFAULT_PER_PAGE, *, most: int = MAX_PER_PAGE) -> type:
    """A list API's ``page`` and ``per_page`` (at most ``most``) as a frozen dataclass to
    take as a dependency. Made here with the types themselves, not their names, so that
    FastAPI reads them in whichever module the route is."""
    return dataclasses.make_dataclass(
        "ApiPaging",
        [
            ("page", Annotated[PageNo, Query()], dataclasses.field(default=1)),
            (
                "per_page",
                Annotated[int, Query(ge=1, le=most)],
                dataclasses.field(default=per_page),
            ),
        ],
        frozen=True,
    )


ApiPaging = api_paging()


def sort_pattern(columns: Iterable[str]) -> str:
    """An API's ``sort``: one of ``columns``, ``-`` before it for descending."""
    return "^-?(" + "|".join(columns) + ")$"


# --- filters -----------------------------------------------------------------------------------


def choice(options: Iterable[str], *, default: str = "", label: str = "") -> Any:
    """A filter field that takes one of ``options`` (a select); anything else is refused."""
    return dataclasses.field(default=default, metadata={"choices": tuple(options), "label": label})


def sorting(columns: Iterable[str], *, default: str = "") -> Any:
    """The filter field naming the sort: one of ``columns``, ``-`` before it for descending
    (``default``: the list's own order, ``""`` for the service's default)."""
    keys = tuple(columns)
    options = ("", *keys, *(f"-{k}" for k in keys))
    return dataclasses.field(
        default=default,
        metadata={"choices": options, "sort": keys, "label": N_("Sort by")},
    )


@dataclass(frozen=True)
class SortLink:
    """A column header's link: the url sorting by it, and ``aria-sort`` when it sorts."""

    url: str
    aria: str  # "ascending", "descending" or "" (not the sorted column)


def sort_key(sort: str) -> tuple[str, bool]:
    """``"-onset"`` → ``("onset", True)``: the column and whether it is descending."""
    return (sort[1:], True) if sort.startswith("-") else (sort, False)


def order_by(sort: str, columns: Mapping[str, Any], tiebreak: Any) -> list[Any]:
    """``ORDER BY`` terms for ``sort`` over ``columns`` (name → an SQL expression, or a
    tuple of flags that always sort ascending and then the column), ending
    with ``tiebreak`` (the id) in the same direction. An unknown name is a programming
    error (the filter's choices refuse it before)."""
    name, desc = sort_key(sort)
    chosen = columns[name]
    *flags, expr = chosen if isinstance(chosen, tuple) else (chosen,)
    # The leading flags (such as "no deadline" = 1) sort ascending either way: rows
    # without a value stay at the end.
    return [*(f.asc() for f in flags), *(e.desc() if desc else e.asc() for e in (expr, tiebreak))]


def sort_links(path: str, flt: Any) -> dict[str, SortLink]:
    """For each sortable column of ``flt``: the url that sorts by it (ascending first, a
    second click descending) from page one, with the other filters kept."""
    field = next((f for f in dataclasses.fields(flt) if "sort" in f.metadata), None)
    if field is None:
        return {}
    current = getattr(flt, field.name) or _default(field) or ""
    name, desc = sort_key(current)
    links = {}
    for key in field.metadata["sort"]:
        wanted = f"-{key}" if key == name and not desc else key
        query = query_string(dataclasses.replace(flt, **{field.name: wanted}))
        aria = ("descending" if desc else "ascending") if key == name else ""
        links[key] = SortLink(f"{path}?{query}" if query else path, aria)
    return links


def labelled(default: Any, label: str) -> Any:
    """A filter field with the label its error message names."""
    return dataclasses.field(default=default, metadata={"label": label})


def read(cls: type[F], params: Mapping[str, Any]) -> F:
    """The filter ``cls`` (a dataclass) from query parameters; blank means the default.

    ``params`` is a request's ``query_params`` (or any mapping; of a repeated parameter the
    last value counts, so a hidden "false" before a checkbox's "true" reads as checked)."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        raw = _last(params, f.name)
        if raw is None:
            continue
        text = str(raw).strip()
        if not text:
            continue
        values[f.name] = _convert(f, hints[f.name], text)
    return cls(**values)


def query_string(flt: Any, **extra: Any) -> str:
    """The filter back as a query string: the values that differ from the defaults."""
    pairs: dict[str, str] = {}
    for f in dataclasses.fields(flt):
        value = getattr(flt, f.name)
        if value == _default(f):
            continue
        pairs[f.name] = _text(value)
    pairs.update({k: _text(v) for k, v in extra.items() if v not in (None, "")})
    return urlencode(pairs)


def context(path: str, flt: Any, page: Page[Any]) -> dict[str, Any]:
    """What a list template and the pager read: the filter, the page, and the urls."""
    query = query_string(flt)
    base = f"{path}?{query}&" if query else f"{path}?"
    here = f"{base}page={page.page}" if page.page > 1 else (f"{path}?{query}" if query else path)
    return {
        "flt": flt,
        "page": page,
        "query": query,
        "base": base,
        "here": here,
        "sorts": sort_links(path, flt),
        "exports": {fmt: f"{base}format={fmt}" for fmt in EXPORT_FORMATS},
    }


EXPORT_FORMATS = ("csv", "xlsx")


def export_format(params: Mapping[str, Any]) -> str:
    """``format=csv|xlsx`` of a list's url: "" for the page itself; anything else is
    refused with a message (a 422 page)."""
    raw = _last(params, "format")
    text = str(raw).strip().lower() if raw is not None else ""
    if text and text not in EXPORT_FORMATS:
        raise BadValue(
            N_("The filter “{field}” is not one of the listed choices. Pick one again."),
            fields={"format": N_("Choose a valid entry.")},
            field="format",
        )
    return text


def _last(params: Mapping[str, Any], name: str) -> Any:
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        found = getlist(name)
        return found[-1] if found else None
    return params.get(name)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        from aefi.web import iso_local

        return iso_local(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _bad(f: dataclasses.Field, message: str) -> BadValue:
    from aefi import i18n

    label = f.metadata.get("label")
    shown = i18n.gettext(label) if label else f.name
    return BadValue(message, fields={f.name: N_("Choose a valid entry.")}, field=shown)


def _convert(f: dataclasses.Field, hint: Any, text: str) -> Any:
    kind = _unoptional(hint)
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise _bad(f, N_("The filter “{field}” takes yes or no. Change it and search again."))
    if kind is int:
        try:
            return parse_id(text, f.name)
        except BadValue:
            raise _bad(
                f, N_("The filter “{field}” is not one of the listed choices. Pick one again.")
            ) from None
    if kind is datetime:
        from aefi.web import parse_local

        try:
            return parse_local(text)
        except BadValue:
            raise _bad(
                f, N_("The filter “{field}” needs a date and time as YYYY-MM-DD HH:MM.")
            ) from None
    if kind is date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _bad(f, N_("The filter “{field}” needs a date as YYYY-MM-DD.")) from None
    if kind is str:
        choices = f.metadata.get("choices")
        if choices is not None and text not in choices:
            raise _bad(
                f, N_("The filter “{field}” is not one of the listed choices. Pick one again.")
            )
        if len(text) > MAX_TEXT:
            raise _bad(f, N_("The filter “{field}” is too long. Shorten it and search again."))
        return text
    raise TypeError(f"{f.name}: filters take str, bool, int, date or datetime, not {hint}")


def _unoptional(hint: Any) -> Any:
    """``X | None`` as ``X``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint
