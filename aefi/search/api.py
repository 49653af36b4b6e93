"""``GET /api/v1/search?q=``: the header's search for API clients (the same rule and audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from aefi import i18n
from aefi.deps import ApiActor, SessionDep
from aefi.search import service

router = APIRouter(prefix="/api/v1", tags=["search"])


class HitOut(BaseModel):
    title: str
    detail: str
    url: str
    exact: bool


class GroupOut(BaseModel):
    kind: str
    label: str
    hits: list[HitOut]


class SearchOut(BaseModel):
    q: str
    total: int
    jump: str | None
    groups: list[GroupOut]


@router.get("/search", response_model=SearchOut)
def search(
    session: SessionDep,
    actor: ApiActor,
    q: Annotated[str, Query(max_length=service.MAX_QUERY)] = "",
) -> SearchOut:
    """Reports, case files, referrals (a hospital's), persons (masked) and lots matching a
    number, an ID number or a name, in the caller's scope; ``jump`` is the page of the only
    exact match, if there is one. Every search is audited."""
    result = service.search(session, actor, q)
    return SearchOut(
        q=result.q,
        total=result.total,
        jump=result.jump,
        groups=[
            GroupOut(
                kind=kind,
                label=i18n.gettext(service.KINDS[kind]),
                hits=[
                    HitOut(title=h.title, detail=h.detail, url=h.url, exact=h.exact) for h in hits
                ],
            )
            for kind, hits in result.groups.items()
        ],
    )
