"""The dose import's bulk paths (issue 18), on SQLite (one prepared statement through the
driver) and PostgreSQL (binary COPY straight in for persons the batch creates, a staging
table and INSERT ... SELECT for the others): duplicates counted, all-or-nothing over
several batches, bad rows at their line when the file is read in blocks, idempotency,
persons not duplicated, and stored values equal to the ORM's."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from aefi.errors import Conflict
from aefi.registry import importer
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, Person, Site
from aefi.registry.schemas import DoseCreate, PersonIn

HEADER = ",".join(importer.COLUMNS)


def _row(lot: str, site: str, i: int, at: str = "2026-01-05T09:00:00+08:00", **kw) -> str:
    name = kw.get("name", f"王{i}")
    dose = kw.get("dose", "1")
    birth = kw.get("birth", "2010-01-01")
    person = f"33078220100102{i:04d},{name},female,{birth},138{i:08d}"
    return f"{person},{lot},{site},{dose},{at},sc,右上臂,李"


def _file(*rows: str) -> io.BytesIO:
    return io.BytesIO(("\n".join([HEADER, *rows]) + "\n").encode())


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def place(session, county) -> tuple:
    lot = session.exec(select(Lot).where(Lot.status == "active").order_by(Lot.id)).first()
    site = session.get(Site, county.site_ids[0])
    return county.actor(session, "admin"), lot.lot_number, site.code


@pytest.mark.parametrize(("batch", "chunk"), [(2, 50_000), (50_000, 50_000), (50_000, 3)])
def test_duplicates_counted_and_a_second_import_adds_nothing(
    session, place, monkeypatch, batch, chunk
):
    """A repeat in the same chunk as its first row (a person the chunk creates: dropped
    before the COPY on PostgreSQL) or in a later one (the conflict skips it)."""
    monkeypatch.setattr(importer, "BATCH", batch)
    monkeypatch.setattr(importer, "CHUNK", chunk)
    admin, lot, site = place
    rows = [_row(lot, site, i) for i in range(5)]
    # Row 0 twice, and person 1 with a second dose: 6 doses, 5 persons.
    body = [*rows, rows[0], _row(lot, site, 1, dose="2")]
    doses, persons = _count(session, Dose), _count(session, Person)
    first = importer.import_doses(session, admin, _file(*body))
    assert (first.imported, first.duplicates, first.rejected_count) == (6, 1, 0)
    assert (_count(session, Dose), _count(session, Person)) == (doses + 6, persons + 5)
    again = importer.import_doses(session, admin, _file(*body))
    assert (again.imported, again.duplicates, again.rejected_count) == (0, 7, 0)
    assert (_count(session, Dose), _count(session, Person)) == (doses + 6, persons + 5)


def test_a_person_already_recorded_is_reused_with_their_details(session, place):
    admin, lot, site = place
    existing = registry_doses.record_dose(
        session,
        admin,
        DoseCreate(
            person=PersonIn(name="原名", id_number="330782201001020007"),
            lot_number=lot,
            site_code=site,
            administered_at=datetime(2026, 1, 4, 1, 0, tzinfo=UTC),
        ),
    )
    session.commit()
    persons = _count(session, Person)
    # Two new rows for that person (lower-case x in another file is the same ID number),
    # and a new person named on two rows: the first row's details are kept.
    report = importer.import_doses(
        session,
        admin,
        _file(
            _row(lot, site, 7, name="改名"),
            _row(lot, site, 8, name="第一"),
            _row(lot, site, 8, name="第二", dose="2"),
        ),
    )
    assert (report.imported, report.duplicates) == (3, 0)
    assert _count(session, Person) == persons + 1
    person = session.get(Person, existing.person_id)
    session.refresh(person)
    assert person.name == "原名"  # an import does not rewrite a recorded person
    new = session.exec(select(Person).where(Person.id_number == "330782201001020008")).one()
    assert (new.name, new.sex, new.birth_on, new.phone) == (
        "第一",
        "female",
        date(2010, 1, 1),
        "13800000008",
    )
    mine = session.exec(select(Dose).where(Dose.person_id == existing.person_id)).all()
    assert len(mine) == 2


def test_all_or_nothing_over_several_batches_keeps_nothing(session, place, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)
    admin, lot, site = place
    rows = [_row(lot, site, i) for i in range(7)]
    rows.append(_row(lot, "NOSITE", 99))  # line 9
    doses, persons, events = _count(session, Dose), _count(session, Person), _audit(session)
    report = importer.import_doses(session, admin, _file(*rows), all_or_nothing=True)
    assert report.rolled_back and report.imported == report.duplicates == 0
    assert report.rejected == [{"row": 9, "error": "no vaccination site with code NOSITE"}]
    assert (_count(session, Dose), _count(session, Person), _audit(session)) == (
        doses,
        persons,
        events,
    )
    # The same file without the bad row goes in whole, in one transaction.
    good = importer.import_doses(session, admin, _file(*rows[:-1]), all_or_nothing=True)
    assert (good.imported, good.rolled_back) == (7, False)
    assert _count(session, Dose) == doses + 7


def _audit(session) -> int:
    return session.execute(text("SELECT count(*) FROM audit_event")).scalar_one()


def test_bad_rows_keep_their_line_when_the_file_is_read_in_blocks(session, place, monkeypatch):
    """Past the sniffed start the file is decoded in blocks: a block with a GBK line, a NUL
    or a quoted field over several lines, cut anywhere, still gives each row its line."""
    monkeypatch.setattr(importer, "SNIFF_BYTES", 200)
    monkeypatch.setattr(importer, "DECODE_BYTES", 150)
    admin, lot, site = place
    lines = [HEADER.encode()]
    lines += [_row(lot, site, i, name="欧阳").encode() for i in range(10)]  # lines 2-11
    lines.append(_row(lot, site, 50, name="坏行").encode("gbk"))  # 12
    lines += [_row(lot, site, i).encode() for i in range(11, 15)]  # 13-16
    lines.append(_row(lot, site, 51).encode().replace(b"sc", b"s\x00c"))  # 17
    lines.append(_row(lot, site, 52, name='"多行\n姓名"').encode())  # 18-19
    lines.append(_row(lot, site, 53, dose="x").encode())  # 20
    lines += [_row(lot, site, i).encode() for i in range(15, 30)]  # 21-35
    lines.append(_row(lot, site, 54, dose="x").encode())  # 36, no newline at the end
    report = importer.import_doses(session, admin, io.BytesIO(b"\r\n".join(lines)))
    assert report.encoding == "utf-8"
    assert [(r["row"], r["error"][:22]) for r in report.rejected] == [
        (12, "line 12 is not valid U"),
        (17, "line 17 holds a NUL ch"),
        (20, "dose_number is not a w"),
        (36, "dose_number is not a w"),
    ]
    assert report.imported == 30
    multi = session.exec(select(Person).where(Person.id_number == "330782201001020052")).one()
    assert multi.name == "多行\n姓名"
    whole = io.BytesIO(b"\r\n".join(lines))
    monkeypatch.setattr(importer, "DECODE_BYTES", 1 << 20)
    again = importer.import_doses(session, admin, whole)
    assert [r["row"] for r in again.rejected] == [12, 17, 20, 36]
    assert (again.imported, again.duplicates, again.sha256) == (0, 30, report.sha256)


def test_short_rows_and_absent_columns_read_as_empty(session, place):
    """As ``dict(zip(header, row))`` reads them: a column named twice gives its last cell
    that the row has; a column the header lacks, or a row cut short, is empty."""
    admin, lot, site = place
    header = "administered_at,site_code,lot_number,name,id_number,name"
    body = "\n".join(
        [
            header,
            f"2026-01-05T09:00:00+08:00,{site},{lot},甲,330782201001020090,乙",
            f"2026-01-05T09:00:00+08:00,{site},{lot},丙,330782201001020091",  # no 2nd name
            f"2026-01-05T09:00:00+08:00,{site},{lot},丁",  # no id_number
        ]
    )
    report = importer.import_doses(session, admin, io.BytesIO(body.encode()))
    assert report.imported == 2
    assert report.rejected == [{"row": 4, "error": "id_number is empty"}]
    names = dict(
        session.exec(
            select(Person.id_number, Person.name).where(
                Person.id_number.in_(["330782201001020090", "330782201001020091"])
            )
        ).all()
    )
    assert names == {"330782201001020090": "乙", "330782201001020091": "丙"}
    person = session.exec(select(Person).where(Person.id_number == "330782201001020090")).one()
    assert (person.sex, person.phone, person.birth_on) == ("unknown", "", None)
    dose = session.exec(select(Dose).where(Dose.person_id == person.id)).one()
    assert (dose.dose_number, dose.route, dose.body_site, dose.vaccinator) == (1, "", "", "")


def test_stored_times_are_what_the_orm_stores(session, place):
    """An imported dose's times read back equal, and are stored exactly as a dose recorded
    through the ORM (SQLite keeps text: the same text, or the natural key would miss)."""
    admin, lot, site = place
    at = "2026-01-05T09:30:15.250000+08:00"
    report = importer.import_doses(session, admin, _file(_row(lot, site, 60, at=at)))
    assert report.imported == 1
    orm = registry_doses.record_dose(
        session,
        admin,
        DoseCreate(
            person=PersonIn(name="对照", id_number="330782201001020061", birth_date="2010-01-01"),
            lot_number=lot,
            site_code=site,
            administered_at=datetime.fromisoformat(at),
        ),
    )
    session.commit()
    imported = session.exec(
        select(Dose).join(Person).where(Person.id_number == "330782201001020060")
    ).one()
    assert imported.administered_at == datetime(2026, 1, 5, 1, 30, 15, 250000, tzinfo=UTC)
    assert imported.administered_at == orm.administered_at
    assert imported.created_at.tzinfo is not None
    raw = session.execute(
        text(
            "SELECT d.administered_at, p.birth_on FROM dose d JOIN person p ON p.id = d.person_id "
            "WHERE d.id IN (:a, :b) ORDER BY d.id"
        ),
        {"a": imported.id, "b": orm.id},
    ).all()
    assert raw[0] == raw[1]
    if session.get_bind().dialect.name == "sqlite":
        assert raw[0][0] == "2026-01-05 01:30:15.250000"
        created = session.execute(
            text("SELECT created_at FROM dose WHERE id = :a"), {"a": imported.id}
        ).scalar_one()
        assert len(created) == len("2026-01-05 01:30:15.250000") and created[10] == " "
    # A dose at a whole second: SQLite still stores six digits of microseconds.
    importer.import_doses(session, admin, _file(_row(lot, site, 62)))
    with pytest.raises(Conflict):  # the natural key sees the imported dose
        registry_doses.record_dose(
            session,
            admin,
            DoseCreate(
                person=PersonIn(name="王62", id_number="330782201001020062"),
                lot_number=lot,
                site_code=site,
                administered_at=datetime(2026, 1, 5, 1, 0, tzinfo=UTC),
            ),
        )
    session.rollback()


def test_sqlite_page_cache_is_restored_after_the_import(session, place):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's page cache")
    admin, lot, site = place
    conn = session.connection()
    pragmas = ("cache_size", "wal_autocheckpoint")
    before = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in pragmas]
    session.commit()
    report = importer.import_doses(session, admin, _file(_row(lot, site, 70)))
    assert report.imported == 1
    conn = session.connection()
    after = [conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in pragmas]
    assert after == before and before[0] != -importer.IMPORT_CACHE_KIB and before[1] > 0


# --- SQLite bulk batches: the plain indexes dropped and built again inside the batch -------


def _indexes(session) -> list[tuple]:
    return session.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name IN ('person', 'dose') ORDER BY name"
        )
    ).all()


@pytest.fixture
def bulk(session, monkeypatch) -> dict:
    """Every batch of three rows or more is a bulk batch (whatever the table holds); what
    the plain indexes were when each bulk batch built them again is noted."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's bulk batches")
    monkeypatch.setattr(importer, "BULK_MIN", 3)
    monkeypatch.setattr(importer, "BULK_GROWTH", 1e12)
    seen: dict = {"dropped": [], "at_build": []}
    real_drop, real_build = importer._drop_plain_indexes, importer._build_indexes

    def drop(s):
        statements = real_drop(s)
        seen["dropped"].append(statements)
        return statements

    def build(s, statements):
        seen["at_build"].append(
            s.connection()
            .exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'dose'"
            )
            .scalars()
            .all()
        )
        real_build(s, statements)

    monkeypatch.setattr(importer, "_drop_plain_indexes", drop)
    monkeypatch.setattr(importer, "_build_indexes", build)
    session.commit()
    seen["before"] = _indexes(session)
    return seen


def test_a_bulk_batch_drops_the_plain_indexes_and_builds_them_again(session, place, bulk):
    admin, lot, site = place
    doses = _count(session, Dose)
    rows = [_row(lot, site, i) for i in range(6)]
    report = importer.import_doses(session, admin, _file(*rows, _row(lot, "NOSITE", 9)))
    assert (report.imported, report.rejected_count, report.batches) == (6, 1, 1)
    assert _count(session, Dose) == doses + 6
    # Dropped (five plain indexes of the two tables), the unique ones kept, and built
    # again exactly as the schema has them.
    (dropped,) = bulk["dropped"]
    assert len(dropped) == 7 and not any("UNIQUE" in sql for sql in dropped)
    assert bulk["at_build"] == [["ux_dose_natural_key"]]
    assert _indexes(session) == bulk["before"]
    # The kept unique index still finds every duplicate.
    again = importer.import_doses(session, admin, _file(*rows))
    assert (again.imported, again.duplicates) == (0, 6)
    assert _indexes(session) == bulk["before"]


def test_a_small_batch_or_a_large_table_keeps_the_indexes(session, place, bulk, monkeypatch):
    admin, lot, site = place
    report = importer.import_doses(session, admin, _file(_row(lot, site, 1), _row(lot, site, 2)))
    assert report.imported == 2 and bulk["dropped"] == []  # under BULK_MIN
    monkeypatch.setattr(importer, "BULK_GROWTH", 1e-12)  # the table holds far more
    rows = [_row(lot, site, i) for i in range(3, 9)]
    report = importer.import_doses(session, admin, _file(*rows))
    assert report.imported == 6 and bulk["dropped"] == []


def test_bulk_batches_commit_one_by_one_and_a_failure_keeps_the_indexes(
    session, place, bulk, monkeypatch
):
    """Batches of 3 (a bulk batch takes up to BULK_BATCH rows), handed over a row at a
    time: the third batch fails after its first write; the two committed batches stay with
    their indexes built, the third's drop is rolled back with its row."""
    monkeypatch.setattr(importer, "BATCH", 2)
    monkeypatch.setattr(importer, "BULK_BATCH", 3)
    monkeypatch.setattr(importer, "CHUNK", 1)
    monkeypatch.setattr(importer, "BULK_MIN", 1)  # (the last batch's own size is unknown)
    admin, lot, site = place
    real_write, calls = importer._write, []

    def failing_write(*args, **kwargs):
        calls.append(1)
        out = real_write(*args, **kwargs)
        if len(calls) == 7:
            raise RuntimeError("disk full")
        return out

    monkeypatch.setattr(importer, "_write", failing_write)
    doses = _count(session, Dose)
    body = [_row(lot, site, i) for i in range(9)]
    with pytest.raises(RuntimeError):
        importer.import_doses(session, admin, _file(*body))
    assert _count(session, Dose) == doses + 6
    assert len(bulk["dropped"]) == 3 and len(bulk["at_build"]) == 2
    assert _indexes(session) == bulk["before"]
    monkeypatch.setattr(importer, "_write", real_write)
    again = importer.import_doses(session, admin, _file(*body))
    assert (again.imported, again.duplicates) == (3, 6)
    assert _indexes(session) == bulk["before"]


def test_all_or_nothing_in_bulk_rolls_the_drop_back_with_the_rows(session, place, bulk):
    admin, lot, site = place
    rows = [_row(lot, site, i) for i in range(5)]
    doses = _count(session, Dose)
    report = importer.import_doses(
        session, admin, _file(*rows, _row(lot, "NOSITE", 9)), all_or_nothing=True
    )
    assert report.rolled_back and _count(session, Dose) == doses
    assert _indexes(session) == bulk["before"] and bulk["at_build"] == []
    good = importer.import_doses(session, admin, _file(*rows), all_or_nothing=True)
    assert good.imported == 5 and _count(session, Dose) == doses + 5
    assert len(bulk["at_build"]) == 1 and _indexes(session) == bulk["before"]


def test_the_bulk_estimate_reads_the_file_size(session, place, bulk, monkeypatch):
    """A file handed over in chunks: its first chunk holds 2 rows (under BULK_MIN), the
    file's size says 8 more follow, so the batch is a bulk one from its start."""
    monkeypatch.setattr(importer, "CHUNK", 2)
    admin, lot, site = place
    report = importer.import_doses(session, admin, _file(*(_row(lot, site, i) for i in range(10))))
    assert report.imported == 10 and len(bulk["dropped"]) == 1
    monkeypatch.setattr(importer, "_stream_size", lambda stream: None)  # size unknown
    report = importer.import_doses(
        session, admin, _file(*(_row(lot, site, i) for i in range(10, 20)))
    )
    assert report.imported == 10 and len(bulk["dropped"]) == 1


def test_a_person_another_import_added_meanwhile_is_not_recorded_twice(session, place, monkeypatch):
    """The import's person lookup was read before another import recorded two of its
    persons: the insert skips them, and their doses go to the persons recorded."""
    admin, lot, site = place
    first = importer.import_doses(session, admin, _file(_row(lot, site, 1), _row(lot, site, 3)))
    assert first.imported == 2
    recorded = dict(session.execute(select(Person.id_number, Person.id)).all())
    real_init = importer._Lookups.__init__

    def forgetful(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.persons.clear()  # as if read before the other import's commit

    monkeypatch.setattr(importer._Lookups, "__init__", forgetful)
    persons, doses = _count(session, Person), _count(session, Dose)
    rows = [_row(lot, site, i, dose="2") for i in range(5)]
    report = importer.import_doses(session, admin, _file(*rows))
    assert (report.imported, report.duplicates) == (5, 0)
    assert _count(session, Person) == persons + 3 and _count(session, Dose) == doses + 5
    for i in (1, 3):
        idn = f"33078220100102{i:04d}"
        mine = session.exec(select(Dose).where(Dose.person_id == recorded[idn])).all()
        assert sorted(d.dose_number for d in mine) == [1, 2]
    new = session.exec(select(Person).where(Person.id_number == "330782201001020004")).one()
    assert session.exec(select(Dose).where(Dose.person_id == new.id)).one().dose_number == 2
