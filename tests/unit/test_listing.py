"""The list helper's pure half: filters read from a query string, paging, pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from aefi import i18n, listing
from aefi.errors import Invalid
from aefi.types import MAX_PAGE


@dataclass(frozen=True)
class Query:
    q: str = ""
    show: str = listing.choice(("open", "closed", "all"), default="open", label="Show")
    since: date | None = None
    site: int | None = None
    open_only: bool = True


def test_blank_and_missing_values_are_the_defaults() -> None:
    assert listing.read(Query, {}) == Query()
    assert listing.read(Query, {"q": "  ", "show": "", "since": "", "site": ""}) == Query()


def test_values_are_typed() -> None:
    flt = listing.read(
        Query,
        {"q": " 张三 ", "show": "all", "since": "2026-11-30", "site": "7", "open_only": "false"},
    )
    assert flt == Query(q="张三", show="all", since=date(2026, 11, 30), site=7, open_only=False)


def test_the_last_of_a_repeated_parameter_counts() -> None:
    class Multi(dict):
        def getlist(self, name):
            return self.get(name, [])

    # A hidden "false" before a ticked checkbox's "true".
    assert listing.read(Query, Multi(open_only=["false", "true"])).open_only is True
    assert listing.read(Query, Multi(open_only=["false"])).open_only is False


@pytest.mark.parametrize(
    "params,field",
    [
        ({"show": "mine"}, "show"),
        ({"since": "30/11/2026"}, "since"),
        ({"site": "²"}, "site"),
        ({"site": "0"}, "site"),
        ({"open_only": "perhaps"}, "open_only"),
        ({"q": "x" * (listing.MAX_TEXT + 1)}, "q"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(params, field) -> None:
    with pytest.raises(Invalid) as err:
        listing.read(Query, params)
    assert list(err.value.fields) == [field]
    assert err.value.status_code == 422


def test_the_label_is_what_the_message_names_in_the_users_language() -> None:
    for locale, shown in (("en", "Show"), ("zh_CN", "显示")):
        token = i18n.set_locale(locale)
        try:
            with pytest.raises(Invalid) as err:
                listing.read(Query, {"show": "mine"})
        finally:
            i18n._current.reset(token)
        assert err.value.params["field"] == shown


def test_query_string_keeps_what_differs_from_the_defaults() -> None:
    flt = Query(q="a b", since=date(2026, 1, 2), open_only=False)
    text = listing.query_string(flt)
    assert text == "q=a+b&since=2026-01-02&open_only=false"
    assert listing.query_string(Query()) == ""


def test_context_urls() -> None:
    page = listing.Page([1, 2], total=120, page=2, per_page=50)
    ctx = listing.context("/x", Query(show="all"), page)
    assert ctx["base"] == "/x?show=all&"
    assert ctx["here"] == "/x?show=all&page=2"
    first = listing.context("/x", Query(), listing.Page([], 0))
    assert first["base"] == "/x?" and first["here"] == "/x"


@pytest.mark.parametrize("raw,page", [(None, 1), ("x", 1), ("-3", 1), ("0", 1), ("4", 4)])
def test_paging_normalises_the_page_number(raw, page) -> None:
    assert listing.paging({"page": raw} if raw else {}, per_page=10) == listing.Paging(page, 10)
    assert listing.paging({"page": str(MAX_PAGE * 2)}).page == MAX_PAGE


def test_paging_bounds_the_page_size() -> None:
    with pytest.raises(ValueError):
        listing.Paging(1, listing.MAX_PER_PAGE + 1)
    with pytest.raises(ValueError):
        listing.Paging(0, 10)


def test_page_counts() -> None:
    assert listing.Page([], 0, 1, 50).pages == 1
    p = listing.Page(list(range(50)), 101, 2, 50)
    assert (p.pages, p.has_previous, p.has_next) == (3, True, True)
    assert not listing.Page([], 101, 3, 50).has_next
    assert listing.Page.whole(["a", "b"]) == listing.Page(["a", "b"], 2, 1, 2)


def test_fetch_shows_the_last_page_for_a_page_past_the_end() -> None:
    rows = list(range(23))
    asked: list[int] = []

    def query(page: int, per_page: int):
        asked.append(page)
        start = (page - 1) * per_page
        return rows[start : start + per_page], len(rows)

    page = listing.fetch(query, listing.Paging(9, 10))
    assert (page.page, page.items, page.total) == (3, [20, 21, 22], 23)
    assert asked == [9, 3]
    assert listing.fetch(query, listing.Paging(2, 10)).items == list(range(10, 20))
    empty = listing.fetch(lambda n, size: ([], 0), listing.Paging(5, 10))
    assert (empty.page, empty.pages) == (1, 1)
