"""Disproportionality at every level (aefi.signals.disproportionality) and the sibling-lot
arithmetic (aefi.signals.siblings), pure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aefi.signals import disproportionality as dp
from aefi.signals import mgps, sequential, siblings, stats


def test_level_table_counts_and_figures() -> None:
    # Two vaccines, three items, 100 reports; vaccine 1 has 10 of its 20 with item "x".
    vi = [(1, "x", 10), (1, "y", 5), (2, "x", 5), (2, "y", 40), (2, "z", 30)]
    v = [(1, 20), (2, 80)]
    i = [("x", 15), ("y", 45), ("z", 30)]
    t = dp.level_table("term", vi, v, i, 100, fit=False)
    assert t.items == ["x", "y", "z"] and t.vaccines.tolist() == [1, 2]
    assert (t.a[0, 0], t.b[0, 0], t.c[0, 0], t.d[0, 0]) == (10, 10, 5, 75)
    ref = stats.disproportionality(10, 10, 5, 75)
    c = dp.cell(t, 0, 0)
    assert c["prr"] == pytest.approx(ref.prr) and c["ror"] == pytest.approx(ref.ror)
    assert c["chi2_yates"] == pytest.approx(ref.chi2_yates) and c["evans"] == bool(ref.evans)
    assert c["ic025"] == pytest.approx(ref.ic025)
    assert c["ebgm"] is None  # not fitted
    top = dp.top_cells(t)
    assert top[0]["a"] >= 3 and all(x["a"] >= 3 for x in top)
    assert dp.level_table("term", [], [], [], 0) is None


def test_level_table_fits_mgps_over_the_level() -> None:
    rng = np.random.default_rng(3)
    theta = mgps.Hyperparameters(0.2, 0.1, 2.0, 4.0, 1 / 3)
    rows, cols = 40, 60
    n_v = rng.integers(50, 500, rows)
    n_i = rng.integers(20, 300, cols)
    total = int(n_v.sum())
    e = n_v[:, None] * n_i[None, :] / n_i.sum()
    lam = np.where(
        rng.random(e.shape) < theta.p,
        rng.gamma(theta.alpha1, 1 / theta.beta1, e.shape),
        rng.gamma(theta.alpha2, 1 / theta.beta2, e.shape),
    )
    a = rng.poisson(lam * e)
    vi = [(r, f"i{c}", int(a[r, c])) for r in range(rows) for c in range(cols) if a[r, c]]
    v = [(r, int(a[r].sum())) for r in range(rows)]
    i = [(f"i{c}", int(a[:, c].sum())) for c in range(cols)]
    t = dp.level_table("symptom", vi, v, i, int(a.sum()))
    assert total > 0 and t.theta is not None
    cells = t.a >= 1
    assert np.isfinite(t.ebgm[cells]).all() and np.isnan(t.ebgm[~cells]).all()
    assert (t.eb05[cells] <= t.ebgm[cells]).all() and (t.ebgm[cells] <= t.eb95[cells]).all()


def test_z_grid_is_never_above_z() -> None:
    for lot, sib in [(1000, 3000), (500, 49_500), (7, 8), (1, 1)]:
        z = siblings.z_on_grid(lot, sib)
        assert z <= sib / lot * (1 + 1e-12) and z >= sib / lot / 10 ** (1 / 24) * (1 - 1e-12)
    with pytest.raises(ValueError):
        siblings.z_on_grid(0, 5)


def test_sibling_test_uses_cv_binomial() -> None:
    # Sequential's CV.Binomial: N = 30, M = 2, z = 2, alpha 0.05 -> 3.29584.
    assert siblings.binomial_cv(30, 0.05, 2, 2.0) == pytest.approx(3.29584, abs=1e-5)
    r = siblings.sibling_test(8, 2, 2.0, 30, 0.05, 2)
    assert r.llr == pytest.approx(sequential.binomial_llr(8, 10, 2.0))
    assert r.rr == pytest.approx(2.0 * 8 / 2) and r.signal == (r.llr >= 3.29584)
    assert not siblings.sibling_test(1, 20, 2.0, 30, 0.05, 2).signal
    ended = siblings.sibling_test(25, 10, 2.0, 30, 0.05, 2)
    assert ended.ended and not ended.signal
    assert math.isnan(siblings.sibling_test(0, 0, 2.0, 30, 0.05, 2).rr)


def test_cond_poisson_test_uses_cv_condpoisson() -> None:
    r = siblings.cond_poisson_test(9, 20, 1000.0, 4000.0, 20, 0.05, 2)
    assert r.tau == 0.25
    assert r.llr == pytest.approx(sequential.cond_poisson_llr(9, 20, 0.25))
    assert r.cv == pytest.approx(3.149115, abs=1e-5) and r.signal == (r.llr >= r.cv)
    none = siblings.cond_poisson_test(3, 0, 1000.0, 4000.0, 20, 0.05, 2)
    assert none.cv is None and not none.signal
