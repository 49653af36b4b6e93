"""Use cases of triage: decide what follows a report (and a follow-up), keep clusters,
escalate, and the escalation queue with its acknowledgements; the rule set in force.

The decision is made by the pure modules (``rules.triage``, ``clusters.find_clusters``);
this module gathers their inputs from the database and records their outcome. ``triage_report``
runs inside the caller's transaction (intake's filing or follow-up): it flushes, never
commits, so a report is never stored without its triage or the other way round.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aefi import audit, clock, i18n
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid, NotFound
from aefi.intake.models import FollowUp, Report, ReportDose, ReportStatus
from aefi.intake.symptoms import EVENT_GROUPS
from aefi.notifications import service as notifications
from aefi.registry.models import Lot, Site, Vaccine
from aefi.settings import Settings, get_settings
from aefi.triage import events
from aefi.triage.clusters import (
    ClusterFinding,
    ReportPoint,
    baseline_period,
    counts_as_serious,
    find_clusters,
)
from aefi.triage.deadlines import Deadline
from aefi.triage.models import (
    URGENCY_LABELS,
    Acknowledgement,
    Cluster,
    ClusterMember,
    ClusterStatus,
    Escalation,
    RulesetVersion,
    Urgency,
)
from aefi.triage.rules import Outcome, Reason, ReportFacts, TriageDecision, triage
from aefi.triage.ruleset import DEFAULT_PATH, Ruleset, RulesetError, load_ruleset

log = logging.getLogger("aefi.triage")

QUEUE_ROLES = (Role.bureau, Role.investigator)
RULE_READERS = (Role.admin, Role.investigator, Role.bureau)
CLUSTER_READERS = (Role.investigator, Role.bureau, Role.admin)
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


# --- the rule set in force -----------------------------------------------------------------

_loaded: dict[Path, tuple[tuple[int, int], Ruleset]] = {}
_errors: dict[Path, str] = {}


def rules_path(settings: Settings | None = None) -> Path:
    """The effective rules file: ``AEFI_TRIAGE_RULES`` or the shipped rules.toml."""
    settings = settings or get_settings()
    return Path(settings.triage_rules) if settings.triage_rules else DEFAULT_PATH


def current_ruleset(settings: Settings | None = None) -> Ruleset:
    """The rule set of the effective file, re-read when the file changes.

    A file that cannot be used does not stop triage (a report must never fail to file
    because of an edit): the last good rule set of that file stays in force, or the shipped
    one, and the admin page shows the error."""
    path = rules_path(settings)
    cached = _loaded.get(path)
    try:
        st = path.stat()
        key = (st.st_mtime_ns, st.st_size)
    except OSError as exc:
        return _fallback(path, cached, f"cannot read {path}: {exc}")
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        ruleset = load_ruleset(path)
    except RulesetError as exc:
        return _fallback(path, cached, str(exc))
    _errors.pop(path, None)
    _loaded[path] = (key, ruleset)
    return ruleset


def _fallback(path: Path, cached: tuple | None, error: str) -> Ruleset:
    if _errors.get(path) != error:
        log.error("triage rules file %s is unusable, keeping the last good rules: %s", path, error)
    _errors[path] = error
    if cached is not None:
        return cached[1]
    return load_ruleset(DEFAULT_PATH)


def ruleset_error(settings: Settings | None = None) -> str | None:
    """Why the effective file is not in force, if it is not."""
    current_ruleset(settings)
    return _errors.get(rules_path(settings))


def _remember_ruleset(session: Session, ruleset: Ruleset, source: Path) -> None:
    """Keep the text of every rule set a decision is made with (first use wins)."""
    if session.get(RulesetVersion, ruleset.version) is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                RulesetVersion(
                    version=ruleset.version,
                    declared_version=ruleset.declared_version,
                    text=ruleset.text,
                    source=str(source)[:500],
                    first_used_at=clock.now(),
                )
            )
    except IntegrityError:  # another process stored the same version first
        pass


@dataclass(frozen=True)
class RulesView:
    ruleset: Ruleset
    path: Path
    error: str | None
    versions: list[RulesetVersion]


def effective_rules(session: Session, actor: Actor) -> RulesView:
    """The rules file in force, read-only, with every version decisions were made with."""
    require_role(actor, *RULE_READERS)
    settings = get_settings()
    ruleset = current_ruleset(settings)
    versions = list(
        session.exec(select(RulesetVersion).order_by(col(RulesetVersion.first_used_at).desc()))
    )
    return RulesView(ruleset, rules_path(settings), _errors.get(rules_path(settings)), versions)


def get_ruleset_version(session: Session, actor: Actor, version: str) -> RulesetVersion:
    """The rules an old decision was made with."""
    require_role(actor, *RULE_READERS)
    stored = session.get(RulesetVersion, version)
    if stored is None:
        raise NotFound("Not found.")
    return stored


# --- from a report to the pure modules' inputs ---------------------------------------------


@dataclass(frozen=True, order=True)
class Ref:
    """A site, lot or vaccine id in cluster detection. Its text is a token that
    ``_words`` replaces with the name in each language, so the reasons read "site 城关镇
    接种门诊" rather than "site 3"."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"⟦{self.kind}:{self.id}⟧"


_TOKEN = re.compile(r"⟦(site|lot|vaccine):(\d+)⟧")


def _doses(session: Session, report_ids: Iterable[int]) -> dict[int, list[ReportDose]]:
    ids = list(set(report_ids))
    out: dict[int, list[ReportDose]] = {i: [] for i in ids}
    if not ids:
        return out
    for d in session.exec(select(ReportDose).where(col(ReportDose.report_id).in_(ids))):
        out[d.report_id].append(d)
    return out


def facts_of(
    report: Report,
    doses: list[ReportDose],
    *,
    in_cluster: bool = False,
    follow_up_at: datetime | None = None,
) -> ReportFacts:
    """What triage needs to know about a report as it now stands."""
    try:
        outcome = Outcome(report.outcome)
    except ValueError:
        outcome = Outcome.UNKNOWN
    return ReportFacts(
        event_groups=frozenset(report.event_groups or ()),
        onset_at=report.onset_at,
        discovered_at=report.discovered_at,
        received_at=report.received_at,
        vaccinated_at=min((d.administered_at for d in doses), default=None),
        death=report.death,
        life_threatening=report.life_threatening,
        hospitalization=report.hospitalization,
        disability=report.disability,
        congenital_anomaly=report.congenital_anomaly,
        already_in_hospital=report.already_in_hospital,
        needs_hospital_care=report.needs_hospital_care,
        outcome=outcome,
        max_temperature_c=report.max_temperature_c,
        local_reaction_cm=report.local_reaction_cm,
        diagnosis_clear=report.diagnosis_clear,
        in_cluster=in_cluster,
        great_public_concern=report.great_public_concern,
        follow_up_at=follow_up_at,
    )


def _point(
    report_id: int,
    site_id: int,
    doses: list[ReportDose],
    groups: Iterable[str],
    serious: bool,
    onset_at: datetime,
) -> ReportPoint:
    return ReportPoint(
        report_id=report_id,
        site_id=Ref("site", site_id),
        lot_ids=frozenset(Ref("lot", d.lot_id) for d in doses),
        vaccine_ids=frozenset(Ref("vaccine", d.vaccine_id) for d in doses),
        event_groups=frozenset(groups or ()),
        serious=serious,
        onset_at=onset_at,
    )


def decision_from_json(data: dict[str, Any] | None) -> TriageDecision | None:
    """The stored decision (``Report.triage``) as the rules module's object."""
    if not data or "serious" not in data:
        return None
    return TriageDecision(
        serious=bool(data["serious"]),
        escalated=bool(data.get("escalated")),
        investigation_required=bool(data.get("investigation_required")),
        referral_required=bool(data.get("referral_required")),
        fast_report_required=bool(data.get("fast_report_required")),
        preliminary_report_required=bool(data.get("preliminary_report_required")),
        designated=tuple(data.get("designated") or ()),
        reasons=tuple(
            Reason(
                r.get("rule", ""),
                r.get("text_en") or r.get("text", ""),
                r.get("text_zh") or r.get("text", ""),
            )
            for r in data.get("reasons") or ()
        ),
        deadlines={k: datetime.fromisoformat(v) for k, v in (data.get("deadlines") or {}).items()},
        ruleset_version=data.get("ruleset_version") or "",
    )


def decision_json(
    decision: TriageDecision, cluster_ids: list[int], triaged_at: datetime
) -> dict[str, Any]:
    """API.md's triage object, as stored on the report. ``text`` is English; ``text_en``
    and ``text_zh`` carry both languages so any page can show the reader's."""
    out = decision.to_dict("en")
    out["cluster_id"] = cluster_ids[0] if cluster_ids else None
    out["cluster_ids"] = cluster_ids
    out["urgency"] = _urgency_of(decision, in_cluster=bool(cluster_ids))
    out["triaged_at"] = triaged_at.isoformat()
    return out


# --- context for cluster detection ---------------------------------------------------------


def _context(
    session: Session, report: Report, doses: list[ReportDose], ruleset: Ruleset
) -> list[ReportPoint]:
    """Reports of the same site and of the same lots with onsets inside the windows, as
    points: two indexed range scans (report(site_id, onset_at), report_dose(lot_id))."""
    c = ruleset.clusters
    onset = report.onset_at
    site_before = timedelta(hours=max(c.site_window_hours, c.increase_window_hours))
    cols = (Report.id, Report.site_id, Report.event_groups, Report.serious, Report.onset_at)
    rows = list(
        session.exec(
            select(*cols).where(
                Report.site_id == report.site_id,
                col(Report.onset_at) >= onset - site_before,
                col(Report.onset_at) <= onset + timedelta(hours=c.site_window_hours),
            )
        )
    )
    lot_ids = sorted({d.lot_id for d in doses})
    if lot_ids:
        lot_window = timedelta(hours=c.lot_window_hours)
        rows += list(
            session.exec(
                select(*cols).where(
                    Report.county_id == report.county_id,
                    col(Report.id).in_(
                        select(ReportDose.report_id).where(col(ReportDose.lot_id).in_(lot_ids))
                    ),
                    col(Report.onset_at) >= onset - lot_window,
                    col(Report.onset_at) <= onset + lot_window,
                )
            )
        )
    by_id = {r[0]: r for r in rows if r[0] != report.id}
    linked = _doses(session, by_id)
    return [
        _point(rid, site_id, linked[rid], groups, serious, at)
        for rid, site_id, groups, serious, at in by_id.values()
    ]


def _baseline(
    session: Session,
    new: ReportPoint,
    recent: list[ReportPoint],
    ruleset: Ruleset,
) -> dict[tuple[Ref, Ref, str], int] | None:
    """Counts for the marked-increase rule over the site's lookback period, fetched only
    when the window holds enough similar reports for the test to matter."""
    c = ruleset.clusters
    start = new.onset_at - timedelta(hours=c.increase_window_hours)
    wanted: set[tuple[Ref, str]] = set()
    for vaccine in new.vaccine_ids:
        for group in new.event_groups:
            if counts_as_serious(new, group, ruleset):
                continue
            similar = sum(
                1
                for r in recent
                if r.site_id == new.site_id
                and vaccine in r.vaccine_ids
                and group in r.event_groups
                and not counts_as_serious(r, group, ruleset)
                and start <= r.onset_at <= new.onset_at
            )
            if similar + 1 >= c.increase_min_count:
                wanted.add((vaccine, group))
    if not wanted:
        return None
    b_start, b_end = baseline_period(new, ruleset)
    rows = list(
        session.exec(
            select(Report.id, Report.event_groups, Report.serious).where(
                Report.site_id == new.site_id.id,
                col(Report.onset_at) >= b_start,
                col(Report.onset_at) < b_end,
            )
        )
    )
    linked = _doses(session, [r[0] for r in rows])
    counts: dict[tuple[Ref, Ref, str], int] = {}
    for rid, groups, serious in rows:
        p = _point(rid, new.site_id.id, linked[rid], groups, serious, new.onset_at)
        for vaccine, group in wanted:
            if (
                vaccine in p.vaccine_ids
                and group in p.event_groups
                and not counts_as_serious(p, group, ruleset)
            ):
                key = (new.site_id, vaccine, group)
                counts[key] = counts.get(key, 0) + 1
    return counts


def _words(session: Session, texts: list[str]) -> dict[str, tuple[str, str]]:
    """English and Chinese names for the tokens in these texts."""
    ids: dict[str, set[int]] = {"site": set(), "lot": set(), "vaccine": set()}
    for t in texts:
        for kind, num in _TOKEN.findall(t):
            ids[kind].add(int(num))
    names: dict[str, tuple[str, str]] = {}
    if ids["site"]:
        for s in session.exec(select(Site).where(col(Site.id).in_(ids["site"]))):
            names[f"site:{s.id}"] = (s.name_en or s.name, s.name)
    if ids["lot"]:
        for lot in session.exec(select(Lot).where(col(Lot.id).in_(ids["lot"]))):
            names[f"lot:{lot.id}"] = (lot.lot_number, lot.lot_number)
    if ids["vaccine"]:
        for v in session.exec(select(Vaccine).where(col(Vaccine.id).in_(ids["vaccine"]))):
            names[f"vaccine:{v.id}"] = (v.name_en or v.code, v.name)
    return names


def _say(text: str, names: dict[str, tuple[str, str]], lang: str) -> str:
    def sub(m: re.Match) -> str:
        en, zh = names.get(f"{m.group(1)}:{m.group(2)}", (m.group(2), m.group(2)))
        return zh if lang == "zh" else en

    return _TOKEN.sub(sub, text)


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
    names = _words(session, [t for f in findings for t in (f.reason_en, f.reason_zh)])
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
            cluster = existing[0]
            have = {rid for rid, cs in held.items() if any(c.id == cluster.id for c in cs)}
            added = [rid for rid in member_ids if rid not in have]
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
            added = member_ids
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
                "en": _say(f.reason_en, names, "en"),
                "zh": _say(f.reason_zh, names, "zh"),
            },
        }
        cluster.reason_en = "\n".join(v["en"] for v in cluster.findings.values())[:4000]
        cluster.reason_zh = "\n".join(v["zh"] for v in cluster.findings.values())[:4000]
        for rid in added:
            session.add(ClusterMember(cluster_id=cluster.id, report_id=rid, joined_at=now))
            change.added.append(rid)
        cluster.member_count += len(added)
        cluster.updated_at = now
        session.add(cluster)
        session.flush()
    return [c for c in changes.values() if c.created or c.added]


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


def member_reports(session: Session, cluster_id: int) -> list[Report]:
    return list(
        session.exec(
            select(Report)
            .join(ClusterMember, ClusterMember.report_id == Report.id)
            .where(ClusterMember.cluster_id == cluster_id)
            .order_by(Report.onset_at, Report.id)
        )
    )


# --- triage --------------------------------------------------------------------------------


def on_report_filed(session: Session, actor: Actor | None, report: Report) -> None:
    """intake's ``report_filed``: triage the new report at once."""
    triage_report(session, actor, report)


def on_follow_up_added(
    session: Session, actor: Actor | None, report: Report, follow_up: FollowUp
) -> None:
    """intake's ``follow_up_added``: a follow-up that changes the facts triage reads
    triages again (a note, a treatment or a hospital name alone changes nothing)."""
    if TRIAGE_FACTS & set(follow_up.changes or {}):
        triage_report(session, actor, report, follow_up_at=follow_up.at)


def triage_report(
    session: Session,
    actor: Actor | None,
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
    _remember_ruleset(session, ruleset, rules_path(settings))
    previous = decision_from_json(report.triage) if follow_up_at is not None else None
    doses = _doses(session, [report.id])[report.id]

    # Seriousness does not depend on clusters; cluster detection depends on seriousness.
    plain = triage(facts_of(report, doses, follow_up_at=follow_up_at), ruleset)
    point = _point(
        report.id, report.site_id, doses, report.event_groups, plain.serious, report.onset_at
    )
    recent = _context(session, report, doses, ruleset)
    baseline = _baseline(session, point, recent, ruleset)
    findings = find_clusters(point, recent, ruleset, baseline=baseline)
    changed = _record_findings(session, report, findings, ruleset)

    # A report filed just now belongs to no cluster unless a finding put it in one.
    known = follow_up_at is not None or bool(changed)
    clusters = _open_clusters_of(session, [report.id])[report.id] if known else []
    decision = _decide(
        session,
        report,
        doses,
        ruleset,
        clusters=clusters,
        follow_up_at=follow_up_at,
        previous=previous,
    )
    events.report_triaged(session, actor, report, decision, previous)

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
) -> TriageDecision:
    """Decide, store on the report, audit, and escalate. Returns the decision."""
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
        None,
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
    _escalate_report(session, report, decision, previous, in_cluster=bool(clusters))
    session.flush()
    return decision


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


def _urgency_of(decision: TriageDecision, *, in_cluster: bool) -> int | None:
    if not decision.escalated:
        return None
    rules = set(decision.rules)
    if "serious.death" in rules:
        return Urgency.death
    if "serious.life_threatening" in rules or decision.designated:
        return Urgency.life_threatening
    if in_cluster:
        return Urgency.cluster
    if decision.serious:
        return Urgency.serious
    return Urgency.public_concern


def _first_due(decision: TriageDecision, fallback: datetime) -> datetime:
    for name in (Deadline.FAST_REPORT, Deadline.INVESTIGATION_START, Deadline.REPORT):
        if name.value in decision.deadlines:
            return decision.deadlines[name.value]
    return fallback


def _escalate_report(
    session: Session,
    report: Report,
    decision: TriageDecision,
    previous: TriageDecision | None,
    *,
    in_cluster: bool,
) -> Escalation | None:
    """Put an escalated report in the queue, or raise its urgency; notify on either."""
    urgency = _urgency_of(decision, in_cluster=in_cluster)
    # Only a triage decision puts a report in the queue: a first decision finds none there.
    esc = (
        session.exec(select(Escalation).where(Escalation.report_id == report.id)).first()
        if previous is not None
        else None
    )
    if urgency is None:
        return esc  # a follow-up never takes a report out of the queue; people do
    now = clock.now()
    due = _first_due(decision, now)
    if esc is None and urgency == Urgency.cluster:
        # Escalated only as a member of a cluster: the cluster's own queue item (and its
        # notice) stands for it, so the county is not told once per member.
        return None
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
        _notify_escalation(session, report, decision, Urgency(urgency), raised=False)
        return esc
    if urgency < esc.urgency:
        esc.urgency, esc.raised_at = urgency, now
        esc.due_at = min(esc.due_at, due)
        esc.overdue_notified_at = None
        session.add(esc)
        _notify_escalation(session, report, decision, Urgency(urgency), raised=True)
    elif due < esc.due_at:
        esc.due_at = due
        session.add(esc)
    return esc


def _cluster_changed(
    session: Session,
    actor: Actor | None,
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
    audit.record(
        session,
        None,
        "create" if change.created else "grow",
        "cluster",
        cluster.id,
        county_id=cluster.county_id,
        summary=cluster.reason_en[:500],
        changes={"reports": change.added, "kinds": cluster.kinds},
    )
    audit.record(
        session,
        None,
        "evaluate",
        "cluster",
        cluster.id,
        county_id=cluster.county_id,
        summary="signals asked to evaluate the lots of the cluster",
        changes={"lot_ids": cluster.evaluation_lot_ids},
    )
    session.flush()
    _notify_cluster(session, cluster, change, settings)

    # Members that did not know they are in this cluster are re-triaged as part of it.
    others = [
        r
        for r in member_reports(session, cluster.id)
        if cluster.id not in ((r.triage or {}).get("cluster_ids") or [])
    ]
    if others:
        doses = _doses(session, [r.id for r in others])
        held = _open_clusters_of(session, [r.id for r in others])
        for other in others:
            previous = decision_from_json(other.triage)
            decision = _decide(
                session,
                other,
                doses[other.id],
                ruleset,
                clusters=held[other.id],
                follow_up_at=now if previous is not None else None,
                previous=previous,
                because_of_cluster=cluster,
            )
            events.report_triaged(session, actor, other, decision, previous)
    events.cluster_formed(session, actor, cluster)


# --- notifications -------------------------------------------------------------------------


@contextmanager
def _locale(locale: str) -> Iterator[None]:
    """Notifications are written once for many readers: in the county's working language."""
    token = i18n.set_locale(locale)
    try:
        yield
    finally:
        i18n._current.reset(token)


def _group_names(groups: Iterable[str]) -> str:
    names = [i18n.pick(*EVENT_GROUPS.get(g, (g, g))) for g in groups]
    return "、".join(names) if i18n.get_locale() == "zh_CN" else ", ".join(names)


def _reason_lines(decision: TriageDecision, prefixes: tuple[str, ...]) -> list[str]:
    zh = i18n.get_locale() == "zh_CN"
    return [
        "- " + (r.text_zh if zh else r.text_en)
        for r in decision.reasons
        if r.rule.startswith(prefixes)
    ]


def _notify_escalation(
    session: Session,
    report: Report,
    decision: TriageDecision,
    urgency: Urgency,
    *,
    raised: bool,
) -> None:
    settings = get_settings()
    site = session.get(Site, report.site_id)
    due = _first_due(decision, clock.now())
    with _locale(settings.default_locale):
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


def _notify_cluster(
    session: Session, cluster: Cluster, change: ClusterChange, settings: Settings
) -> None:
    lots = list(
        session.exec(
            select(Lot.lot_number).where(col(Lot.id).in_(cluster.evaluation_lot_ids or [-1]))
        )
    )
    with _locale(settings.default_locale):
        group = _group_names([cluster.event_group])
        if change.created:
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
            urgent=change.created,
            settings=settings,
        )


# --- the escalation queue ------------------------------------------------------------------


@dataclass
class QueueItem:
    escalation: Escalation
    report: Report | None
    cluster: Cluster | None
    site: Site | None
    acknowledgements: list[Acknowledgement]
    # The viewer's side (bureau or CDC) has acknowledged since the item was last raised.
    acknowledged: Acknowledgement | None
    overdue: bool

    @property
    def urgency_label(self) -> str:
        return URGENCY_LABELS[Urgency(self.escalation.urgency)]

    @property
    def kind(self) -> str:
        return "cluster" if self.cluster is not None else "report"


def _acked_since_raised(role: str):
    return exists().where(
        Acknowledgement.escalation_id == Escalation.id,
        Acknowledgement.role == role,
        col(Acknowledgement.at) >= Escalation.raised_at,
    )


def escalation_queue(
    session: Session, actor: Actor, *, show: str = "open", limit: int = 200
) -> list[QueueItem]:
    """Escalated reports and clusters of the actor's county, most urgent first, then by
    deadline. ``show="open"``: those the actor's side (bureau or CDC) has not yet
    acknowledged; ``"all"``: every item not closed."""
    require_role(actor, *QUEUE_ROLES)
    stmt = (
        select(Escalation)
        .outerjoin(Report, Report.id == Escalation.report_id)
        .outerjoin(Cluster, Cluster.id == Escalation.cluster_id)
        .where(
            Escalation.county_id == actor.county_id,
            col(Escalation.closed_at).is_(None),
            or_(col(Report.id).is_(None), Report.status != ReportStatus.closed),
            or_(col(Cluster.id).is_(None), Cluster.status == ClusterStatus.open),
        )
    )
    if show != "all":
        stmt = stmt.where(~_acked_since_raised(actor.role.value))
    rows = list(
        session.exec(
            stmt.order_by(Escalation.urgency, Escalation.due_at, Escalation.id).limit(limit)
        )
    )
    return _items(session, actor, rows)


def _items(session: Session, actor: Actor, rows: list[Escalation]) -> list[QueueItem]:
    report_ids = [e.report_id for e in rows if e.report_id is not None]
    cluster_ids = [e.cluster_id for e in rows if e.cluster_id is not None]
    reports = (
        {r.id: r for r in session.exec(select(Report).where(col(Report.id).in_(report_ids)))}
        if report_ids
        else {}
    )
    clusters = (
        {c.id: c for c in session.exec(select(Cluster).where(col(Cluster.id).in_(cluster_ids)))}
        if cluster_ids
        else {}
    )
    site_ids = {e.site_id for e in rows if e.site_id is not None}
    sites = (
        {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    acks: dict[int, list[Acknowledgement]] = {e.id: [] for e in rows}
    if rows:
        for a in session.exec(
            select(Acknowledgement)
            .where(col(Acknowledgement.escalation_id).in_(list(acks)))
            .order_by(Acknowledgement.at, Acknowledgement.id)
        ):
            acks[a.escalation_id].append(a)
    now = clock.now()
    items = []
    for e in rows:
        mine = [a for a in acks[e.id] if a.role == actor.role.value and a.at >= e.raised_at]
        items.append(
            QueueItem(
                escalation=e,
                report=reports.get(e.report_id),
                cluster=clusters.get(e.cluster_id),
                site=sites.get(e.site_id),
                acknowledgements=acks[e.id],
                acknowledged=mine[-1] if mine else None,
                # Overdue: its deadline has passed and nobody on the viewer's side took it.
                overdue=not mine and now > e.due_at,
            )
        )
    return items


def acknowledge(
    session: Session, actor: Actor, escalation_id: int, *, note: str = ""
) -> Acknowledgement:
    """Record that the actor has taken charge of a queue item (who and when)."""
    require_role(actor, *QUEUE_ROLES)
    esc = session.get(Escalation, escalation_id)
    if esc is None or esc.county_id != actor.county_id:
        raise NotFound("Not found.")
    if esc.closed_at is not None:
        raise Invalid("This item is closed.", fields={"escalation": "closed"})
    ack = Acknowledgement(
        escalation_id=esc.id,
        user_id=actor.user_id,
        user_name=actor.name,
        role=actor.role.value,
        at=clock.now(),
        note=note.strip()[:500],
    )
    session.add(ack)
    entity = ("report", esc.report_id) if esc.report_id is not None else ("cluster", esc.cluster_id)
    audit.record(
        session,
        actor,
        "acknowledge",
        entity[0],
        entity[1],
        summary=note.strip()[:200] or f"escalation {esc.id}",
        changes={"escalation_id": esc.id, "urgency": esc.urgency, "due_at": esc.due_at},
    )
    session.commit()
    return ack


def flag_overdue(session: Session) -> int:
    """Background job: tell the county once when a queue item passes its deadline with
    nobody having acknowledged it. Returns how many were flagged."""
    now = clock.now()
    rows = list(
        session.exec(
            select(Escalation).where(
                col(Escalation.closed_at).is_(None),
                col(Escalation.overdue_notified_at).is_(None),
                col(Escalation.due_at) < now,
                ~exists().where(
                    Acknowledgement.escalation_id == Escalation.id,
                    col(Acknowledgement.at) >= Escalation.raised_at,
                ),
            )
        )
    )
    settings = get_settings()
    for esc in rows:
        esc.overdue_notified_at = now
        session.add(esc)
        with _locale(settings.default_locale):
            if esc.report_id is not None:
                report = session.get(Report, esc.report_id)
                title = i18n.gettext("Overdue: report {number}", number=report.number)
                link = f"/reports/{report.id}"
            else:
                title = i18n.gettext("Overdue: possible group AEFI no. {id}", id=esc.cluster_id)
                link = f"/clusters/{esc.cluster_id}"
            notifications.notify(
                session,
                county_id=esc.county_id,
                roles=QUEUE_ROLES,
                kind="deadline",
                title=title,
                body=i18n.gettext("Nobody has acknowledged it in the escalation queue."),
                link=link,
                urgent=True,
                settings=settings,
            )
    session.commit()
    return len(rows)


# --- clusters for people -------------------------------------------------------------------


@dataclass
class ClusterView:
    cluster: Cluster
    members: list[Report]
    sites: dict[int, Site]
    lots: list[Lot]
    site: Site | None
    lot: Lot | None
    vaccine: Vaccine | None
    events: list[audit.AuditEvent]
    escalation: Escalation | None


def list_clusters(
    session: Session, actor: Actor, *, status: str = "open", limit: int = 200
) -> list[Cluster]:
    require_role(actor, *CLUSTER_READERS)
    stmt = select(Cluster).where(Cluster.county_id == actor.county_id)
    if status:
        stmt = stmt.where(Cluster.status == status)
    return list(session.exec(stmt.order_by(col(Cluster.created_at).desc()).limit(limit)))


def get_cluster(session: Session, actor: Actor, cluster_id: int) -> ClusterView:
    require_role(actor, *CLUSTER_READERS)
    cluster = session.get(Cluster, cluster_id)
    if cluster is None or cluster.county_id != actor.county_id:
        raise NotFound("Not found.")
    members = member_reports(session, cluster.id)
    site_ids = {m.site_id for m in members}
    sites = (
        {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    lots = (
        list(session.exec(select(Lot).where(col(Lot.id).in_(cluster.evaluation_lot_ids))))
        if cluster.evaluation_lot_ids
        else []
    )
    return ClusterView(
        cluster=cluster,
        members=members,
        sites=sites,
        lots=lots,
        site=session.get(Site, cluster.site_id) if cluster.site_id else None,
        lot=session.get(Lot, cluster.lot_id) if cluster.lot_id else None,
        vaccine=session.get(Vaccine, cluster.vaccine_id) if cluster.vaccine_id else None,
        events=audit.timeline(session, "cluster", cluster.id),
        escalation=session.exec(
            select(Escalation).where(Escalation.cluster_id == cluster.id)
        ).first(),
    )


def close_cluster(session: Session, actor: Actor, cluster_id: int, *, note: str) -> Cluster:
    """Reviewed: the cluster leaves the queue; a later finding opens a new one."""
    require_role(actor, *QUEUE_ROLES)
    view = get_cluster(session, actor, cluster_id)
    cluster = view.cluster
    if not note.strip():
        raise Invalid("Say why the cluster is closed.", fields={"note": "required"})
    if cluster.status == ClusterStatus.closed:
        return cluster
    now = clock.now()
    cluster.status, cluster.closed_at, cluster.updated_at = ClusterStatus.closed, now, now
    session.add(cluster)
    esc = session.exec(select(Escalation).where(Escalation.cluster_id == cluster.id)).first()
    if esc is not None and esc.closed_at is None:
        esc.closed_at = now
        session.add(esc)
    audit.record(
        session,
        actor,
        "status",
        "cluster",
        cluster.id,
        summary=note.strip()[:500],
        changes={"status": [ClusterStatus.open.value, ClusterStatus.closed.value]},
    )
    session.commit()
    return cluster
