"""Sorting in aefi/listing.py: the whitelist, the header links and aria-sort, the order
terms with the id as the last key."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from aefi import listing
from aefi.types import BadValue

_t = Table("t", MetaData(), Column("id", Integer), Column("name", String), Column("n", Integer))


@dataclass(frozen=True)
class Q:
    show: str = listing.choice(("open", "all"), default="open", label="Show")
    sort: str = listing.sorting(("name", "n"), default="-n")


def test_sort_takes_a_listed_column_either_way_and_nothing_else():
    assert listing.read(Q, {}).sort == "-n"
    assert listing.read(Q, {"sort": "name"}).sort == "name"
    assert listing.read(Q, {"sort": "-name"}).sort == "-name"
    for bad in ("id", "--name", "name;drop", "-"):
        with pytest.raises(BadValue):
            listing.read(Q, {"sort": bad})


def test_header_links_toggle_and_say_which_column_sorts():
    links = listing.sort_links("/x", Q(show="all", sort="name"))
    assert links["name"].url == "/x?show=all&sort=-name"
    assert links["name"].aria == "ascending"
    assert links["n"].url == "/x?show=all&sort=n"
    assert links["n"].aria == ""
    # The default sort (descending n) is shown as such; its link asks for ascending.
    default = listing.sort_links("/x", Q())
    assert default["n"].aria == "descending" and default["n"].url == "/x?sort=n"


def test_the_pager_and_exports_keep_the_sort():
    ctx = listing.context("/x", Q(sort="name"), listing.Page([], 0))
    assert ctx["base"] == "/x?sort=name&"
    assert ctx["exports"] == {"csv": "/x?sort=name&format=csv", "xlsx": "/x?sort=name&format=xlsx"}
    assert listing.context("/x", Q(), listing.Page([], 0))["exports"]["csv"] == "/x?format=csv"


def test_order_by_ends_with_the_id_in_the_same_direction():
    cols = {"name": _t.c.name, "n": (_t.c.n.is_(None), _t.c.n)}
    sql = str(select(_t).order_by(*listing.order_by("-name", cols, _t.c.id)))
    assert sql.endswith("ORDER BY t.name DESC, t.id DESC")
    sql = str(select(_t).order_by(*listing.order_by("n", cols, _t.c.id)))
    assert sql.endswith("ORDER BY t.n IS NULL ASC, t.n ASC, t.id ASC")
    sql = str(select(_t).order_by(*listing.order_by("-n", cols, _t.c.id)))
    assert sql.endswith("ORDER BY t.n IS NULL ASC, t.n DESC, t.id DESC")


def test_export_format_is_csv_xlsx_or_nothing():
    assert listing.export_format({}) == ""
    assert listing.export_format({"format": "CSV"}) == "csv"
    assert listing.export_format({"format": "xlsx"}) == "xlsx"
    with pytest.raises(BadValue):
        listing.export_format({"format": "pdf"})
