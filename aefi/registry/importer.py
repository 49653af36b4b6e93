"""CSV import of dose records that streams files of any size.

Each row is checked on its own; bad rows come back with their line number and reason.
``all_or_nothing`` keeps nothing when any row is bad; otherwise good rows are kept.
Rows are written in batches with executemany, so a million rows take a minute, not an hour.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlmodel import Session

from aefi import audit, clock
from aefi.auth.permissions import Actor, require_role
from aefi.registry.models import Dose, Lot, LotStatus, Person, Route, Site, Vaccine
from aefi.registry.service import DOSE_WRITERS

COLUMNS = (
    "id_number",
    "name",
    "sex",
    "birth_date",
    "phone",
    "lot_number",
    "site_code",
    "dose_number",
    "administered_at",
    "route",
    "body_site",
    "vaccinator",
)
REQUIRED = ("id_number", "name", "lot_number", "site_code", "administered_at")
BATCH = 5000
MAX_REPORTED = 1000  # rows listed back; the count of bad rows is always exact
_SEX_MAP = {"m": "male", "f": "female", "男": "male", "女": "female"}
_ROUTES = {r.value for r in Route}


@dataclass
class ImportReport:
    imported: int = 0
    rejected_count: int = 0
    rejected: list[dict] = field(default_factory=list)
    rolled_back: bool = False

    def reject(self, line: int, error: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append({"row": line, "error": error})


class _Lookups:
    def __init__(self, session: Session, county_id: int) -> None:
        self.sites = {
            code: (sid, halted)
            for sid, code, halted in session.execute(
                select(Site.id, Site.code, Site.halted).where(Site.county_id == county_id)
            )
        }
        self.lots = {
            num: (lid, status, vhalted)
            for lid, num, status, vhalted in session.execute(
                select(Lot.id, Lot.lot_number, Lot.status, Vaccine.halted).join(
                    Vaccine, Vaccine.id == Lot.vaccine_id
                )
            )
        }
        rows = session.execute(
            select(Person.id_number, Person.id).where(Person.county_id == county_id)
        ).all()
        self.persons: dict[str, int] = {idn: pid for idn, pid in rows}


def _parse_row(row: dict[str, str], look: _Lookups, zone: ZoneInfo, now: datetime):
    for col in REQUIRED:
        if not (row.get(col) or "").strip():
            return None, f"{col} is empty"
    site = look.sites.get(row["site_code"].strip())
    if site is None:
        return None, f"no vaccination site with code {row['site_code'].strip()}"
    if site[1]:
        return None, f"vaccinations at site {row['site_code'].strip()} are halted"
    lot = look.lots.get(row["lot_number"].strip())
    if lot is None:
        return None, f"no lot numbered {row['lot_number'].strip()}"
    if lot[1] in (LotStatus.held, LotStatus.halted, LotStatus.recalled) or lot[2]:
        return None, f"lot {row['lot_number'].strip()} is {lot[1] if not lot[2] else 'halted'}"
    try:
        at = datetime.fromisoformat(row["administered_at"].strip())
    except ValueError:
        return None, "administered_at is not an ISO 8601 time (2026-11-25T09:30:00+08:00)"
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    at = at.astimezone(now.tzinfo)
    if at > now:
        return None, "administered_at lies in the future"
    try:
        dose_number = int((row.get("dose_number") or "1").strip())
    except ValueError:
        return None, "dose_number is not a whole number"
    if not 1 <= dose_number <= 10:
        return None, "dose_number must be between 1 and 10"
    route = (row.get("route") or "").strip().lower()
    if route and route not in _ROUTES:
        return None, f"route {route} is not one of {', '.join(sorted(_ROUTES))}"
    sex = (row.get("sex") or "unknown").strip().lower() or "unknown"
    sex = _SEX_MAP.get(sex, sex)
    if sex not in ("male", "female", "unknown"):
        return None, f"sex {sex} is not male, female or unknown"
    birth = (row.get("birth_date") or "").strip()
    try:
        birth_on = date.fromisoformat(birth) if birth else None
    except ValueError:
        return None, "birth_date is not a date (YYYY-MM-DD)"
    person = {
        "id_number": row["id_number"].strip().upper(),
        "name": row["name"].strip()[:100],
        "sex": sex,
        "birth_on": birth_on,
        "phone": (row.get("phone") or "").strip()[:40],
    }
    dose = {
        "lot_id": lot[0],
        "site_id": site[0],
        "dose_number": dose_number,
        "route": route,
        "body_site": (row.get("body_site") or "").strip()[:64],
        "administered_at": at,
        "vaccinator": (row.get("vaccinator") or "").strip()[:100],
    }
    return (person, dose), None


def import_doses(
    session: Session,
    actor: Actor,
    stream: IO[bytes] | IO[str],
    *,
    all_or_nothing: bool = False,
) -> ImportReport:
    """Import doses from a CSV stream with a header row naming the columns of ``COLUMNS``."""
    require_role(actor, *DOSE_WRITERS)
    text = (
        io.TextIOWrapper(stream, encoding="utf-8-sig", newline="") if _is_binary(stream) else stream
    )
    reader = csv.DictReader(text)
    report = ImportReport()
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        report.reject(1, f"the header lacks the columns {', '.join(missing)}")
        report.rolled_back = True
        return report
    look = _Lookups(session, actor.county_id)
    if actor.site_id is not None:  # a reporter imports only their own site's doses
        look.sites = {c: v for c, v in look.sites.items() if v[0] == actor.site_id}
    zone = ZoneInfo(_zone_name())
    now = clock.now()
    batch: list[tuple[dict, dict]] = []
    created_at = now
    for line, row in enumerate(reader, start=2):
        parsed, error = _parse_row(row, look, zone, now)
        if error:
            report.reject(line, error)
            continue
        batch.append(parsed)
        if len(batch) >= BATCH:
            _write(session, look, actor.county_id, batch, created_at)
            report.imported += len(batch)
            batch = []
            if not all_or_nothing:
                session.commit()
    if batch:
        _write(session, look, actor.county_id, batch, created_at)
        report.imported += len(batch)
    if all_or_nothing and report.rejected_count:
        session.rollback()
        report.rolled_back = True
        report.imported = 0
        return report
    audit.record(
        session,
        actor,
        "import",
        "dose",
        None,
        summary=f"imported {report.imported} doses, rejected {report.rejected_count}",
        changes={"imported": report.imported, "rejected": report.rejected_count},
    )
    session.commit()
    return report


def _write(
    session: Session,
    look: _Lookups,
    county_id: int,
    batch: Iterable[tuple[dict, dict]],
    created_at: datetime,
) -> None:
    """Insert a batch with plain executemany (Core, no ORM bookkeeping): new persons first,
    their ids read back by ID number, then the doses."""
    batch = list(batch)
    conn = session.connection()
    new_people: dict[str, dict] = {}
    for person, _dose in batch:
        if person["id_number"] not in look.persons and person["id_number"] not in new_people:
            new_people[person["id_number"]] = {
                **person,
                "county_id": county_id,
                "address": "",
                "guardian_name": "",
            }
    if new_people:
        person_table = Person.__table__
        conn.execute(insert(person_table), list(new_people.values()))
        numbers = list(new_people)
        for i in range(0, len(numbers), 500):
            chunk = numbers[i : i + 500]
            rows = conn.execute(
                select(person_table.c.id_number, person_table.c.id).where(
                    person_table.c.county_id == county_id, person_table.c.id_number.in_(chunk)
                )
            )
            for idn, pid in rows:
                look.persons[idn] = pid
    conn.execute(
        insert(Dose.__table__),
        [
            {**dose, "person_id": look.persons[person["id_number"]], "created_at": created_at}
            for person, dose in batch
        ],
    )


def _is_binary(stream) -> bool:
    return isinstance(stream, io.BufferedIOBase | io.RawIOBase) or "b" in getattr(
        stream, "mode", ""
    )


def _zone_name() -> str:
    from aefi.settings import get_settings

    return get_settings().timezone
