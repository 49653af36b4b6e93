"""Disproportionality at every level of the term hierarchy (pure numpy; no database).

Levels: the reported term, the aefi symptom code, the event group and the body system
(``LEVELS``), each a table vaccines x items of *reports* (DOMAIN.md): a = reports naming
the vaccine and the item, b = the vaccine and not the item, c = the item and not the
vaccine, d = the rest; a report counts once per cell however many of its terms map to the
item. Per cell:

* **PRR** with its 95 % interval and **Evans' criteria** (PRR >= 2, chi-square >= 4,
  a >= 3) — the chi-square is **Yates-corrected** (1 df); the uncorrected one is kept too;
* **ROR** with its 95 % interval; **BCPNN IC** with IC025 / IC975 (Noren's approximation,
  :func:`aefi.signals.stats.bcpnn_ic`);
* **MGPS** (DuMouchel 1999, :mod:`aefi.signals.mgps`): the two-gamma prior fitted by
  maximum likelihood over the level's cells with a >= 1 (openEBGM's truncated likelihood,
  N* = 1), E from the margins, EBGM / EB05 / EB95. Left nan when the level has fewer
  than 5 such cells or the fit does not converge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from aefi.signals import mgps, stats

LEVELS = ("term", "symptom", "event_group", "body_system")


@dataclass
class LevelTable:
    level: str
    vaccines: np.ndarray  # ids, ascending (rows)
    items: list[str]  # columns
    n_v: np.ndarray
    n_i: np.ndarray
    n: int
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    result: stats.Disproportionality
    evans: np.ndarray
    p_value: np.ndarray  # Yates chi-square, upper tail
    ebgm: np.ndarray
    eb05: np.ndarray
    eb95: np.ndarray
    theta: tuple[float, ...] | None


def level_table(
    level: str,
    vi: Iterable[tuple[int, str, int]],
    v: Sequence[tuple[int, int]],
    i: Iterable[tuple[str, int]],
    n: int,
    items: Sequence[str] | None = None,
    *,
    fit: bool = True,
) -> LevelTable | None:
    """The table of one level from report counts: (vaccine, item, reports),
    (vaccine, reports), (item, reports), N. ``items`` restricts and orders the columns
    (default: every item seen, sorted). None without reports, vaccines or items."""
    i = list(i)
    vi = list(vi)
    if not n or not v:
        return None
    names = list(items) if items is not None else sorted({x for x, _ in i})
    if not names:
        return None
    vaccines = np.array(sorted({vid for vid, _ in v}), dtype=np.int64)
    rix = {int(x): k for k, x in enumerate(vaccines.tolist())}
    cix = {x: k for k, x in enumerate(names)}
    a = np.zeros((vaccines.size, len(names)))
    for vid, item, cnt in vi:
        if item in cix and int(vid) in rix:
            a[rix[int(vid)], cix[item]] = cnt
    n_v = np.zeros(vaccines.size)
    for vid, cnt in v:
        n_v[rix[int(vid)]] = cnt
    n_i = np.zeros(len(names))
    for item, cnt in i:
        if item in cix:
            n_i[cix[item]] = cnt
    b = n_v[:, None] - a
    c = n_i[None, :] - a
    d = float(n) - a - b - c
    res = stats.disproportionality(a, b, c, d)
    chi = np.asarray(res.chi2_yates, dtype=float)
    finite = np.isfinite(chi)
    p_value = np.where(finite, sps.chi2.sf(np.where(finite, chi, 0.0), 1), np.nan)
    e = np.asarray(res.expected, dtype=float)
    eb = np.full(a.shape, np.nan)
    eb05 = np.full(a.shape, np.nan)
    eb95 = np.full(a.shape, np.nan)
    theta = None
    cells = (a >= 1) & (e > 0)
    if fit and cells.sum() >= 5:
        try:
            fitted = mgps.fit_hyperparameters(a[cells], e[cells], min_count=1)
        except (ValueError, FloatingPointError):
            fitted = None
        if fitted is not None and fitted.converged:
            theta = fitted.theta.as_tuple()
            r = mgps.ebgm(fitted.theta, a[cells], e[cells])
            eb[cells], eb05[cells], eb95[cells] = r.ebgm, r.eb05, r.eb95
    return LevelTable(
        level=level,
        vaccines=vaccines,
        items=names,
        n_v=n_v,
        n_i=n_i,
        n=int(n),
        a=a,
        b=b,
        c=c,
        d=d,
        result=res,
        evans=np.asarray(res.evans, dtype=bool),
        p_value=p_value,
        ebgm=eb,
        eb05=eb05,
        eb95=eb95,
        theta=theta,
    )


def _f(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def cell(t: LevelTable, r: int, c: int) -> dict:
    """Every figure of one cell, JSON-ready (nan and inf as None)."""
    res = t.result

    def g(arr) -> float | None:
        return _f(np.asarray(arr)[r, c])

    return {
        "level": t.level,
        "vaccine_id": int(t.vaccines[r]),
        "item": t.items[c],
        "a": int(t.a[r, c]),
        "b": int(t.b[r, c]),
        "c": int(t.c[r, c]),
        "d": int(t.d[r, c]),
        "expected": g(res.expected),
        "prr": g(res.prr),
        "prr_lower": g(res.prr_lower),
        "prr_upper": g(res.prr_upper),
        "ror": g(res.ror),
        "ror_lower": g(res.ror_lower),
        "ror_upper": g(res.ror_upper),
        "chi2_yates": g(res.chi2_yates),
        "chi2_uncorrected": g(res.chi2_uncorrected),
        "ic": g(res.ic),
        "ic025": g(res.ic025),
        "ic975": g(res.ic975),
        "ebgm": g(t.ebgm),
        "eb05": g(t.eb05),
        "eb95": g(t.eb95),
        "evans": bool(t.evans[r, c]),
        "p_value": g(t.p_value),
        "reports": t.n,
    }


def top_cells(t: LevelTable, limit: int = 20) -> list[dict]:
    """The strongest cells of a level (a >= 3), by EB05 then IC025: the page's table."""
    r, c = np.nonzero(t.a >= 3)
    if r.size == 0:
        return []
    eb05 = np.nan_to_num(t.eb05[r, c], nan=-1.0)
    ic025 = np.nan_to_num(np.asarray(t.result.ic025, dtype=float)[r, c], nan=-99.0)
    order = np.lexsort((-ic025, -eb05))[:limit]
    return [cell(t, int(r[k]), int(c[k])) for k in order]
