"""What triage tells people: a report escalated, a cluster formed or grew, written once
in the county's working language.

Sent by durable jobs (aefi/flow.py: ``on_report_triaged`` of ``ReportTriaged``,
``on_cluster_formed`` of ``ClusterFormed``), seconds after the filing commits: the queue
item itself (``Escalation``) is in the filing's transaction, the notices to the people who
watch the queue are not on the physician's critical path. Delay bound: the job poll
interval (``jobs_poll_s``, 2 s) on a worker that is not behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from aefi import clock, i18n
from aefi.auth.models import Role
from aefi.intake.models import Report
from aefi.intake.symptoms import group_name
from aefi.notifications import service as notifications
from aefi.registry.models import Lot, Site
from aefi.settings import Settings, get_settings
from aefi.triage.access import QUEUE_ROLES
from aefi.triage.deadlines import first_due
from aefi.triage.models import (
    URGENCY_LABELS,
    Cluster,
    Escalation,
    Urgency,
)
from aefi.triage.rules import TriageDecision

if TYPE_CHECKING:
    from aefi.auth.permissions import Actor
    from aefi.events import ClusterFormed, ReportTriaged


def tells(event: ReportTriaged) -> bool:
    """Whether the decision has anything to tell: it put the report in the escalation
    queue or made it more urgent (``aefi/flow.py`` records the job only then)."""
    return bool(event.escalation) and event.urgency is not None


def on_report_triaged(session: Session, actor: Actor, event: ReportTriaged) -> None:
    """The decision put the report in the escalation queue or made it more urgent: tell
    the queue's people and the reporting site (the deadline as the queue item has it)."""
    if not tells(event):
        return
    report = session.get(Report, event.report_id)
    esc = session.exec(select(Escalation).where(Escalation.report_id == report.id)).first()
    notify_escalation(
        session,
        report,
        event.decision,
        Urgency(event.urgency),
        raised=event.escalation == "raised",
        due=esc.due_at if esc is not None else None,
    )


def on_cluster_formed(session: Session, actor: Actor, event: ClusterFormed) -> None:
    """A cluster formed or grew: tell the escalation queue's people."""
    cluster = session.get(Cluster, event.cluster_id)
    if cluster is not None:
        notify_cluster(session, cluster, created=event.created, settings=get_settings())


# --- notifications -------------------------------------------------------------------------


@contextmanager
def working_locale(locale: str) -> Iterator[None]:
    """Notifications are written once for many readers: in the county's working language."""
    token = i18n.set_locale(locale)
    try:
        yield
    finally:
        i18n._current.reset(token)


def _group_names(groups: Iterable[str]) -> str:
    names = [group_name(g) for g in groups]
    return "、".join(names) if i18n.get_locale() == "zh_CN" else ", ".join(names)


def _reason_lines(decision: TriageDecision, prefixes: tuple[str, ...]) -> list[str]:
    zh = i18n.get_locale() == "zh_CN"
    return [
        "- " + (r.text_zh if zh else r.text_en)
        for r in decision.reasons
        if r.rule.startswith(prefixes)
    ]


def notify_escalation(
    session: Session,
    report: Report,
    decision: TriageDecision,
    urgency: Urgency,
    *,
    raised: bool,
    due: datetime | None = None,
) -> None:
    settings = get_settings()
    site = session.get(Site, report.site_id)
    due = due or first_due(decision.deadlines, clock.now())
    with working_locale(settings.default_locale):
        from aefi.web import format_local

        level = i18n.gettext(URGENCY_LABELS[urgency])
        if raised:
            title = i18n.gettext(
                "More urgent: report {number} ({level})", number=report.number, level=level
            )
        else:
            title = i18n.gettext(
                "Escalated: report {number} ({level})", number=report.number, level=level
            )
        site_name = i18n.pick(site.name, site.name_en) if site else ""
        lines = [
            i18n.gettext("Site: {site}", site=site_name),
            i18n.gettext("Events: {groups}", groups=_group_names(report.event_groups)),
            i18n.gettext("Due: {due}", due=format_local(due)),
            "",
            *_reason_lines(
                decision,
                ("retriage.", "facts.", "serious.", "designated.", "escalate.", "referral."),
            ),
        ]
        notifications.notify(
            session,
            county_id=report.county_id,
            roles=QUEUE_ROLES,
            kind="escalation",
            title=title,
            body="\n".join(lines),
            link=f"/reports/{report.id}",
            urgent=True,
            settings=settings,
        )
        # The reporting site hears the outcome: what happens next and why.
        outcome = [
            i18n.gettext("Escalated to the county CDC and health bureau."),
        ]
        if decision.investigation_required:
            outcome.append(i18n.gettext("The county CDC will investigate."))
        if decision.referral_required:
            outcome.append(i18n.gettext("Refer the patient through the green channel."))
        notifications.notify(
            session,
            county_id=report.county_id,
            roles=(Role.reporter,),
            site_id=report.site_id,
            kind="escalation",
            title=i18n.gettext("Report {number}: what happens next", number=report.number),
            body="\n".join(
                [
                    *outcome,
                    "",
                    *_reason_lines(
                        decision,
                        (
                            "serious.",
                            "designated.",
                            "escalate.",
                            "referral.",
                            "investigation.",
                            "deadline.",
                        ),
                    ),
                ]
            ),
            link=f"/reports/{report.id}",
            urgent=False,
            settings=settings,
        )


def notify_cluster(
    session: Session, cluster: Cluster, *, created: bool, settings: Settings
) -> None:
    lots = list(
        session.exec(
            select(Lot.lot_number).where(col(Lot.id).in_(cluster.evaluation_lot_ids or [-1]))
        )
    )
    with working_locale(settings.default_locale):
        group = _group_names([cluster.event_group])
        if created:
            title = i18n.gettext(
                "Possible group AEFI: {n} reports of {group}", n=cluster.member_count, group=group
            )
        else:
            title = i18n.gettext(
                "Possible group AEFI no. {id} grew to {n} reports of {group}",
                id=cluster.id,
                n=cluster.member_count,
                group=group,
            )
        reason = cluster.reason_zh if i18n.get_locale() == "zh_CN" else cluster.reason_en
        body = "\n".join(
            [
                reason,
                i18n.gettext("Lots to evaluate: {lots}", lots=", ".join(lots) or "-"),
            ]
        )
        notifications.notify(
            session,
            county_id=cluster.county_id,
            roles=QUEUE_ROLES,
            kind="cluster",
            title=title,
            body=body,
            link=f"/clusters/{cluster.id}",
            urgent=created,
            settings=settings,
        )
