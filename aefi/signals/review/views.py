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
from aefi.signals import access, charts, expected, plain, presenters
from aefi.signals.halts.service import list_halts
from aefi.signals.models import SignalLevel, SignalMethod, SignalScope, SignalStatus
from aefi.signals.review import alerts as review_alerts
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
    if fmt := listing.export_format(request.query_params):
        return exporting.export_list(
            session,
            actor,
            signal_export.SIGNALS,
            lambda n, size: service.list_signals(session, actor, wanted, page=n, per_page=size),
            fmt=fmt,
            filter_text=listing.query_string(flt),
        )
    page = listing.fetch(
        lambda n, size: review_alerts.list_alerts(session, actor, wanted, page=n, per_page=size),
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
            "unusual": review_alerts.how_unusual,
            "target_name": review_alerts.target_name,
            "can_scan": access.can_scan(actor),
        },
        block="results",
    )


# --- one signal ------------------------------------------------------------------------------


def _chart(session, actor, signal_id: Id, *, narrow: bool = False) -> str:
    if service.get_signal(session, actor, signal_id).signal.method == (
        SignalMethod.active_surveillance
    ):
        return ""  # responders, not a count over time: the figures are in the words
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
            observed=i18n.gettext("Reports so far"),
            expected=i18n.gettext("Expected so far, from the doses given"),
            boundary=i18n.gettext("Count at which a halt is recommended"),
            x_label=i18n.gettext("Surveillance period: first dose to today"),
            y_label=i18n.gettext("Number of reports"),
            note=i18n.gettext(
                "alpha {alpha}, M = {m}, T = {t}, CV = {cv}",
                alpha=(sig.details or {}).get("alpha", ""),
                m=series.min_events,
                t=plain.amount(series.upper_limit) if series.upper_limit else "-",
                cv=f"{cv:.3f}" if cv else i18n.gettext("none (any excess)"),
            ),
            events=i18n.gettext("A report (its onset)"),
            start=i18n.gettext("Surveillance plan started"),
        )
    return charts.observed_expected_svg(
        series.times,
        series.observed,
        series.expected,
        series.boundary,
        text,
        narrow=narrow,
        events=series.events,
        started_at=series.started_at,
    )


@router.get("/signals/{signal_id:int}")
def signal_page(request: Request, signal_id: Id, session: SessionDep, actor: WebActor):
    """The alert the signal belongs to: its strongest evidence first, in plain words, the
    options, the chart of the surveillance period, the reports; the statistics of the
    signal asked for in a panel that opens."""
    row = service.get_signal(session, actor, signal_id)
    alert = review_alerts.alert_of(session, actor, signal_id)
    lead = alert.lead
    reach = review_alerts.reach(session, actor, *alert.key)
    reports, report_count = review_alerts.report_lines(session, actor, alert)
    lot_row = lead if lead.signal.scope == "lot" else None
    return render(
        request,
        "signals/detail.html",
        {
            **presenters.common(actor),
            "row": row,
            "s": row.signal,
            "alert": alert,
            "lead": lead,
            "reach": reach,
            "can_decide": access.can_decide(actor),
            "can_review": access.can_review(actor),
            "can_release_hold": access.can_release_hold(actor),
            # The lot's state in the actor's county (a shared lot is held per county).
            "lot_state": (
                registry_records.lot_state(session, actor, lot_row.lot)
                if lot_row is not None and lot_row.lot
                else None
            ),
            "target": review_alerts.target_name(lead),
            "seen": review_alerts.seen(lead, reach.sites),
            "unusual": review_alerts.how_unusual(lead),
            "how_unusual": review_alerts.how_unusual,
            "plain": plain,
            "what": service.describe(session, row.signal),
            "chart": _chart(session, actor, lead.signal.id),
            "chart_narrow": _chart(session, actor, lead.signal.id, narrow=True),
            "reports": reports,
            "report_count": report_count,
            "events": audit.timeline(session, "signal", signal_id),
            "halts": [
                h
                for h in list_halts(session, actor)
                if set(alert.signal_ids) & set(h.signal_ids or [])
                or (h.scope, h.target_id) == alert.key
            ],
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
        review_alerts.review_alert(
            session, actor, signal_id, form.status, form.note, release_hold=form.release_hold
        )
    except Invalid as exc:
        session.rollback()
        flash(request, i18n.gettext(exc.message, **exc.params), "error")
    else:
        flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse(f"/signals/{signal_id}", status_code=303)
