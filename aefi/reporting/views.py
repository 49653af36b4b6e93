"""Reporting pages: the county dashboard, the daily report (日报), the indicators, lot and
person traceability (追溯) and the follow-up list after a halt or recall."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlmodel import select

from aefi import clock, i18n, listing
from aefi.aftercare.checkin import service as checkin_answers
from aefi.auth.models import Role
from aefi.auth.permissions import mask_name, sees_all_sites, sees_identity
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import parse_form
from aefi.i18n import N_
from aefi.intake.symptoms import EVENT_GROUPS, group_name
from aefi.observation.models import STATE_LABELS as OBS_LABELS
from aefi.pdf import render_pdf
from aefi.registry import access as registry_access
from aefi.registry.lots import service as registry_lots
from aefi.registry.models import Vaccine
from aefi.reporting import charts, exports, trends
from aefi.reporting.county import service as county_view
from aefi.reporting.daily import service as daily
from aefi.reporting.follow_up import service as follow_up
from aefi.reporting.indicators import KEY_FIELDS
from aefi.reporting.models import CONTACT_LABELS, FIGURES, ContactOutcome
from aefi.reporting.trace import service as tracing
from aefi.reporting.trend import service as county_trend
from aefi.types import Id, ascii_int, sane_year
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

COUNTY = (Role.investigator, Role.bureau)

FOLLOW_UP_LABELS = {**CONTACT_LABELS, "not_contacted": N_("Not contacted yet")}


def _date(text: str, default: date, field: str = "day") -> date:
    if not text.strip():
        return default
    try:
        return sane_year(date.fromisoformat(text.strip()))
    except ValueError:
        raise Invalid("Enter a date as YYYY-MM-DD.", fields={field: "date"}) from None


def _attachment(body: bytes | str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- dashboard -------------------------------------------------------------------------------


@router.get("/dashboard")
def dashboard_page(request: Request, session: SessionDep, actor: WebActor):
    board = county_view.dashboard(session, actor)
    ctx: dict[str, Any] = {"dash": board, "actor": actor}
    # The tiles refresh themselves every 30 s (htmx, the tiles only); the trend with them.
    if not is_htmx(request):
        ctx.update(_trend_context(county_trend.dashboard_trend(session, actor)))
    return render(request, "reporting/dashboard.html", ctx)


def _trend_context(trend: county_trend.Trend) -> dict[str, Any]:
    curve = trend.curve
    names = [
        i18n.gettext("Other event groups") if g == trends.OTHER else group_name(g)
        for g in curve.groups
    ]
    week_labels = [m.strftime("%m-%d") for m in curve.weeks]
    chart = charts.epi_curve_chart(
        week_labels,
        list(zip(names, curve.counts, strict=True)),
        title=i18n.gettext(
            "Reports per week by event group (onset), last {n} weeks", n=len(curve.weeks)
        ),
        x_label=i18n.gettext("Week beginning (Monday)"),
        y_label=i18n.gettext("Reports"),
    )
    return {"trend": trend, "curve_chart": chart, "curve_names": names}


def dashboard_home(request: Request, session, actor):
    """The bureau's and the CDC's home page is the county dashboard."""
    return dashboard_page(request, session, actor)


# --- daily report ----------------------------------------------------------------------------


def _daily_form_page(
    request, session, actor, day: date, *, site_id=None, values=None, errors=None, status=200
):
    form = daily.daily_form(session, actor, day, site_id)
    basis = daily.DayFigures.of_report(form.latest) if form.latest else form.computed
    lines = {(x.vaccine_id, x.dose_number): x for x in form.computed.dose_lines}
    for x in basis.dose_lines:
        lines.setdefault((x.vaccine_id, x.dose_number), x)
    shown = {
        name: (values or {}).get(name, basis.value(name)) for name, _l in FIGURES if name != "doses"
    }
    recorded = {(x.vaccine_id, x.dose_number): x.count for x in form.computed.dose_lines}
    submitted = {(x.vaccine_id, x.dose_number): x.count for x in basis.dose_lines}
    dose_rows = [
        {
            "key": f"dose:{vid}:{num}",
            "line": lines[(vid, num)],
            "recorded": recorded.get((vid, num), 0),
            "value": (values or {}).get(f"dose:{vid}:{num}", submitted.get((vid, num), 0)),
        }
        for vid, num in sorted(lines, key=lambda k: (lines[k].vaccine_code, k[1]))
    ]
    return render(
        request,
        "reporting/daily_form.html",
        {
            "form": form,
            "figures": FIGURES,
            "shown": shown,
            "dose_rows": dose_rows,
            "vaccines": session.exec(select(Vaccine).order_by(Vaccine.code)).all(),
            "values": values or {},
            "errors": errors or {},
            "actor": actor,
        },
        status_code=status,
    )


@router.get("/daily")
def daily_page(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    day: str = "",
    site_id: Id | None = None,
):
    when = _date(day, daily.today())
    if not sees_all_sites(actor) or site_id is not None:
        return _daily_form_page(request, session, actor, when, site_id=site_id)
    status = daily.day_status(session, actor, when)
    return render(
        request,
        "reporting/daily_county.html",
        {
            "status": status,
            "figures": FIGURES,
            "labels": daily.STATE_LABELS,
            "week_ago": (when - timedelta(days=6)).isoformat(),
            "actor": actor,
        },
    )


class DailyForm(BaseModel):
    """The daily report as typed. Its figures and its dose lines (``dose:<vaccine>:<n>``)
    are named by the data, so they come as extra inputs; the service checks every one."""

    model_config = ConfigDict(extra="allow")

    day: str = ""
    site_id: str = ""
    add_vaccine: str = ""  # the "add a dose line" row
    add_dose: str = "1"
    add_count: str = ""
    remark: str = ""
    confirm: str = ""


@router.post("/daily")
async def daily_submit(request: Request, session: SessionDep, actor: WebActor):
    form = await parse_form(request, DailyForm)
    if not isinstance(form, DailyForm):
        form = DailyForm()
    when = _date(form.day, daily.today())
    site_id = ascii_int(form.site_id)
    values: dict[str, Any] = {
        k: v
        for k, v in (form.model_extra or {}).items()
        if k in {n for n, _l in FIGURES} or k.startswith("dose:")
    }
    if ascii_int(form.add_vaccine) is not None and form.add_count.strip():
        values[f"dose:{form.add_vaccine}:{form.add_dose or 1}"] = form.add_count
    remark = form.remark
    try:
        report = daily.submit_daily(
            session,
            actor,
            when,
            values,
            remark=remark,
            confirmed=form.confirm == "yes",
            site_id=site_id,
        )
    except Invalid as exc:
        session.rollback()
        errors = {k: i18n.gettext(v) for k, v in exc.fields.items()}
        errors["_"] = i18n.gettext(exc.message, **exc.params)
        return _daily_form_page(
            request,
            session,
            actor,
            when,
            site_id=site_id,
            values={**values, "remark": remark},
            errors=errors,
            status=422,
        )
    flash(
        request,
        i18n.gettext("Daily report submitted (version {v}).", v=report.version),
        "success",
    )
    target = f"/daily?day={when.isoformat()}" + (f"&site_id={site_id}" if site_id else "")
    return RedirectResponse(target, status_code=303)


def _period(since: str, until: str) -> tuple[date, date]:
    today = daily.today()
    end = _date(until, today, "until")
    return _date(since, end, "since"), end


def _daily_export(session, actor, since: date, until: date):
    summary = daily.summary(session, actor, since, until)
    status = daily.day_status(session, actor, since) if since == until else None
    return summary, status


@router.get("/daily/summary")
def daily_summary(
    request: Request, session: SessionDep, actor: WebActor, since: str = "", until: str = ""
):
    start, end = _period(since, until)
    summary, status = _daily_export(session, actor, start, end)
    return render(
        request,
        "reporting/daily_summary.html",
        {
            "summary": summary,
            "tables": exports.daily_tables(summary, status),
            "since": start.isoformat(),
            "until": end.isoformat(),
            "actor": actor,
        },
    )


@router.get("/daily/summary.csv")
def daily_summary_csv(session: SessionDep, actor: WebActor, since: str = "", until: str = ""):
    start, end = _period(since, until)
    summary, status = _daily_export(session, actor, start, end)
    tables = exports.daily_tables(summary, status)
    daily.audit_export(session, actor, f"daily {start}..{end} csv", len(tables[0][2]))
    return _attachment(
        exports.to_csv(tables), "text/csv; charset=utf-8", f"daily-{start}-{end}.csv"
    )


@router.get("/daily/summary.pdf")
def daily_summary_pdf(session: SessionDep, actor: WebActor, since: str = "", until: str = ""):
    start, end = _period(since, until)
    summary, status = _daily_export(session, actor, start, end)
    tables = exports.daily_tables(summary, status)
    pdf = render_pdf(
        "pdf/daily_report.html",
        {"summary": summary, "status": status, "tables": tables, "now": clock.now()},
    )
    daily.audit_export(session, actor, f"daily {start}..{end} pdf", len(tables[0][2]))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="daily-{start}-{end}.pdf"'},
    )


# --- indicators ------------------------------------------------------------------------------


def _indicator_period(since: str, until: str) -> tuple[date, date]:
    end = _date(until, daily.today(), "until")
    return _date(since, end - timedelta(days=89), "since"), end


@router.get("/indicators")
def indicators_page(
    request: Request, session: SessionDep, actor: WebActor, since: str = "", until: str = ""
):
    start, end = _indicator_period(since, until)
    result = county_view.indicators(session, actor, start, end)
    pick = i18n.pick
    timeliness = [
        (i18n.gettext("Reports within 48 h"), result.reports_on_time.percent),
        (i18n.gettext("Investigations started within 48 h"),
         result.investigations_started.percent),
        (i18n.gettext("Forms completed within 3 days"), result.forms_completed.percent),
        (i18n.gettext("Final classification"), result.classified.percent),
        (i18n.gettext("Key fields complete"), result.completeness.complete.percent),
    ]  # fmt: skip
    rate_words = {
        "x_label": i18n.gettext("Reports per 100,000 doses"),
        "expected_label": i18n.gettext("Expected"),
    }
    svg = {
        "timeliness": charts.share_chart(timeliness, title=i18n.gettext("Timeliness")),
        "fields": charts.share_chart(
            [
                (i18n.gettext(label), result.completeness.fields[name].percent)
                for name, label in KEY_FIELDS
            ],
            title=i18n.gettext("Completeness of key fields"),
        ),
        "vaccine": charts.rate_chart(
            result.by_vaccine,
            [pick(x.label_zh, x.label_en) for x in result.by_vaccine],
            title=i18n.gettext("Reporting rate by vaccine"),
            **rate_words,
        ),
        "township": charts.rate_chart(
            result.by_township,
            [pick(x.label_zh, x.label_en) for x in result.by_township],
            title=i18n.gettext("Reporting rate by township"),
            **rate_words,
        ),
    }
    from aefi.aftercare.figures import service as checkin_figures

    return render(
        request,
        "reporting/indicators.html",
        {
            "r": result,
            "svg": svg,
            # Active surveillance (check-ins) of the doses given in the period.
            "checkins": checkin_figures.vaccine_figures(
                session, actor, *daily.period_bounds(start, end)
            ),
            "groups": EVENT_GROUPS,
            "key_fields": KEY_FIELDS,
            "since": start.isoformat(),
            "until": end.isoformat(),
            "actor": actor,
        },
    )


@router.get("/indicators.csv")
def indicators_csv(session: SessionDep, actor: WebActor, since: str = "", until: str = ""):
    start, end = _indicator_period(since, until)
    result = county_view.indicators(session, actor, start, end)
    tables = exports.indicator_tables(result)
    daily.audit_export(session, actor, f"indicators {start}..{end} csv", len(tables))
    return _attachment(
        exports.to_csv(tables), "text/csv; charset=utf-8", f"indicators-{start}-{end}.csv"
    )


# --- traceability ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceQuery:
    """The traceability search: a lot number, an ID number or a name."""

    q: str = listing.labelled("", N_("Lot number, ID number or name"))


@router.get("/trace")
def trace_search(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(TraceQuery, request.query_params)
    result = tracing.search(session, actor, flt.q)
    return render(
        request,
        "reporting/trace.html",
        {"r": result, "flt": flt, "actor": actor},
        block="results",
    )


@router.get("/lots/{lot_number}")
def lot_page(request: Request, lot_number: str, session: SessionDep, actor: WebActor):
    trace = tracing.lot_trace(session, actor, lot_number)
    persons = listing.fetch(
        lambda n, size: tracing.lot_persons(session, actor, lot_number, page=n, per_page=size),
        listing.Paging(1, 50),
    )
    from aefi.aftercare.figures import service as checkin_figures
    from aefi.signals.scans import siblings as sibling_views

    return render(
        request,
        "reporting/lot.html",
        {
            "checkins": checkin_figures.lot_figures(session, actor, trace.lot),
            "sv": None if trace.only_site else sibling_views.for_page(session, actor, trace.lot.id),
            "t": trace,
            "page": persons,
            "base": f"/lots/{quote(lot_number)}/persons?",
            "groups": EVENT_GROUPS,
            "group_name": group_name,
            "mask": mask_name,
            "actor": actor,
            "identity": sees_identity(actor),
            "can_recall": registry_access.can_record_recall(actor)
            and trace.lot.status != "recalled",
        },
    )


class RecallForm(BaseModel):
    notice: str = ""
    confirm: str = ""  # "yes": the second step, which names what a recall does, was ticked


@router.post("/lots/{lot_number}/recall")
async def lot_recall(request: Request, lot_number: str, session: SessionDep, actor: WebActor):
    """Record a recall notice, after the second step that names what it does."""
    form = await parse_form(request, RecallForm)
    if not isinstance(form, RecallForm):
        form = RecallForm()
    notice = form.notice.strip()
    if form.confirm != "yes":
        flash(
            request,
            i18n.gettext(
                "Tick the confirmation to record the recall: it stops the lot everywhere."
            ),
            "error",
        )
    else:
        try:
            registry_lots.record_recall(session, actor, lot_number, notice=notice)
        except Invalid:
            flash(request, i18n.gettext("Name the recall notice."), "error")
        else:
            flash(request, i18n.gettext("Recall recorded: the lot is withdrawn."), "success")
    return RedirectResponse(f"/lots/{lot_number}", status_code=303)


@router.get("/lots/{lot_number}/persons")
def lot_persons_page(request: Request, lot_number: str, session: SessionDep, actor: WebActor):
    page = listing.fetch(
        lambda n, size: tracing.lot_persons(session, actor, lot_number, page=n, per_page=size),
        listing.paging(request.query_params, per_page=50),
    )
    trace_lot = registry_access.get_lot(session, actor, lot_number)[0]
    return render(
        request,
        "reporting/lot_persons.html",
        {
            "lot": trace_lot,
            "page": page,
            "base": f"/lots/{quote(lot_number)}/persons?",
            "identity": sees_identity(actor),
        },
        block="persons",
    )


@router.get("/trace/persons/{person_id:int}")
def person_page(
    request: Request, person_id: Id, session: SessionDep, actor: WebActor, reveal: bool = False
):
    trace = tracing.person_trace(session, actor, person_id, reveal=reveal)
    return render(
        request,
        "reporting/person.html",
        {"p": trace, "obs_labels": OBS_LABELS, "contact_labels": CONTACT_LABELS},
    )


# --- follow-up after a halt or recall ------------------------------------------------------


def _days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    days = ascii_int(text)
    if days is None or not 1 <= days <= 36_500:
        raise Invalid("Enter a number of days of 1 or more.", fields={"days": "number"})
    return days


@router.get("/lots/{lot_number}/follow-up")
def follow_up_page(
    request: Request,
    lot_number: str,
    session: SessionDep,
    actor: WebActor,
    days: str = "",
    site_id: Id | None = None,
):
    fl = follow_up.follow_up_list(session, actor, lot_number, days=_days(days), site_id=site_id)
    overall = (
        follow_up.follow_up_list(session, actor, lot_number, days=_days(days))
        if site_id is not None and sees_all_sites(actor)
        else fl
    )
    return render(
        request,
        "reporting/follow_up.html",
        {
            "fl": fl,
            "checkins": checkin_answers.latest_answers(
                session, [r.dose.id for g in fl.groups for r in g.rows]
            ),
            "overall": overall,
            "days": days,
            "site_id": site_id,
            "labels": FOLLOW_UP_LABELS,
            "outcomes": list(ContactOutcome),
            "actor": actor,
        },
    )


class ContactForm(BaseModel):
    outcome: str = ""  # checked by the service against ContactOutcome
    note: str = ""
    back: str = ""


@router.post("/lots/{lot_number}/follow-up/{person_id:int}")
async def follow_up_contact(
    request: Request, lot_number: str, person_id: Id, session: SessionDep, actor: WebActor
):
    form = await parse_form(request, ContactForm)
    if not isinstance(form, ContactForm):
        form = ContactForm()
    contact = follow_up.record_contact(
        session, actor, lot_number, person_id, form.outcome, form.note
    )
    if contact.outcome == ContactOutcome.reaction:
        # A reaction is reported on the report card, with the dose of the lot linked.
        return RedirectResponse(f"/reports/new?dose_id={contact.dose_id}", status_code=303)
    flash(request, i18n.gettext("Contact recorded."), "success")
    back = form.back or f"/lots/{lot_number}/follow-up"
    return RedirectResponse(back if back.startswith("/") else "/", status_code=303)


@router.get("/lots/{lot_number}/follow-up.csv")
def follow_up_csv(session: SessionDep, actor: WebActor, lot_number: str, days: str = ""):
    rows = follow_up.follow_up_export(session, actor, lot_number, days=_days(days))
    return _attachment(
        exports.rows_csv(follow_up.CSV_COLUMNS, rows),
        "text/csv; charset=utf-8",
        f"follow-up-{lot_number}.csv",
    )
