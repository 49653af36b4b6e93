"""From reports to the pure modules' inputs: the facts ``rules.triage`` reads, the points
and context ``clusters.find_clusters`` reads, and the decision to and from its JSON on the
report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, distinct, exists, false, func
from sqlmodel import Session, col, select

from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Lot, Site, Vaccine
from aefi.triage.clusters import (
    ReportPoint,
    baseline_period,
    counts_as_serious,
)
from aefi.triage.models import Urgency
from aefi.triage.rules import Outcome, Reason, ReportFacts, TriageDecision
from aefi.triage.ruleset import Ruleset

# --- from a report to the pure modules' inputs ---------------------------------------------


@dataclass(frozen=True, order=True)
class Ref:
    """A site, lot or vaccine id in cluster detection. Its text is a token that
    ``token_names`` replaces with the name in each language, so the reasons read "site 城关镇
    接种门诊" rather than "site 3"."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"⟦{self.kind}:{self.id}⟧"


TOKEN = re.compile(r"⟦(site|lot|vaccine):(\d+)⟧")


def doses_of(session: Session, report_ids: Iterable[int]) -> dict[int, list[ReportDose]]:
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


def point_of(
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
    out["urgency"] = urgency_of(decision, in_cluster=bool(cluster_ids))
    out["triaged_at"] = triaged_at.isoformat()
    return out


def urgency_of(decision: TriageDecision, *, in_cluster: bool) -> int | None:
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


# --- context for cluster detection ---------------------------------------------------------


def context_of(
    session: Session, report: Report, doses: list[ReportDose], ruleset: Ruleset
) -> list[ReportPoint]:
    """Reports of the same site and of the same lots with onsets inside the windows, as
    points: two indexed range scans (report(site_id, onset_at), report(onset_at) with
    report_dose(report_id) for the lots)."""
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
                    # Correlated, not IN (every report of the lot): the onset range picks
                    # the few candidates and report_dose(report_id) checks each, so the
                    # cost does not follow the lot's history.
                    exists().where(
                        ReportDose.report_id == Report.id, col(ReportDose.lot_id).in_(lot_ids)
                    ),
                    col(Report.onset_at) >= onset - lot_window,
                    col(Report.onset_at) <= onset + lot_window,
                )
            )
        )
    by_id = {r[0]: r for r in rows if r[0] != report.id}
    linked = doses_of(session, by_id)
    return [
        point_of(rid, site_id, linked[rid], groups, serious, at)
        for rid, site_id, groups, serious, at in by_id.values()
    ]


def baseline_of(
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
    return baseline_counts(session, new, wanted, ruleset)


def baseline_counts(
    session: Session,
    new: ReportPoint,
    wanted: set[tuple[Ref, str]],
    ruleset: Ruleset,
) -> dict[tuple[Ref, Ref, str], int]:
    """The non-serious reports at the new report's site in ``baseline_period`` after each
    wanted vaccine in each wanted event group, counted by the database: one indexed range
    scan (report(site_id, onset_at)) grouped by vaccine and the report's event groups as
    stored, so a filing's cost does not follow the site's history. The groups are
    few combinations; which of them hold the wanted group is decided here."""
    b_start, b_end = baseline_period(new, ruleset)
    vaccine_ids = {v.id for v, _ in wanted}
    groups_text = cast(Report.event_groups, Text)
    rows = session.exec(
        select(ReportDose.vaccine_id, groups_text, func.count(distinct(Report.id)))
        .join(Report, Report.id == ReportDose.report_id)
        .where(
            Report.site_id == new.site_id.id,
            col(Report.onset_at) >= b_start,
            col(Report.onset_at) < b_end,
            # counts_as_serious, part one: a serious report never counts.
            Report.serious == false(),
            col(ReportDose.vaccine_id).in_(vaccine_ids),
        )
        .group_by(ReportDose.vaccine_id, groups_text)
    )
    # counts_as_serious, part two: a group that counts as serious counts no report.
    not_serious = replace(new, serious=False)
    plain = {(v, g) for v, g in wanted if not counts_as_serious(not_serious, g, ruleset)}
    counts: dict[tuple[Ref, Ref, str], int] = {}
    for vaccine_id, text, n in rows:
        groups = set(json.loads(text) or ()) if text else set()
        for vaccine, group in plain:
            if vaccine.id == vaccine_id and group in groups:
                key = (new.site_id, vaccine, group)
                counts[key] = counts.get(key, 0) + n
    return counts


def token_names(session: Session, texts: list[str]) -> dict[str, tuple[str, str]]:
    """English and Chinese names for the tokens in these texts."""
    ids: dict[str, set[int]] = {"site": set(), "lot": set(), "vaccine": set()}
    for t in texts:
        for kind, num in TOKEN.findall(t):
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


def say(text: str, names: dict[str, tuple[str, str]], lang: str) -> str:
    def sub(m: re.Match) -> str:
        en, zh = names.get(f"{m.group(1)}:{m.group(2)}", (m.group(2), m.group(2)))
        return zh if lang == "zh" else en

    return TOKEN.sub(sub, text)
