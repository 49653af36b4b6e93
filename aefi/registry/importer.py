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
Writing, at the speed of the database's own bulk load (bench/bench_import.py):

- Rows are parsed positionally (no dict a row), times and birth dates remembered per
  distinct text, the file decoded in blocks of whole lines once its encoding is known.
- PostgreSQL: parsing and writing overlap: the parsed rows go to a writer thread in chunks
  of ``CHUNK`` rows (several to a batch), so only the first chunk's parsing and the last
  one's writing stand alone. Not on SQLite: its driver binds every row holding the GIL, so
  a writer thread only contends with the parser (1 M rows, bench/bench_import.py's file:
  17.3-17.9 s with the thread, 16.4-17.0 s without).
- The persons new to the county are inserted first, set-wise (SQLite: with the ids after
  the highest; PostgreSQL: ids from its sequence); a person already recorded is reused as
  recorded.
- SQLite: one prepared ``INSERT ... ON CONFLICT DO NOTHING`` through the driver's
  ``executemany`` (no SQLAlchemy bind processing a row; times as the text SQLAlchemy's
  DateTime stores), a 256 MiB page cache and no WAL checkpoint until the import's end.
- SQLite, a bulk batch: one that brings at least ``BULK_MIN`` rows into a dose table that
  holds fewer than ``BULK_GROWTH`` times as many (a county's first load of its register)
  drops the plain indexes of ``person`` and ``dose`` in its transaction, and builds them
  again from the schema's own statements before its commit: one sort each instead of a
  B-tree insertion a row. It takes up to ``BULK_BATCH`` rows (how many it will get is
  estimated from the bytes read and the file's size). A rollback restores the indexes;
  other connections see them throughout. The unique indexes stay, so duplicates are found
  as always. Meanwhile other writers wait for the batch (SQLite has one writer).
- PostgreSQL: binary ``COPY`` straight into ``person`` (ids drawn from its sequence) and
  into ``dose`` for the persons the batch created (nothing recorded can conflict with their
  doses; the batch's own repeats are dropped first); the doses of persons recorded before
  go through a staging table and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import hashlib
import io
import operator
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.i18n import N_, gettext
from aefi.registry import lot_states
from aefi.registry.access import DOSE_WRITERS
from aefi.registry.models import Lot, Person, Route, Site

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
BATCH = 200_000  # rows a keep-good commit (SQLite rewrites most index pages at each commit)
# SQLite, a bulk batch: one that brings at least BULK_MIN rows into a dose table holding fewer
# than BULK_GROWTH times as many drops the tables' plain indexes and builds them again
# before its commit (sorting a million keys costs about a third of inserting them one by
# one into seven B-trees); it then takes up to BULK_BATCH rows. The unique indexes stay:
# they are what finds the duplicates.
BULK_MIN = 50_000
BULK_GROWTH = 1.5
BULK_BATCH = 1_000_000
CHUNK = 20_000  # rows handed to the writer at a time (several make a batch)
MAX_REPORTED = 1000  # rows listed back; the count of bad rows is always exact
_SEX_MAP = {"m": "male", "f": "female", "男": "male", "女": "female"}
_ROUTES = {r.value for r in Route}


SNIFF_BYTES = 1 << 20  # the encoding is decided on at most the first MiB ...
SNIFF_LINES = 200  # ... or this many lines with non-ASCII bytes, whichever comes first
DECODE_BYTES = 1 << 20  # then the file is decoded in blocks of whole lines

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
        self.births: dict[str, date] = {}  # birth_date text -> date (they repeat)


# A parsed good row, positional (no dict per row): the person's fields, then the dose's.
# (id_number, name, sex, birth_on, phone, lot_id, site_id, dose_number, route, body_site,
#  administered_at (aware), administered_at as SQLite stores it, vaccinator)
Parsed = tuple


def _times(zone: ZoneInfo, now: datetime):
    """``administered_at`` text -> (aware time, SQLite's stored text) or an error message,
    remembered per distinct text (a file's times repeat: a clinic's day at the minute)."""
    cache: dict[str, tuple[datetime, str] | str] = {}
    fromiso = datetime.fromisoformat

    def parse(text: str) -> tuple[datetime, str] | str:
        hit = cache.get(text)
        if hit is not None:
            return hit
        try:
            at = fromiso(text)
            if at.tzinfo is None:
                at = at.replace(tzinfo=zone)
            at = at.astimezone(now.tzinfo)
        except (ValueError, OverflowError):
            out: tuple[datetime, str] | str = (
                "administered_at is not an ISO 8601 time (2026-11-25T09:30:00+08:00)"
            )
        else:
            if at.year < 1900:
                out = "administered_at lies before 1900"
            elif at > now:
                out = "administered_at lies in the future"
            else:
                out = (at, _sqlite_datetime(at))
        if len(cache) >= 100_000:
            cache.clear()
        cache[text] = out
        return out

    return parse


def _sqlite_datetime(at: datetime) -> str:
    """What SQLAlchemy's DateTime stores on SQLite for ``UTCDateTime`` (UTC, no zone,
    always six digits of microseconds): '2026-01-05 01:00:00.000000'."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _parse_row(row: list[str], look: _Lookups, times) -> tuple[Parsed | None, str | None]:
    """``row``: the cells in ``COLUMNS`` order ('' for a missing cell or column)."""
    (
        id_number,
        name,
        sex,
        birth,
        phone,
        lot_number,
        site_code,
        dose_text,
        at_text,
        route,
        body_site,
        vaccinator,
    ) = row
    id_number, name, lot_number, site_code, at_text = (
        id_number.strip(),
        name.strip(),
        lot_number.strip(),
        site_code.strip(),
        at_text.strip(),
    )
    if not (id_number and name and lot_number and site_code and at_text):
        for col, value in zip(
            REQUIRED, (id_number, name, lot_number, site_code, at_text), strict=True
        ):
            if not value:
                return None, f"{col} is empty"
    if len(id_number) > 32:
        return None, "id_number is longer than 32 characters"
    site = look.sites.get(site_code)
    if site is None:
        return None, f"no vaccination site with code {site_code}"
    if site[1]:
        return None, f"vaccinations at site {site_code} are halted"
    lot = look.lots.get(lot_number)
    if lot is None:
        return None, f"no lot numbered {lot_number}"
    if lot[1] is not None or lot[2]:
        return None, f"lot {lot_number} is {lot[1] if not lot[2] else 'halted'}"
    at = times(at_text)
    if type(at) is str:
        return None, at
    if not dose_text or dose_text == "1":
        dose_number = 1
    else:
        try:
            dose_number = int(dose_text.strip())
        except ValueError:
            return None, "dose_number is not a whole number"
        if not 1 <= dose_number <= 10:
            return None, "dose_number must be between 1 and 10"
    route = route.strip().lower()
    if route and route not in _ROUTES:
        return None, f"route {route} is not one of {', '.join(sorted(_ROUTES))}"
    sex = sex.strip().lower() or "unknown"
    sex = _SEX_MAP.get(sex, sex)
    if sex not in ("male", "female", "unknown"):
        return None, f"sex {sex} is not male, female or unknown"
    birth = birth.strip()
    if birth:
        birth_on = look.births.get(birth)
        if birth_on is None:
            try:
                birth_on = date.fromisoformat(birth)
            except ValueError:
                return None, "birth_date is not a date (YYYY-MM-DD)"
            if len(look.births) < 100_000:
                look.births[birth] = birth_on
    else:
        birth_on = None
    return (
        id_number.upper(),
        name[:100],
        sex,
        birth_on,
        phone.strip()[:40],
        lot[0],
        site[0],
        dose_number,
        route,
        body_site.strip()[:64],
        at[0],
        at[1],
        vaccinator.strip()[:100],
    ), None


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
    hasher = _Counted(hashlib.sha256())
    size = _stream_size(stream)
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
    table_rows = _sqlite_dose_rows(session)  # (None on PostgreSQL: no bulk batches there)
    if actor.site_id is not None:  # a reporter imports only their own site's doses
        look.sites = {c: v for c, v in look.sites.items() if v[0] == actor.site_id}
    zone = clock.local_zone()
    now = clock.now()
    times = _times(zone, now)
    cells = _cells(header)
    name = filename or getattr(stream, "name", "") or ""
    name = str(name).rsplit("/", 1)[-1][:200]
    chunk: list[Parsed] = []  # parsed rows not yet handed to the writer
    in_batch = 0  # good rows of the batch in progress (handed over or not)
    first_line = last_line = 0
    rejected_before = 0  # rejections already named by a committed batch's audit event
    writing = True  # all-or-nothing stops writing at the first bad row (it will roll back)
    written = [0, 0]  # doses added, skipped of the batch in progress (the writer's)
    batch_limit = BATCH  # rows of the batch in progress (BULK_BATCH in a bulk batch)
    batch_open = False  # the batch in progress has had its first hand-over
    rebuild: list[str] = []  # the plain indexes a bulk batch dropped (the writer's)

    def write_chunk(rows, write: bool, batch_end: tuple | None, bulk: bool) -> None:
        """Write a chunk; at a batch's end, its audit event and the commit."""
        if bulk and rows and write:
            rebuild[:] = _drop_plain_indexes(session)
        if rows and write:
            added, skipped = _write(session, look, actor.county_id, rows, now)
            report.imported += added
            report.duplicates += skipped
            written[0] += added
            written[1] += skipped
        if batch_end is None or all_or_nothing:
            return
        if rebuild:
            _build_indexes(session, rebuild)
            rebuild.clear()
        number, lines, rejected = batch_end
        (added, skipped), written[:] = written, [0, 0]
        _record_import(
            session,
            actor,
            f"{name or 'dose import'} batch {number} (lines {lines[0]}-{lines[1]}): "
            f"{added} doses added, {skipped} already recorded, {rejected} rows rejected",
            file=name,
            batch=number,
            lines=lines,
            added=added,
            duplicates=skipped,
            rejected=rejected,
        )
        session.commit()

    # The writing of a chunk (and a batch's commit) runs beside the parsing of the next
    # chunk: the drivers let go of the GIL while the database works. Chunks much smaller
    # than a batch keep the two busy together from the start: only the first chunk's
    # parsing and the last one's writing are not overlapped.
    writer = _Writer() if _can_overlap(session) else None

    def bulk_starts(batch_ends: bool) -> bool:
        """Whether the batch now handed over for the first time is a bulk batch: how many
        rows it will hold is known at its end, else estimated from the bytes read."""
        if table_rows is None:
            return False
        expected = in_batch
        if not batch_ends and size and hasher.bytes:
            unread = max(0, int(size * report.rows / hasher.bytes) - report.rows)
            expected += unread if all_or_nothing else min(unread, BULK_BATCH - in_batch)
        return expected >= BULK_MIN and table_rows < BULK_GROWTH * expected

    def hand_over(batch_ends: bool) -> None:
        nonlocal chunk, rejected_before, batch_limit, batch_open, table_rows
        bulk = False
        if not batch_open:
            batch_open = True
            bulk = bulk_starts(batch_ends)
            if bulk and not all_or_nothing:
                batch_limit = BULK_BATCH
        if batch_ends and not all_or_nothing:
            batch_open, batch_limit = False, BATCH
            if table_rows is not None:
                table_rows += in_batch
        batch_end = None
        if batch_ends and not all_or_nothing:
            report.batches += 1
            batch_end = (
                report.batches,
                [first_line, last_line],
                report.rejected_count - rejected_before,
            )
            rejected_before = report.rejected_count
        job = (chunk, writing, batch_end, bulk)
        chunk = []
        if writer is None:
            write_chunk(*job)
        else:
            writer.submit(write_chunk, *job)

    importing = _importing.set(True)  # (SQLite: the large page cache stays on meanwhile)
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
            if not fields or not "".join(fields).strip():
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
            parsed, error = _parse_row(cells(fields), look, times)
            if error:
                report.reject(line, error)
                writing = writing and not all_or_nothing
                continue
            chunk.append(parsed)
            in_batch += 1
            if in_batch >= batch_limit:
                hand_over(batch_ends=True)
                first_line = in_batch = 0
            elif len(chunk) >= CHUNK:
                hand_over(batch_ends=False)
        if writer is not None:
            writer.wait()
        if all_or_nothing and report.rejected_count:
            session.rollback()
            report.rolled_back = True
            report.imported = report.duplicates = 0
            return report
        if in_batch or (not all_or_nothing and report.rejected_count > rejected_before):
            hand_over(batch_ends=True)
            if writer is not None:
                writer.wait()
        if rebuild:  # (all-or-nothing: the one transaction's indexes)
            _build_indexes(session, rebuild)
            rebuild.clear()
        report.sha256 = hasher.hexdigest() if report.encoding != "text" else ""
        _record_import(
            session,
            actor,
            f"imported {name or 'dose file'}: {report.imported} doses added, "
            f"{report.duplicates} already recorded, rejected {report.rejected_count}",
            file=name,
            sha256=report.sha256,
            encoding=report.encoding,
            mode="all_or_nothing" if all_or_nothing else "keep_good",
            rows=report.rows,
            imported=report.imported,
            duplicates=report.duplicates,
            rejected=report.rejected_count,
            batches=report.batches,
        )
        session.commit()
    except BaseException:
        if writer is not None:
            writer.close()  # (the session is the writer's until it stops)
        session.rollback()  # the batch in progress; committed batches are audited
        raise
    finally:
        if writer is not None:
            writer.close()
        _importing.reset(importing)
        _checkpoint(session)
    return report


class _Counted:
    """The file's hash, counting the bytes it has been given (how far the import has read)."""

    def __init__(self, hasher) -> None:
        self.hasher, self.bytes = hasher, 0

    def update(self, data: bytes) -> None:
        self.bytes += len(data)
        self.hasher.update(data)

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


def _stream_size(stream) -> int | None:
    """The bytes from the stream's position to its end (None when it cannot say)."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return end - here


def _cells(header: list[str]):
    """fields -> the cells in ``COLUMNS`` order, as ``dict(zip(header, fields))`` would
    give them ('' where the row is short or the header lacks the column)."""
    width = len(header)
    if len(set(header)) != width:  # a column named twice: the dict's rules, row by row

        def by_dict(fields: list[str]) -> list[str]:
            row = dict(zip(header, fields, strict=False))
            return [row.get(c) or "" for c in COLUMNS]

        return by_dict
    pick = operator.itemgetter(*(header.index(c) if c in header else -1 for c in COLUMNS))

    def by_index(fields: list[str]):
        if len(fields) < width:
            fields += [""] * (width - len(fields))
        fields.append("")  # what index -1 (a column the header lacks) reads
        return pick(fields)

    return by_index


class _Writer:
    """One batch at a time written in a thread of its own (in the import's context), while
    the caller parses the next; an error of the write comes out of the next ``submit`` or
    ``wait``."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="aefi-import")
        self.pending: Future | None = None

    def submit(self, fn, *args) -> None:
        self.wait()
        self.pending = self.pool.submit(contextvars.copy_context().run, fn, *args)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        """Stop: the batch in progress finishes (its error dropped: the caller is already
        failing or has waited)."""
        if self.pending is not None:
            with contextlib.suppress(BaseException):
                self.pending.result()
            self.pending = None
        self.pool.shutdown(wait=True)


def _can_overlap(session: Session) -> bool:
    """PostgreSQL only (see the module's docstring). A pooled engine hands the session's
    connection to any thread; a thread-bound pool would give the writer another database."""
    engine = session.get_bind()
    return engine.dialect.name == "postgresql" and isinstance(engine.pool, QueuePool)


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

    def one(raw: bytes, n: int) -> str:
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
        return text

    def lines() -> Iterator[str]:
        n = 0
        for raw in sniffed:
            n += 1
            hasher.update(raw)
            yield one(raw, n)
        read = getattr(stream, "read", None)
        if read is None:
            for raw in raw_lines:
                n += 1
                hasher.update(raw)
                yield one(raw, n)
            return
        # The rest in blocks of whole lines: a block that decodes and holds no NUL is
        # split into its lines at once (no 0x0A byte lies inside a UTF-8 or GB18030
        # character); any other block goes line by line, as above.
        rest = b""
        while True:
            block = read(DECODE_BYTES)
            if not block:
                if rest:
                    n += 1
                    hasher.update(rest)
                    yield one(rest, n)
                return
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if not cut:
                rest = block
                continue
            block, rest = block[:cut], block[cut:]
            hasher.update(block)
            if b"\x00" not in block:
                try:
                    text = block.decode(encoding)
                except UnicodeDecodeError:
                    pass
                else:
                    n += block.count(b"\n")
                    yield from io.StringIO(text, newline="\n")
                    continue
            for raw in io.BytesIO(block):
                n += 1
                yield one(raw, n)

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


def _write(
    session: Session,
    look: _Lookups,
    county_id: int,
    batch: Iterable[Parsed],
    created_at: datetime,
) -> tuple[int, int]:
    """Insert a batch: new persons first (ignoring ones another import just added), their
    ids read back by ID number, then the doses, skipping those already recorded.
    Returns (doses added, doses skipped as already recorded)."""
    batch = list(batch)
    conn = session.connection()
    new_people: dict[str, Parsed] = {}
    persons = look.persons
    for row in batch:
        if row[0] not in persons and row[0] not in new_people:
            new_people[row[0]] = row  # the first row naming a person gives the details
    if conn.dialect.name == "postgresql":
        return _write_postgres(conn, look, county_id, batch, new_people, created_at)
    return _write_sqlite(conn, look, county_id, batch, new_people, created_at)


# --- SQLite: one prepared statement through the driver, no per-row bind processing ------

_SQLITE_PERSON = (
    "INSERT INTO person (id, county_id, id_number, name, sex, birth_on, phone, address, "
    "guardian_name) VALUES (?, ?, ?, ?, ?, ?, ?, '', '') ON CONFLICT DO NOTHING"
)
_SQLITE_DOSE = (
    "INSERT INTO dose (person_id, lot_id, site_id, dose_number, route, body_site, "
    "administered_at, vaccinator, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
IMPORT_CACHE_KIB = 256 * 1024  # SQLite's page cache while importing (its default: 2 MiB)
_importing: contextvars.ContextVar[bool] = contextvars.ContextVar("aefi_importing", default=False)


def _write_sqlite(conn, look, county_id, batch, new_people, created_at) -> tuple[int, int]:
    raw = conn.connection.driver_connection
    _raise_cache(conn)
    cur = raw.cursor()
    try:
        if new_people:
            # The persons this insert adds get the ids after the highest now: the insert
            # holds the write lock, so no other writer can take one of them meanwhile (a
            # snapshot older than another's commit fails the insert instead). When every
            # row went in, those are their ids. Otherwise another import added one of
            # these persons since the import began (the insert skipped ours): the range
            # scan reads back those added, a lookup by ID number the others.
            cur.execute("SELECT coalesce(max(id), 0) FROM person")
            highest = cur.fetchone()[0]
            cur.executemany(
                _SQLITE_PERSON,
                [
                    (k, county_id, idn, r[1], r[2], r[3].isoformat() if r[3] else None, r[4])
                    for k, (idn, r) in enumerate(new_people.items(), highest + 1)
                ],
            )
            if cur.rowcount == len(new_people):
                look.persons.update((idn, k) for k, idn in enumerate(new_people, highest + 1))
                new_people = {}
        if new_people:
            cur.execute(
                "SELECT id_number, id FROM person WHERE id > ? AND county_id = ?",
                (highest, county_id),
            )
            look.persons.update((idn, pid) for idn, pid in cur.fetchall() if idn in new_people)
            numbers = [idn for idn in new_people if idn not in look.persons]
            for i in range(0, len(numbers), 500):
                chunk = numbers[i : i + 500]
                cur.execute(
                    "SELECT id_number, id FROM person WHERE county_id = ? AND id_number IN "
                    f"({', '.join('?' * len(chunk))})",
                    [county_id, *chunk],
                )
                look.persons.update(cur.fetchall())
        persons = look.persons
        created = _sqlite_datetime(created_at)
        cur.executemany(
            _SQLITE_DOSE,
            [(persons[r[0]], r[5], r[6], r[7], r[8], r[9], r[11], r[12], created) for r in batch],
        )
        added = cur.rowcount  # INSERT ... DO NOTHING: the rows actually inserted
    finally:
        cur.close()
    return added, len(batch) - added


def _sqlite_dose_rows(session: Session) -> int | None:
    """SQLite: about how many doses the database holds (the highest id: one index probe);
    None on PostgreSQL."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return None
    return conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM dose").scalar()


# The plain (not unique) indexes of the tables a bulk batch fills, as the schema defines them.
_PLAIN_INDEXES = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('person', "
    "'dose') AND sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE UNIQUE %' ORDER BY name"
)


def _drop_plain_indexes(session: Session) -> list[str]:
    """SQLite, a bulk batch's start: drop the plain indexes of ``person`` and ``dose``, in
    the batch's transaction (so a rollback restores them, and readers keep seeing them
    until the commit). Returns their ``CREATE INDEX`` statements, for ``_build_indexes``."""
    raw = session.connection().connection.driver_connection
    if not raw.in_transaction:
        raw.execute("BEGIN")  # (the driver opens no transaction before DDL by itself)
    found = raw.execute(_PLAIN_INDEXES).fetchall()
    for name, _sql in found:
        raw.execute(f'DROP INDEX "{name}"')
    return [sql for _name, sql in found]


def _build_indexes(session: Session, statements: list[str]) -> None:
    """SQLite, a bulk batch's end: build the dropped indexes again, before the commit."""
    raw = session.connection().connection.driver_connection
    for sql in statements:
        raw.execute(sql)


def _raise_cache(conn) -> None:
    """A large page cache for this connection while the import runs (the indexes of a
    million rows do not fit in 2 MiB), and no checkpoint at each batch's commit (each would
    write most index pages into the database again; ``_checkpoint`` runs one at the end).
    The old settings come back when the connection is next checked out outside an import."""
    info = conn.connection.info
    if "aefi_import_cache" not in info:
        raw = conn.connection.driver_connection
        info["aefi_import_cache"] = (
            raw.execute("PRAGMA cache_size").fetchone()[0],
            raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
        )
        raw.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
        raw.execute("PRAGMA wal_autocheckpoint = 0")
        engine = conn.engine
        if not event.contains(engine, "checkout", _restore_on_checkout):
            event.listen(engine, "checkout", _restore_on_checkout)


def _restore_cache(dbapi_conn, info) -> None:
    old = info.pop("aefi_import_cache", None)
    if old is not None:
        dbapi_conn.execute(f"PRAGMA cache_size = {int(old[0])}")
        dbapi_conn.execute(f"PRAGMA wal_autocheckpoint = {int(old[1])}")


def _checkpoint(session: Session) -> None:
    """SQLite: the one checkpoint of the import (the write-ahead log back into the file),
    on a connection checked out after the import (its settings restored by that)."""
    engine = session.get_bind()
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def _restore_on_checkout(dbapi_conn, record, _proxy) -> None:
    if not _importing.get() and "aefi_import_cache" in record.info:
        _restore_cache(dbapi_conn, record.info)


# --- PostgreSQL: COPY straight into the tables where nothing can conflict ------------
#
# A person this batch created has no dose recorded yet: their doses (once the batch's own
# repeats are dropped here) are copied straight into ``dose``. The persons new to the
# county are copied straight into ``person`` with ids drawn from its sequence, unless
# another import added one of them meanwhile (then, under a savepoint rolled back, the
# staging path below). Doses of persons recorded before the batch may repeat a recorded
# dose: they go through a staging table and one INSERT ... SELECT ... ON CONFLICT DO
# NOTHING, which also waits out and skips a dose another import is adding meanwhile.

_PG_STAGE = "CREATE TEMP TABLE IF NOT EXISTS aefi_import_{name} ({columns}) ON COMMIT DELETE ROWS"
_PG_PERSON_COLUMNS = (
    "seq integer, id_number varchar(32), name varchar(100), sex varchar(8), birth_on date, "
    "phone varchar(40)"
)
_PG_DOSE_COLUMNS = (
    "seq integer, person_id integer, lot_id integer, site_id integer, dose_number integer, "
    "route varchar(16), body_site varchar(64), administered_at timestamptz, "
    "vaccinator varchar(100)"
)
# Binary COPY: no text rendering in Python, no text parsing in the server.
_PG_PERSON_COPY = (
    "COPY person (id, county_id, id_number, name, sex, birth_on, phone, address, "
    "guardian_name) FROM STDIN (FORMAT BINARY)"
)
_PG_PERSON_TYPES = (
    "int4", "int4", "varchar", "varchar", "varchar", "date", "varchar", "varchar", "varchar"
)  # fmt: skip
_PG_DOSE_COPY = (
    "COPY dose (person_id, lot_id, site_id, dose_number, route, body_site, administered_at, "
    "vaccinator, created_at) FROM STDIN (FORMAT BINARY)"
)
_PG_DOSE_TYPES = (
    "int4", "int4", "int4", "int4", "varchar", "varchar", "timestamptz", "varchar", "timestamptz"
)  # fmt: skip


def _write_postgres(conn, look, county_id, batch, new_people, created_at) -> tuple[int, int]:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        fresh = _pg_add_persons(cur, look, county_id, new_people) if new_people else set()
        persons = look.persons
        direct: list[tuple] = []
        staged: list[Parsed] = []
        seen: set[tuple] = set()
        for r in batch:
            pid = persons[r[0]]
            if pid in fresh:
                key = (pid, r[5], r[7], r[10])  # ux_dose_natural_key
                if key not in seen:
                    seen.add(key)
                    direct.append((pid, r[5], r[6], r[7], r[8], r[9], r[10], r[12], created_at))
            else:
                staged.append(r)
        added = 0
        if direct:
            with cur.copy(_PG_DOSE_COPY) as copy:
                copy.set_types(_PG_DOSE_TYPES)
                write = copy.write_row
                for row in direct:
                    write(row)
            added = len(direct)
        if staged:
            added += _pg_stage_doses(cur, persons, staged, created_at)
    return added, len(batch) - added


def _pg_add_persons(cur, look, county_id, new_people: dict[str, Parsed]) -> set[int]:
    """Add the persons new to the county; their ids go into ``look.persons``. Returns the
    ids this call created (persons whose doses cannot be recorded yet)."""
    from psycopg.errors import UniqueViolation

    cur.execute(
        "SELECT nextval(pg_get_serial_sequence('person', 'id')) FROM generate_series(1, %s)",
        (len(new_people),),
    )
    ids = [i for (i,) in cur.fetchall()]
    cur.execute("SAVEPOINT aefi_import_person")
    try:
        with cur.copy(_PG_PERSON_COPY) as copy:
            copy.set_types(_PG_PERSON_TYPES)
            for pid, (idn, r) in zip(ids, new_people.items(), strict=True):
                copy.write_row((pid, county_id, idn, r[1], r[2], r[3], r[4], "", ""))
    except UniqueViolation:  # another import added one of them meanwhile
        cur.execute("ROLLBACK TO SAVEPOINT aefi_import_person")
        return _pg_stage_persons(cur, look, county_id, new_people)
    cur.execute("RELEASE SAVEPOINT aefi_import_person")
    look.persons.update(zip(new_people, ids, strict=True))
    return set(ids)


def _pg_stage_persons(cur, look, county_id, new_people: dict[str, Parsed]) -> set[int]:
    cur.execute(_PG_STAGE.format(name="person", columns=_PG_PERSON_COLUMNS))
    with cur.copy(
        "COPY aefi_import_person (seq, id_number, name, sex, birth_on, phone) FROM STDIN"
    ) as copy:
        for seq, (idn, r) in enumerate(new_people.items()):
            copy.write_row((seq, idn, r[1], r[2], r[3], r[4]))
    cur.execute(
        "INSERT INTO person (county_id, id_number, name, sex, birth_on, phone, "
        "address, guardian_name) SELECT %s, id_number, name, sex, birth_on, phone, "
        "'', '' FROM aefi_import_person ORDER BY seq ON CONFLICT DO NOTHING "
        "RETURNING id_number, id",
        (county_id,),
    )
    created = cur.fetchall()
    look.persons.update(created)
    missing = [idn for idn in new_people if idn not in look.persons]
    if missing:  # added meanwhile by another import: read back
        cur.execute(
            "SELECT id_number, id FROM person WHERE county_id = %s AND id_number = ANY(%s)",
            (county_id, missing),
        )
        look.persons.update(cur.fetchall())
    cur.execute("TRUNCATE aefi_import_person")
    return {pid for _idn, pid in created}


def _pg_stage_doses(cur, persons: dict[str, int], rows: list[Parsed], created_at) -> int:
    """Doses that may repeat recorded ones: staged, then inserted skipping conflicts.
    Returns the doses added."""
    cur.execute(_PG_STAGE.format(name="dose", columns=_PG_DOSE_COLUMNS))
    with cur.copy(
        "COPY aefi_import_dose (seq, person_id, lot_id, site_id, dose_number, route, "
        "body_site, administered_at, vaccinator) FROM STDIN"
    ) as copy:
        for seq, r in enumerate(rows):
            copy.write_row((seq, persons[r[0]], r[5], r[6], r[7], r[8], r[9], r[10], r[12]))
    cur.execute(
        "WITH added AS (INSERT INTO dose (person_id, lot_id, site_id, dose_number, route, "
        "body_site, administered_at, vaccinator, created_at) SELECT person_id, lot_id, "
        "site_id, dose_number, route, body_site, administered_at, vaccinator, %s "
        "FROM aefi_import_dose ORDER BY seq ON CONFLICT DO NOTHING RETURNING id) "
        "SELECT count(*) FROM added",
        (created_at,),
    )
    added = cur.fetchone()[0]
    cur.execute("TRUNCATE aefi_import_dose")
    return added


def _is_binary(stream) -> bool:
    return isinstance(stream, io.BufferedIOBase | io.RawIOBase) or "b" in getattr(
        stream, "mode", ""
    )


def _record_import(session: Session, actor: Actor, summary: str, **changes: Any) -> None:
    """The audit entry of a dose import: one per committed batch (keep-good mode), one for
    the file at the end."""
    audit.record(session, actor, "import", "dose", None, summary=summary, changes=changes)
