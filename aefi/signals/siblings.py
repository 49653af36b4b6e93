"""A lot against its sibling lots (the other lots of the same product): pure arithmetic.

Observed-vs-expected against a historical rate is fragile (under-reporting, a background
rate that does not fit the county: Li et al., Front Pharmacol 2021). The question a county
asks of a bad lot is relative — *is this lot worse than the other lots of the same
vaccine?* — and two tests answer it without the rate:

* **Binomial MaxSPRT** (Kulldorff et al. 2011; :func:`aefi.signals.sequential
  .binomial_critical_value`): each report of the product in the event group is a *case*
  (this lot) or a *control* (a sibling lot); under H0 a report is a case with probability
  1/(1 + z), z = sibling doses / this lot's doses. Under-reporting and a wrong rate cancel
  as long as they hit the lots alike. The plan fixes z and the maximum number of events N
  when it starts; z is rounded *down* onto a grid of 24 points a decade (a smaller z is a
  larger null share for the lot: conservative) so that lots share critical values.
* **Conditional Poisson MaxSPRT** (Li & Kulldorff 2010; ``cond_poisson_critical_value``)
  when the expected rate is itself estimated: the siblings' c events over their doses V
  estimate it, the lot's k events over its doses P are tested with tau = P / V, and the
  surveillance ends at the lot's K-th event.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from aefi.signals import sequential
from aefi.signals.stats import NoCriticalValueError

Z_STEPS = 24  # grid points a decade for z


def z_on_grid(lot_doses: float, sibling_doses: float) -> float:
    """z = sibling doses / lot doses, rounded down onto the grid (never up)."""
    if not (lot_doses > 0 and sibling_doses > 0):
        raise ValueError("both the lot and its siblings need doses")
    z = sibling_doses / lot_doses
    return 10.0 ** (math.floor(math.log10(z) * Z_STEPS + 1e-9) / Z_STEPS)


@functools.lru_cache(maxsize=512)
def binomial_cv(N: int, alpha: float, min_cases: int, z: float) -> float:
    """CV.Binomial for a sibling plan (cached per N, alpha, M, z); 0.0 where no boundary
    reaches alpha (any excess with M cases then signals, at an error below alpha)."""
    try:
        return sequential.binomial_critical_value(N, alpha, min_cases, z).cv
    except NoCriticalValueError:
        return 0.0


@functools.lru_cache(maxsize=256)
def cond_poisson_cv(K: int, historical: int, alpha: float, min_events: int) -> float:
    return sequential.cond_poisson_critical_value(K, historical, alpha, min_events)


@dataclass(frozen=True)
class SiblingResult:
    cases: int  # this lot's reports
    events: int  # this lot's + its siblings' reports
    z: float
    N: int
    llr: float
    cv: float
    rr: float  # estimated relative risk z k / (n - k)
    signal: bool
    ended: bool  # n > N: the plan's events are used up


def sibling_test(
    cases: int,
    sibling_cases: int,
    z: float,
    N: int,
    alpha: float,
    min_cases: int,
) -> SiblingResult:
    """The binomial MaxSPRT of one lot and event group now (z already on the grid)."""
    n = int(cases) + int(sibling_cases)
    cv = binomial_cv(int(N), float(alpha), int(min_cases), float(z))
    if n == 0:
        return SiblingResult(0, 0, z, N, 0.0, cv, math.nan, False, False)
    llr = float(sequential.binomial_llr(int(cases), n, z))
    rr = sequential.binomial_rr(int(cases), n, z)
    signal = n <= N and cases >= min_cases and llr > 0 and llr >= cv
    return SiblingResult(int(cases), n, z, int(N), llr, cv, rr, signal, n > N)


@dataclass(frozen=True)
class CondPoissonResult:
    events: int  # this lot's k
    historical: int  # siblings' c
    tau: float
    K: int
    llr: float
    cv: float | None  # None: not computed (no excess, or no sibling event)
    signal: bool


def cond_poisson_test(
    events: int,
    sibling_events: int,
    lot_doses: float,
    sibling_doses: float,
    K: int,
    alpha: float,
    min_events: int,
) -> CondPoissonResult:
    """The conditional Poisson MaxSPRT with the rate estimated from the siblings.

    The CV (cost ~K^2) is computed only where the lot's rate is above the siblings'."""
    tau = float(lot_doses) / float(sibling_doses)
    if sibling_events < 1:
        return CondPoissonResult(events, sibling_events, tau, K, 0.0, None, False)
    llr = float(sequential.cond_poisson_llr(int(events), int(sibling_events), tau))
    if llr <= 0 or events < min_events:
        return CondPoissonResult(events, sibling_events, tau, K, llr, None, False)
    cv = cond_poisson_cv(int(K), int(sibling_events), float(alpha), int(min_events))
    return CondPoissonResult(events, sibling_events, tau, K, llr, cv, events <= K and llr >= cv)
