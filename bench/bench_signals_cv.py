"""MaxSPRT critical values at large T: the previous algorithm against the current one,
interleaved, in one run.

* **old**: the exact root search the scan used above ``FAST_T`` until issue 18 (Illinois
  steps on the exact type I error, each evaluation carrying the whole count distribution
  from 0 to the boundary at every look: cost ~T^2 per evaluation). Kept here verbatim so
  the comparison is in the same process.
* **new**: ``scan._critical_value_large_T``: the error extrapolated in log T from exact
  anchors at T = 100, 300, 900 on a shared cv grid (cost independent of T), with the
  windowed exact ``stats.type1_error`` (cost ~T^1.5) under it.

Printed per T (alpha = 0.05, M = 1 and 2): old and new time (new with empty caches, so
each value pays for its own anchors), the ratio, both cvs and the exact type I error of
the new cv where the old one is affordable. Then the cold start of 84 values (42 grid
points from T = 1 to T = 1,000,000, M = 1 and 2) as a scan needs them: new only, the old
one would take hours at these T."""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import special

from aefi.signals import scan, stats

ALPHA = 0.05
COMPARE_T = (316.227766, 562.341325, 1000.0, 1778.279410, 3162.277660, 5623.413252)


def _old_type1_error(cv: float, T: float, min_events: int) -> float:
    """stats.type1_error before issue 18 (no window, absorption by pdtrc): ~T^2."""
    cs, mus, c_end = stats._boundary(float(cv), float(T), int(min_events))
    looks = list(zip(mus.tolist(), cs.tolist(), strict=True)) + [(float(T), c_end)]
    p = np.array([1.0])
    t = 0.0
    alpha = 0.0
    for t_next, threshold in looks:
        dt = max(t_next - t, 0.0)
        k = np.arange(p.size, dtype=float)
        alpha += float(np.dot(p, special.pdtrc(threshold - 1 - k, dt)))
        kernel = stats._poisson_pmf(np.arange(threshold, dtype=float), dt)
        keep = np.nonzero(kernel > 1e-30)[0]
        if keep.size:
            kernel = kernel[: keep[-1] + 1]
        p = np.convolve(p, kernel)[:threshold]
        t = t_next
    return alpha


def _old_critical_value(T: float, alpha: float, min_events: int) -> float:
    """scan._critical_value_large_T before issue 18 (Illinois from a bracket at FAST_T)."""

    def excess(cv: float) -> float:
        return _old_type1_error(cv, T, min_events) - alpha

    t0 = scan.FAST_T
    lo = stats.critical_value(t0, alpha, min_events)
    step = 0.2 * math.log10(T / t0) + 0.01
    f_lo = excess(lo)
    hi = lo + step
    f_hi = excess(hi)
    while f_hi > 0:
        lo, f_lo, hi = hi, f_hi, hi + step
        f_hi = excess(hi)
    side = 0
    for _ in range(60):
        if hi - lo < 1e-7 or -1e-10 < f_hi <= 0:
            break
        c = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < c < hi:
            c = (lo + hi) / 2
        f_c = excess(c)
        if f_c > 0:
            lo, f_lo = c, f_c
            if side == 1:
                f_hi /= 2
            side = 1
        else:
            hi, f_hi = c, f_c
            if side == -1:
                f_lo /= 2
            side = -1
    return hi


def _clear() -> None:
    scan._cv_cache.clear()
    scan._cv_unsaved.clear()
    scan._anchor_cache.clear()
    stats._critical_value_cached.cache_clear()


def main() -> None:
    print("old (exact, T^2) vs new (log-T extrapolation from exact anchors), interleaved:")
    print(
        f"{'T':>10} {'M':>2} {'old s':>8} {'new s':>8} {'old/new':>8} "
        f"{'cv old':>10} {'cv new':>10} {'exact error of new cv':>22}"
    )
    for T in COMPARE_T:
        for m in (1, 2):
            stats.critical_value(scan.FAST_T, ALPHA, m)  # the old bracket start, not timed
            t0 = time.perf_counter()
            old = _old_critical_value(T, ALPHA, m)
            t_old = time.perf_counter() - t0
            _clear()
            t0 = time.perf_counter()
            new = scan._critical_value_large_T(T, ALPHA, m)
            t_new = time.perf_counter() - t0
            error = stats.type1_error(new, T, m)
            print(
                f"{T:10.1f} {m:2d} {t_old:8.2f} {t_new:8.3f} {t_old / t_new:8.0f} "
                f"{old:10.6f} {new:10.6f} {error:22.6f}",
                flush=True,
            )

    grid = scan.grid_upper_limit(np.logspace(0, 6, 42))
    _clear()
    t0 = time.perf_counter()
    cvs = [scan.critical_value(float(T), ALPHA, m) for m in (1, 2) for T in grid]
    cold = time.perf_counter() - t0
    print(
        f"cold start, {len(cvs)} critical values (T = {grid[0]:.3g} .. {grid[-1]:.3g}, "
        f"M = 1, 2): {cold:.2f} s; cv at T = 1e6: M = 1 {cvs[41]:.4f}, M = 2 {cvs[83]:.4f}"
    )
    t0 = time.perf_counter()
    for m in (1, 2):
        for T in grid:
            scan.critical_value(float(T), ALPHA, m)
    print(f"warm (cached): {time.perf_counter() - t0:.4f} s")
