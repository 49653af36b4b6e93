"""CSV import of dose records that streams files of any size and never half-happens.

- Encoding: UTF-8 (with or without a byte-order mark) or GB18030/GBK (what Chinese Excel
  writes), detected from the first lines; anything else (UTF-16, an Excel workbook, binary)
  is refused as a whole with a message saying how to save the file. Each line is decoded on
  its own, so a line that is not valid in the file's encoding is a bad row on that line.
- Line numbers are the file's own (1 is the header line), counting blank lines and the lines
  of quoted multi-line fields; a row is reported at the line where it begins.
- Keep-good mode (the default) commits whole batches of ``BATCH`` rows, each together with an
  audit event naming the file, the lines and the counts; a failure loses at most the batch
  in progress, and what was committed is on record. ``all_or_nothing`` writes nothing unless
  every row is good (one transaction, rolled back on the first bad row's report).
- Idempotent: a dose's natural key (person, lot, dose number, administered time) is unique
  (``ux_dose_natural_key``); rows are inserted with ON CONFLICT DO NOTHING, so importing the
  same file again adds nothing and reports the rows it skipped as duplicates.
Rows are written with multi-row INSERTs (Core, no ORM bookkeeping): a million rows take about
a minute, not an hour.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.i18n import N_, gettext
from aefi.registry import lot_states
from aefi.registry.access import DOSE_WRITERS
from aefi.registry.models import Dose, Lot, Person, Route, Site

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


SNIFF_BYTES = 1 << 20  # the encoding is decided on at most the first MiB ...
SNIFF_LINES = 200  # ... or this many lines with non-ASCII bytes, whichever comes first

# Whole-file refusals (msgids; the page and the API translate them).
E_UTF16 = N_("The file is UTF-16 text. Save it as “CSV UTF-8” (or “CSV”) and import that file.")
E_WORKBOOK = N_(
    "The file is an Excel workbook, not CSV. In Excel or WPS choose Save as, "
    "“CSV UTF-8”, and import that file."
)
E_BINARY = N_("The file holds NUL bytes: it is not a CSV text file.")
E_ENCODING = N_(
    "The file's encoding is neither UTF-8 nor GB18030/GBK (line {line} cannot be read). "
    "Save it as “CSV UTF-8” and import it again."
)
E_EMPTY = N_("The file is empty: it needs a header row naming the columns.")
E_HEADER = N_("The header lacks the columns {columns}.")


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0  # good rows whose dose was already recorded (nothing added)
    rejected_count: int = 0
    rejected: list[dict] = field(default_factory=list)
    rolled_back: bool = False
    error: str | None = None  # a refusal of the whole file (msgid), nothing imported
    error_params: dict[str, object] = field(default_factory=dict)
    encoding: str = ""
    rows: int = 0  # data rows read
    batches: int = 0  # batches committed (keep-good mode)
    sha256: str = ""

    def reject(self, line: int, error: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append({"row": line, "error": error})

    def refuse(self, message: str, **params: object) -> ImportReport:
        self.error, self.error_params, self.rolled_back = message, params, True
        return self

    @property
    def error_message(self) -> str:
        """The refusal in the current language ('' when the file was read)."""
        return gettext(self.error, **self.error_params) if self.error else ""


class _Lookups:
    def __init__(self, session: Session, county_id: int) -> None:
        self.sites = {
            code: (sid, halted)
            for sid, code, halted in session.execute(
                select(Site.id, Site.code, Site.halted).where(Site.county_id == county_id)
            )
        }
        # The lot states in force in this county (a lot halted only in another county, or
        # a product halted there, stays usable here).
        blocked = lot_states.blocked_lots(session, county_id)
        halted_vaccines = lot_states.halted_vaccines(session, county_id)
        self.lots = {
            num: (lid, blocked[lid].status if lid in blocked else None, vid in halted_vaccines)
            for lid, num, vid in session.execute(select(Lot.id, Lot.lot_number, Lot.vaccine_id))
        }
        rows = session.execute(
            select(Person.id_number, Person.id).where(Person.county_id == county_id)
        ).all()
        self.persons: dict[str, int] = {idn: pid for idn, pid in rows}


def _parse_row(row: dict[str, str], look: _Lookups, zone: ZoneInfo, now: datetime):
    for col in REQUIRED:
        if not (row.get(col) or "").strip():
            return None, f"{col} is empty"
    if len(row["id_number"].strip()) > 32:
        return None, "id_number is longer than 32 characters"
    site = look.sites.get(row["site_code"].strip())
    if site is None:
        return None, f"no vaccination site with code {row['site_code'].strip()}"
    if site[1]:
        return None, f"vaccinations at site {row['site_code'].strip()} are halted"
    lot = look.lots.get(row["lot_number"].strip())
    if lot is None:
        return None, f"no lot numbered {row['lot_number'].strip()}"
    if lot[1] is not None or lot[2]:
        return None, f"lot {row['lot_number'].strip()} is {lot[1] if not lot[2] else 'halted'}"
    try:
        at = datetime.fromisoformat(row["administered_at"].strip())
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone)
        at = at.astimezone(now.tzinfo)
    except (ValueError, OverflowError):
        return None, "administered_at is not an ISO 8601 time (2026-11-25T09:30:00+08:00)"
    if at.year < 1900:
        return None, "administered_at lies before 1900"
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
    filename: str = "",
) -> ImportReport:
    """Import doses from a CSV stream with a header row naming the columns of ``COLUMNS``.

    Never raises for bad input: a file that cannot be read comes back with ``error`` set,
    bad rows in ``rejected`` with their file line."""
    require_role(actor, *DOSE_WRITERS, Role.system)
    report = ImportReport()
    hasher = hashlib.sha256()
    bad_lines: dict[int, str] = {}
    if isinstance(stream.read(0), str):
        report.encoding = "text"
        lines: Iterator[str] = _text_lines(stream, bad_lines)
    else:
        decoded = _decode_lines(stream, report, hasher, bad_lines)
        if decoded is None:
            return report
        lines = decoded
    reader = csv.reader(lines)
    header, header_line = _header(reader, report)
    if header is None:
        return report
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        report.reject(header_line, f"the header lacks the columns {', '.join(missing)}")
        return report.refuse(E_HEADER, columns=", ".join(missing))

    look = _Lookups(session, actor.county_id)
    if actor.site_id is not None:  # a reporter imports only their own site's doses
        look.sites = {c: v for c, v in look.sites.items() if v[0] == actor.site_id}
    zone = clock.local_zone()
    now = clock.now()
    name = filename or getattr(stream, "name", "") or ""
    name = str(name).rsplit("/", 1)[-1][:200]
    batch: list[tuple[dict, dict]] = []
    first_line = last_line = 0
    rejected_before = 0  # rejections already named by a committed batch's audit event
    writing = True  # all-or-nothing stops writing at the first bad row (it will roll back)

    def commit_batch() -> None:
        nonlocal batch, rejected_before
        if batch and writing:
            added, skipped = _write(session, look, actor.county_id, batch, now)
            report.imported += added
            report.duplicates += skipped
        else:
            added = skipped = 0
        if not all_or_nothing:
            report.batches += 1
            rejected = report.rejected_count - rejected_before
            audit.record(
                session,
                actor,
                "import",
                "dose",
                None,
                summary=(
                    f"{name or 'dose import'} batch {report.batches} (lines {first_line}-"
                    f"{last_line}): {added} doses added, {skipped} already recorded, "
                    f"{rejected} rows rejected"
                ),
                changes={
                    "file": name,
                    "batch": report.batches,
                    "lines": [first_line, last_line],
                    "added": added,
                    "duplicates": skipped,
                    "rejected": rejected,
                },
            )
            session.commit()
            rejected_before = report.rejected_count
        batch = []

    try:
        prev_end = header_line
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                report.reject(prev_end + 1, f"not a CSV row: {exc}")
                prev_end = reader.line_num
                continue
            line, prev_end = prev_end + 1, reader.line_num
            if not fields or not any(f.strip() for f in fields):
                continue  # blank line (they still count for the numbering)
            if not first_line:
                first_line = line
            last_line = reader.line_num
            report.rows += 1
            if bad_lines:
                bad = next((n for n in range(line, prev_end + 1) if n in bad_lines), None)
                if bad is not None:
                    report.reject(line, bad_lines[bad])
                    writing = writing and not all_or_nothing
                    continue
            parsed, error = _parse_row(dict(zip(header, fields, strict=False)), look, zone, now)
            if error:
                report.reject(line, error)
                writing = writing and not all_or_nothing
                continue
            batch.append(parsed)
            if len(batch) >= BATCH:
                commit_batch()
                first_line = 0
        if all_or_nothing and report.rejected_count:
            session.rollback()
            report.rolled_back = True
            report.imported = report.duplicates = 0
            return report
        if batch or (not all_or_nothing and report.rejected_count > rejected_before):
            commit_batch()
        report.sha256 = hasher.hexdigest() if report.encoding != "text" else ""
        audit.record(
            session,
            actor,
            "import",
            "dose",
            None,
            summary=(
                f"imported {name or 'dose file'}: {report.imported} doses added, "
                f"{report.duplicates} already recorded, rejected {report.rejected_count}"
            ),
            changes={
                "file": name,
                "sha256": report.sha256,
                "encoding": report.encoding,
                "mode": "all_or_nothing" if all_or_nothing else "keep_good",
                "rows": report.rows,
                "imported": report.imported,
                "duplicates": report.duplicates,
                "rejected": report.rejected_count,
                "batches": report.batches,
            },
        )
        session.commit()
    except BaseException:
        session.rollback()  # the batch in progress; committed batches are audited
        raise
    return report


def _header(reader, report: ImportReport) -> tuple[list[str] | None, int]:
    """The first non-blank row, names stripped and lower-cased, and its line."""
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                return [f.strip().lower() for f in fields], reader.line_num
    except csv.Error as exc:
        report.reject(reader.line_num, f"not a CSV row: {exc}")
        report.refuse(E_HEADER, columns=", ".join(REQUIRED))
        return None, 0
    report.refuse(E_EMPTY)
    return None, 0


def _text_lines(stream: IO[str], bad_lines: dict[int, str]) -> Iterator[str]:
    for n, line in enumerate(stream, start=1):
        if "\x00" in line:
            bad_lines[n] = f"line {n} holds a NUL character"
            line = line.replace("\x00", "")
        yield line.lstrip("\ufeff") if n == 1 else line


def _decode_lines(
    stream: IO[bytes], report: ImportReport, hasher, bad_lines: dict[int, str]
) -> Iterator[str] | None:
    """Pick the encoding from the first lines, then decode line by line (a line that does
    not decode is marked bad and passed on with replacement characters, so the CSV parser
    keeps its place). None (and ``report.error``) when the file is refused."""
    raw_lines = iter(stream)
    sniffed: list[bytes] = []
    size = non_ascii = 0
    for raw in raw_lines:
        sniffed.append(raw)
        size += len(raw)
        if not raw.isascii():
            non_ascii += 1
        if size >= SNIFF_BYTES or non_ascii >= SNIFF_LINES:
            break
    first = sniffed[0] if sniffed else b""
    bom = first.startswith(codecs.BOM_UTF8)
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.refuse(E_UTF16)
        return None
    if first.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        report.refuse(E_WORKBOOK)
        return None
    if sum(line.count(b"\x00") for line in sniffed) > len(sniffed):
        report.refuse(E_BINARY)  # a stray NUL is a bad line; many mean a binary file
        return None
    if bom:
        sniffed[0] = first[len(codecs.BOM_UTF8) :]
        encoding = "utf-8"
    else:
        encoding = _guess(sniffed)
        if encoding is None:
            line = next((i for i, ln in enumerate(sniffed, 1) if not _decodes(ln, "gb18030")), 1)
            report.refuse(E_ENCODING, line=line)
            return None
    report.encoding = "utf-8-sig" if bom else encoding
    if bom:
        hasher.update(codecs.BOM_UTF8)

    label = "GB18030/GBK" if encoding == "gb18030" else "UTF-8"

    def lines() -> Iterator[str]:
        n = 0
        for chunk in (sniffed, raw_lines):
            for raw in chunk:
                n += 1
                hasher.update(raw)
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError:
                    bad_lines[n] = (
                        f"line {n} is not valid {label} text (the file mixes encodings): "
                        "correct or remove it"
                    )
                    text = raw.decode(encoding, "replace")
                if "\x00" in text:
                    bad_lines[n] = f"line {n} holds a NUL character"
                    text = text.replace("\x00", "")
                yield text

    return lines()


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _guess(sniffed: list[bytes]) -> str | None:
    """UTF-8 if the non-ASCII lines are mostly UTF-8 (ASCII-only is UTF-8 too), else GB18030
    (a superset of GBK and GB2312) if they decode as that; None otherwise. The last line may
    be cut short by the sniffing limit: it is not looked at."""
    sample = [ln for ln in sniffed[:-1] if not ln.isascii()] or [
        ln for ln in sniffed[-1:] if not ln.isascii()
    ]
    if not sample:
        return "utf-8"
    utf8 = sum(_decodes(ln, "utf-8") for ln in sample)
    if utf8 * 2 >= len(sample):
        return "utf-8"
    gb = sum(_decodes(ln, "gb18030") for ln in sample)
    return "gb18030" if gb * 2 >= len(sample) and gb > utf8 else None


def _insert_ignore(conn, table):
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _write(
    session: Session,
    look: _Lookups,
    county_id: int,
    batch: Iterable[tuple[dict, dict]],
    created_at: datetime,
) -> tuple[int, int]:
    """Insert a batch: new persons first (ignoring ones another import just added), their
    ids read back by ID number, then the doses, skipping those already recorded.
    Returns (doses added, doses skipped as already recorded)."""
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
    person_table = Person.__table__
    if new_people:
        conn.execute(_insert_ignore(conn, person_table), list(new_people.values()))
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
    dose_table = Dose.__table__
    result = conn.execute(
        _insert_ignore(conn, dose_table).returning(dose_table.c.id),
        [
            {**dose, "person_id": look.persons[person["id_number"]], "created_at": created_at}
            for person, dose in batch
        ],
    )
    added = len(result.all())
    return added, len(batch) - added


def _is_binary(stream) -> bool:
    return isinstance(stream, io.BufferedIOBase | io.RawIOBase) or "b" in getattr(
        stream, "mode", ""
    )
