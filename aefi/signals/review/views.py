"""Signal review pages: the overview ranked by strength, one signal with its chart, its
review status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, BeforeValidator

from aefi import audit, exporting, i18n, listing
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import parse_form
from aefi.i18n import N_
from aefi.registry.records import service as registry_records
from aefi.signals import access, charts, expected, presenters
from aefi.signals.halts.service import list_halts
from aefi.signals.models import SignalLevel, SignalMethod, SignalScope, SignalStatus
from aefi.signals.review import export as signal_export
from aefi.signals.review import service
from aefi.signals.scans.service import latest_full_run
from aefi.types import Id
from aefi.web import flash, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

# --- overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalQuery:
    """The signal overview's filters, as the query string carries them."""

    status: str = listing.choice([s.value for s in SignalStatus], label=N_("Status"))
    level: str = listing.choice([lv.value for lv in SignalLevel], label=N_("Level"))
    scope: str = listing.choice([s.value for s in SignalScope], label=N_("Scope"))
    method: str = listing.choice([m.value for m in SignalMethod], label=N_("Method"))
    event_group: str = listing.choice(expected.GROUPS, label=N_("Event group"))
    lot_number: str = listing.labelled("", N_("Lot number"))
    open_only: bool = listing.labelled(True, N_("Open only"))
    sort: str = listing.sorting(tuple(service.SIGNAL_SORTS))


@router.get("/signals")
def overview(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(SignalQuery, request.query_params)
    wanted = service.SignalFilter(
        lot_number=flt.lot_number,
        status=flt.status,
        level=flt.level,
        scope=flt.scope,
        method=flt.method,
        event_group=flt.event_group,
        open_only=flt.open_only and not flt.status,
        sort=flt.sort,
    )
    fmt = listing.export_format(request.query_params)
    if fmt:
        rows = exporting.collect(
            session,
            actor,
            lambda n, size: service.list_signals(session, actor, wanted, page=n, per_page=size),
            what="signals",
            filter_text=listing.query_string(flt),
            fmt=fmt,
        )
        return exporting.response(
            signal_export.columns(), rows, what="signals", sheet=i18n.gettext("Signals"), fmt=fmt
        )
    page = listing.fetch(
        lambda n, size: service.list_signals(session, actor, wanted, page=n, per_page=size),
        listing.paging(request.query_params, per_page=50),
    )
    return render(
        request,
        "signals/overview.html",
        {
            **presenters.common(actor),
            **listing.context("/signals", flt, page),
            "open_only": flt.open_only,
            "run": latest_full_run(session),
            "can_scan": access.can_scan(actor),
        },
        block="results",
    )


# --- one signal ------------------------------------------------------------------------------


def _chart(session, actor, signal_id: Id) -> str:
    row, series = service.signal_series(session, actor, signal_id)
    sig = row.signal
    what = service.describe(session, sig)
    if sig.method == SignalMethod.disproportionality:
        text = charts.ChartText(
            title=what,
            observed=i18n.gettext("Reports with the vaccine and the event (a)"),
            expected=i18n.gettext("Expected if the event were as common as with other vaccines"),
            boundary="",
            x_label=i18n.gettext("Month received"),
            y_label=i18n.gettext("Reports (cumulative)"),
        )
    else:
        cv = series.cv
        text = charts.ChartText(
            title=what,
            observed=i18n.gettext("Observed (cumulative)"),
            expected=i18n.gettext("Expected (cumulative)"),
            boundary=i18n.gettext("MaxSPRT boundary: events needed to signal"),
            x_label=i18n.gettext("Date"),
            y_label=i18n.gettext("Number of reports"),
            note=i18n.gettext(
                "alpha {alpha}, M = {m}, T = {t}, CV = {cv}",
                alpha=(sig.details or {}).get("alpha", ""),
                m=series.min_events,
                t=f"{series.upper_limit:.3g}" if series.upper_limit else "-",
                cv=f"{cv:.3f}" if cv else i18n.gettext("none (any excess)"),
            ),
        )
    return charts.observed_expected_svg(
        series.times, series.observed, series.expected, series.boundary, text
    )


@router.get("/signals/{signal_id:int}")
def signal_page(request: Request, signal_id: Id, session: SessionDep, actor: WebActor):
    row = service.get_signal(session, actor, signal_id)
    reports = service.observed_reports(session, row)
    return render(
        request,
        "signals/detail.html",
        {
            **presenters.common(actor),
            "row": row,
            "can_decide": access.can_decide(actor),
            "can_review": access.can_review(actor),
            "can_release_hold": access.can_release_hold(actor),
            "s": row.signal,
            # The lot's state in the actor's county (a shared lot is held per county).
            "lot_state": registry_records.lot_state(session, actor, row.lot) if row.lot else None,
            "what": service.describe(session, row.signal),
            "chart": _chart(session, actor, signal_id),
            "reports": reports[:200],
            "report_count": len(reports),
            "events": audit.timeline(session, "signal", signal_id),
            "halts": [h for h in list_halts(session, actor) if signal_id in (h.signal_ids or [])],
        },
    )


@router.get("/signals/{signal_id:int}/chart.svg")
def signal_chart(signal_id: Id, session: SessionDep, actor: WebActor):
    return Response(_chart(session, actor, signal_id), media_type="image/svg+xml")


class SignalStatusForm(BaseModel):
    status: str = ""  # checked by the service, which names the allowed moves
    note: str = ""
    release_hold: Annotated[bool, BeforeValidator(lambda v: v == "on")] = False


@router.post("/signals/{signal_id:int}/status")
async def signal_status(request: Request, signal_id: Id, session: SessionDep, actor: WebActor):
    form = await parse_form(request, SignalStatusForm)
    if not isinstance(form, SignalStatusForm):
        form = SignalStatusForm()
    try:
        service.set_signal_status(
            session, actor, signal_id, form.status, form.note, release_hold=form.release_hold
        )
    except Invalid as exc:
        session.rollback()
        flash(request, i18n.gettext(exc.message, **exc.params), "error")
    else:
        flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse(f"/signals/{signal_id}", status_code=303)
