"""Cluster detection (group AEFI, 群体性AEFI) for a newly filed report.

Three rules, windows and thresholds from `[clusters]` in the rule set:

- site_serious: at least `min_serious` serious reports of the same event group among
  people vaccinated at the same site, onsets within `site_window_hours` of each other
  (national plan: two or more serious AEFI with the same or similar symptoms at the same
  site within a short time).
- lot_serious: the same across sites, for reports sharing a vaccine lot
  (`lot_window_hours`; older provincial wording and WHO's "related in vaccine").
- site_increase: a marked increase of similar non-serious reports after the same vaccine
  at the same site: O reports of the event group with onset in the `increase_window_hours`
  ending at the new report's onset, against E = the site's own count over the
  `increase_lookback_days` before that window, scaled to the window. Exact one-sided
  Poisson test p = P(X >= O | E) = poisson.sf(O - 1, E); a finding when p < `increase_alpha`
  and O >= `increase_min_count`. The caller counts the baseline over `baseline_period()`.

A report "counts as serious" for an event group when it is serious, or, with
`designated_count_as_serious`, when the group is a designated condition. Only windows that
contain the new report are looked at: the question is whether this report makes or joins a
cluster. Members are ordered by onset, then report id.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scipy.stats import poisson

from aefi.intake.symptoms import group_label
from aefi.triage.ruleset import Ruleset


class ClusterKind(StrEnum):
    SITE_SERIOUS = "site_serious"
    LOT_SERIOUS = "lot_serious"
    SITE_INCREASE = "site_increase"


@dataclass(frozen=True)
class ReportPoint:
    """One report as cluster detection sees it. Ids are whatever the caller uses."""

    report_id: Hashable
    site_id: Hashable
    lot_ids: frozenset
    vaccine_ids: frozenset
    event_groups: frozenset[str]
    serious: bool
    onset_at: datetime

    def __post_init__(self) -> None:
        for name in ("lot_ids", "vaccine_ids", "event_groups"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        if self.onset_at.tzinfo is None or self.onset_at.utcoffset() is None:
            raise ValueError(f"onset_at must carry a time zone offset, got {self.onset_at}")


@dataclass(frozen=True)
class ClusterFinding:
    kind: ClusterKind
    event_group: str
    site_id: Hashable | None
    lot_id: Hashable | None
    vaccine_id: Hashable | None
    member_ids: tuple
    first_onset_at: datetime
    last_onset_at: datetime
    reason_en: str
    reason_zh: str
    p_value: float | None = None
    observed: int | None = None
    expected: float | None = None

    def reason(self, lang: str = "en") -> str:
        return self.reason_zh if lang == "zh" else self.reason_en


def counts_as_serious(point: ReportPoint, group: str, ruleset: Ruleset) -> bool:
    """Serious for cluster detection: serious, or a designated condition if so configured."""
    return point.serious or (
        ruleset.clusters.designated_count_as_serious and group in ruleset.designated_conditions
    )


def baseline_period(new: ReportPoint, ruleset: Ruleset) -> tuple[datetime, datetime]:
    """[start, end) of the lookback period whose counts the caller passes as `baseline`:
    the `increase_lookback_days` before the increase window that ends at the new onset."""
    c = ruleset.clusters
    window_start = new.onset_at - timedelta(hours=c.increase_window_hours)
    return window_start - timedelta(days=c.increase_lookback_days), window_start


def find_clusters(
    new: ReportPoint,
    recent: Sequence[ReportPoint],
    ruleset: Ruleset,
    *,
    baseline: Mapping[tuple[Hashable, Hashable, str], float] | None = None,
) -> list[ClusterFinding]:
    """Clusters that the new report makes or joins, in a fixed order: site rule, lot rule,
    increase rule; within each, by lot or vaccine id and then event group.

    `recent` may include the new report itself; it is counted once. `baseline` maps
    (site_id, vaccine_id, event_group) to the number of non-serious reports at that site
    after that vaccine in that group during `baseline_period(new, ruleset)`; missing keys
    count as 0 (raised to `increase_baseline_floor`).
    """
    others = [r for r in recent if r.report_id != new.report_id]
    groups = _ordered_groups(new.event_groups, ruleset)
    findings: list[ClusterFinding] = []

    for group in groups:
        if counts_as_serious(new, group, ruleset):
            finding = _serious_cluster(
                new,
                others,
                group,
                ruleset,
                kind=ClusterKind.SITE_SERIOUS,
                same_place=lambda r: r.site_id == new.site_id,
                window_hours=ruleset.clusters.site_window_hours,
            )
            if finding is not None:
                findings.append(finding)

    for lot_id in sorted(new.lot_ids, key=_id_key):
        for group in groups:
            if counts_as_serious(new, group, ruleset):
                finding = _serious_cluster(
                    new,
                    others,
                    group,
                    ruleset,
                    kind=ClusterKind.LOT_SERIOUS,
                    same_place=lambda r, lot_id=lot_id: lot_id in r.lot_ids,
                    window_hours=ruleset.clusters.lot_window_hours,
                    lot_id=lot_id,
                )
                if finding is not None:
                    findings.append(finding)

    for vaccine_id in sorted(new.vaccine_ids, key=_id_key):
        for group in groups:
            if not counts_as_serious(new, group, ruleset):
                finding = _increase(new, others, group, vaccine_id, ruleset, baseline or {})
                if finding is not None:
                    findings.append(finding)

    return _drop_repeats(findings)


def _id_key(value: Hashable) -> tuple[int, object]:
    # Numbers sort as numbers, anything else by its text; mixed ids still sort.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def _member_key(point: ReportPoint) -> tuple[datetime, tuple[int, object]]:
    return (point.onset_at, _id_key(point.report_id))


def _ordered_groups(groups: frozenset[str], ruleset: Ruleset) -> list[str]:
    # Designated conditions first, common reactions last: when one set of reports shares
    # several groups, the finding kept is the most specific one (see _drop_repeats).
    def rank(group: str) -> tuple[int, str]:
        if group in ruleset.designated_conditions:
            return (0, group)
        if group in ruleset.common_reaction_groups:
            return (2, group)
        return (1, group)

    return sorted(groups, key=rank)


def _drop_repeats(findings: list[ClusterFinding]) -> list[ClusterFinding]:
    """Keep one finding per set of reports: a finding whose members are all in an earlier
    finding of the same kind and place (e.g. the same reports again, by their fever) adds
    nothing for the investigator."""
    kept: list[ClusterFinding] = []
    for finding in findings:
        place = (finding.kind, finding.site_id, finding.lot_id, finding.vaccine_id)
        if any(
            (k.kind, k.site_id, k.lot_id, k.vaccine_id) == place
            and set(finding.member_ids) <= set(k.member_ids)
            for k in kept
        ):
            continue
        kept.append(finding)
    return kept


def _hours_text(hours: float) -> tuple[str, str]:
    return f"{hours:g} h", f"{hours:g}小时"


def _serious_cluster(
    new: ReportPoint,
    others: Sequence[ReportPoint],
    group: str,
    ruleset: Ruleset,
    *,
    kind: ClusterKind,
    same_place: Callable[[ReportPoint], bool],
    window_hours: float,
    lot_id: Hashable | None = None,
) -> ClusterFinding | None:
    window = timedelta(hours=window_hours)
    candidates = sorted(
        [new]
        + [
            r
            for r in others
            if same_place(r)
            and group in r.event_groups
            and counts_as_serious(r, group, ruleset)
            and abs(r.onset_at - new.onset_at) <= window
        ],
        key=_member_key,
    )
    # The largest set with all onsets within the window of each other that holds the new
    # report: try each window that starts at a candidate's onset and still reaches it.
    best: list[ReportPoint] = []
    for start in (c.onset_at for c in candidates if c.onset_at <= new.onset_at):
        members = [c for c in candidates if start <= c.onset_at <= start + window]
        if len(members) > len(best):
            best = members
    if len(best) < ruleset.clusters.min_serious:
        return None

    n = len(best)
    label_en = group_label(group, in_sentence=True)
    label_zh = group_label(group, "zh")
    hours_en, hours_zh = _hours_text(window_hours)
    all_flagged = all(m.serious for m in best)
    what_en = "serious reports" if all_flagged else "serious or designated-condition reports"
    what_zh = "严重AEFI" if all_flagged else "严重或指定病症AEFI"
    if kind is ClusterKind.SITE_SERIOUS:
        site_id = new.site_id
        reason_en = (
            f"{n} {what_en} of {label_en} among people vaccinated at site {site_id}, with "
            f"onsets within {hours_en} of each other: a possible group AEFI (two or more "
            "serious AEFI with similar symptoms at one site within a short time)."
        )
        reason_zh = (
            f"同一接种单位（{site_id}）的受种者{hours_zh}内发生{n}例{label_zh}{what_zh}："
            "疑似群体性AEFI。"
        )
    else:
        site_id = None
        sites = len({m.site_id for m in best})
        reason_en = (
            f"{n} {what_en} of {label_en} after vaccine lot {lot_id} at {sites} "
            f"site{'s' if sites != 1 else ''}, with onsets within {hours_en} of each other: "
            "a possible group AEFI linked to the lot."
        )
        reason_zh = (
            f"同一批号（{lot_id}）疫苗的受种者{hours_zh}内发生{n}例{label_zh}{what_zh}"
            f"（涉及{sites}个接种单位）：疑似与该批疫苗有关的群体性AEFI。"
        )
    return ClusterFinding(
        kind=kind,
        event_group=group,
        site_id=site_id,
        lot_id=lot_id,
        vaccine_id=None,
        member_ids=tuple(m.report_id for m in best),
        first_onset_at=best[0].onset_at,
        last_onset_at=best[-1].onset_at,
        reason_en=reason_en,
        reason_zh=reason_zh,
    )


def _increase(
    new: ReportPoint,
    others: Sequence[ReportPoint],
    group: str,
    vaccine_id: Hashable,
    ruleset: Ruleset,
    baseline: Mapping[tuple[Hashable, Hashable, str], float],
) -> ClusterFinding | None:
    c = ruleset.clusters
    window_start = new.onset_at - timedelta(hours=c.increase_window_hours)
    members = sorted(
        [new]
        + [
            r
            for r in others
            if r.site_id == new.site_id
            and vaccine_id in r.vaccine_ids
            and group in r.event_groups
            and not counts_as_serious(r, group, ruleset)
            and window_start <= r.onset_at <= new.onset_at
        ],
        key=_member_key,
    )
    observed = len(members)
    if observed < c.increase_min_count:
        return None
    base = max(float(baseline.get((new.site_id, vaccine_id, group), 0)), c.increase_baseline_floor)
    expected = base * c.increase_window_hours / (c.increase_lookback_days * 24)
    p_value = float(poisson.sf(observed - 1, expected))
    if p_value >= c.increase_alpha:
        return None

    label_en = group_label(group, in_sentence=True)
    label_zh = group_label(group, "zh")
    hours_en, hours_zh = _hours_text(c.increase_window_hours)
    days = f"{c.increase_lookback_days:g}"
    return ClusterFinding(
        kind=ClusterKind.SITE_INCREASE,
        event_group=group,
        site_id=new.site_id,
        lot_id=None,
        vaccine_id=vaccine_id,
        member_ids=tuple(m.report_id for m in members),
        first_onset_at=members[0].onset_at,
        last_onset_at=members[-1].onset_at,
        reason_en=(
            f"{observed} non-serious reports of {label_en} after vaccine {vaccine_id} at site "
            f"{new.site_id} within {hours_en}, where the site's own rate over the previous "
            f"{days} days predicts {expected:.2f} (exact Poisson test p = {p_value:.2g}, "
            f"below {c.increase_alpha:g}): a marked increase, a possible group AEFI."
        ),
        reason_zh=(
            f"接种单位（{new.site_id}）接种{vaccine_id}后{hours_zh}内发生{observed}例"
            f"{label_zh}非严重AEFI，按该单位前{days}天的发生率预期{expected:.2f}例"
            f"（精确泊松检验 p={p_value:.2g}，低于{c.increase_alpha:g}）：明显增多，"
            "疑似群体性AEFI。"
        ),
        p_value=p_value,
        observed=observed,
        expected=expected,
    )
