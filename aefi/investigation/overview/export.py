"""The case list as a spreadsheet: columns in the reader's language, statuses, kinds,
event groups and classifications through the catalogs."""

from __future__ import annotations

from sqlmodel import Session

from aefi import clock
from aefi.exporting import ListExport
from aefi.i18n import N_, _
from aefi.intake.symptoms import group_name
from aefi.investigation.labels import category_label, china_label
from aefi.investigation.models import CASE_KIND_LABELS, CASE_STATUS_LABELS, CaseFile
from aefi.investigation.overview import service
from aefi.spreadsheet import Column


def _when(value) -> str:
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def columns(session: Session, cases: list[CaseFile]) -> list[Column[CaseFile]]:
    reports = service.reports_by_id(session, cases)

    def patient(c: CaseFile) -> str:
        if c.kind == "cluster":
            return _("{n} reports", n=len(c.report_ids))
        r = reports.get(c.report_ids[0]) if c.report_ids else None
        return r.patient_name if r else c.title

    def report_number(c: CaseFile) -> str:
        r = reports.get(c.report_ids[0]) if c.report_ids and c.kind != "cluster" else None
        return r.number if r else ""

    return [
        Column(_("Case"), lambda c: c.number),
        Column(_("Kind"), lambda c: _(CASE_KIND_LABELS.get(c.kind, c.kind))),
        Column(_("Report"), report_number),
        Column(_("Patient or group"), patient),
        Column(_("Events"), lambda c: "、".join(group_name(g) for g in c.event_groups)),
        Column(_("Seriousness"), lambda c: _("serious") if c.serious else _("not serious")),
        Column(_("Status"), lambda c: _(CASE_STATUS_LABELS.get(c.status, c.status))),
        Column(_("Assigned to"), lambda c: c.assignee_name or _("Not assigned")),
        Column(_("Opened"), lambda c: _when(c.opened_at)),
        Column(_("Next deadline"), lambda c: _when(c.next_due_at)),
        Column(
            _("WHO causality"), lambda c: category_label(c.who_category) if c.who_category else ""
        ),
        Column(_("Classification"), lambda c: china_label(c.china_classification)),
    ]


CASES: ListExport[CaseFile] = ListExport("cases", N_("Case files"), columns)
