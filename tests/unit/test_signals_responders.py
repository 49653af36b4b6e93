"""A lot against its siblings among check-in responders (aefi.signals.responders): the
one-sided Fisher test, the minimums, and its error rate and power by seeded simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from aefi.signals import responders as r

RULES = r.Rules(alpha=0.05, family_size=4, min_responders=30, min_events=3)


def _g(k, n, ks, ns, group="fever") -> r.GroupCounts:
    return r.GroupCounts(group, k, n, ks, ns)


@pytest.mark.parametrize(
    ("k", "n", "ks", "ns"), [(5, 40, 10, 400), (0, 30, 3, 90), (12, 50, 20, 200), (30, 30, 1, 30)]
)
def test_excess_p_is_one_sided_fisher(k, n, ks, ns) -> None:
    want = stats.fisher_exact([[k, n - k], [ks, ns - ks]], alternative="greater")[1]
    assert r.excess_p(k, n, ks, ns) == pytest.approx(want, rel=1e-9)


def test_alpha_is_split_over_the_family() -> None:
    (d,) = r.decide([_g(20, 60, 20, 600)], RULES)
    assert d.alpha == pytest.approx(0.0125)
    assert d.signal and d.p_value < d.alpha and d.strength > 1
    assert d.ratio == pytest.approx((20 / 60) / (20 / 600))
    assert d.lot.low < 20 / 60 < d.lot.high


@pytest.mark.parametrize(
    "counts",
    [
        _g(10, 10, 5, 500),  # every one of 10 responders: too few responders
        _g(2, 40, 0, 400),  # 2 events only
        _g(10, 40, 0, 20),  # the siblings have too few responders
    ],
)
def test_below_the_minimums_nothing_is_tested(counts) -> None:
    (d,) = r.decide([counts], RULES)
    assert d.p_value is None and not d.signal and d.strength == 0.0


def test_no_more_groups_than_the_family() -> None:
    with pytest.raises(ValueError):
        r.decide([_g(1, 40, 1, 40, str(i)) for i in range(5)], RULES)


def _simulate(rng, runs, n, ns, shares, lot_shares) -> float:
    """The share of simulated lots with a signal on any event group."""
    hits = 0
    for _ in range(runs):
        groups = [
            _g(int(rng.binomial(n, q)), n, int(rng.binomial(ns, p)), ns, str(j))
            for j, (p, q) in enumerate(zip(shares, lot_shares, strict=True))
        ]
        hits += any(d.signal for d in r.decide(groups, RULES))
    return hits / runs


def test_false_signal_rate_of_a_clean_lot_is_at_most_alpha() -> None:
    """H0: the same share in the lot and its siblings, in each of the 4 groups. The family's
    false-signal rate stays within alpha + 3 standard errors of the simulation."""
    rng = np.random.default_rng(20261202)
    runs = 2000
    shares = [0.05, 0.1, 0.2, 0.3]
    rate = _simulate(rng, runs, 120, 600, shares, shares)
    se = math.sqrt(RULES.alpha * (1 - RULES.alpha) / runs)
    assert rate <= RULES.alpha + 3 * se


def test_a_lot_with_few_answers_rarely_signals() -> None:
    """Small lots under H0 (35 responders, around the minimum): still within alpha."""
    rng = np.random.default_rng(17)
    runs = 2000
    shares = [0.05, 0.1, 0.2, 0.3]
    rate = _simulate(rng, runs, 35, 300, shares, shares)
    assert rate <= RULES.alpha + 3 * math.sqrt(RULES.alpha * (1 - RULES.alpha) / runs)


def test_power_for_a_planted_threefold_share() -> None:
    """One group's share three times the siblings' (0.3 against 0.1) among 80 responders:
    the lot signals in most runs."""
    rng = np.random.default_rng(3)
    runs = 500
    shares = [0.1, 0.05, 0.2, 0.3]
    power = _simulate(rng, runs, 80, 600, shares, [0.3, 0.05, 0.2, 0.3])
    assert power >= 0.9
