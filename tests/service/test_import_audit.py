"""Dose imports that never half-happen and the tamper-evident audit trail, on SQLite and
PostgreSQL: encodings, real file lines, whole batches with their audit events, idempotent
re-imports, `aefi audit verify` finding altered / deleted / inserted records, and (PostgreSQL)
the app running as a role with only INSERT and SELECT on the trail."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from aefi import audit, db
from aefi.audit import AuditEvent, AuditSeal
from aefi.auth.permissions import Actor
from aefi.registry import importer
from aefi.registry.models import Dose, Lot, Person, Site

HEADER = ",".join(importer.COLUMNS)
LATER = "2026-01-06T09:00:00"

SYSTEM = Actor.system([], reason="test")


def _row(lot: str, site: str, i: int, name: str = "张三", at: str = "2026-01-05T09:00:00") -> str:
    return (
        f"33078220100101{i:04d},{name}{i},male,2010-01-01,,{lot},{site},1,{at}+08:00,im,左上臂,护士"
    )


@pytest.fixture
def place(session, county) -> tuple:
    lot = session.exec(select(Lot).where(Lot.status == "active").order_by(Lot.id)).first()
    site = session.get(Site, county.site_ids[0])
    return county.actor(session, "admin"), lot.lot_number, site.code


def _doses(session) -> int:
    return session.exec(select(func.count()).select_from(Dose)).one()


def _imports(session) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.action == "import").order_by(col(AuditEvent.id))
    return list(session.exec(stmt))


def test_gbk_file_is_read_as_gb18030(session, place):
    admin, lot, site = place
    body = "\n".join([HEADER, _row(lot, site, 1, "欧阳娜"), _row(lot, site, 2, "诸葛亮")]) + "\n"
    before = _doses(session)
    report = importer.import_doses(session, admin, io.BytesIO(body.encode("gbk")), filename="a.csv")
    assert (report.error, report.encoding, report.imported) == (None, "gb18030", 2)
    assert _doses(session) == before + 2
    names = set(session.exec(select(Person.name).where(col(Person.name).like("%诸葛亮%"))))
    assert names == {"诸葛亮2"}


def test_utf8_with_bom_and_plain_utf8(session, place):
    admin, lot, site = place
    body = "\n".join([HEADER, _row(lot, site, 1, "欧阳娜")]) + "\n"
    report = importer.import_doses(session, admin, io.BytesIO(b"\xef\xbb\xbf" + body.encode()))
    assert (report.error, report.encoding, report.imported, report.rejected) == (
        None,
        "utf-8-sig",
        1,
        [],
    )
    report = importer.import_doses(session, admin, io.BytesIO(_row(lot, site, 2).encode()))
    assert report.error == importer.E_HEADER  # no header row: refused, not a 500


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("id_number\n".encode("utf-16"), importer.E_UTF16),
        (b"PK\x03\x04\x14\x00\x06\x00binary workbook", importer.E_WORKBOOK),
        (b"\x00\x01\x00\x02\x00\n\x00\x00\n", importer.E_BINARY),
        (b"", importer.E_EMPTY),
        (b"id_number,name\n\xff\xfe\xfa\xff,\x80\x80\n\xff\xff\n", importer.E_ENCODING),
    ],
)
def test_unreadable_files_are_refused_whole(session, place, data, error):
    admin, _lot, _site = place
    before = _doses(session)
    report = importer.import_doses(session, admin, io.BytesIO(data))
    assert report.error == error and report.rolled_back and report.imported == 0
    assert report.error_message  # a sentence for the page, in the current language
    assert _doses(session) == before


@pytest.mark.parametrize("chunk", [1, 2, 50_000])
def test_keep_good_commits_whole_batches_with_their_audit_events(
    session, place, monkeypatch, chunk
):
    """6 good rows, then a GBK line in a UTF-8 file, then 2 good rows, in batches of 3: the
    bad line is a row error on its own line; every committed batch has its audit event,
    however the batch was handed to the writer (in chunks of 1, 2 or whole)."""
    monkeypatch.setattr(importer, "BATCH", 3)
    monkeypatch.setattr(importer, "CHUNK", chunk)
    admin, lot, site = place
    good = [_row(lot, site, i, "欧阳") for i in range(6)]
    lines = [HEADER.encode(), *(r.encode() for r in good)]
    lines.append(_row(lot, site, 90, "坏行").encode("gbk"))  # line 8
    lines += [_row(lot, site, i, "欧阳").encode() for i in (91, 92)]
    before = _doses(session)
    report = importer.import_doses(
        session, admin, io.BytesIO(b"\n".join(lines) + b"\n"), filename="mixed.csv"
    )
    assert report.encoding == "utf-8" and report.imported == 8
    assert report.rejected_count == 1 and report.rejected[0]["row"] == 8
    assert "not valid UTF-8" in report.rejected[0]["error"]
    assert _doses(session) == before + 8
    events = _imports(session)
    batches = [e.changes for e in events if "batch" in e.changes]
    assert [(b["batch"], b["lines"], b["added"], b["rejected"]) for b in batches] == [
        (1, [2, 4], 3, 0),
        (2, [5, 7], 3, 0),
        (3, [8, 10], 2, 1),
    ]
    assert all(b["file"] == "mixed.csv" for b in batches)
    total = events[-1].changes
    assert (total["imported"], total["rejected"], total["batches"]) == (8, 1, 3)
    assert len(total["sha256"]) == 64 and audit.verify(session).ok


def test_a_failure_mid_import_keeps_only_audited_batches(session, place, monkeypatch):
    """A fault while writing the third batch: the two committed batches stay, each with its
    audit event; the third leaves nothing behind."""
    monkeypatch.setattr(importer, "BATCH", 2)
    admin, lot, site = place
    body = "\n".join([HEADER, *(_row(lot, site, i) for i in range(6))]) + "\n"
    real_write, calls = importer._write, []

    def failing_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            real_write(*args, **kwargs)
            raise RuntimeError("disk full")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(importer, "_write", failing_write)
    before = _doses(session)
    with pytest.raises(RuntimeError):
        importer.import_doses(session, admin, io.BytesIO(body.encode()))
    assert _doses(session) == before + 4
    assert [e.changes["added"] for e in _imports(session)] == [2, 2]
    # Importing the file again adds the rest and nothing twice.
    monkeypatch.setattr(importer, "_write", real_write)
    again = importer.import_doses(session, admin, io.BytesIO(body.encode()))
    assert (again.imported, again.duplicates) == (2, 4)
    assert _doses(session) == before + 6


def test_all_or_nothing_with_a_bad_encoding_line_keeps_nothing(session, place, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)
    admin, lot, site = place
    lines = [HEADER.encode(), *(_row(lot, site, i, "欧阳").encode() for i in range(5))]
    lines.append(_row(lot, site, 9, "坏行").encode("gbk"))
    before, persons = _doses(session), session.exec(select(func.count()).select_from(Person)).one()
    events = len(_imports(session))
    report = importer.import_doses(
        session, admin, io.BytesIO(b"\r\n".join(lines)), all_or_nothing=True
    )
    assert report.rolled_back and report.imported == 0
    assert [r["row"] for r in report.rejected] == [7]
    assert _doses(session) == before
    assert session.exec(select(func.count()).select_from(Person)).one() == persons
    assert len(_imports(session)) == events


def test_same_file_twice_adds_nothing_and_counts_duplicates(session, place):
    admin, lot, site = place
    rows = [_row(lot, site, i) for i in range(4)]
    body = ("\n".join([HEADER, *rows, rows[0]]) + "\n").encode()  # one row twice in the file
    before = _doses(session)
    first = importer.import_doses(session, admin, io.BytesIO(body))
    assert (first.imported, first.duplicates) == (4, 1)
    second = importer.import_doses(session, admin, io.BytesIO(body))
    assert (second.imported, second.duplicates, second.rejected_count) == (0, 5, 0)
    assert _doses(session) == before + 4
    # The same person, lot and dose number at another time is another dose.
    later = importer.import_doses(
        session,
        admin,
        io.BytesIO(f"{HEADER}\n{_row(lot, site, 0, at='2026-01-06T09:00:00')}".encode()),
    )
    assert later.imported == 1


def test_rows_are_reported_at_their_file_line(session, place):
    """Blank lines, a row of empty cells and a quoted field over three lines all count."""
    admin, lot, site = place
    text_ = "\n".join(
        [
            "",  # 1: blank before the header
            HEADER,  # 2
            _row(lot, site, 1),  # 3
            "",  # 4
            "",  # 5
            f"330782201001010099,人,male,,,NOPE,{site},1,2026-01-05T09:00:00,,,",  # 6
            ",,,,,,,,,,,",  # 7: what Excel writes for an empty row
            f'330782201001010098,"多行\n地址\n备注",male,,,{lot},{site},1,2026-01-05T09:00:00+08:00,,,',
            f"330782201001010097,人,male,,,{lot},{site},x,2026-01-05T09:00:00,,,",  # 11
        ]
    )
    report = importer.import_doses(session, admin, io.BytesIO(text_.encode()))
    assert report.rejected == [
        {"row": 6, "error": "no lot numbered NOPE"},
        {"row": 11, "error": "dose_number is not a whole number"},
    ]
    assert report.imported == 2


# --- the audit trail's chain ---------------------------------------------------------------


@contextmanager
def _triggers_off(session: Session) -> Iterator[None]:
    """Let the test tamper with the trail as the database owner could."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        for t in ("audit_event", "audit_seal"):
            for verb in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {t}_no_{verb}"))
        yield
        return
    conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    conn.execute(text("ALTER TABLE audit_seal DISABLE TRIGGER USER"))
    try:
        yield
    finally:  # (rolled back, the DDL undoes itself; committed, it is undone here)
        session.rollback()
        session.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))
        session.execute(text("ALTER TABLE audit_seal ENABLE TRIGGER USER"))
        session.commit()


def _trail(session, n: int = 5) -> list[int]:
    events = [
        audit.record(session, SYSTEM, "update", "lot", i, summary=f"change {i}") for i in range(n)
    ]
    session.commit()
    return [e.id for e in events]


def _kinds(result: audit.Verification) -> list[tuple[str, int | None]]:
    return [(f.kind, f.event_id) for f in result.findings]


@pytest.mark.demo_county  # seals the demo county's audited user creations
def test_every_committed_event_is_sealed_in_one_chain(session, county):
    result = audit.verify(session)
    assert result.ok and result.checked > 0
    sealed = session.exec(select(func.count()).select_from(AuditSeal)).one()
    events = session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert sealed == events == result.checked == result.head_seq
    # Rolled back events leave no seal; timelines in an open transaction see new events.
    audit.record(session, SYSTEM, "update", "lot", 999, summary="rolled back")
    assert [e.summary for e in audit.timeline(session, "lot", 999)] == ["rolled back"]
    session.rollback()
    assert audit.verify(session).checked == result.checked


def test_verify_finds_an_altered_record(session, county):
    ids = _trail(session)
    with _triggers_off(session):
        session.execute(
            text("UPDATE audit_event SET summary = 'nothing to see' WHERE id = :i"), {"i": ids[2]}
        )
        found = audit.verify(session)
    assert _kinds(found) == [("altered", ids[2])]


def test_verify_finds_a_deleted_record(session, county):
    ids = _trail(session)
    with _triggers_off(session):
        session.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": ids[1]})
        found = audit.verify(session)
        assert _kinds(found) == [("deleted", ids[1])]
        # Its seal removed too: the gap in the sequence and the broken link show.
        session.execute(text("DELETE FROM audit_seal WHERE event_id = :i"), {"i": ids[1]})
        found = audit.verify(session)
    assert [f.kind for f in found.findings] == ["deleted", "broken"]
    assert found.findings[1].event_id == ids[2]


def test_verify_finds_an_inserted_record(session, county):
    ids = _trail(session)
    conn = session.connection()
    conn.execute(
        AuditEvent.__table__.insert().values(
            action="status",
            entity_type="lot",
            entity_id=1,
            summary="forged",
            actor_name="x",
            actor_role="admin",
            changes={},
        )
    )  # straight into the table, as a tamperer would: no seal
    session.info.pop("aefi_audit_unsealed", None)
    session.commit()
    found = audit.verify(session)
    assert [f.kind for f in found.findings] == ["inserted"]
    assert found.findings[0].event_id > ids[-1]


def test_verify_with_an_anchor_catches_a_rewritten_chain(session, county):
    _trail(session, 2)
    head = audit.verify(session)
    assert audit.verify(session, anchor=(head.head_seq, head.head_hash)).ok
    assert not audit.verify(session, anchor=(head.head_seq, "0" * 64)).ok
    assert not audit.verify(session, anchor=(head.head_seq + 5, head.head_hash)).ok


def test_cli_audit_verify_exit_codes(session, county):
    from aefi.cli import app

    ids = _trail(session)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit trail intact" in ok.output
    with _triggers_off(session):
        session.execute(
            text("UPDATE audit_event SET actor_name = 'someone' WHERE id = :i"), {"i": ids[0]}
        )
        session.commit()
        bad = runner.invoke(app, ["audit", "verify"])
        session.execute(
            text("UPDATE audit_event SET actor_name = 'system' WHERE id = :i"), {"i": ids[0]}
        )
        session.commit()
    assert bad.exit_code == 1
    assert "ALTERED: seq" in bad.output and f"event {ids[0]}" in bad.output


def test_cli_import_refuses_an_unreadable_file(session, place, tmp_path):
    from aefi.cli import app
    from aefi.registry.models import Region

    admin, lot, site = place
    code = session.get(Region, admin.county_id).code
    path = tmp_path / "doses.csv"
    path.write_bytes(f"{HEADER}\n{_row(lot, site, 1, '欧阳')}\n".encode("utf-16"))
    runner = CliRunner()
    refused = runner.invoke(app, ["import", "doses", str(path), "--county", code])
    assert refused.exit_code == 2 and "UTF-16" in refused.output
    path.write_bytes(f"{HEADER}\n{_row(lot, site, 1, '欧阳')}\n".encode("gbk"))
    done = runner.invoke(app, ["import", "doses", str(path), "--county", code])
    assert done.exit_code == 0 and "imported 1," in done.output
    again = runner.invoke(app, ["import", "doses", str(path), "--county", code])
    assert again.exit_code == 0 and "imported 0, already recorded 1" in again.output


# --- PostgreSQL: the app as a role with only INSERT and SELECT on the trail ------------------

ROLE = "aefi_app_test"
SETUP_SQL = Path(__file__).resolve().parents[2] / "scripts" / "pg_restricted_role.sql"


def restricted_role_sql(role: str) -> list[str]:
    """The statements of scripts/pg_restricted_role.sql (what the README tells the owner to
    run), for ``role``."""
    lines = [ln for ln in SETUP_SQL.read_text().splitlines() if not ln.startswith("--")]
    return [
        st.strip().replace("aefi_app", role) for st in "\n".join(lines).split(";") if st.strip()
    ]


def test_restricted_role_cannot_rewrite_the_trail(session, county, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("roles and grants are PostgreSQL's")
    from aefi.registry.records import service as registry_records

    owner = session.connection()
    if not _role_exists(owner):
        owner.execute(text(f"CREATE ROLE {ROLE} LOGIN"))
    for statement in restricted_role_sql(ROLE):
        owner.execute(text(statement))
    session.commit()
    url = db_url.replace("://aefi@", f"://{ROLE}@")
    engine = db.make_engine(url)
    try:
        db.upgrade(url)  # `aefi serve` checks the schema on start: a no-op read for the role
        with Session(engine, expire_on_commit=False) as app_session:
            who = app_session.exec(text("SELECT current_user")).one()[0]
            assert who == ROLE
            admin = county.actor(app_session, "admin")
            vaccine = registry_records.create_vaccine(
                app_session, admin, code="ROLE1", name="受限角色", manufacturer="m"
            )  # files something that audits, sealed at commit, as the restricted role
            events = audit.timeline(app_session, "vaccine", vaccine.id)
            assert [e.action for e in events] == ["create"]
            assert audit.verify(app_session).ok
            app_session.rollback()
            for sql in (
                "UPDATE audit_event SET summary = 'x'",
                "DELETE FROM audit_event",
                "TRUNCATE audit_event",
                "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
                "DROP TRIGGER audit_event_append_only ON audit_event",
                "UPDATE audit_seal SET hash = 'x'",
                "DELETE FROM audit_seal",
                "TRUNCATE audit_seal",
                "ALTER TABLE audit_seal DISABLE TRIGGER USER",
            ):
                with engine.connect() as conn, pytest.raises(DBAPIError) as raised:
                    conn.execute(text(sql))
                assert getattr(raised.value.orig, "sqlstate", "") in ("42501",), sql
    finally:
        engine.dispose()
        with db.get_engine().begin() as conn:
            conn.execute(text(f"DROP OWNED BY {ROLE}"))
            conn.execute(text(f"DROP ROLE {ROLE}"))


def _role_exists(conn) -> bool:
    return bool(
        conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE}).first()
    )


def test_recording_an_imported_dose_again_is_a_conflict_not_a_500(session, place):
    from datetime import datetime

    from aefi.errors import Conflict
    from aefi.registry.doses import service as registry_doses
    from aefi.registry.schemas import DoseCreate, PersonIn

    admin, lot, site = place
    importer.import_doses(session, admin, io.BytesIO(f"{HEADER}\n{_row(lot, site, 7)}".encode()))
    data = DoseCreate(
        person=PersonIn(name="张三7", id_number="330782201001010007"),
        lot_number=lot,
        site_code=site,
        administered_at=datetime.fromisoformat("2026-01-05T09:00:00+08:00"),
    )
    with pytest.raises(Conflict):
        registry_doses.record_dose(session, admin, data)
    session.rollback()
    other = registry_doses.record_dose(session, admin, data.model_copy(update={"dose_number": 2}))
    with pytest.raises(Conflict):
        registry_doses.update_dose(session, admin, other.id, {"dose_number": 1})


def test_concurrent_writers_make_one_unbroken_chain(session, county, engine):
    """Eight threads committing audited changes at once: every event sealed exactly once,
    seq 1..n without a gap, every link matching."""
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(k: int) -> None:
        try:
            start.wait()
            with Session(engine, expire_on_commit=False) as s:
                for i in range(6):
                    audit.record(s, SYSTEM, "update", "lot", k * 100 + i, summary=f"t{k} {i}")
                    if i % 2:
                        audit.record(s, SYSTEM, "status", "lot", k * 100 + i)
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = audit.verify(session)
    events = session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert result.ok and result.checked == result.head_seq == events
