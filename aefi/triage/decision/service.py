"""The triage decision: what follows a report (and a follow-up that changes its facts),
clusters kept, reports and clusters escalated.

The decision is made by the pure modules (``rules.triage``, ``clusters.find_clusters``);
this module gathers their inputs from the database and records their outcome. ``triage_report``
runs inside the caller's transaction (intake's filing or follow-up): it flushes, never
commits, so a report is never stored without its triage or the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor
from aefi.events import ClusterFormed, FollowUpAdded, ReportFiled, ReportTriaged, publish
from aefi.intake.models import Report, ReportDose
from aefi.settings import Settings, get_settings
from aefi.triage.access import member_reports
from aefi.triage.clusters import (
    ClusterFinding,
    find_clusters,
)
from aefi.triage.deadlines import first_due
from aefi.triage.decision.inputs import (
    Ref,
    baseline_of,
    context_of,
    decision_from_json,
    decision_json,
    doses_of,
    facts_of,
    point_of,
    say,
    token_names,
    urgency_of,
)
from aefi.triage.models import (
    Cluster,
    ClusterMember,
    ClusterStatus,
    Escalation,
    Urgency,
)
from aefi.triage.rules import Reason, TriageDecision, triage
from aefi.triage.rules_in_force.service import current_ruleset, remember_ruleset, rules_path
from aefi.triage.ruleset import Ruleset

# Facts of the report card that triage reads and a follow-up may change.
TRIAGE_FACTS = frozenset(
    {
        "outcome",
        "death",
        "life_threatening",
        "hospitalization",
        "disability",
        "congenital_anomaly",
        "already_in_hospital",
        "needs_hospital_care",
        "great_public_concern",
        "diagnosis_clear",
        "symptoms",
        "max_temperature_c",
        "local_reaction_cm",
        "onset_at",
    }
)


# --- clusters ------------------------------------------------------------------------------


@dataclass
class ClusterChange:
    cluster: Cluster
    created: bool
    added: list[int] = field(default_factory=list)


def _open_clusters_of(session: Session, report_ids: list[int]) -> dict[int, list[Cluster]]:
    """Open clusters holding each of these reports."""
    out: dict[int, list[Cluster]] = {rid: [] for rid in report_ids}
    if not report_ids:
        return out
    rows = session.exec(
        select(ClusterMember.report_id, Cluster)
        .join(Cluster, Cluster.id == ClusterMember.cluster_id)
        .where(
            col(ClusterMember.report_id).in_(report_ids),
            Cluster.status == ClusterStatus.open,
        )
        .order_by(Cluster.id)
    )
    for rid, cluster in rows:
        out[rid].append(cluster)
    return out


def _record_findings(
    session: Session,
    report: Report,
    findings: list[ClusterFinding],
    ruleset: Ruleset,
) -> list[ClusterChange]:
    """Store what cluster detection found. A finding that shares a report with an open
    cluster of the same event group joins it (adding the reports it lacks); otherwise it
    forms a new cluster. Returns the clusters formed or grown, once each."""
    if not findings:
        return []
    now = clock.now()
    names = token_names(session, [t for f in findings for t in (f.reason_en, f.reason_zh)])
    changes: dict[int, ClusterChange] = {}
    for f in findings:
        member_ids = [int(m) for m in f.member_ids]
        held = _open_clusters_of(session, member_ids)
        existing = sorted(
            {
                c.id: c for cs in held.values() for c in cs if c.event_group == f.event_group
            }.values(),
            key=lambda c: c.id,
        )
        if existing:
            cluster = _locked(session, existing[0])
            change = changes.setdefault(cluster.id, ClusterChange(cluster, created=False))
        else:
            cluster = Cluster(
                county_id=report.county_id,
                kind=f.kind.value,
                kinds=[],
                findings={},
                event_group=f.event_group,
                first_onset_at=f.first_onset_at,
                last_onset_at=f.last_onset_at,
                ruleset_version=ruleset.version,
                created_at=now,
            )
            session.add(cluster)
            session.flush()
            change = changes.setdefault(cluster.id, ClusterChange(cluster, created=True))
        if f.kind.value not in cluster.kinds:
            cluster.kinds = [*cluster.kinds, f.kind.value]
        if isinstance(f.site_id, Ref) and cluster.site_id is None:
            cluster.site_id = f.site_id.id
        if isinstance(f.lot_id, Ref) and cluster.lot_id is None:
            cluster.lot_id = f.lot_id.id
        if isinstance(f.vaccine_id, Ref) and cluster.vaccine_id is None:
            cluster.vaccine_id = f.vaccine_id.id
        if f.p_value is not None:
            cluster.observed, cluster.expected, cluster.p_value = f.observed, f.expected, f.p_value
        cluster.first_onset_at = min(cluster.first_onset_at, f.first_onset_at)
        cluster.last_onset_at = max(cluster.last_onset_at, f.last_onset_at)
        cluster.findings = {
            **cluster.findings,
            f.kind.value: {
                "en": say(f.reason_en, names, "en"),
                "zh": say(f.reason_zh, names, "zh"),
            },
        }
        cluster.reason_en = "\n".join(v["en"] for v in cluster.findings.values())[:4000]
        cluster.reason_zh = "\n".join(v["zh"] for v in cluster.findings.values())[:4000]
        added = _join(session, cluster.id, member_ids, now)
        change.added.extend(added)
        cluster.member_count += len(added)
        cluster.updated_at = now
        session.add(cluster)
        session.flush()
    return [c for c in changes.values() if c.created or c.added]


def _locked(session: Session, cluster: Cluster) -> Cluster:
    """``cluster``, its row locked until the filing commits and re-read (PostgreSQL): two
    filings growing one cluster at once take turns, so the second one counts the members
    the first added. SQLite has one writer at a time, and this filing already writes."""
    if session.get_bind().dialect.name == "sqlite":
        return cluster
    return session.get(Cluster, cluster.id, with_for_update=True, populate_existing=True)


def _join(session: Session, cluster_id: int, report_ids: list[int], now: datetime) -> list[int]:
    """Make these reports members of the cluster; those already in it stay as they are
    (``INSERT ... ON CONFLICT DO NOTHING``: a concurrent filing that added one first does
    not fail this one). Returns the reports this call added, in the given order."""
    if not report_ids:
        return []
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    t = ClusterMember.__table__
    rows = [{"cluster_id": cluster_id, "report_id": rid, "joined_at": now} for rid in report_ids]
    stmt = (
        insert(t)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[t.c.cluster_id, t.c.report_id])
        .returning(t.c.report_id)
    )
    inserted = set(session.execute(stmt).scalars())
    return [rid for rid in dict.fromkeys(report_ids) if rid in inserted]


def cluster_lot_ids(session: Session, cluster: Cluster) -> list[int]:
    """The lots signals is asked to evaluate: the cluster's lot first, then every lot of
    its members' doses."""
    members = select(ClusterMember.report_id).where(ClusterMember.cluster_id == cluster.id)
    lots = set(
        session.exec(
            select(ReportDose.lot_id).where(col(ReportDose.report_id).in_(members)).distinct()
        )
    )
    first = [cluster.lot_id] if cluster.lot_id is not None else []
    return first + sorted(lots - set(first))


# --- triage --------------------------------------------------------------------------------


def on_report_filed(session: Session, actor: Actor, event: ReportFiled) -> None:
    """intake's ``ReportFiled``: triage the new report at once."""
    triage_report(session, actor, session.get(Report, event.report_id))


def on_follow_up_added(session: Session, actor: Actor, event: FollowUpAdded) -> None:
    """intake's ``FollowUpAdded``: a follow-up that changes the facts triage reads
    triages again (a note, a treatment or a hospital name alone changes nothing)."""
    if TRIAGE_FACTS & set(event.changed):
        triage_report(session, actor, session.get(Report, event.report_id), follow_up_at=event.at)


def _triaged(
    report: Report, decision: TriageDecision, previous: TriageDecision | None, notice: Notice
) -> ReportTriaged:
    return ReportTriaged(
        report_id=report.id,
        county_id=report.county_id,
        decision=decision,
        previous=previous,
        escalation=notice[0],
        urgency=notice[1],
    )


# What a decision did to the escalation queue, for the notice (``ReportTriaged``'s fields).
Notice = tuple[str, int | None]
NO_NOTICE: Notice = ("", None)


def triage_report(
    session: Session,
    actor: Actor,
    report: Report,
    *,
    follow_up_at: datetime | None = None,
) -> TriageDecision:
    """Triage a report (again, after a follow-up, when ``follow_up_at`` is given): find the
    clusters it makes or joins, decide, store, audit, escalate and tell the subscribers.

    Runs as a reaction inside a use case that has already checked the actor's permission
    (filing a report, adding a follow-up); it flushes and never commits."""
    settings = get_settings()
    ruleset = current_ruleset(settings)
    remember_ruleset(session, ruleset, rules_path(settings))
    previous = decision_from_json(report.triage) if follow_up_at is not None else None
    doses = doses_of(session, [report.id])[report.id]

    # Seriousness does not depend on clusters; cluster detection depends on seriousness.
    plain = triage(facts_of(report, doses, follow_up_at=follow_up_at), ruleset)
    point = point_of(
        report.id, report.site_id, doses, report.event_groups, plain.serious, report.onset_at
    )
    recent = context_of(session, report, doses, ruleset)
    baseline = baseline_of(session, point, recent, ruleset)
    findings = find_clusters(point, recent, ruleset, baseline=baseline)
    changed = _record_findings(session, report, findings, ruleset)

    # A report filed just now belongs to no cluster unless a finding put it in one.
    known = follow_up_at is not None or bool(changed)
    clusters = _open_clusters_of(session, [report.id])[report.id] if known else []
    decision, notice = _decide(
        session,
        report,
        doses,
        ruleset,
        clusters=clusters,
        follow_up_at=follow_up_at,
        previous=previous,
    )
    publish(session, actor, _triaged(report, decision, previous, notice))  # aefi/flow.py

    for change in changed:
        _cluster_changed(session, actor, change, ruleset, settings)
    return decision


def _decide(
    session: Session,
    report: Report,
    doses: list[ReportDose],
    ruleset: Ruleset,
    *,
    clusters: list[Cluster],
    follow_up_at: datetime | None,
    previous: TriageDecision | None,
    because_of_cluster: Cluster | None = None,
) -> tuple[TriageDecision, Notice]:
    """Decide, store on the report, audit, and escalate. Returns the decision and what
    the escalation queue's people are to be told (by a job: ``triage.notices``)."""
    now = clock.now()
    facts = facts_of(report, doses, in_cluster=bool(clusters), follow_up_at=follow_up_at)
    decision = triage(facts, ruleset, previous=previous)
    if because_of_cluster is not None and decision.reasons:
        decision = _retitled(decision, because_of_cluster)
    cluster_ids = [c.id for c in clusters]
    report.triage = decision_json(decision, cluster_ids, now)
    report.serious = decision.serious
    session.add(report)
    audit.record(
        session,
        Actor.system(report.county_id, reason="triage"),
        "triage",
        "report",
        report.id,
        county_id=report.county_id,
        summary=_audit_summary(decision, previous),
        changes={
            "serious": decision.serious,
            "escalated": decision.escalated,
            "investigation_required": decision.investigation_required,
            "referral_required": decision.referral_required,
            "cluster_id": cluster_ids[0] if cluster_ids else None,
            "rules": list(decision.rules),
            "ruleset_version": decision.ruleset_version,
        },
    )
    notice = _escalate_report(session, report, decision, previous, in_cluster=bool(clusters))
    session.flush()
    return decision, notice


def _retitled(decision: TriageDecision, cluster: Cluster) -> TriageDecision:
    """The re-triage reason of a report that became part of a cluster names the cluster
    instead of a follow-up."""
    first = decision.reasons[0]
    if first.rule != "retriage.follow_up":
        return decision
    en = first.text_en.replace(
        "Re-triaged after follow-up information",
        f"Re-triaged when the report became part of possible group AEFI no. {cluster.id}",
    )
    zh = first.text_zh.replace(
        "根据随访信息重新分级", f"纳入疑似群体性AEFI（第{cluster.id}号）后重新分级"
    )
    return replace(decision, reasons=(Reason("retriage.cluster", en, zh), *decision.reasons[1:]))


def _audit_summary(decision: TriageDecision, previous: TriageDecision | None) -> str:
    flags = [
        name
        for name in ("serious", "escalated", "investigation_required", "referral_required")
        if getattr(decision, name)
    ]
    what = ", ".join(flags) or "not serious"
    return f"re-triage: {what}" if previous is not None else f"triage: {what}"


def _escalate_report(
    session: Session,
    report: Report,
    decision: TriageDecision,
    previous: TriageDecision | None,
    *,
    in_cluster: bool,
) -> Notice:
    """Put an escalated report in the queue, or raise its urgency; returns which, for the
    notice (sent by a job, ``triage.notices.on_report_triaged``)."""
    urgency = urgency_of(decision, in_cluster=in_cluster)
    # Only a triage decision puts a report in the queue: a first decision finds none there.
    esc = (
        session.exec(select(Escalation).where(Escalation.report_id == report.id)).first()
        if previous is not None
        else None
    )
    if urgency is None:
        return NO_NOTICE  # a follow-up never takes a report out of the queue; people do
    now = clock.now()
    due = first_due(decision.deadlines, now)
    if esc is None and urgency == Urgency.cluster:
        # Escalated only as a member of a cluster: the cluster's own queue item (and its
        # notice) stands for it, so the county is not told once per member.
        return NO_NOTICE
    if esc is None:
        esc = Escalation(
            county_id=report.county_id,
            report_id=report.id,
            site_id=report.site_id,
            urgency=urgency,
            due_at=due,
            escalated_at=now,
            raised_at=now,
        )
        session.add(esc)
        session.flush()
        return ("new", int(urgency))
    if urgency < esc.urgency:
        esc.urgency, esc.raised_at = urgency, now
        esc.due_at = min(esc.due_at, due)
        esc.overdue_notified_at = None
        session.add(esc)
        return ("raised", int(urgency))
    if due < esc.due_at:
        esc.due_at = due
        session.add(esc)
    return NO_NOTICE


def _cluster_changed(
    session: Session,
    actor: Actor,
    change: ClusterChange,
    ruleset: Ruleset,
    settings: Settings,
) -> None:
    """A cluster formed or grew: escalate it, ask signals to evaluate its lots, re-triage
    the members that did not know they were in it, and tell the subscribers."""
    cluster = change.cluster
    now = clock.now()
    cluster.evaluation_lot_ids = cluster_lot_ids(session, cluster)
    cluster.evaluation_requested_at = now
    if change.created:
        cluster.escalated_at = now
        session.add(
            Escalation(
                county_id=cluster.county_id,
                cluster_id=cluster.id,
                site_id=cluster.site_id,
                urgency=Urgency.cluster,
                # Group AEFI: the 2 h fast report runs from when the group is recognised.
                due_at=now + timedelta(hours=ruleset.deadlines.fast_report_hours),
                escalated_at=now,
                raised_at=now,
            )
        )
    session.add(cluster)
    system = Actor.system(cluster.county_id, reason="triage: cluster")
    audit.record(
        session,
        system,
        "create" if change.created else "grow",
        "cluster",
        cluster.id,
        county_id=cluster.county_id,
        summary=cluster.reason_en[:500],
        # The reason in Chinese too: the timeline shows the reader's language.
        changes={"reports": change.added, "kinds": cluster.kinds, "reason_zh": cluster.reason_zh},
    )
    audit.record(
        session,
        system,
        "evaluate",
        "cluster",
        cluster.id,
        county_id=cluster.county_id,
        summary="signals asked to evaluate the lots of the cluster",
        changes={"lot_ids": cluster.evaluation_lot_ids},
    )
    session.flush()  # the notice: a job of ``ClusterFormed`` (triage.notices)

    # Members that did not know they are in this cluster are re-triaged as part of it.
    members = member_reports(session, cluster.id)
    others = [r for r in members if cluster.id not in ((r.triage or {}).get("cluster_ids") or [])]
    if others:
        doses = doses_of(session, [r.id for r in others])
        held = _open_clusters_of(session, [r.id for r in others])
        for other in others:
            previous = decision_from_json(other.triage)
            decision, notice = _decide(
                session,
                other,
                doses[other.id],
                ruleset,
                clusters=held[other.id],
                follow_up_at=now if previous is not None else None,
                previous=previous,
                because_of_cluster=cluster,
            )
            publish(session, actor, _triaged(other, decision, previous, notice))
    report_ids = tuple(r.id for r in members)
    lot_ids = tuple(cluster.evaluation_lot_ids)
    formed = ClusterFormed(
        cluster.id, cluster.county_id, cluster.site_id, report_ids, lot_ids, change.created
    )
    publish(session, actor, formed)
