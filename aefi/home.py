"""The home page: what each role needs first when it logs in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import col, func, select

from aefi.deps import SessionDep, WebActor
from aefi.intake import access as intake_access
from aefi.registry.models import Dose, Hospital, Lot, Site
from aefi.ui_wiring import HOME_VIEWS
from aefi.web import render

router = APIRouter()


@router.get("/")
def home(request: Request, session: SessionDep, actor: WebActor):
    """The role's own home page where a domain has one (``aefi.ui_wiring.HOME_VIEWS``:
    observation board, inbox, dashboard), else this summary."""
    if actor.role in HOME_VIEWS:
        return HOME_VIEWS[actor.role](request, session, actor)
    ctx: dict = {"actor": actor}
    if actor.site_id:
        ctx["site"] = session.get(Site, actor.site_id)
        # A site's reporter files from here.
        ctx["can_file"] = intake_access.can_file(actor)
        ctx["site_doses"] = session.exec(
            select(func.count()).select_from(Dose).where(Dose.site_id == actor.site_id)
        ).one()
    if actor.hospital_id:
        ctx["hospital"] = session.get(Hospital, actor.hospital_id)
    if actor.is_county_wide:
        from aefi.registry import lot_states

        stopped = lot_states.blocked_lots(session, actor.county_id)  # unusable here
        ids = list(stopped)[:20]
        ctx["lot_states"] = stopped
        ctx["lots_not_active"] = (
            session.exec(select(Lot).where(col(Lot.id).in_(ids))).all() if ids else []
        )
        ctx["site_count"] = session.exec(
            select(func.count()).select_from(Site).where(Site.county_id == actor.county_id)
        ).one()
    return render(request, "home.html", ctx)
