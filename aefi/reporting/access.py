"""Who reads reporting's traceability, and the lot they ask for in their scope: reporters
see their own site's part of everything; the county roles see the county."""

from __future__ import annotations

from sqlmodel import Session

from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.registry import access as registry_access
from aefi.registry.models import Lot, Vaccine

READERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin)
COUNTY_ROLES = (Role.investigator, Role.bureau, Role.admin)
# The county's read-only summaries (the day's status, a period's summary, the indicators):
# the county roles, and aefi itself for the command line's printouts (``Actor.system`` of
# that county; it reads, and may submit or change nothing).
SUMMARY_READERS = (*COUNTY_ROLES, Role.system)


def can_read_summaries(actor: Actor) -> bool:
    return actor.role in SUMMARY_READERS


def require_summary_reader(actor: Actor) -> None:
    require_role(actor, *SUMMARY_READERS)


def only_site(actor: Actor) -> int | None:
    """The one site a reporter sees; None for the county roles."""
    require_role(actor, *READERS)
    if actor.role == Role.reporter:
        return actor.site_id if actor.site_id is not None else -1
    return None


def get_lot(session: Session, actor: Actor, lot_number: str) -> tuple[Lot, Vaccine]:
    require_role(actor, *READERS)
    return registry_access.get_lot(session, actor, lot_number)
