"""What every referral page is given: the labels, the states and the choices of its forms."""

from __future__ import annotations

from typing import Any

from aefi.i18n import N_
from aefi.intake import symptoms
from aefi.intake.emergency import ROUTE_LABELS
from aefi.intake.models import Outcome
from aefi.referral import states
from aefi.referral.models import LABELS
from aefi.referral.states import Consciousness, Result, Transport, Urgency

OPTIONS = {
    "urgency": [u.value for u in Urgency],
    "transport": [t.value for t in Transport],
    "consciousness": [c.value for c in Consciousness],
    "result": [r.value for r in Result],
    "patient_outcome": [Outcome.recovered, Outcome.recovering, Outcome.sequelae, Outcome.unknown],
}


def page_context(**ctx: Any) -> dict[str, Any]:
    return {
        "labels": LABELS,
        "states": states,
        "options": OPTIONS,
        "groups": symptoms.EVENT_GROUPS,
        "em_routes": ROUTE_LABELS,
        **ctx,
    }


# A field's error code from a step, as the form shows it.
FIELD_MESSAGES = {
    "required": N_("Required."),
    "Enter the diagnosis.": N_("Enter the diagnosis."),
}
