"""The signal overview as a spreadsheet: levels, methods, statuses and event groups in the
reader's language (``signals.presenters``), the figures as numbers."""

from __future__ import annotations

from aefi import clock, i18n
from aefi.exporting import ListExport
from aefi.i18n import N_, _
from aefi.signals import presenters
from aefi.signals.review.service import SignalRow
from aefi.spreadsheet import Column


def _target(row: SignalRow) -> str:
    s = row.signal
    if s.scope == "lot" and row.lot:
        return row.lot.lot_number
    if s.scope == "site" and row.site:
        return i18n.pick(row.site.name, row.site.name_en)
    return row.vaccine.code if row.vaccine else ""


def _num(value: float | None, digits: int = 3) -> float | str:
    return "" if value is None else round(value, digits)


def columns() -> list[Column[SignalRow]]:
    labels = presenters.common(None)
    level, method, status, group = (
        labels["level_label"],
        labels["method_label"],
        labels["status_label"],
        labels["group_label"],
    )
    return [
        Column(_("Level"), lambda row: level(row.signal.level)),
        Column(_("Scope"), lambda row: _(row.signal.scope)),
        Column(_("Target"), _target),
        Column(
            _("Vaccine"),
            lambda row: i18n.pick(row.vaccine.name, row.vaccine.name_en) if row.vaccine else "",
        ),
        Column(_("Event group"), lambda row: group(row.signal.event_group)),
        Column(_("Method"), lambda row: method(row.signal.method)),
        Column(_("Observed"), lambda row: row.signal.observed),
        Column(_("Expected"), lambda row: _num(row.signal.expected)),
        Column(_("O/E"), lambda row: _num(row.signal.oe_ratio)),
        Column(_("O/E lower 95% limit"), lambda row: _num(row.signal.oe_lower)),
        Column(_("O/E upper 95% limit"), lambda row: _num(row.signal.oe_upper)),
        Column(_("Statistic"), lambda row: _num(row.signal.statistic)),
        Column(_("Threshold"), lambda row: _num(row.signal.threshold)),
        Column(_("p value"), lambda row: "" if row.signal.p_value is None else row.signal.p_value),
        Column(_("Status"), lambda row: status(row.signal.status)),
        Column(
            _("Detected"),
            lambda row: clock.to_local(row.signal.first_detected_at).strftime("%Y-%m-%d %H:%M"),
        ),
    ]


SIGNALS: ListExport[SignalRow] = ListExport(
    "signals", N_("Signals"), lambda session, rows: columns()
)
