"""The upward outbox page: what is pending, sent, acknowledged or rejected (and why)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request

from aefi import listing
from aefi.deps import SessionDep, WebActor
from aefi.i18n import N_
from aefi.interchange.models import UpstreamStatus
from aefi.interchange.upstream import service as upstream
from aefi.settings import get_settings
from aefi.web import render

router = APIRouter()

STATUS_LABELS = {
    UpstreamStatus.pending.value: N_("Awaiting send"),
    UpstreamStatus.sent.value: N_("Sent upstream"),
    UpstreamStatus.acknowledged.value: N_("Acknowledged upstream"),
    UpstreamStatus.rejected.value: N_("Rejected"),
}


@dataclass(frozen=True)
class OutboxQuery:
    status: str = listing.choice(tuple(STATUS_LABELS), label=N_("Status"))


@router.get("/interchange/outbox")
def outbox_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(OutboxQuery, request.query_params)
    page = listing.fetch(
        lambda n, size: upstream.list_outbox(session, actor, flt.status, page=n, per_page=size),
        listing.paging(request.query_params),
    )
    return render(
        request,
        "interchange/outbox.html",
        {
            **listing.context("/interchange/outbox", flt, page),
            "counts": upstream.counts(session, actor),
            "status_labels": STATUS_LABELS,
            "upstream": get_settings().upstream_url,
        },
        block="results",
    )
