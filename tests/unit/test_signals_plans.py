"""Fixed surveillance plans (aefi.signals.plans): the arithmetic, and seeded simulations
showing that with T fixed at the start the halt level's type I error is <= alpha (within
Monte Carlo error), never above the review level's, and that the family's error over a
lot's event groups stays <= alpha."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aefi.signals import plans, scan, stats

RULE = plans.PlanRule(alpha=0.05, signal_min_events=1, halt_min_events=2, t_factor=2.0)


def test_planned_doses_order_and_sources() -> None:
    given = np.array([100.0, 100.0, 100.0, 100.0, 9000.0])
    size = np.array([500.0, np.nan, 50.0, np.nan, np.nan])  # 50 < given: passed over
    prod = np.array([np.nan, 2000.0, 3000.0, np.nan, 4000.0])  # 4000 < 9000: passed over
    doses, src = plans.planned_doses(given, size, prod, RULE)
    assert doses.tolist() == [500.0, 2000.0, 3000.0, 10_000.0, 18_000.0]
    assert [plans.SOURCES[int(s)] for s in src] == [
        "lot_size",
        "product_planned",
        "product_planned",
        "default",
        "default",
    ]


def test_family_shares_bonferroni() -> None:
    keys = np.array([7, 7, 7, 9, 9, 11])
    a, g = plans.family_shares(keys, 0.05)
    assert g.tolist() == [3, 3, 3, 2, 2, 1]
    assert a.tolist() == pytest.approx([0.05 / 3] * 3 + [0.025] * 2 + [0.05])
    w, _ = plans.family_shares(keys, 0.05, weights=[2, 1, 1, 1, 1, 1])
    assert w[:3].tolist() == pytest.approx([0.025, 0.0125, 0.0125])
    assert w[:3].sum() == pytest.approx(0.05)


def test_next_upper_limit_never_lowered() -> None:
    assert plans.next_upper_limit(None, 3.0, 0.5, 2.0) == (3.0, False)
    assert plans.next_upper_limit(None, 0.2, 0.5, 2.0) == (0.5, False)  # at least E
    assert plans.next_upper_limit(4.0, 1.0, 1.0, 2.0) == (4.0, False)  # a lower input: kept
    assert plans.next_upper_limit(4.0, 6.0, 1.0, 2.0) == (6.0, False)  # raised inputs
    assert plans.next_upper_limit(4.0, 0.0, 4.5, 2.0) == (9.0, True)  # past the end


def test_halt_is_never_weaker_than_review() -> None:
    # The case: O = 8, E = 2.7, T = 10 has LLR 3.390 — under the review CV 3.468,
    # over the old halt CV(T, alpha, M=2) 3.238. With the plan's rule it is no halt.
    llr = float(stats.maxsprt_llr(8, 2.7))
    cv1 = stats.critical_value(10.0, 0.05, 1)
    cv2 = stats.critical_value(10.0, 0.05, 2)
    assert cv2 < llr < cv1
    d = plans.decide(np.array([8.0]), np.array([2.7]), np.array([llr]), np.array([cv1]), 1, 2)
    assert not d.signal[0] and not d.halt[0]
    # One report over a tiny T signals for review (no CV reaches alpha), never a halt.
    d = plans.decide(np.array([1.0]), np.array([0.03]), np.array([2.5]), np.array([0.0]), 1, 2)
    assert d.signal[0] and not d.halt[0]
    d = plans.decide(np.array([2.0]), np.array([0.03]), np.array([5.0]), np.array([0.0]), 1, 2)
    assert d.signal[0] and d.halt[0]


def _simulate(T: float, cv: float, end: float, n: int, rng: np.random.Generator, rr: float = 1.0):
    """Continuous monitoring of n clean (rr = 1) paths of a plan with upper limit T that
    stops at expected count ``end`` (<= T): events of a Poisson process in expected time,
    the decision taken after each event (the LLR only rises at events). Returns, per path,
    whether the review level and the halt level were ever reached."""
    counts = rng.poisson(rr * end, size=n)
    kmax = int(counts.max()) if n else 0
    review = np.zeros(n, bool)
    halt = np.zeros(n, bool)
    if kmax == 0:
        return review, halt
    k = np.arange(1, kmax + 1, dtype=float)[None, :].repeat(n, axis=0)
    real = k <= counts[:, None]
    # Given N(end) = c, the event times are c sorted uniforms (padding sorts last).
    times = np.sort(np.where(real, rng.uniform(0, end, size=(n, kmax)), np.inf), axis=1)
    times = np.where(real, times, end)
    llr = np.asarray(stats.maxsprt_llr(k, times)).reshape(k.shape)
    d = plans.decide(
        k, times, llr, np.full(k.shape, cv), RULE.signal_min_events, RULE.halt_min_events
    )
    review = (d.signal & real).any(axis=1)
    halt = (d.halt & real).any(axis=1)
    return review, halt


N_SIM = 20_000


@pytest.mark.parametrize("final_E", [0.3, 2.0, 10.0, 50.0])
def test_fixed_plan_halt_type1_error_within_alpha(final_E: float) -> None:
    """With T fixed at the start (a lot of known size: T = rate x size), the halt level's
    type I error is <= alpha within Monte Carlo error: the simulated rate is at most
    alpha + 3 SE, SE = sqrt(alpha (1 - alpha) / N_SIM) = 0.0015 for N_SIM = 20,000. The
    review level too; and on every path a halt implies a review signal."""
    rng = np.random.default_rng(20261201 + int(final_E * 10))
    T = float(scan.grid_upper_limit(np.array([final_E]))[0])
    cv = scan.critical_value(T, RULE.alpha, RULE.signal_min_events)
    review, halt = _simulate(T, cv, T, N_SIM, rng)
    se = math.sqrt(RULE.alpha * (1 - RULE.alpha) / N_SIM)
    assert se == pytest.approx(0.00154, abs=1e-5)
    assert halt.mean() <= RULE.alpha + 3 * se
    assert review.mean() <= RULE.alpha + 3 * se
    assert not (halt & ~review).any()  # halt level never weaker than review
    assert halt.mean() <= review.mean()
    # The exact error of the review boundary is <= alpha (the simulation's expectation).
    if cv > 0:
        assert stats.type1_error(cv, T, 1) <= RULE.alpha + 1e-9


def test_plan_from_product_planned_doses_is_conservative() -> None:
    """A lot without a size gets its product's planned doses as its end: it stops earlier
    (fewer doses than planned), so its error is below alpha, not above."""
    rng = np.random.default_rng(7)
    rate = 1e-3
    doses, src = plans.planned_doses(
        np.array([300.0]), np.array([np.nan]), np.array([20_000.0]), RULE
    )
    assert plans.SOURCES[int(src[0])] == "product_planned"
    T = float(scan.grid_upper_limit(rate * doses)[0])  # 20
    cv = scan.critical_value(T, RULE.alpha, 1)
    review, halt = _simulate(T, cv, rate * 5_000, N_SIM, rng)  # the lot ends at 5,000 doses
    se = math.sqrt(RULE.alpha * (1 - RULE.alpha) / N_SIM)
    assert halt.mean() <= RULE.alpha + 3 * se
    assert halt.mean() <= review.mean()


def test_family_error_over_six_groups_within_alpha() -> None:
    """A lot scanned for six event groups, each at its Bonferroni share alpha / 6 with its
    own fixed T: P(a halt on any group of a clean lot) <= alpha within 3 SE. Without the
    split (each group at alpha) the same simulation is clearly above alpha."""
    rng = np.random.default_rng(42)
    finals = [0.02, 0.4, 1.5, 6.0, 12.0, 30.0]  # six groups of one lot, very unequal rates
    keys = np.zeros(len(finals), dtype=np.int64)
    shares, g = plans.family_shares(keys, RULE.alpha)
    assert g.tolist() == [6] * 6
    n = 10_000
    any_split = np.zeros(n, bool)
    any_full = np.zeros(n, bool)
    for final_E, a_g in zip(finals, shares, strict=True):
        T = float(scan.grid_upper_limit(np.array([final_E]))[0])
        cv_split = scan.critical_value(T, float(a_g), 1)
        cv_full = scan.critical_value(T, RULE.alpha, 1)
        state = rng.bit_generator.state
        _, halt_split = _simulate(T, cv_split, T, n, rng)
        rng.bit_generator.state = state  # the same paths under both rules
        _, halt_full = _simulate(T, cv_full, T, n, rng)
        assert not (halt_split & ~halt_full).any()
        any_split |= halt_split
        any_full |= halt_full
    se = math.sqrt(RULE.alpha * (1 - RULE.alpha) / n)
    assert any_split.mean() <= RULE.alpha + 3 * se
    assert any_full.mean() > RULE.alpha + 3 * se


def test_next_upper_limits_vectorised_agrees() -> None:
    has = np.array([False, False, True, True, True])
    old = np.array([0.0, 0.0, 4.0, 4.0, 4.0])
    admin = np.array([3.0, 0.0, 1.0, 6.0, 0.0])
    start = np.array([3.0, 0.2, 1.0, 6.0, 0.0])
    e = np.array([0.5, 0.5, 1.0, 1.0, 4.5])
    T, ext = plans.next_upper_limits(has, old, admin, start, e, 2.0)
    for i in range(5):
        one = plans.next_upper_limit(
            old[i] if has[i] else None, admin[i] if has[i] else start[i], e[i], 2.0
        )
        assert (T[i], bool(ext[i])) == one
