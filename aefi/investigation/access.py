"""Loading a case file in the actor's scope, and what the actor may do with it.

Who may do what (DESIGN.md roles): investigators of the county work case files; the
health bureau of the county reads them (timeline, evidence, PDF) but does not change them,
because the investigation and the panel's diagnosis are the CDC's to record; nobody else
opens a case file. Every use case loads its case through here first.
"""

from __future__ import annotations

from sqlmodel import Session

from aefi.auth.models import Role
from aefi.auth.permissions import Actor, in_scope, require_role
from aefi.errors import Conflict, NotFound
from aefi.investigation import workflow
from aefi.investigation.models import CaseFile

# (aefi itself too, for the county it acts for: reporting its cases upward)
READERS = (Role.investigator, Role.bureau, Role.province, Role.system)
WORKERS = (Role.investigator,)


def load_case(session: Session, actor: Actor, case_id: int, *, write: bool = False) -> CaseFile:
    require_role(actor, *(WORKERS if write else READERS))
    case = session.get(CaseFile, case_id)
    if case is None or not in_scope(actor, case.county_id):
        raise NotFound("Not found.")
    return case


def load_working(session: Session, actor: Actor, case_id: int) -> CaseFile:
    """A case whose content may change: not closed."""
    case = load_case(session, actor, case_id, write=True)
    if case.status not in workflow.WORKING:
        raise Conflict("The case is closed; reopen it to change it.")
    return case


def get_case(session: Session, actor: Actor, case_id: int) -> CaseFile:
    return load_case(session, actor, case_id)


def can_read(actor: Actor) -> bool:
    """May read case files (of the county in scope): the CDC, the bureau, the province."""
    return actor.role in READERS


def can_work(actor: Actor) -> bool:
    """May change case files: the county CDC's investigators."""
    return actor.role in WORKERS
