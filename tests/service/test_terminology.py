"""Terminology in the database: the seed, VAERS terms kept and linked, mapping edits
(permission, audit, re-coding), MedDRA loading, replay from the database."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlmodel import col, delete, func, select
from typer.testing import CliRunner

from aefi.audit import AuditEvent
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.errors import Forbidden, Invalid, NotFound
from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Lot
from aefi.signals import vaers
from aefi.terminology import meddra, service
from aefi.terminology.models import ReportedTerm, ReportTerm
from tests.factories import a_small_vaers_year

SHARED_VAERS = Path(__file__).resolve().parents[3] / "shared" / "data" / "vaers"
RELEASE = Path(__file__).resolve().parents[1] / "data" / "meddra"
ADMIN = Actor(0, "admin", "Admin", Role.admin, 0)
BUREAU = Actor(0, "bureau", "Bureau", Role.bureau, 0)
CLI = Actor.system([], reason="command line")


def test_seed_is_idempotent_and_never_overrides_an_edit(session):
    n = service.ensure_seeded(session)
    session.commit()
    assert n == len(service.seed_terms()) > 100
    assert service.ensure_seeded(session) == 0
    dizzy = session.exec(select(ReportedTerm).where(ReportedTerm.normalised == "dizziness")).one()
    assert (dizzy.symptom_code, dizzy.event_group, dizzy.body_system) == (
        "DIZZY",
        "anxiety",
        "nervous",
    )
    service.update_mapping(
        session, ADMIN, dizzy.id, symptom_code="", event_group="", body_system="ear"
    )
    assert service.ensure_seeded(session) == 0
    session.refresh(dizzy)
    assert dizzy.symptom_code is None and dizzy.body_system == "ear"


def test_vaers_import_keeps_terms_lots_doses_and_x_stay(session, tmp_path):
    a_small_vaers_year(tmp_path)
    out = vaers.import_dir(session, tmp_path)
    assert out.complete and out.reports_created == 30
    # Terms: Gaze palsy (both spellings one term), Pyrexia, Dizziness.
    assert out.distinct_terms == out.distinct_terms_in_db == 3
    assert out.term_occurrences_in_db == out.counts.term_occurrences == 10 * 3 + 20 * 2
    assert out.unmapped == [("Gaze palsy", 20)]
    gaze = session.exec(select(ReportedTerm).where(ReportedTerm.normalised == "gaze palsy")).one()
    assert gaze.symptom_code is None and gaze.system == "vaers" and gaze.origin == "import"
    links = session.exec(select(ReportTerm).where(ReportTerm.term_id == gaze.id)).all()
    assert len(links) == 10 and {x.occurrences for x in links} == {2}
    rep = session.exec(select(Report).where(Report.external_id == "000011")).one()
    assert rep.symptoms == ["FEVER", "DIZZY"] and rep.event_groups == ["fever", "anxiety"]
    # X_STAY (prolonged stay) is serious.
    five = session.exec(select(Report).where(Report.external_id == "000005")).one()
    assert five.serious and five.hospitalization
    assert not session.exec(select(Report).where(Report.external_id == "000004")).one().serious
    # One MMR lot whatever the spelling; the raw text stays on each report dose.
    mmr_lots = session.exec(select(Lot).where(col(Lot.lot_number).like("US-MMR-%"))).all()
    assert [x.lot_number for x in mmr_lots] == ["US-MMR-EJN157A"]
    doses = session.exec(select(ReportDose).where(ReportDose.lot_id == mmr_lots[0].id)).all()
    assert {d.lot_as_reported for d in doses} == {"EJN*157A", "ejn-157a", "EJN157A"}
    # Blank and 0 doses stay unknown.
    numbers = [d.dose_number for d in session.exec(select(ReportDose))]
    assert numbers.count(None) == 20 and numbers.count(2) == 10 and 1 not in numbers
    audit = session.exec(
        select(AuditEvent).where(AuditEvent.action == "import", AuditEvent.entity_type == "report")
    ).one()
    assert audit.changes["unmapped_terms"] == {"Gaze palsy": 20}
    # Again: nothing new, nothing doubled.
    again = vaers.import_dir(session, tmp_path)
    assert again.reports_created == 0 and again.complete and again.term_occurrences_in_db == 70
    assert again.reports_relinked == 0
    # Reports imported before terms were kept (no links) get them on the next import.
    session.execute(delete(ReportTerm))
    session.commit()
    third = vaers.import_dir(session, tmp_path)
    assert third.reports_relinked == 30 and third.complete and third.term_occurrences_in_db == 70


def test_mapping_edit_needs_an_admin_is_checked_audited_and_recodes(session, tmp_path):
    a_small_vaers_year(tmp_path)
    vaers.import_dir(session, tmp_path)
    gaze = session.exec(select(ReportedTerm).where(ReportedTerm.normalised == "gaze palsy")).one()
    rows, total = service.list_terms(session, ADMIN, service.TermFilter(unmapped=True))
    assert total == 1 and (rows[0].term.id, rows[0].reports, rows[0].occurrences) == (
        gaze.id,
        10,
        20,
    )
    with pytest.raises(Forbidden):
        service.update_mapping(
            session, BUREAU, gaze.id, symptom_code="SEIZ", event_group="", body_system=""
        )
    with pytest.raises(NotFound):
        service.update_mapping(
            session, ADMIN, 999_999, symptom_code="SEIZ", event_group="", body_system=""
        )
    with pytest.raises(Invalid) as exc:
        service.update_mapping(
            session, ADMIN, gaze.id, symptom_code="NOPE", event_group="", body_system="moon"
        )
    assert set(exc.value.fields) == {"symptom_code", "body_system"}
    with pytest.raises(Invalid) as exc:
        service.update_mapping(
            session, ADMIN, gaze.id, symptom_code="SEIZ", event_group="fever", body_system=""
        )
    assert set(exc.value.fields) == {"event_group"}
    row = service.update_mapping(
        session, ADMIN, gaze.id, symptom_code="SEIZ", event_group="", body_system="nervous"
    )
    assert row.reports == 10 and row.occurrences == 20 and row.mapped
    assert (row.term.event_group, row.term.body_system) == ("seizure", "nervous")
    rep = session.exec(select(Report).where(Report.external_id == "000003")).one()
    session.refresh(rep)
    assert rep.symptoms == ["SEIZ", "FEVER"] and rep.event_groups == ["fever", "seizure"]
    ev = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_type == "reported_term", AuditEvent.entity_id == gaze.id
        )
    ).one()
    assert ev.changes["symptom_code"] == [None, "SEIZ"] and "10 reports" in ev.summary
    # Listing: unmapped filter, search, counts; bureau may read.
    rows, total = service.list_terms(session, BUREAU, service.TermFilter(unmapped=True))
    assert (rows, total) == ([], 0)
    rows, total = service.list_terms(session, BUREAU, service.TermFilter(q="PYREX"))
    assert total == 2 and [(r.term.text, r.reports) for r in rows] == [
        ("Pyrexia", 30),
        ("Hyperpyrexia", 0),
    ]
    with pytest.raises(Forbidden):
        service.list_terms(session, Actor(0, "r", "R", Role.reporter, 0), service.TermFilter())


def test_meddra_release_loads_with_mappings_and_keeps_edits(session):
    service.ensure_seeded(session)
    out = service.load_meddra(session, CLI, meddra.read_dir(RELEASE))
    assert (out.pts_created, out.llts_created) == (5, 9)

    def term(system: str, name: str) -> ReportedTerm:
        return session.exec(
            select(ReportedTerm).where(
                ReportedTerm.system == system, ReportedTerm.normalised == name
            )
        ).one()

    fever = term("meddra_llt", "fever")
    assert (fever.code, fever.parent_code, fever.symptom_code) == ("90000011", "90000001", "FEVER")
    assert fever.body_system == "general" and fever.soc == "Genrl"
    red = term("meddra_llt", "redness at injection site")
    assert red.symptom_code == "REDNESS"  # from its PT, Injection site erythema
    gaze = term("meddra_pt", "gaze palsy")
    assert gaze.symptom_code is None and gaze.body_system == "nervous"  # primary SOC
    service.update_mapping(
        session, ADMIN, gaze.id, symptom_code="OTHER", event_group="", body_system="eye"
    )
    again = service.load_meddra(session, CLI, meddra.read_dir(RELEASE))
    assert again.pts_created == 0 and again.updated == 14
    session.refresh(gaze)
    assert (gaze.symptom_code, gaze.body_system) == ("OTHER", "eye")
    n = session.exec(
        select(func.count()).select_from(ReportedTerm).where(ReportedTerm.origin == "meddra")
    ).one()
    assert n == 14


def test_cli_load_meddra_and_bad_folder(session, tmp_path):
    runner = CliRunner()
    from aefi.cli import app

    res = runner.invoke(app, ["terminology", "load-meddra", str(RELEASE)])
    assert res.exit_code == 0, res.output
    assert "MedDRA 99.0: 5 PTs, 9 LLTs read" in res.output
    res = runner.invoke(app, ["terminology", "load-meddra", str(tmp_path)])
    assert res.exit_code == 2 and "pt.asc is missing" in res.output


def test_cli_replay_from_the_database_each_step_and_a_bad_step(session, tmp_path):
    from aefi.cli import app

    a_small_vaers_year(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["signals", "replay", "--step", "month"])
    assert res.exit_code == 1 and "aefi import vaers" in res.output
    res = runner.invoke(app, ["import", "vaers", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "unmapped terms (no symptom code or event group): 1" in res.output
    assert "      20  Gaze palsy" in res.output
    steps = (("day", r"1996-\d\d-\d\d "), ("week", r"1996-W\d\d "), ("month", r"1996-\d\d "))
    for step, first in steps:
        res = runner.invoke(app, ["signals", "replay", "--step", step])
        assert res.exit_code == 0, res.output
        assert "30 reports of source 'vaers' in " in res.output and f"one {step}" in res.output
        line = next(x for x in res.output.splitlines() if "MMR" in x and "Gaze palsy" in x)
        assert re.match(first, line) and " a=" in line
    res = runner.invoke(app, ["signals", "replay", "--step", "quarter"])
    assert res.exit_code == 2
    assert "'quarter' is not a step; use one of: day, week," in " ".join(res.output.split())


@pytest.mark.skipif(not SHARED_VAERS.exists(), reason="shared VAERS data not present")
def test_shared_years_keep_every_term(session):
    """Acceptance: the distinct terms and term occurrences in the database equal a count
    made here from the CSV files (terms compared case- and space-insensitively, as the
    terminology keys them)."""
    from aefi.cli import app

    distinct: set[str] = set()
    occurrences = 0
    for year in (1996, 1997):
        path = SHARED_VAERS / f"{year}VAERSSYMPTOMS.csv"
        with path.open(encoding="latin-1", newline="") as fh:
            for row in csv.DictReader(fh):
                for i in range(1, 6):
                    t = (row[f"SYMPTOM{i}"] or "").strip()
                    if t:
                        distinct.add(" ".join(t.split()).casefold())
                        occurrences += 1
    res = CliRunner().invoke(app, ["import", "vaers", str(SHARED_VAERS)])
    assert res.exit_code == 0, res.output
    linked = session.exec(
        select(func.count(func.distinct(ReportTerm.term_id)), func.sum(ReportTerm.occurrences))
    ).one()
    assert (linked[0], linked[1]) == (len(distinct), occurrences)
    names = set(
        session.exec(
            select(ReportedTerm.normalised).where(
                col(ReportedTerm.id).in_(select(ReportTerm.term_id))
            )
        )
    )
    assert names == distinct
    assert f"{len(distinct)} distinct terms, {occurrences} term occurrences — COMPLETE" in (
        res.output
    )
    # The unmapped terms are printed, each with its count.
    unmapped = session.exec(
        select(ReportedTerm).where(
            col(ReportedTerm.id).in_(select(ReportTerm.term_id)),
            col(ReportedTerm.symptom_code).is_(None),
            col(ReportedTerm.event_group).is_(None),
        )
    ).all()
    assert unmapped and f"unmapped terms (no symptom code or event group): {len(unmapped)}" in (
        res.output
    )
    for t in unmapped:
        assert f"  {t.text}\n" in res.output
