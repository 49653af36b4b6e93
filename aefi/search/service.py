"""The one search box: a report number, a case number, a person's ID number or name, or a
lot number, across the records the actor may read.

Each kind is searched in the actor's own scope, by the rule its domain already has: reports
in the actor's counties (a reporter's own site), case files for the roles that read them,
persons through the registry's search (the reporter's: those vaccinated at the site), lots
for those who trace lots, and for a hospital the referrals addressed to it. Names and ID
numbers are shown masked (the full identity is on the person's page, where viewing it is
recorded). A search by name or ID number is a look-up of identities, so every search is
audited: who, what was typed, how many of each kind were found.

Exactly one exact match (a whole report, case or lot number; a whole ID number or name of
a person) is a direct jump to its page; the reports of that person are matches, not exact
ones."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from aefi import audit, clock, i18n
from aefi.auth.models import Role
from aefi.auth.permissions import (
    Actor,
    mask_id_number,
    mask_name,
    scope_clause,
    sees_identity,
    site_filter,
)
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.intake import access as intake_access
from aefi.intake.models import Report
from aefi.intake.symptoms import group_name
from aefi.investigation import access as case_access
from aefi.investigation.models import CaseFile
from aefi.referral import access as referral_access
from aefi.referral.models import Referral
from aefi.registry.doses import service as registry_doses
from aefi.registry.lots import service as registry_lots
from aefi.reporting import access as reporting_access

# A report number, an ID number (18), a name or a lot: longer is not one of them.
MAX_QUERY = 100
PER_KIND = 20

# The kinds, in the order the results page shows them, and their headings.
KINDS: dict[str, str] = {
    "report": N_("Reports"),
    "case": N_("Case files"),
    "referral": N_("Referrals"),
    "person": N_("Vaccinated persons"),
    "lot": N_("Lots"),
}


@dataclass(frozen=True)
class Hit:
    kind: str
    title: str  # the number, the (masked) name, the lot number
    detail: str  # a line that tells hits apart, in the reader's language
    url: str
    exact: bool  # the whole number, ID number or name as typed


@dataclass(frozen=True)
class Results:
    q: str
    groups: dict[str, list[Hit]] = field(default_factory=dict)  # kind -> hits, KINDS order

    @property
    def total(self) -> int:
        return sum(len(h) for h in self.groups.values())

    @property
    def jump(self) -> str | None:
        """The one page to go to: the url of the only exact match, else None."""
        exact = [h for hits in self.groups.values() for h in hits if h.exact]
        return exact[0].url if len(exact) == 1 else None


def _day(value) -> str:
    return clock.to_local(value).strftime("%Y-%m-%d") if value else ""


def _reports(session: Session, actor: Actor, q: str) -> list[Hit]:
    if actor.role not in intake_access.READERS or actor.is_system:
        return []
    upper = q.upper()
    stmt = select(Report).where(
        scope_clause(Report.county_id, actor),
        or_(
            func.upper(Report.number) == upper,
            func.upper(Report.patient_id_number) == upper,
            col(Report.patient_name).ilike(f"%{q}%"),
            col(Report.number).ilike(f"{q}%"),
        ),
    )
    only = site_filter(actor)
    if only is not None:
        stmt = stmt.where(Report.site_id == only)
    rows = session.exec(
        stmt.order_by(col(Report.reported_at).desc(), col(Report.id).desc()).limit(PER_KIND)
    ).all()
    identity = sees_identity(actor)
    hits = []
    for r in rows:
        # An ID number or a name names a person (their page is the exact match); a report
        # is the exact match for its own number.
        exact = r.number.upper() == upper
        name = r.patient_name if identity else mask_name(r.patient_name)
        groups = "、".join(group_name(g) for g in r.event_groups)
        hits.append(
            Hit(
                "report",
                r.number,
                f"{name} · {_day(r.onset_at)} · {groups}",
                f"/reports/{r.id}",
                exact,
            )
        )
    return hits


def _cases(session: Session, actor: Actor, q: str) -> list[Hit]:
    if not case_access.can_read(actor) or actor.is_system:
        return []
    upper = q.upper()
    rows = session.exec(
        select(CaseFile)
        .where(
            scope_clause(CaseFile.county_id, actor),
            or_(func.upper(CaseFile.number) == upper, col(CaseFile.number).ilike(f"{q}%")),
        )
        .order_by(col(CaseFile.opened_at).desc(), col(CaseFile.id).desc())
        .limit(PER_KIND)
    ).all()
    from aefi.investigation.models import CASE_STATUS_LABELS

    return [
        Hit(
            "case",
            c.number,
            f"{c.title} · {i18n.gettext(CASE_STATUS_LABELS.get(c.status, c.status))}",
            f"/cases/{c.id}",
            c.number.upper() == upper,
        )
        for c in rows
    ]


def _referrals(session: Session, actor: Actor, q: str) -> list[Hit]:
    """A hospital's own referrals, by report number or patient name (it reads no reports)."""
    if not referral_access.receives_referrals(actor):
        return []
    from aefi.referral.models import label

    upper = q.upper()
    mine = referral_access.scope_stmt(actor).with_only_columns(Referral.id).subquery()
    rows = session.exec(
        select(Referral, Report.number, Report.patient_name)
        .join(Report, Report.id == Referral.report_id)
        .where(col(Referral.id).in_(select(mine.c.id)))
        .where(or_(func.upper(Report.number) == upper, col(Report.patient_name).ilike(f"%{q}%")))
        .order_by(col(Referral.sent_at).desc(), col(Referral.id).desc())
        .limit(PER_KIND)
    ).all()
    return [
        Hit(
            "referral",
            number,
            f"{name} · {_day(ref.sent_at)} · {label(ref.status)}",
            f"/referrals/{ref.id}",
            number.upper() == upper,
        )
        for ref, number, name in rows
    ]


def _persons(session: Session, actor: Actor, q: str) -> list[Hit]:
    if actor.role not in reporting_access.READERS or not sees_identity(actor):
        return []
    persons = registry_doses.search_persons(session, actor, q, limit=PER_KIND)
    upper = q.upper()
    return [
        Hit(
            "person",
            mask_name(p.name),
            f"{mask_id_number(p.id_number)}{' · ' + p.birth_on.isoformat() if p.birth_on else ''}",
            f"/trace/persons/{p.id}",
            p.id_number.upper() == upper or p.name == q,
        )
        for p in persons
    ]


def _lots(session: Session, actor: Actor, q: str) -> list[Hit]:
    if actor.role not in reporting_access.READERS:
        return []
    upper = q.upper()
    return [
        Hit(
            "lot",
            lot.lot_number,
            f"{i18n.pick(vaccine.name, vaccine.name_en)} · {i18n.gettext(lot.status)}",
            f"/lots/{lot.lot_number}",
            lot.lot_number.upper() == upper,
        )
        for lot, vaccine in registry_lots.search_lots(session, actor, q, limit=PER_KIND)
    ]


_SEARCHES = {
    "report": _reports,
    "case": _cases,
    "referral": _referrals,
    "person": _persons,
    "lot": _lots,
}


def search(session: Session, actor: Actor, q: str) -> Results:
    """What the actor may read that matches ``q``, by kind; recorded as an identity search."""
    if actor.role in (Role.system, Role.api_client):
        raise Invalid("Search is for people signed in to aefi.")
    term = " ".join(q.split())
    if len(term) > MAX_QUERY:
        raise Invalid(
            "The search is longer than {limit} characters. Type a report, case or lot "
            "number, an ID number or a name.",
            fields={"q": N_("Shorten the search.")},
            limit=MAX_QUERY,
        )
    if not term:
        return Results("")
    groups = {}
    for kind, run in _SEARCHES.items():
        hits = run(session, actor, term)
        if hits:
            # Exact matches first; the rest in the order of their query.
            groups[kind] = sorted(hits, key=lambda h: not h.exact)
    # A report's case file carries the report's number: the number names the report, its
    # case is listed beside it.
    reported = {h.title for h in groups.get("report", []) if h.exact}
    if "case" in groups:
        groups["case"] = [
            replace(h, exact=False) if h.title in reported else h for h in groups["case"]
        ]
    result = Results(term, groups)
    audit.record(
        session,
        actor,
        "identity_search",
        "search",
        None,
        changes={"q": term, "found": {k: len(v) for k, v in groups.items()}},
        summary=f"search “{term}”: {result.total} found",
    )
    session.commit()
    return result
