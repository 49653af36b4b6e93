"""The referral list as a spreadsheet: columns in the reader's language, statuses and
urgencies through the catalog (``referral.models.label``)."""

from __future__ import annotations

from aefi import clock, i18n
from aefi.exporting import ListExport
from aefi.i18n import N_, _
from aefi.intake.symptoms import group_name
from aefi.referral.inbox.service import ReferralRow
from aefi.referral.models import label
from aefi.spreadsheet import Column


def _when(value) -> str:
    return clock.to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _minutes(value: float | None) -> float | str:
    return "" if value is None else round(value, 1)


def columns() -> list[Column[ReferralRow]]:
    return [
        Column(_("Sent at"), lambda row: _when(row.referral.sent_at)),
        Column(_("Report"), lambda row: row.report_number),
        Column(_("Patient"), lambda row: row.patient_name),
        Column(_("Sex"), lambda row: _(row.patient_sex)),
        Column(
            _("Date of birth"),
            lambda row: row.patient_birth_on.isoformat() if row.patient_birth_on else "",
        ),
        Column(_("Event"), lambda row: "、".join(group_name(g) for g in row.event_groups)),
        Column(_("From site"), lambda row: i18n.pick(row.site_name, row.site_name_en)),
        Column(_("Hospital"), lambda row: i18n.pick(row.hospital_name, row.hospital_name_en)),
        Column(_("Leg"), lambda row: row.referral.leg),
        Column(_("Urgency"), lambda row: label(row.referral.urgency)),
        Column(_("Status"), lambda row: label(row.referral.status)),
        Column(_("Received at"), lambda row: _when(row.referral.acknowledged_at)),
        Column(
            _("Minutes to acknowledge"), lambda row: _minutes(row.referral.minutes_to_acknowledge)
        ),
        Column(_("Minutes to arrival"), lambda row: _minutes(row.referral.minutes_to_arrival)),
    ]


REFERRALS: ListExport[ReferralRow] = ListExport(
    "referrals", N_("Referrals"), lambda session, rows: columns()
)
