"""VAERS public data (DOMAIN.md, "Interchange"): read, import as reports; the replay
(``signals/replay.py``) reads the imported reports from the database.

Files per year, joined by VAERS_ID, Latin-1, dates MM/DD/YYYY: ``YYYYVAERSDATA.csv`` (one
row a report), ``YYYYVAERSVAX.csv`` (one row a vaccine given), ``YYYYVAERSSYMPTOMS.csv``
(up to five MedDRA terms a row, several rows a report possible).

How the reports are stored (there are no doses and no site in VAERS):

* Every imported report belongs to one pseudo-county "VAERS" (region code ``VAERS``) with
  one township, one pseudo-site ``VAERS-US`` and one pseudo-person; no county user sees
  them in the county's lists. ``source`` is ``vaers`` and ``external_id`` the VAERS_ID;
  the report number is ``VAERS-<id>``. Status ``closed``: historical reports, no deadlines.
* Each VAX row is a ``report_dose`` without a registry dose, linked to a vaccine ``US-<VAX_TYPE>``
  and a lot ``US-<VAX_TYPE>-<VAX_LOT>`` (``…-UNKNOWN`` where the lot is blank), created as
  needed. The dose time is VAX_DATE (else the onset, else the receipt date).
  The lot number is cleaned (upper case, only letters and digits: ``EJN*157A`` and
  ``ejn-157a`` are lot ``EJN157A``); the text as reported stays on the report dose
  (``lot_as_reported``). A blank, ``0`` or unreadable VAX_DOSE is an unknown dose number.
* Every reported term (SYMPTOM1..5) is a term of the terminology (``aefi/terminology``,
  system ``vaers``), created on first sight, linked to the report (``report_term``, with its
  number of occurrences on that report). The terms' mappings give the report's symptom codes
  and event groups; DIED adds the DEATH code. Terms without a mapping are kept all the same,
  counted and listed by the import, and shown at the head of the description
  (``MedDRA: …; unmapped: …``).
* Serious: DIED, L_THREAT, HOSPITAL, X_STAY (prolonged hospital stay) or DISABLE.
* Reports are inserted in bulk, not through ``intake.filing.service.file_report``: no triage, no
  notifications, no scans on the way in. The scan's disproportionality reads them.
* Mapping figures on the 1996-1997 files with the shipped seed: 122 of the 688 distinct
  terms are mapped (71 to a specific aefi symptom code, the others to OTHER or an event
  group), carrying 88.9 % of the 71,345 occurrences; 657 of 21,785 reports carry no mapped
  term (3,293 no specific code). Every term is kept either way.
"""

from __future__ import annotations

import csv
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from aefi.auth.permissions import Actor
from aefi.intake.symptoms import groups_of

MAP_CSV = Path(__file__).resolve().parent / "meddra_map.csv"
SOURCE = "vaers"
REGION_CODE = "VAERS"
SITE_CODE = "VAERS-US"
UNKNOWN_LOTS = {"", "UNK", "UNKNOWN", "NA", "NONE", "NK", "UNKN"}


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VaxRow:
    vax_type: str
    manufacturer: str
    lot: str
    dose: str
    route: str
    site: str
    name: str


@dataclass
class Record:
    vaers_id: str
    received_on: date
    reported_on: date | None
    state: str
    age_years: str
    sex: str
    text: str
    died: bool
    life_threatening: bool
    hospitalized: bool
    disabled: bool
    recovered: str
    vaccinated_on: date | None
    onset_on: date | None
    prolonged_stay: bool = False
    terms: list[str] = field(default_factory=list)
    vaxes: list[VaxRow] = field(default_factory=list)


@dataclass
class FileCounts:
    """Rows read from each file, so an import can be checked for completeness."""

    data_rows: int = 0
    vax_rows: int = 0
    symptom_rows: int = 0
    term_occurrences: int = 0  # non-blank SYMPTOM1..5 cells
    files: dict[str, int] = field(default_factory=dict)


def parse_date(value: str) -> date | None:
    """MM/DD/YYYY, as VAERS writes dates; blank or malformed gives None."""
    parts = (value or "").strip().split("/")
    if len(parts) != 3:
        return None
    try:
        return date(int(parts[2]), int(parts[0]), int(parts[1]))
    except ValueError:
        return None


def _csv(path: Path) -> Iterable[dict[str, str]]:
    with path.open(encoding="latin-1", newline="") as fh:
        yield from csv.DictReader(fh)


def read_dir(directory: Path) -> tuple[list[Record], FileCounts]:
    """Every year's three files in ``directory``, joined by VAERS_ID."""
    directory = Path(directory)
    counts = FileCounts()
    records: dict[str, Record] = {}
    for data_file in sorted(directory.glob("*VAERSDATA.csv")):
        prefix = data_file.name[: -len("VAERSDATA.csv")]
        n = 0
        for row in _csv(data_file):
            n += 1
            vid = row["VAERS_ID"].strip()
            received = parse_date(row["RECVDATE"])
            if received is None:  # pragma: no cover - every public row has one
                raise ValueError(f"{data_file.name}: VAERS_ID {vid} has no RECVDATE")
            records[vid] = Record(
                vaers_id=vid,
                received_on=received,
                reported_on=parse_date(row.get("RPT_DATE", "")),
                state=row.get("STATE", "").strip(),
                age_years=row.get("AGE_YRS", "").strip(),
                sex=row.get("SEX", "").strip().upper(),
                text=row.get("SYMPTOM_TEXT", "").strip(),
                died=row.get("DIED", "").strip().upper() == "Y",
                life_threatening=row.get("L_THREAT", "").strip().upper() == "Y",
                hospitalized=row.get("HOSPITAL", "").strip().upper() == "Y",
                disabled=row.get("DISABLE", "").strip().upper() == "Y",
                recovered=row.get("RECOVD", "").strip().upper(),
                vaccinated_on=parse_date(row.get("VAX_DATE", "")),
                onset_on=parse_date(row.get("ONSET_DATE", "")),
                prolonged_stay=row.get("X_STAY", "").strip().upper() == "Y",
            )
        counts.data_rows += n
        counts.files[data_file.name] = n
        for kind in ("VAX", "SYMPTOMS"):
            path = directory / f"{prefix}VAERS{kind}.csv"
            if not path.exists():
                raise FileNotFoundError(path)
            n = 0
            for row in _csv(path):
                n += 1
                rec = records.get(row["VAERS_ID"].strip())
                if rec is None:
                    raise ValueError(f"{path.name}: VAERS_ID {row['VAERS_ID']} not in DATA")
                if kind == "VAX":
                    rec.vaxes.append(
                        VaxRow(
                            vax_type=row["VAX_TYPE"].strip().upper() or "UNK",
                            manufacturer=row.get("VAX_MANU", "").strip(),
                            lot=row.get("VAX_LOT", "").strip(),
                            dose=row.get("VAX_DOSE", "").strip(),
                            route=row.get("VAX_ROUTE", "").strip(),
                            site=row.get("VAX_SITE", "").strip(),
                            name=row.get("VAX_NAME", "").strip(),
                        )
                    )
                else:
                    for i in range(1, 6):
                        term = row.get(f"SYMPTOM{i}", "").strip()
                        if term:
                            rec.terms.append(term)
                            counts.term_occurrences += 1
            counts.files[path.name] = n
            if kind == "VAX":
                counts.vax_rows += n
            else:
                counts.symptom_rows += n
    return sorted(records.values(), key=lambda r: (r.received_on, r.vaers_id)), counts


# --- MedDRA terms to aefi's symptom codes --------------------------------------------------


def meddra_map(path: Path | None = None) -> dict[str, str]:
    """Normalised term -> symptom code: the terminology's shipped seed (``meddra_map.csv``
    and ``terminology/seed_terms.csv``), or one CSV file (meddra_term, symptom_code). The
    database's terms, which an administrator edits, are what the import uses."""
    from aefi.terminology.service import normalise, seed_code_map

    if path is None:
        return seed_code_map()
    with path.open(encoding="utf-8", newline="") as fh:
        return {normalise(r["meddra_term"]): r["symptom_code"].strip() for r in csv.DictReader(fh)}


def map_terms(terms: list[str], mapping: dict[str, str]) -> tuple[list[str], list[str]]:
    """(symptom codes, unmapped terms), each once, in the order met."""
    codes: list[str] = []
    unmapped: list[str] = []
    from aefi.terminology.service import normalise

    for t in terms:
        code = mapping.get(normalise(t))
        if code is None:
            if t not in unmapped:
                unmapped.append(t)
        elif code not in codes:
            codes.append(code)
    return codes, unmapped


def record_codes(rec: Record, mapping: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(codes, event groups, unmapped terms) of a report; DIED adds the DEATH code."""
    codes, unmapped = map_terms(rec.terms, mapping)
    if rec.died and "DEATH" not in codes:
        codes.append("DEATH")
    return codes, groups_of(codes), unmapped


def vaccine_code(vax_type: str) -> str:
    return f"US-{vax_type}"[:32]


def clean_lot(lot: str) -> str:
    """Upper case, letters and digits only; an unknown lot is ``UNKNOWN``. Reporters write
    the same lot as ``EJN*157A``, ``EJN-157A``, ``ejn 157a``."""
    clean = re.sub(r"[^A-Z0-9]", "", lot.upper())
    if clean in UNKNOWN_LOTS or not clean.strip("0"):
        clean = "UNKNOWN"
    return clean


def lot_number(vax_type: str, lot: str) -> str:
    return f"US-{vax_type}-{clean_lot(lot)}"[:64]


def dose_number(value: str) -> int | None:
    """VAX_DOSE as a dose number; blank, ``0``, ``UNK`` or out of range is unknown (None)."""
    digits = re.sub(r"\D", "", value or "")
    if not digits:
        return None
    n = int(digits)
    return n if 0 < n < 100 else None


def serious(rec: Record) -> bool:
    return (
        rec.died or rec.life_threatening or rec.hospitalized or rec.prolonged_stay or rec.disabled
    )


def generic_name(vax_name: str) -> str:
    """'INFLUENZA (SEASONAL) (FLUZONE)' -> 'INFLUENZA (SEASONAL)': the brand is last."""
    name = vax_name.strip()
    m = re.match(r"^(.*\S)\s*\([^()]*\)$", name)
    return (m.group(1) if m else name)[:200]


# --- import into the database -------------------------------------------------------------


@dataclass
class ImportReport:
    counts: FileCounts
    reports_created: int = 0
    reports_existing: int = 0
    doses_created: int = 0
    vaccines_created: int = 0
    lots_created: int = 0
    reports_in_db: int = 0
    doses_in_db: int = 0
    terms_mapped: int = 0  # term occurrences in an event group (code or group)
    terms_unmapped: int = 0  # term occurrences in none (kept all the same)
    terms_created: int = 0
    distinct_terms: int = 0  # in the files
    distinct_terms_in_db: int = 0  # linked to these reports
    term_occurrences_in_db: int = 0
    reports_relinked: int = 0  # imported before terms were kept
    seconds: float = 0.0
    unmapped: list[tuple[str, int]] = field(default_factory=list)  # every one, most first

    @property
    def top_unmapped(self) -> list[tuple[str, int]]:
        return self.unmapped[:15]

    @property
    def complete(self) -> bool:
        return (
            self.reports_in_db == self.counts.data_rows
            and self.doses_in_db == self.counts.vax_rows
            and self.term_occurrences_in_db == self.counts.term_occurrences
            and self.distinct_terms_in_db == self.distinct_terms
        )


def _at(d: date | None) -> datetime | None:
    return None if d is None else datetime(d.year, d.month, d.day, tzinfo=UTC)


def _pseudo_places(session) -> tuple[int, int, int]:
    """(county id, site id, person id) of the VAERS pseudo-county, created on first use."""
    from sqlmodel import select

    from aefi.registry.models import Person, Region, RegionLevel, Site

    county = session.exec(select(Region).where(Region.code == REGION_CODE)).first()
    if county is None:
        county = Region(
            code=REGION_CODE,
            name="VAERS（美国，导入）",
            name_en="VAERS (United States, imported)",
            level=RegionLevel.county,
        )
        session.add(county)
        session.flush()
    town = session.exec(select(Region).where(Region.code == SITE_CODE)).first()
    if town is None:
        town = Region(
            code=SITE_CODE,
            name="VAERS 美国",
            name_en="VAERS United States",
            level=RegionLevel.township,
            parent_id=county.id,
        )
        session.add(town)
        session.flush()
    site = session.exec(select(Site).where(Site.code == SITE_CODE)).first()
    if site is None:
        site = Site(
            code=SITE_CODE,
            name="VAERS 导入报告（美国，无接种单位）",
            name_en="VAERS imported reports (United States, no vaccination site)",
            township_id=town.id,
            county_id=county.id,
        )
        session.add(site)
        session.flush()
    person = session.exec(
        select(Person).where(Person.county_id == county.id, Person.id_number == REGION_CODE)
    ).first()
    if person is None:
        person = Person(county_id=county.id, name="VAERS", id_number=REGION_CODE)
        session.add(person)
        session.flush()
    return county.id, site.id, person.id


def _defaults(model) -> dict[str, Any]:
    return {
        name: f.get_default(call_default_factory=True)
        for name, f in model.model_fields.items()
        if name != "id"
    }


def _outcome(rec: Record) -> str:
    if rec.died:
        return "died"
    return {"Y": "recovered", "N": "recovering"}.get(rec.recovered, "unknown")


def _description(rec: Record, codes: list[str], unmapped: list[str]) -> str:
    head = [f"VAERS {rec.vaers_id}"]
    if rec.state:
        head.append(rec.state)
    if rec.age_years:
        head.append(f"age {rec.age_years}")
    lines = [" · ".join(head)]
    if rec.terms:
        lines.append("MedDRA: " + "; ".join(rec.terms))
    if unmapped:
        lines.append("unmapped: " + "; ".join(unmapped))
    if rec.text:
        lines.append(rec.text)
    return "\n".join(lines)[:4000]


def import_dir(session, directory: Path, *, chunk: int = 5000) -> ImportReport:
    """Load every year in ``directory`` (idempotent: VAERS_IDs already there are skipped),
    keep every reported term linked to its report, then count what the database holds for
    these files."""
    from sqlalchemy import bindparam, text
    from sqlmodel import select

    from aefi import audit
    from aefi.intake.models import Report, ReportDose
    from aefi.registry.models import Lot, Vaccine
    from aefi.terminology import service as terminology
    from aefi.terminology.models import ReportTerm

    t0 = time.perf_counter()
    records, counts = read_dir(directory)
    out = ImportReport(counts=counts)
    county_id, site_id, person_id = _pseudo_places(session)
    terminology.ensure_seeded(session)
    all_terms = [t for rec in records for t in rec.terms]
    known_before = len(
        terminology._lookup(session, "vaers", list({terminology.normalise(t) for t in all_terms}))
    )
    terms = terminology.terms_for(session, "vaers", all_terms)
    out.distinct_terms = len(terms)
    out.terms_created = len(terms) - known_before

    def term_infos(rec: Record) -> list[terminology.TermInfo]:
        return [terms[terminology.normalise(t)] for t in rec.terms]

    vaccines = {v.code: v.id for v in session.exec(select(Vaccine))}
    for rec in records:
        for vx in rec.vaxes:
            code = vaccine_code(vx.vax_type)
            if code not in vaccines:
                v = Vaccine(
                    code=code,
                    name=generic_name(vx.name) or vx.vax_type,
                    name_en=generic_name(vx.name) or vx.vax_type,
                    manufacturer=vx.manufacturer[:200],
                )
                session.add(v)
                session.flush()
                vaccines[code] = v.id
                out.vaccines_created += 1
    lots = {
        n: i
        for n, i in session.execute(
            text("SELECT lot_number, id FROM lot WHERE lot_number LIKE 'US-%'")
        )
    }
    new_lots: dict[str, int] = {}
    for rec in records:
        for vx in rec.vaxes:
            number = lot_number(vx.vax_type, vx.lot)
            if number not in lots and number not in new_lots:
                new_lots[number] = vaccines[vaccine_code(vx.vax_type)]
    if new_lots:
        rows = [
            {"lot_number": n, "vaccine_id": v, "status": "active", "status_note": ""}
            for n, v in new_lots.items()
        ]
        for i in range(0, len(rows), chunk):
            _insert_rows(session.connection(), Lot.__table__, rows[i : i + chunk])
        out.lots_created = len(rows)
        lots = {
            n: i
            for n, i in session.execute(
                text("SELECT lot_number, id FROM lot WHERE lot_number LIKE 'US-%'")
            )
        }

    existing = set(session.exec(select(Report.external_id).where(Report.source == SOURCE)).all())
    report_base = _defaults(Report)
    conn = session.connection()
    todo = [r for r in records if r.vaers_id not in existing]
    out.reports_existing = len(records) - len(todo)
    unmapped_counter: Counter[int] = Counter()
    spelling: dict[int, str] = {}
    for rec in records:
        for t, info in zip(rec.terms, term_infos(rec), strict=True):
            if terminology.is_mapped(info.symptom_code, info.event_group):
                out.terms_mapped += 1
            else:
                out.terms_unmapped += 1
                unmapped_counter[info.id] += 1
                spelling.setdefault(info.id, " ".join(t.split()))
    ids_stmt = text(
        "SELECT external_id, id FROM report WHERE source = :src AND external_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    for i in range(0, len(todo), chunk):
        part = todo[i : i + chunk]
        rows = []
        for rec in part:
            infos = term_infos(rec)
            codes, groups = terminology.codes_and_groups(infos, rec.died)
            unmapped = []
            for t, info in zip(rec.terms, infos, strict=True):
                if not terminology.is_mapped(info.symptom_code, info.event_group) and (
                    t not in unmapped
                ):
                    unmapped.append(t)
            received = _at(rec.received_on)
            reported = _at(rec.reported_on) or received
            onset = _at(rec.onset_on) or _at(rec.vaccinated_on) or received
            is_serious = serious(rec)
            rows.append(
                {
                    **report_base,
                    "number": f"VAERS-{rec.vaers_id}",
                    "county_id": county_id,
                    "site_id": site_id,
                    "person_id": person_id,
                    "status": "closed",
                    "patient_name": f"VAERS {rec.vaers_id}",
                    "patient_sex": {"F": "female", "M": "male"}.get(rec.sex, "unknown"),
                    "onset_at": onset,
                    "symptoms": codes,
                    "event_groups": groups,
                    "description": _description(rec, codes, unmapped),
                    "death": rec.died,
                    "life_threatening": rec.life_threatening,
                    "hospitalization": rec.hospitalized or rec.prolonged_stay,
                    "disability": rec.disabled,
                    "outcome": _outcome(rec),
                    "reporter_unit": "VAERS",
                    "reporter_name": "VAERS",
                    "discovered_at": reported,
                    "reported_at": reported,
                    "received_at": received,
                    "source": SOURCE,
                    "external_id": rec.vaers_id,
                    "serious": is_serious,
                    "triage": {
                        "serious": is_serious,
                        "escalated": False,
                        "investigation_required": False,
                        "referral_required": False,
                        "cluster_id": None,
                        "reasons": [{"rule": "imported", "text": "VAERS import: not triaged"}],
                        "deadlines": {},
                        "ruleset_version": "vaers-import",
                    },
                }
            )
        # Core executemany, no RETURNING (which SQLAlchemy runs row by row on SQLite when
        # the order must be kept); the ids come back by external_id, which is indexed.
        _insert_rows(conn, Report.__table__, rows)
        by_ext = dict(
            session.execute(
                ids_stmt, {"src": SOURCE, "ids": [r["external_id"] for r in rows]}
            ).all()
        )
        ids = [by_ext[rec.vaers_id] for rec in part]
        dose_rows = []
        for rid, rec in zip(ids, part, strict=True):
            for vx in rec.vaxes:
                dose_rows.append(
                    {
                        "report_id": rid,
                        "dose_id": None,
                        "lot_id": lots[lot_number(vx.vax_type, vx.lot)],
                        "vaccine_id": vaccines[vaccine_code(vx.vax_type)],
                        "administered_at": _at(rec.vaccinated_on)
                        or _at(rec.onset_on)
                        or _at(rec.received_on),
                        "dose_number": dose_number(vx.dose),
                        "route": vx.route[:16],
                        "body_site": vx.site[:64],
                        "vaccinating_unit": "VAERS",
                        "lot_as_reported": vx.lot[:64],
                    }
                )
        if dose_rows:
            _insert_rows(conn, ReportDose.__table__, dose_rows)
        _link_terms(conn, ReportTerm, zip(ids, part, strict=True), term_infos)
        out.reports_created += len(rows)
        out.doses_created += len(dose_rows)
    out.unmapped = [(spelling[tid], n) for tid, n in unmapped_counter.most_common()]

    # Reports imported before terms were kept get their links now (and their codes again).
    linked = {
        int(x) for (x,) in session.execute(text("SELECT DISTINCT report_id FROM report_term"))
    }
    unlinked = {
        ext: int(rid)
        for ext, rid in session.execute(
            text("SELECT external_id, id FROM report WHERE source = :src"), {"src": SOURCE}
        )
        if int(rid) not in linked
    }
    relink = [(unlinked[r.vaers_id], r) for r in records if r.terms and r.vaers_id in unlinked]
    if relink:
        _link_terms(conn, ReportTerm, relink, term_infos)
        terminology.recode_reports(session, [rid for rid, _r in relink])
        out.reports_relinked = len(relink)

    # Fresh statistics for the planner: after a bulk load PostgreSQL's autovacuum has not
    # looked yet, believes the tables empty and plans nested loops that run for minutes
    # (here, in the replay and in the scan).
    if session.get_bind().dialect.name == "postgresql":
        for table in ("report", "report_dose", "report_term", "reported_term", "lot"):
            session.execute(text(f"ANALYZE {table}"))
    # What the database holds for these files, counted here from plain scans (no joins, no
    # long IN lists of external ids).
    in_files = {r.vaers_id for r in records}
    ids = {
        int(rid)
        for ext, rid in session.execute(
            text("SELECT external_id, id FROM report WHERE source = :src"), {"src": SOURCE}
        )
        if ext in in_files
    }
    in_db = len(ids)
    doses_in_db = sum(
        int(n)
        for rid, n in session.execute(
            text("SELECT report_id, COUNT(*) FROM report_dose GROUP BY report_id")
        )
        if int(rid) in ids
    )
    occ_in_db = 0
    term_ids: set[int] = set()
    for rid, tid, n in session.execute(
        text("SELECT report_id, term_id, occurrences FROM report_term")
    ):
        if int(rid) in ids:
            occ_in_db += int(n)
            term_ids.add(int(tid))
    out.reports_in_db = in_db
    out.doses_in_db = doses_in_db
    out.term_occurrences_in_db = occ_in_db
    out.distinct_terms_in_db = len(term_ids)
    out.seconds = round(time.perf_counter() - t0, 2)
    audit.record(
        session,
        Actor.system([county_id] if county_id is not None else [], reason="VAERS import"),
        "import",
        "report",
        None,
        county_id=county_id,
        summary=(
            f"VAERS {directory}: {out.reports_created} reports, {out.doses_created} doses "
            f"({out.reports_existing} there already); {out.distinct_terms} distinct terms, "
            f"{len(out.unmapped)} without a symptom code"
        ),
        changes={"unmapped_terms": dict(out.unmapped[:200])},
    )
    session.commit()
    return out


def _link_terms(conn, table_model, pairs, term_infos, chunk: int = 5000) -> None:
    rows = []
    for rid, rec in pairs:
        for tid, n in Counter(info.id for info in term_infos(rec)).items():
            rows.append({"report_id": rid, "term_id": tid, "occurrences": n})
    for i in range(0, len(rows), chunk):
        _insert_rows(conn, table_model.__table__, rows[i : i + chunk])


def _insert_rows(conn, table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys): on PostgreSQL by one ``COPY`` (psycopg's
    copy support: no statement a row, no per-row bind processing in SQLAlchemy), values as
    SQLAlchemy would store them (JSON columns as JSON, None there too as JSON null, enums
    by value); elsewhere by SQLAlchemy's executemany of one prepared statement."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    from psycopg.types.json import Json
    from sqlalchemy import JSON

    columns = list(rows[0])
    as_json = [isinstance(table.c[c].type, JSON) for c in columns]
    names = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    Json(v) if j else v.value if isinstance(v, Enum) else v
                    for v, j in zip((row[c] for c in columns), as_json, strict=True)
                ]
            )


# --- replay straight from the files ------------------------------------------------------


def replay_items(records: list[Record], mapping: dict[str, str] | None = None) -> list:
    """The records as items of ``signals.replay`` (which replays the database's reports),
    mapped by the shipped seed: for a look at files without importing them."""
    from aefi.signals.replay import Item

    mapping = meddra_map() if mapping is None else mapping
    out = []
    for r in records:
        _codes, groups, _un = record_codes(r, mapping)
        if serious(r):
            groups = [*groups, "serious_aefi"]
        out.append(
            Item(
                r.received_on,
                tuple(sorted({vx.vax_type for vx in r.vaxes})),
                tuple(" ".join(t.split()) for t in r.terms),
                tuple(groups),
            )
        )
    return out
