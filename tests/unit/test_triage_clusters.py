"""Cluster (group AEFI) detection: table-driven, nothing started."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from aefi.triage.clusters import (
    ClusterKind,
    ReportPoint,
    baseline_period,
    find_clusters,
)
from aefi.triage.ruleset import DEFAULT_PATH, load_ruleset, parse_ruleset

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=CST)
RULESET = load_ruleset()


def point(
    report_id: int,
    *,
    site: str = "S1",
    lots: set[str] | None = None,
    vaccines: set[str] | None = None,
    groups: set[str] | None = None,
    serious: bool = True,
    hours: float = 0,
) -> ReportPoint:
    return ReportPoint(
        report_id=report_id,
        site_id=site,
        lot_ids=frozenset(lots or {"L1"}),
        vaccine_ids=frozenset(vaccines or {"DTaP"}),
        event_groups=frozenset(groups or {"anaphylaxis"}),
        serious=serious,
        onset_at=T0 + timedelta(hours=hours),
    )


def poisson_sf(observed: int, expected: float) -> float:
    """P(X >= observed) for X ~ Poisson(expected), from the series, without scipy."""
    below = sum(math.exp(-expected) * expected**k / math.factorial(k) for k in range(observed))
    return 1 - below


def test_one_lot_at_two_sites_makes_one_lot_cluster() -> None:
    recent = [
        point(1, site="S1", hours=0),
        point(2, site="S1", hours=5),
    ]
    new = point(3, site="S2", hours=20)
    findings = find_clusters(new, recent, RULESET)
    assert len(findings) == 1
    (finding,) = findings
    assert finding.kind is ClusterKind.LOT_SERIOUS
    assert finding.lot_id == "L1"
    assert finding.site_id is None
    assert finding.event_group == "anaphylaxis"
    assert finding.member_ids == (1, 2, 3)
    assert (finding.first_onset_at, finding.last_onset_at) == (T0, T0 + timedelta(hours=20))
    assert "lot L1 at 2 sites" in finding.reason_en
    assert "L1" in finding.reason_zh and "群体性AEFI" in finding.reason_zh


def test_same_site_and_same_lot_give_both_findings() -> None:
    recent = [point(1, site="S1", hours=0), point(2, site="S2", hours=5)]
    new = point(3, site="S1", hours=20)
    findings = find_clusters(new, recent, RULESET)
    assert [(f.kind, f.member_ids) for f in findings] == [
        (ClusterKind.SITE_SERIOUS, (1, 3)),
        (ClusterKind.LOT_SERIOUS, (1, 2, 3)),
    ]
    assert findings[0].site_id == "S1"


def test_unrelated_reports_make_no_cluster() -> None:
    recent = [
        point(1, site="S1", lots={"L1"}, groups={"seizure"}, hours=0),
        point(2, site="S2", lots={"L2"}, groups={"gbs"}, hours=2),
    ]
    new = point(3, site="S3", lots={"L3"}, groups={"anaphylaxis"}, hours=4)
    assert find_clusters(new, recent, RULESET) == []


@pytest.mark.parametrize(
    ("gap", "clustered"),
    [
        pytest.param(timedelta(hours=72), True, id="exactly-72h-apart"),
        pytest.param(timedelta(hours=72, minutes=1), False, id="just-over-72h"),
        pytest.param(-timedelta(hours=72), True, id="earlier-onset-reported-later"),
        pytest.param(-timedelta(hours=72, minutes=1), False, id="earlier-just-over-72h"),
    ],
)
def test_window_edge(gap: timedelta, clustered: bool) -> None:
    # Different lots, so only the site rule can fire.
    recent = [point(1, lots={"L1"}, groups={"seizure"})]
    new = ReportPoint(
        report_id=2,
        site_id="S1",
        lot_ids=frozenset({"L2"}),
        vaccine_ids=frozenset({"MMR"}),
        event_groups=frozenset({"seizure"}),
        serious=True,
        onset_at=T0 + gap,
    )
    findings = find_clusters(new, recent, RULESET)
    assert [f.kind for f in findings] == ([ClusterKind.SITE_SERIOUS] if clustered else [])


def test_site_rule_needs_same_group_and_serious_reports() -> None:
    recent = [
        point(1, lots={"L1"}, groups={"syncope"}, serious=False),  # not serious
        point(2, lots={"L2"}, groups={"gbs"}),  # other group
        point(3, site="S2", lots={"L3"}, groups={"syncope"}),  # other site
    ]
    new = point(4, lots={"L4"}, groups={"syncope"}, hours=1)
    assert find_clusters(new, recent, RULESET) == []
    recent.append(point(5, lots={"L5"}, groups={"syncope"}, hours=2))
    (finding,) = find_clusters(new, recent, RULESET)
    assert (finding.kind, finding.member_ids) == (ClusterKind.SITE_SERIOUS, (4, 5))
    assert finding.reason_en.startswith("2 serious reports of syncope")


def test_members_are_within_the_window_of_each_other() -> None:
    # 0 h, 60 h and 120 h: each is within 72 h of the new report at 60 h, but the first and
    # the last are 120 h apart. The earlier of the two equally large windows is kept.
    recent = [point(1, lots={"A"}, hours=0), point(3, lots={"C"}, hours=120)]
    new = point(2, lots={"B"}, hours=60)
    (finding,) = find_clusters(new, recent, RULESET)
    assert finding.member_ids == (1, 2)


def test_designated_conditions_count_as_serious_when_configured() -> None:
    recent = [point(1, lots={"A"}, serious=False)]
    new = point(2, lots={"B"}, serious=False, hours=3)
    (finding,) = find_clusters(new, recent, RULESET)
    assert finding.kind is ClusterKind.SITE_SERIOUS
    assert "serious or designated-condition reports" in finding.reason_en

    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "designated_count_as_serious = true", "designated_count_as_serious = false"
    )
    assert find_clusters(new, recent, parse_ruleset(text)) == []


def test_new_report_in_recent_is_counted_once_and_order_is_fixed() -> None:
    new = point(9, site="S2", hours=10)
    recent = [point(i, site="S1", hours=i) for i in range(1, 5)] + [new]
    expected = find_clusters(new, recent, RULESET)
    assert expected[0].member_ids == (1, 2, 3, 4, 9)
    shuffled = recent[:]
    random.Random(4).shuffle(shuffled)
    assert find_clusters(new, shuffled, RULESET) == expected


def test_shared_common_group_does_not_repeat_the_cluster() -> None:
    recent = [point(1, groups={"anaphylaxis", "fever"})]
    new = point(2, lots={"L2"}, groups={"anaphylaxis", "fever"}, hours=1)
    findings = find_clusters(new, recent, RULESET)
    assert [(f.kind, f.event_group) for f in findings] == [
        (ClusterKind.SITE_SERIOUS, "anaphylaxis")
    ]


# Marked increase of non-serious reports ----------------------------------------------

WINDOW_OVER_LOOKBACK = 72 / (28 * 24)


def fevers(count: int, *, site: str = "S1", vaccine: str = "DTaP") -> list[ReportPoint]:
    return [
        point(i, site=site, lots={f"L{i}"}, vaccines={vaccine}, groups={"fever"},
              serious=False, hours=-10 * i)
        for i in range(1, count + 1)
    ]  # fmt: skip


NEW_FEVER = point(100, lots={"L100"}, groups={"fever"}, serious=False)


@pytest.mark.parametrize(
    ("earlier", "baseline", "found"),
    [
        pytest.param(3, 2, True, id="4-reports-against-2-in-28-days"),
        pytest.param(3, 100, False, id="4-reports-against-100-in-28-days"),
        pytest.param(1, 0, False, id="2-reports-below-min-count"),
        pytest.param(2, 0, True, id="3-reports-no-history-uses-floor"),
    ],
)
def test_increase_rule_exact_poisson(earlier: int, baseline: int, found: bool) -> None:
    findings = find_clusters(
        NEW_FEVER, fevers(earlier), RULESET, baseline={("S1", "DTaP", "fever"): baseline}
    )
    expected = max(baseline, 0.5) * WINDOW_OVER_LOOKBACK
    if not found:
        assert findings == []
        return
    (finding,) = findings
    assert finding.kind is ClusterKind.SITE_INCREASE
    assert (finding.site_id, finding.vaccine_id, finding.event_group) == ("S1", "DTaP", "fever")
    assert finding.observed == earlier + 1
    assert finding.expected == pytest.approx(expected)
    assert finding.p_value == pytest.approx(poisson_sf(earlier + 1, expected), rel=1e-9)
    assert finding.p_value < RULESET.clusters.increase_alpha
    assert finding.member_ids == (*range(earlier, 0, -1), 100)  # by onset
    assert "exact Poisson test" in finding.reason_en and "泊松" in finding.reason_zh


def test_increase_counts_only_same_site_vaccine_group_and_window() -> None:
    recent = [
        *fevers(1),
        point(2, site="S2", groups={"fever"}, serious=False),  # other site
        point(3, vaccines={"MMR"}, groups={"fever"}, serious=False),  # other vaccine
        point(4, groups={"local_reaction"}, serious=False),  # other group
        point(5, groups={"fever"}, serious=False, hours=-73),  # before the window
        point(6, groups={"fever"}, serious=True),  # serious: site rule, not this one
    ]
    assert find_clusters(NEW_FEVER, recent, RULESET) == []


def test_serious_new_report_is_not_tested_for_increase() -> None:
    new = point(100, lots={"L100"}, groups={"fever"}, serious=True)
    findings = find_clusters(new, fevers(5), RULESET)
    assert all(f.kind is not ClusterKind.SITE_INCREASE for f in findings)


def test_baseline_period_is_the_lookback_before_the_window() -> None:
    start, end = baseline_period(NEW_FEVER, RULESET)
    assert end == T0 - timedelta(hours=72)
    assert start == end - timedelta(days=28)
