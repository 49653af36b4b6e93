"""Fixed surveillance plans: the arithmetic of a plan, with no database.

A MaxSPRT controls its type I error only when its upper limit T (the expected count at
the planned end of surveillance) is fixed *before* the data are seen. Until now the scan
set T = t_factor x E for every target without a recorded size and recomputed it at every
scan, so T grew with the data and the critical value was never that of one plan
(simulated, clean data, alpha 0.05: the halt level fired with probability 0.06-0.10).

A plan fixes, when surveillance of a target (a lot, a vaccine product, a site) and event
group starts:

* **the planned doses**, in this order: the lot's recorded size (doses received) where it
  is known and not below the doses already given; else the number of doses the admin
  planned for the product (``Vaccine.planned_doses``; for a lot without a size this is an
  upper bound of its doses, so the plan is conservative); else
  ``max(default_planned_doses, t_factor x doses given)``;
* **T** = rate per dose x planned doses, rounded *up* onto the critical-value grid;
* **alpha for this event group**: the family's alpha split over the target's event groups
  by weighted Bonferroni (:func:`aefi.signals.sequential.family_alpha`, equal weights), so
  that P(any false signal on a clean lot, over all its groups) <= alpha whatever the
  dependence between groups (the same reports feed several groups);
* **the critical value** CV(T, alpha_g, M_signal) of the review level, computed once.

**The halt rule** (``HALT_RULE``): a halt recommendation needs the *review* boundary
(O >= M_signal and LLR >= CV(T, alpha_g, M_signal)) **and** its own minimum count
O >= M_halt. We chose "review CV and its own minimum count" over "its own smaller alpha"
because it makes the halt event a subset of the review event: on every path the halt can
fire only where the review signal has fired, so its type I error is at most the review
level's (<= alpha_g, exactly computed), and no lot can be held on evidence that would not
raise a review signal. The old rule, CV(T, alpha, M=2), is *below* CV(T, alpha, M=1) and
so held lots the review level would not flag. A separate smaller alpha for the halt would
need a second critical value per plan and still would not guarantee nesting for every T
(the two boundaries can cross at small counts). The cost is power at very small T, where
the M = 2 boundary was the lower one; the minimum count still keeps a single early report
(T < 1) from holding a lot.

**Never lowered.** A plan is replaced only by a new plan (the service audits it) whose T
is at least the old one: when the inputs change (a lot's size recorded, the product's
planned doses raised, a higher rate), or when the doses given pass the planned end
(E >= T: the surveillance planned has ended; continuing is a new plan, with its own
alpha — stated on the plan as ``extension``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aefi.signals.sequential import family_alpha

HALT_RULE = "review_cv_and_min_count"

SOURCE_LOT_SIZE = "lot_size"
SOURCE_PRODUCT = "product_planned"
SOURCE_DEFAULT = "default"
SOURCE_EXTENSION = "extension"
SOURCES = (SOURCE_LOT_SIZE, SOURCE_PRODUCT, SOURCE_DEFAULT, SOURCE_EXTENSION)


@dataclass(frozen=True)
class PlanRule:
    """The settings a plan is made from (``SignalSettings``)."""

    alpha: float = 0.05
    signal_min_events: int = 1
    halt_min_events: int = 2
    t_factor: float = 2.0
    default_planned_doses: int = 10_000


def planned_doses(
    doses_given: np.ndarray,
    lot_size: np.ndarray,
    product_planned: np.ndarray,
    rule: PlanRule,
) -> tuple[np.ndarray, np.ndarray]:
    """Planned doses per cell and where they come from (index into SOURCES).

    ``lot_size`` and ``product_planned`` are nan (or <= 0) where unknown; ``lot_size`` is
    always unknown for vaccines and sites. A figure below the doses already given cannot
    be the plan's end and is passed over."""
    given = np.asarray(doses_given, dtype=float)
    size = np.nan_to_num(np.asarray(lot_size, dtype=float), nan=0.0)
    prod = np.nan_to_num(np.asarray(product_planned, dtype=float), nan=0.0)
    fallback = np.maximum(float(rule.default_planned_doses), rule.t_factor * given)
    use_size = (size > 0) & (size >= given)
    use_prod = ~use_size & (prod > 0) & (prod >= given)
    doses = np.where(use_size, size, np.where(use_prod, prod, fallback))
    source = np.where(use_size, 0, np.where(use_prod, 1, 2))
    return doses, source


def family_shares(
    target_keys: np.ndarray, alpha: float, weights: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """alpha_g per cell: alpha split equally over the cells of the same target (a target's
    cells are its event groups), and the family size G of each cell.

    ``weights`` (one per cell) give a weighted Bonferroni split; default equal."""
    keys = np.asarray(target_keys)
    if keys.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    _, inverse, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    g = sizes[inverse]
    if weights is None:
        # family_alpha with equal weights: alpha / G (checked once for the arguments).
        family_alpha(alpha, 1)
        return alpha / g, g.astype(np.int64)
    w = np.asarray(weights, dtype=float)
    tot = np.bincount(inverse, weights=w)
    return alpha * w / tot[inverse], g.astype(np.int64)


def next_upper_limit(
    old_T: float | None, computed_T: float, expected_now: float, t_factor: float
) -> tuple[float, bool]:
    """The T a cell's plan should have now, and whether it is an extension.

    Never below the old T. When the expected count has reached the old T (the planned
    surveillance is over), the new plan reaches t_factor x E at least."""
    if old_T is None:
        return max(computed_T, expected_now), False
    if expected_now >= old_T:
        return max(old_T, computed_T, t_factor * expected_now), True
    return max(old_T, computed_T), False


def next_upper_limits(
    has_plan: np.ndarray,
    old_T: np.ndarray,
    admin_T: np.ndarray,
    start_T: np.ndarray,
    expected_now: np.ndarray,
    t_factor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`next_upper_limit` over arrays: T per cell and whether it is an extension.

    ``admin_T`` is rate x the admin's figures (lot size, product plan; 0 where neither is
    known): the only inputs that may raise a running plan. ``start_T`` is the T a new plan
    would get (fallback included)."""
    e = np.asarray(expected_now, dtype=float)
    has = np.asarray(has_plan, dtype=bool)
    old = np.where(has, np.asarray(old_T, dtype=float), 0.0)
    ext = has & (e >= old)
    running = np.where(
        ext, np.maximum.reduce([old, admin_T, t_factor * e]), np.maximum(old, admin_T)
    )
    return np.where(has, running, np.maximum(start_T, e)), ext


@dataclass
class Decision:
    signal: np.ndarray  # bool: the review boundary is crossed
    halt: np.ndarray  # bool: review boundary and O >= M_halt


def decide(
    observed: np.ndarray,
    expected: np.ndarray,
    llr: np.ndarray,
    cv: np.ndarray,
    signal_min_events: int,
    halt_min_events: int,
) -> Decision:
    """Both levels of fixed plans, vectorised (``HALT_RULE``).

    CV 0 means that no boundary reaches alpha_g at this T (P(N(T) >= M) < alpha_g): any
    excess with M events signals, at an error below alpha_g."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(invalid="ignore"):
        sig = (o >= signal_min_events) & (o > e) & (llr > 0) & (llr >= cv)
    sig = np.nan_to_num(sig, nan=0).astype(bool)
    halt = sig & (o >= halt_min_events)
    return Decision(signal=sig, halt=halt)
