"""The report list as a spreadsheet: its columns in the reader's language, every value
through the catalogs (status, seriousness, outcome, symptoms and event groups by name)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from aefi import clock, i18n
from aefi.exporting import ListExport
from aefi.i18n import N_, _
from aefi.intake import access, symptoms
from aefi.intake.models import Report
from aefi.intake.pages import symptom_name
from aefi.registry.models import Region, Site
from aefi.spreadsheet import Column


def _when(value) -> str:
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def columns(session: Session, reports: list[Report]) -> list[Column[Report]]:
    """What each exported row shows; the doses, sites and townships in three queries."""
    doses = access.report_doses(session, [r.id for r in reports])
    site_ids = {r.site_id for r in reports}
    sites = (
        {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    town_ids = {s.township_id for s in sites.values()}
    towns = (
        {t.id: t for t in session.exec(select(Region).where(col(Region.id).in_(town_ids)))}
        if town_ids
        else {}
    )

    def site(r: Report) -> str:
        s = sites.get(r.site_id)
        return i18n.pick(s.name, s.name_en) if s else ""

    def township(r: Report) -> str:
        s = sites.get(r.site_id)
        t = towns.get(s.township_id) if s else None
        return i18n.pick(t.name, t.name_en) if t else ""

    def vaccines(r: Report) -> str:
        return "；".join(i18n.pick(d.vaccine.name, d.vaccine.name_en) for d in doses.get(r.id, []))

    def lots(r: Report) -> str:
        return "；".join(d.lot.lot_number for d in doses.get(r.id, []))

    return [
        Column(_("Number"), lambda r: r.number),
        Column(_("Reported"), lambda r: _when(r.reported_at)),
        Column(_("Onset"), lambda r: _when(r.onset_at)),
        Column(_("Patient"), lambda r: r.patient_name),
        Column(_("Sex"), lambda r: _(r.patient_sex)),
        Column(
            _("Date of birth"),
            lambda r: r.patient_birth_on.isoformat() if r.patient_birth_on else "",
        ),
        Column(_("Township"), township),
        Column(_("Site"), site),
        Column(_("Vaccine"), vaccines),
        Column(_("Lot"), lots),
        Column(_("Symptoms"), lambda r: "、".join(symptom_name(c) for c in r.symptoms)),
        Column(
            _("Event groups"), lambda r: "、".join(symptoms.group_name(g) for g in r.event_groups)
        ),
        Column(_("Seriousness"), lambda r: _("serious") if r.serious else _("not serious")),
        Column(_("Outcome"), lambda r: _(r.outcome)),
        Column(_("Status"), lambda r: _(r.status)),
    ]


REPORTS: ListExport[Report] = ListExport("reports", N_("Reports"), columns)
