"""Bad input at the storage boundary, on SQLite and PostgreSQL: NUL characters refused with
a clear error (PostgreSQL cannot store them at all), and the observation board's queries
not growing with the number of rows (an ``IN`` over every open entry broke past 65,535
bind parameters)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from aefi import clock, types
from aefi.errors import Invalid
from aefi.observation import service as observation
from aefi.registry.models import Site, Vaccine
from aefi.registry.records import service as registry_records
from tests.factories import DAY0, active_lot, give


@pytest.fixture(autouse=True)
def _nul_guard() -> None:
    types.refuse_nul_in_statements()  # as create_app does


def test_nul_in_text_is_refused_before_the_database(session, county) -> None:
    admin = county.actor(session, "admin")
    with pytest.raises(Invalid) as err:
        registry_records.save_record(
            session,
            admin,
            registry_records.KINDS["vaccines"],
            None,
            {"code": "NUL1", "name": "bad\x00name", "observation_minutes": "30"},
        )
    assert "NUL" in err.value.message
    session.rollback()
    # The session and the connection are fine afterwards, and nothing was stored.
    assert session.exec(select(Vaccine).where(Vaccine.code == "NUL1")).first() is None
    assert session.execute(text("SELECT 1")).scalar() == 1


def test_nul_in_a_search_term_is_refused_too(session, county) -> None:
    admin = county.actor(session, "admin")
    with pytest.raises(Invalid):
        registry_records.list_records(session, admin, registry_records.KINDS["sites"], q="a\x00")
    session.rollback()
    rows, _total = registry_records.list_records(
        session, admin, registry_records.KINDS["sites"], q="a"
    )
    assert isinstance(rows, list)


def test_text_without_nul_still_stores_everything_else(session, county) -> None:
    admin = county.actor(session, "admin")
    row = registry_records.save_record(
        session,
        admin,
        registry_records.KINDS["vaccines"],
        None,
        {"code": "OK1", "name": "百白破 \\0 \t tab", "observation_minutes": "30"},
    )
    session.commit()
    assert session.get(Vaccine, row.id).name == "百白破 \\0 \t tab"


@contextmanager
def _largest_statement(engine):
    """The most bind parameters any one statement (or executemany row) carried."""
    seen = {"max": 0}

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        rows = parameters if executemany else [parameters]
        for p in rows:
            seen["max"] = max(seen["max"], len(p or ()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_board_queries_do_not_grow_with_its_rows(session, county, engine) -> None:
    clock.freeze(DAY0)
    rep = county.actor(session, "reporter")
    site = session.get(Site, rep.site_id)
    lot = active_lot(session)
    largest = []
    for upto in (5, 120):
        for n in range(len(observation.board(session, rep).rows), upto):
            give(session, rep, site, lot, n)
        session.commit()
        with _largest_statement(engine) as seen:
            board = observation.board(session, rep)
        assert len(board.rows) == upto
        largest.append(seen["max"])
    # The same statements for 5 rows as for 120: none carries a parameter per row.
    assert largest[0] == largest[1], largest
    assert largest[1] < 40, largest
