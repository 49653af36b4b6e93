"""Signal and halt pages: the overview ranked by strength, a signal with its chart, the
halt decisions with their notice, and the expected-rate table for the administrator."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from aefi import audit, i18n, navigation
from aefi.auth.models import Role
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.registry import service as registry_service
from aefi.signals import charts, expected, service
from aefi.signals.models import HaltScope, SignalLevel, SignalMethod, SignalScope, SignalStatus
from aefi.types import Id, PageNo, parse_id
from aefi.web import flash, parse_local, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

navigation.add((Role.bureau, Role.investigator, Role.province), "/signals", N_("Signals"))
navigation.add(
    (Role.bureau, Role.investigator, Role.reporter, Role.province), "/halts", N_("Halts")
)
navigation.add((Role.admin,), "/signals/rates", N_("Expected rates"))


HALT_STATES = {
    "pending": N_("Not yet in force"),
    "in force": N_("Halt in force"),
    "lifted": N_("Halt lifted"),
}


LEVELS = {"signal": N_("Signal for review"), "halt_recommended": N_("Halt recommended")}
METHODS = {"maxsprt": N_("MaxSPRT"), "disproportionality": N_("Disproportionality")}
STATUSES = {
    "new": N_("New, not reviewed"),
    "under_review": N_("Under review"),
    "dismissed": N_("Dismissed"),
    "escalated": N_("Escalated for decision"),
}


def _label(table: dict[str, str]):
    return lambda value: i18n.gettext(table.get(value, value))


def _state_label(state: str) -> str:
    return i18n.gettext(HALT_STATES.get(state, state))


def _group_label(group: str) -> str:
    return expected.group_label(group, i18n.get_locale())


def _common(actor) -> dict:
    return {
        "actor": actor,
        "group_label": _group_label,
        "state_label": _state_label,
        "level_label": _label(LEVELS),
        "method_label": _label(METHODS),
        "status_label": _label(STATUSES),
        "groups": list(expected.GROUPS),
        "statuses": [s.value for s in SignalStatus],
        "levels": [lv.value for lv in SignalLevel],
        "scopes": [s.value for s in SignalScope],
        "methods": [m.value for m in SignalMethod],
    }


# --- overview ------------------------------------------------------------------------------


@router.get("/signals")
def overview(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    status: str = "",
    level: str = "",
    scope: str = "",
    method: str = "",
    event_group: str = "",
    lot_number: str = "",
    open_only: bool = True,
    page: PageNo = 1,
):
    flt = service.SignalFilter(
        lot_number=lot_number,
        status=status,
        level=level,
        scope=scope,
        method=method,
        event_group=event_group,
        open_only=open_only and not status,
    )
    rows, total = service.list_signals(session, actor, flt, page=max(page, 1), per_page=50)
    run = service.latest_full_run(session)
    query = (
        f"status={status}&level={level}&scope={scope}&method={method}"
        f"&event_group={event_group}&lot_number={lot_number}"
        f"&open_only={'true' if open_only else 'false'}&"
    )
    return render(
        request,
        "signals/overview.html",
        {
            **_common(actor),
            "rows": rows,
            "total": total,
            "page": max(page, 1),
            "per_page": 50,
            "flt": flt,
            "open_only": open_only,
            "run": run,
            "base": f"/signals?{query}",
        },
        block="results",
    )


@router.post("/signals/scan")
def scan_now(request: Request, session: SessionDep, actor: WebActor):
    result = service.run_scan(session, actor, trigger="web")
    flash(
        request,
        i18n.gettext(
            "Scan done: {cells} cells in {s} s, {n} new or raised signals, {h} lots put on hold.",
            cells=result.cells,
            s=f"{result.run.seconds:.2f}",
            n=len(result.changed),
            h=len(result.held),
        ),
        "success",
    )
    return RedirectResponse("/signals", status_code=303)


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
    from aefi.signals import scan

    reports = (
        scan.observed_reports(
            session, row.signal.scope, row.signal.target_id, row.signal.event_group
        )
        if row.signal.method == SignalMethod.maxsprt
        else []
    )
    return render(
        request,
        "signals/detail.html",
        {
            **_common(actor),
            "row": row,
            "s": row.signal,
            # The lot's state in the actor's county (a shared lot is held per county).
            "lot_state": registry_service.lot_state(session, actor, row.lot) if row.lot else None,
            "what": service.describe(session, row.signal),
            "chart": _chart(session, actor, signal_id),
            "reports": reports[:200],
            "report_count": len(reports),
            "events": audit.timeline(session, "signal", signal_id),
            "halts": [
                h for h in service.list_halts(session, actor) if signal_id in (h.signal_ids or [])
            ],
        },
    )


@router.get("/signals/{signal_id:int}/chart.svg")
def signal_chart(signal_id: Id, session: SessionDep, actor: WebActor):
    return Response(_chart(session, actor, signal_id), media_type="image/svg+xml")


@router.post("/signals/{signal_id:int}/status")
async def signal_status(request: Request, signal_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    try:
        service.set_signal_status(
            session,
            actor,
            signal_id,
            str(form.get("status", "")),
            str(form.get("note", "")),
            release_hold=form.get("release_hold") == "on",
        )
    except Invalid as exc:
        session.rollback()
        flash(request, i18n.gettext(exc.message, **exc.params), "error")
    else:
        flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse(f"/signals/{signal_id}", status_code=303)


# --- halts --------------------------------------------------------------------------------


@router.get("/halts")
def halts_page(request: Request, session: SessionDep, actor: WebActor):
    halts = service.list_halts(session, actor)
    return render(
        request,
        "signals/halts.html",
        {
            **_common(actor),
            "active": [h for h in halts if h.lifted_at is None],
            "lifted": [h for h in halts if h.lifted_at is not None],
        },
        block="results",
    )


def _halt_form(request, actor, values, errors, status_code=200, error=""):
    return render(
        request,
        "signals/halt_form.html",
        {
            **_common(actor),
            "values": values,
            "errors": errors,
            "error": error,
            "halt_scopes": [s.value for s in HaltScope],
        },
        status_code=status_code,
    )


@router.get("/halts/new")
def new_halt(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    scope: str = "lot",
    target: str = "",
    signal_ids: str = "",
    reason: str = "",
):
    service.require_role(actor, *service.DECIDERS)
    values = {"scope": scope, "target": target, "signal_ids": signal_ids, "reason": reason}
    return _halt_form(request, actor, values, {})


def _ids(raw: str) -> list[int]:
    out = []
    for part in str(raw or "").replace("，", ",").replace(" ", ",").split(","):
        part = part.strip().lstrip("#")
        if part:
            out.append(parse_id(part, "ids"))
    return out


@router.post("/halts/new")
async def issue_halt(request: Request, session: SessionDep, actor: WebActor):
    form = await request.form()
    values = {
        k: str(form.get(k, "") or "")
        for k in (
            "scope",
            "target",
            "reason",
            "signal_ids",
            "cluster_ids",
            "report_ids",
            "effective_at",
        )
    }
    errors: dict[str, str] = {}
    ids: dict[str, list[int]] = {}
    for k in ("signal_ids", "cluster_ids", "report_ids"):
        try:
            ids[k] = _ids(values[k])
        except ValueError:
            errors[k] = i18n.gettext("Enter numbers separated by commas.")
    effective: datetime | None = None
    if values["effective_at"].strip():
        try:
            effective = parse_local(values["effective_at"])
        except ValueError:
            errors["effective_at"] = i18n.gettext("Enter a date and time.")
    if errors:
        return _halt_form(
            request, actor, values, errors, 422, i18n.gettext("Some fields need correcting.")
        )
    try:
        halt = service.issue_halt(
            session,
            actor,
            scope=values["scope"],
            target=values["target"],
            reason=values["reason"],
            effective_at=effective,
            **ids,
        )
    except Invalid as exc:
        session.rollback()
        errs = {k: i18n.gettext(v) for k, v in exc.fields.items()}
        return _halt_form(
            request, actor, values, errs, 422, i18n.gettext(exc.message, **exc.params)
        )
    flash(request, i18n.gettext("Halt decision {number} issued.", number=halt.number), "success")
    return RedirectResponse(f"/halts/{halt.id}", status_code=303)


@router.get("/halts/{halt_id:int}")
def halt_page(request: Request, halt_id: Id, session: SessionDep, actor: WebActor):
    view = service.halt_view(session, actor, halt_id)
    return render(
        request,
        "signals/halt.html",
        {
            **_common(actor),
            "v": view,
            "h": view.halt,
            "events": audit.timeline(session, "halt_decision", halt_id),
            "lift_errors": {},
        },
    )


@router.post("/halts/{halt_id:int}/lift")
async def lift(request: Request, halt_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    reason = str(form.get("reason", "") or "")
    try:
        halt = service.lift_halt(session, actor, halt_id, reason)
    except Invalid as exc:
        session.rollback()
        view = service.halt_view(session, actor, halt_id)
        return render(
            request,
            "signals/halt.html",
            {
                **_common(actor),
                "v": view,
                "h": view.halt,
                "events": audit.timeline(session, "halt_decision", halt_id),
                "lift_errors": {k: i18n.gettext(v) for k, v in exc.fields.items()},
                "lift_reason": reason,
            },
            status_code=422,
        )
    flash(request, i18n.gettext("{number} is lifted.", number=halt.number), "success")
    return RedirectResponse(f"/halts/{halt_id}", status_code=303)


@router.get("/halts/{halt_id:int}/notice.pdf")
def halt_notice(halt_id: Id, session: SessionDep, actor: WebActor):
    halt, pdf = service.halt_notice_pdf(session, actor, halt_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="halt-{halt.id}.pdf"'},
    )


# --- expected rates (admin edits, county roles read) -----------------------------------------


@router.get("/signals/rates")
def rates_page(request: Request, session: SessionDep, actor: WebActor):
    rows = service.list_rates(session, actor)
    return render(request, "signals/rates.html", {**_common(actor), "rows": rows})


def _rate_form(request, actor, values, errors, record=None, status_code=200, events=()):
    return render(
        request,
        "signals/rate_form.html",
        {
            **_common(actor),
            "values": values,
            "errors": errors,
            "record": record,
            "events": events,
            "windows": expected.DEFAULT_WINDOWS,
        },
        status_code=status_code,
    )


@router.get("/signals/rates/new")
def new_rate(request: Request, actor: WebActor, event_group: str = "anaphylaxis"):
    service.require_role(actor, *service.RATE_EDITORS)
    start, end = expected.DEFAULT_WINDOWS.get(event_group, (0, 1))
    values = {
        "vaccine_code": "*",
        "event_group": event_group,
        "rate_per_dose": "",
        "window_start_days": start,
        "window_end_days": end,
        "source": "",
    }
    return _rate_form(request, actor, values, {})


@router.get("/signals/rates/{rate_id:int}")
def edit_rate(request: Request, rate_id: Id, session: SessionDep, actor: WebActor):
    row = service.get_rate(session, actor, rate_id)
    values = {f: getattr(row, f) for f in service.RATE_FIELDS}
    return _rate_form(
        request, actor, values, {}, row, events=audit.timeline(session, "expected_rate", rate_id)
    )


@router.post("/signals/rates/new")
@router.post("/signals/rates/{rate_id:int}")
async def save_rate(
    request: Request, session: SessionDep, actor: WebActor, rate_id: Id | None = None
):
    form = await request.form()
    values = {f: form.get(f, "") for f in service.RATE_FIELDS}
    try:
        row = service.save_rate(session, actor, rate_id, values)
    except Invalid as exc:
        session.rollback()
        record = service.get_rate(session, actor, rate_id) if rate_id else None
        errs = {k: i18n.gettext(v) for k, v in exc.fields.items()}
        return _rate_form(request, actor, values, errs, record, status_code=422)
    flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse(f"/signals/rates/{row.id}", status_code=303)
