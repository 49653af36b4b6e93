"""What the intake pages share: the labels they show, the logged-in user or None (the
form's own requests must not bounce to the login page), and a fragment for htmx."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from aefi import i18n
from aefi.auth.permissions import Actor
from aefi.deps import session_user
from aefi.i18n import N_, gettext
from aefi.intake import symptoms
from aefi.registry.models import ROUTE_NAMES
from aefi.types import MAX_ID, ascii_int
from aefi.web import templates

ACTION_LABELS = (N_("follow_up"), N_("print"))
ROUTE_LABELS = ROUTE_NAMES
SERIOUS_LABELS = {
    "death": N_("Death"),
    "life_threatening": N_("Life-threatening"),
    "hospitalization": N_("Hospitalisation, or a longer stay"),
    "disability": N_("Persistent or significant disability"),
    "congenital_anomaly": N_("Congenital anomaly"),
}
FIELD_LABELS = {
    **SERIOUS_LABELS,
    "outcome": N_("Outcome"),
    "already_in_hospital": N_("In hospital"),
    "hospital_name": N_("Hospital"),
    "diagnosis": N_("Initial diagnosis"),
    "diagnosis_clear": N_("Clearly a common reaction"),
    "treatment": N_("Treatment"),
    "symptoms": N_("Symptoms"),
}
SYMPTOM_GROUPS = [
    (group, zh, en, [s for s in symptoms.SYMPTOMS if s.group == group])
    for group, (zh, en) in symptoms.EVENT_GROUPS.items()
    if any(s.group == group for s in symptoms.SYMPTOMS)
]
# Every message slot of the form (see templates/intake/macros.html); hand rows add theirs.


def optional_actor(request: Request, session: Session) -> Actor | None:
    """The logged-in user, or None (the form's own requests must not bounce to the login
    page mid-form: that would throw away what is on the screen)."""
    user = session_user(request, session)
    if user is None:
        return None
    return Actor.of(user)


def int_id(value: Any) -> int | None:
    """A hand-parsed id: ASCII digits within the id range, else None."""
    number = ascii_int(value)
    return number if number is not None and 1 <= number <= MAX_ID else None


def fragment(request: Request, name: str, ctx: dict[str, Any], **kw: Any) -> HTMLResponse:
    """A piece of a page for htmx (the form's lookups and checks)."""
    html = templates().env.get_template(name).render({"request": request, **ctx})
    return HTMLResponse(html, **kw)


def symptom_name(code: str) -> str:
    s = symptoms.BY_CODE.get(code)
    return i18n.pick(s.zh, s.en) if s else code


def draft_summary(payload: dict[str, Any]) -> str:
    """A line that tells drafts apart: who, what, when typed."""
    parts = [payload.get("patient_name") or payload.get("dose_q") or ""]
    codes = payload.get("symptoms") or []
    if codes:
        parts.append("、".join(symptom_name(c) for c in codes[:3]))
    if payload.get("onset_at"):
        parts.append(str(payload["onset_at"]).replace("T", " "))
    return " · ".join(p for p in parts if p) or gettext("(nothing typed yet)")
