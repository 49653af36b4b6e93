"""Clusters as JSON: the county's list and one cluster with its members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aefi.deps import ApiActor, SessionDep
from aefi.triage.cluster_review import service as cluster_review
from aefi.triage.schemas import (
    ClusterOut,
)
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["triage"])


def _cluster(view: cluster_review.ClusterView) -> ClusterOut:
    c = view.cluster
    return ClusterOut.model_validate({**c.model_dump(), "report_ids": [r.id for r in view.members]})


@router.get("/clusters", response_model=list[ClusterOut])
def clusters(
    session: SessionDep,
    actor: ApiActor,
    status_: Annotated[str, Query(alias="status")] = "open",
) -> list[ClusterOut]:
    rows = cluster_review.list_clusters(session, actor, status=status_)
    return [ClusterOut.model_validate(c, from_attributes=True) for c in rows]


@router.get("/clusters/{cluster_id}", response_model=ClusterOut)
def cluster(cluster_id: Id, session: SessionDep, actor: ApiActor) -> ClusterOut:
    return _cluster(cluster_review.get_cluster(session, actor, cluster_id))
