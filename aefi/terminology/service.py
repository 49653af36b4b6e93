"""Reported terms: seeding, lookup in bulk for imports, the admin's list and mapping edits,
and loading a county's MedDRA files.

A term is *mapped* when it counts in an event group: through an aefi symptom code (the
code gives the group) or, for a few terms of no code, directly (e.g. "Anxiety"). The
seed maps the terms of ``signals/meddra_map.csv`` and ``terminology/seed_terms.csv``; terms
of no aefi symptom get ``OTHER`` (event group "other") and a body system where the seed knows
one, so they are counted in an explicit "other" bucket. A term met for the first time on an
import has no mapping until an administrator gives it one; it is kept all the same, with
every report that carried it.

Editing a mapping is for administrators, audited, and re-derives the symptom codes and event
groups of the imported reports that carry the term (their terms are their only source), so
the next scan counts them where the administrator put them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, func, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid, NotFound
from aefi.i18n import N_
from aefi.intake.symptoms import BY_CODE, EVENT_GROUPS, groups_of
from aefi.terminology import access, body_systems
from aefi.terminology.models import SYSTEMS, ReportedTerm, ReportTerm

HERE = Path(__file__).resolve().parent
MEDDRA_MAP_CSV = HERE.parent / "signals" / "meddra_map.csv"
SEED_CSV = HERE / "seed_terms.csv"


def normalise(term: str) -> str:
    """Case and spacing do not make a different term: 'Rash  maculo-papular' = 'rash
    maculo-papular'."""
    return " ".join(term.split()).casefold()[:200]


@dataclass(frozen=True)
class SeedTerm:
    text: str
    symptom_code: str | None
    event_group: str | None
    body_system: str | None


@lru_cache
def seed_terms() -> tuple[SeedTerm, ...]:
    """The shipped mapping: meddra_map.csv (term -> code; body system from the code), then
    seed_terms.csv (term, code, group, body system)."""
    rows: dict[str, SeedTerm] = {}
    with MEDDRA_MAP_CSV.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            code = r["symptom_code"].strip()
            rows.setdefault(
                normalise(r["meddra_term"]),
                SeedTerm(
                    r["meddra_term"].strip(),
                    code,
                    BY_CODE[code].group,
                    body_systems.OF_CODE.get(code),
                ),
            )
    with SEED_CSV.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            code = r["symptom_code"].strip() or None
            group = r["event_group"].strip() or (BY_CODE[code].group if code else None)
            rows.setdefault(
                normalise(r["term"]),
                SeedTerm(
                    r["term"].strip(),
                    code,
                    group,
                    r["body_system"].strip() or (body_systems.OF_CODE.get(code) if code else None),
                ),
            )
    return tuple(rows.values())


def seed_code_map() -> dict[str, str]:
    """Normalised term -> symptom code, for the pure (file) replay."""
    return {normalise(s.text): s.symptom_code for s in seed_terms() if s.symptom_code}


def ensure_seeded(session: Session) -> int:
    """Insert the seed's VAERS terms that are missing, and give its mapping to terms that
    have none and were never edited. Never overrides an administrator's edit. Returns the
    number of terms inserted or filled."""
    existing = {
        t.normalised: t
        for t in session.exec(select(ReportedTerm).where(ReportedTerm.system == "vaers"))
    }
    changed = 0
    for s in seed_terms():
        key = normalise(s.text)
        t = existing.get(key)
        if t is None:
            session.add(
                ReportedTerm(
                    system="vaers",
                    text=s.text,
                    normalised=key,
                    symptom_code=s.symptom_code,
                    event_group=s.event_group,
                    body_system=s.body_system,
                    origin="seed",
                )
            )
            changed += 1
        elif t.edited_at is None and t.symptom_code is None and t.event_group is None:
            t.symptom_code, t.event_group = s.symptom_code, s.event_group
            t.body_system = t.body_system or s.body_system
            session.add(t)
            changed += 1
    if changed:
        session.flush()
    return changed


def is_mapped(symptom_code: str | None, event_group: str | None) -> bool:
    """Mapped: the term counts in an event group (through a symptom code, or directly)."""
    return bool(symptom_code or event_group)


@dataclass(frozen=True)
class TermInfo:
    id: int
    symptom_code: str | None
    event_group: str | None


def terms_for(
    session: Session, system: str, texts: Iterable[str], *, chunk: int = 2000
) -> dict[str, TermInfo]:
    """normalised text -> term, creating the terms not there yet (unmapped, origin
    ``import``; the first spelling met is kept as the text)."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown coding system {system!r}")
    wanted: dict[str, str] = {}
    for t in texts:
        if t.strip():
            wanted.setdefault(normalise(t), " ".join(t.split())[:200])
    found = _lookup(session, system, list(wanted))
    missing = [k for k in wanted if k not in found]
    if missing:
        now = clock.now()
        rows = [
            {
                "system": system,
                "code": "",
                "text": wanted[k],
                "normalised": k,
                "parent_code": "",
                "soc": "",
                "origin": "import",
                "created_at": now,
            }
            for k in missing
        ]
        conn = session.connection()
        for i in range(0, len(rows), chunk):
            conn.execute(ReportedTerm.__table__.insert(), rows[i : i + chunk])
        found.update(_lookup(session, system, missing))
    return found


def _lookup(session: Session, system: str, keys: list[str]) -> dict[str, TermInfo]:
    out: dict[str, TermInfo] = {}
    stmt = text(
        "SELECT normalised, id, symptom_code, event_group FROM reported_term "
        "WHERE system = :system AND normalised IN :keys"
    ).bindparams(bindparam("keys", expanding=True))
    for i in range(0, len(keys), 900):
        part = keys[i : i + 900]
        for norm, tid, code, group in session.execute(stmt, {"system": system, "keys": part}):
            out[norm] = TermInfo(int(tid), code, group)
    return out


def codes_and_groups(terms: Iterable[TermInfo], died: bool) -> tuple[list[str], list[str]]:
    """A report's symptom codes (each once, in the order of its terms; DEATH if it died) and
    event groups (of the codes, plus groups mapped without a code)."""
    codes: list[str] = []
    extra: set[str] = set()
    for t in terms:
        if t.symptom_code and t.symptom_code not in codes:
            codes.append(t.symptom_code)
        elif not t.symptom_code and t.event_group:
            extra.add(t.event_group)
    if died and "DEATH" not in codes:
        codes.append("DEATH")
    groups = set(groups_of(codes)) | extra
    return codes, [g for g in EVENT_GROUPS if g in groups]


# --- the admin's list and edits -----------------------------------------------------------


@dataclass(frozen=True)
class TermRow:
    term: ReportedTerm
    reports: int
    occurrences: int

    @property
    def mapped(self) -> bool:
        return is_mapped(self.term.symptom_code, self.term.event_group)


@dataclass(frozen=True)
class TermFilter:
    q: str = ""
    system: str = ""
    unmapped: bool = False


def list_terms(
    session: Session, actor: Actor, f: TermFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[TermRow], int]:
    """Terms with the number of reports carrying each (most reported first)."""
    require_role(actor, *access.VIEW_ROLES)
    counts = (
        select(
            ReportTerm.term_id,
            func.count().label("reports"),
            func.sum(ReportTerm.occurrences).label("occurrences"),
        )
        .group_by(ReportTerm.term_id)
        .subquery()
    )
    stmt = select(
        ReportedTerm,
        func.coalesce(counts.c.reports, 0),
        func.coalesce(counts.c.occurrences, 0),
    ).outerjoin(counts, counts.c.term_id == ReportedTerm.id)
    count_stmt = select(func.count()).select_from(ReportedTerm)
    conds = []
    if f.q.strip():
        like = f"%{normalise(f.q)}%"
        conds.append(col(ReportedTerm.normalised).like(like) | (ReportedTerm.code == f.q.strip()))
    if f.system:
        conds.append(ReportedTerm.system == f.system)
    if f.unmapped:
        conds.append(col(ReportedTerm.symptom_code).is_(None))
        conds.append(col(ReportedTerm.event_group).is_(None))
    for c in conds:
        stmt = stmt.where(c)
        count_stmt = count_stmt.where(c)
    total = int(session.exec(count_stmt).one())
    stmt = (
        stmt.order_by(func.coalesce(counts.c.reports, 0).desc(), ReportedTerm.normalised)
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    rows = [TermRow(t, int(r), int(o)) for t, r, o in session.exec(stmt).all()]
    return rows, total


def get_term(session: Session, actor: Actor, term_id: int) -> TermRow:
    require_role(actor, *access.VIEW_ROLES)
    t = session.get(ReportedTerm, term_id)
    if t is None:
        raise NotFound("Not found.")
    reports, occ = session.exec(
        select(func.count(), func.coalesce(func.sum(ReportTerm.occurrences), 0)).where(
            ReportTerm.term_id == term_id
        )
    ).one()
    return TermRow(t, int(reports), int(occ))


def update_mapping(
    session: Session,
    actor: Actor,
    term_id: int,
    *,
    symptom_code: str | None,
    event_group: str | None,
    body_system: str | None,
) -> TermRow:
    """Set a term's symptom code, event group and body system (blank clears). A code
    brings its own event group; a group without a code is allowed (e.g. "anxiety")."""
    require_role(actor, *access.MAPPERS)
    t = session.get(ReportedTerm, term_id)
    if t is None:
        raise NotFound("Not found.")
    code = (symptom_code or "").strip() or None
    group = (event_group or "").strip() or None
    body = (body_system or "").strip() or None
    errors: dict[str, str] = {}
    if code is not None and code not in BY_CODE:
        errors["symptom_code"] = N_("Pick a symptom code from the list.")
    if group is not None and group not in EVENT_GROUPS:
        errors["event_group"] = N_("Pick an event group from the list.")
    if body is not None and body not in body_systems.BODY_SYSTEMS:
        errors["body_system"] = N_("Pick a body system from the list.")
    if not errors and code is not None:
        own = BY_CODE[code].group
        if group is None:
            group = own
        elif group != own:
            errors["event_group"] = N_(
                "The symptom code belongs to another event group; leave the group blank."
            )
    if errors:
        raise Invalid("The mapping was not saved; correct the marked fields.", fields=errors)
    before = {
        "symptom_code": t.symptom_code,
        "event_group": t.event_group,
        "body_system": t.body_system,
    }
    after = {"symptom_code": code, "event_group": group, "body_system": body}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        t.symptom_code, t.event_group, t.body_system = code, group, body
        t.edited_by_id = actor.user_id or None
        t.edited_at = clock.now()
        session.add(t)
        session.flush()
        recoded = recode_reports(session, _reports_of(session, term_id))
        audit.record(
            session,
            actor,
            "update",
            "reported_term",
            t.id,
            changes=changes,
            summary=f"{t.system} term '{t.text}': mapping changed, {recoded} reports re-coded",
        )
        session.commit()
    return get_term(session, actor, term_id)


def _reports_of(session: Session, term_id: int) -> list[int]:
    return list(session.exec(select(ReportTerm.report_id).where(ReportTerm.term_id == term_id)))


def recode_reports(session: Session, report_ids: list[int]) -> int:
    """Re-derive symptoms and event groups of imported reports from their terms. Only
    reports whose every symptom came from terms (VAERS imports) are touched."""
    from aefi.intake.models import Report

    changed = 0
    for i in range(0, len(report_ids), 500):
        part = report_ids[i : i + 500]
        links: dict[int, list[TermInfo]] = {rid: [] for rid in part}
        stmt = (
            select(ReportTerm.report_id, ReportedTerm)
            .join(ReportedTerm, ReportedTerm.id == ReportTerm.term_id)
            .where(col(ReportTerm.report_id).in_(part))
            .order_by(ReportTerm.id)
        )
        for rid, t in session.exec(stmt):
            links[rid].append(TermInfo(t.id, t.symptom_code, t.event_group))
        reports = session.exec(
            select(Report).where(col(Report.id).in_(part), Report.source == "vaers")
        ).all()
        for rep in reports:
            codes, groups = codes_and_groups(links.get(rep.id, []), rep.death)
            if codes != list(rep.symptoms or []) or groups != list(rep.event_groups or []):
                rep.symptoms, rep.event_groups = codes, groups
                session.add(rep)
                changed += 1
    session.flush()
    return changed


def choices(locale: str) -> dict[str, list[tuple[str, str]]]:
    """Options of the mapping form, labelled in the given language."""

    def pick(zh: str, en: str) -> str:
        return en if locale == "en" else zh

    return {
        "symptom_codes": [(s.code, f"{s.code} · {pick(s.zh, s.en)}") for s in BY_CODE.values()],
        "event_groups": [(k, pick(*v)) for k, v in EVENT_GROUPS.items()],
        "body_systems": [(k, pick(*v)) for k, v in body_systems.BODY_SYSTEMS.items()],
    }


# --- MedDRA --------------------------------------------------------------------------------


@dataclass
class MeddraLoadReport:
    pts_created: int = 0
    llts_created: int = 0
    updated: int = 0
    mapped: int = 0


def load_meddra(session: Session, actor: Actor, release) -> MeddraLoadReport:
    """Store a parsed MedDRA release (``meddra.read_dir``) as ``meddra_pt`` and
    ``meddra_llt`` terms. Body systems come from each PT's primary SOC; a PT named like a
    mapped seed term takes its mapping, an LLT its PT's. Mappings an administrator edited
    are kept. ``actor``: an administrator, or the system actor (the command line)."""
    require_role(actor, Role.admin, Role.system)
    out = MeddraLoadReport()
    seed = {normalise(s.text): s for s in seed_terms()}
    existing = {
        (t.system, t.normalised): t
        for t in session.exec(
            select(ReportedTerm).where(col(ReportedTerm.system).in_(["meddra_pt", "meddra_llt"]))
        )
    }
    pt_map: dict[str, tuple[str | None, str | None, str | None]] = {}
    new_rows: list[dict] = []
    now = clock.now()

    added: set[tuple[str, str]] = set()

    def put(system: str, code: str, name: str, parent: str, soc: str, mapping) -> None:
        key = normalise(name)
        if (system, key) in added:  # the same name twice in one release: the first wins
            return
        added.add((system, key))
        t = existing.get((system, key))
        code_, group, body = mapping
        if t is None:
            new_rows.append(
                {
                    "system": system,
                    "code": code,
                    "text": name[:200],
                    "normalised": key,
                    "parent_code": parent,
                    "soc": soc,
                    "symptom_code": code_,
                    "event_group": group,
                    "body_system": body,
                    "origin": "meddra",
                    "created_at": now,
                }
            )
            if system == "meddra_pt":
                out.pts_created += 1
            else:
                out.llts_created += 1
        else:
            t.code, t.parent_code, t.soc = code, parent, soc
            if t.edited_at is None:
                t.symptom_code, t.event_group = code_, group
                t.body_system = body
            session.add(t)
            out.updated += 1
        if code_:
            out.mapped += 1

    for pt in release.pts.values():
        abbrev = release.primary_soc_abbrev(pt.code)
        body = body_systems.SOC_ABBREV.get(abbrev)
        s = seed.get(normalise(pt.name))
        mapping = (
            (s.symptom_code, s.event_group, s.body_system or body) if s else (None, None, body)
        )
        pt_map[pt.code] = mapping
        put("meddra_pt", pt.code, pt.name, "", abbrev, mapping)
    for llt in release.llts:
        s = seed.get(normalise(llt.name))
        mapping = (s.symptom_code, s.event_group, s.body_system) if s else None
        if mapping is None or not mapping[0]:
            mapping = pt_map.get(llt.pt_code, (None, None, None))
        put(
            "meddra_llt",
            llt.code,
            llt.name,
            llt.pt_code,
            release.primary_soc_abbrev(llt.pt_code),
            mapping,
        )
    conn = session.connection()
    for i in range(0, len(new_rows), 2000):
        conn.execute(ReportedTerm.__table__.insert(), new_rows[i : i + 2000])
    audit.record(
        session,
        actor,
        "import",
        "reported_term",
        None,
        summary=(
            f"MedDRA {release.version or ''}: {out.pts_created} PTs and {out.llts_created} "
            f"LLTs added, {out.updated} updated, {out.mapped} mapped to aefi symptoms"
        ),
    )
    session.commit()
    return out
