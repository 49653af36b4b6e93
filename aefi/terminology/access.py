"""Who may read the reported terms and who may edit their mapping. The service checks
these; the admin page asks the same to decide whether a row offers its edit link."""

from __future__ import annotations

from aefi.auth.models import Role
from aefi.auth.permissions import Actor

VIEW_ROLES = (Role.admin, Role.bureau, Role.investigator)
MAPPERS = (Role.admin,)


def can_map(actor: Actor) -> bool:
    return actor.role in MAPPERS
