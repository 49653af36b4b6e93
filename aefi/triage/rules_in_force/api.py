"""The rules in force as JSON (read-only). The triage decision itself is in every report's
body (API.md, "Triage")."""

from __future__ import annotations

from fastapi import APIRouter

from aefi.deps import ApiActor, SessionDep
from aefi.triage.rules_in_force import service as rules_in_force
from aefi.triage.schemas import (
    RulesOut,
)

router = APIRouter(prefix="/api/v1", tags=["triage"])


@router.get("/triage/rules", response_model=RulesOut)
def rules(session: SessionDep, actor: ApiActor) -> RulesOut:
    view = rules_in_force.effective_rules(session, actor)
    return RulesOut(
        version=view.ruleset.version,
        declared_version=view.ruleset.declared_version,
        path=str(view.path),
        error=view.error,
        text=view.ruleset.text,
    )
