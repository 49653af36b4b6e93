"""Who may send reports out of aefi (E2B(R3) ICSRs, MCCI batches) and bring them in. The
services check these; the pages ask the same to decide whether to offer the download."""

from __future__ import annotations

from aefi.auth.models import Role
from aefi.auth.permissions import Actor

# Whoever may read a county's case files may send them on; patient identity leaves with it
# (and aefi itself, reporting a county's cases upward: interchange.upstream).
EXPORTERS = (Role.investigator, Role.bureau, Role.admin, Role.province, Role.system)
# A county's investigators and administrator bring batches in; the account a county sends
# with at the province (api_client) files its cases there.
IMPORTERS = (Role.investigator, Role.admin, Role.api_client)


def can_export(actor: Actor) -> bool:
    """Download a report as an ICSR, or a batch of reports."""
    return actor.role in EXPORTERS


def can_import(actor: Actor) -> bool:
    """Bring in a batch of ICSRs from another system."""
    return actor.role in IMPORTERS
