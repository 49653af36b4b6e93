"""Labels the signal and halt pages share (every slice's templates show levels, methods,
statuses and event groups the same way)."""

from __future__ import annotations

from aefi import i18n
from aefi.i18n import N_
from aefi.signals import expected
from aefi.signals.models import SignalLevel, SignalMethod, SignalScope, SignalStatus

HALT_STATES = {
    "pending": N_("Not yet in force"),
    "in force": N_("Halt in force"),
    "lifted": N_("Halt lifted"),
}


LEVELS = {"signal": N_("Signal for review"), "halt_recommended": N_("Halt recommended")}
METHODS = {
    "maxsprt": N_("MaxSPRT"),
    "disproportionality": N_("Disproportionality"),
    "active_surveillance": N_("Check-in responders vs other lots"),
}
STATUSES = {
    "new": N_("New, not reviewed"),
    "under_review": N_("Under review"),
    "dismissed": N_("Dismissed"),
    "escalated": N_("Escalated for decision"),
}


def _label(table: dict[str, str]):
    return lambda value: i18n.gettext(table.get(value, value))


def _state_label(state: str) -> str:
    return i18n.gettext(HALT_STATES.get(state, state))


def _group_label(group: str) -> str:
    return expected.group_label(group, i18n.get_locale())


def common(actor) -> dict:
    return {
        "actor": actor,
        "group_label": _group_label,
        "state_label": _state_label,
        "level_label": _label(LEVELS),
        "method_label": _label(METHODS),
        "status_label": _label(STATUSES),
        "groups": list(expected.GROUPS),
        "statuses": [s.value for s in SignalStatus],
        "levels": [lv.value for lv in SignalLevel],
        "scopes": [s.value for s in SignalScope],
        "methods": [m.value for m in SignalMethod],
    }
