"""Tree-based scan statistic over the term hierarchy (hypothesis-free signal detection).

Kulldorff M, Fang Z, Walsh SJ. A tree-based scan statistic for database disease
surveillance. Biometrics 2003;59(2):323-31; Kulldorff M, Dashevsky I, Avery TR, et al.
Drug safety data mining with a tree-based scan statistic. Pharmacoepidemiol Drug Saf
2013;22(5):517-23 (the conditional Bernoulli / Poisson versions of the TreeScan software
used by the Vaccine Safety Datalink and FDA Sentinel).

The hierarchy is given as parent links (reported term -> symptom code -> event group ->
body system; several roots allowed). Every node G is a "cut": its count is the sum over
the node and all its descendants. For one product against all products:

* c_G = the product's count in G, C = the product's total (all nodes);
* n_G = the count of all products (this one included) in G, N = the grand total.

Both models condition on C, so under H0 the product's share of every node is C / N:

* ``"poisson"`` (conditional Poisson): E_G = C n_G / N and
  LLR_G = c ln(c / E) + (C - c) ln((C - c) / (C - E)) when c > E, else 0. Null
  replicates spread the C counts over the nodes multinomially with probabilities n_i / N.
* ``"bernoulli"`` (conditional Bernoulli): each of the N counts belongs to the product
  with the same chance; LLR_G is the binomial two-group likelihood ratio of c of n_G in G
  against C - c of N - n_G outside (one-sided). Null replicates permute the product
  labels: C of the N counts drawn without replacement (multivariate hypergeometric).

The test statistic is max_G LLR_G; its p-value, and each node's, come from Monte Carlo
replicates under H0 (Dwass 1957): p = (1 + #{replicate max >= observed}) / (R + 1), an
exactly valid test when alpha (R + 1) is a whole number (R = 999, 199, ...).

Counts are whatever the caller counts - typically (report, term) occurrences, so a report
with two terms under one symptom counts twice there, as in TreeScan. Pure numpy/scipy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse, special

__all__ = [
    "NodeResult",
    "Tree",
    "TreeScanResult",
    "build_tree",
    "node_llr",
    "tree_scan",
]

MODELS = ("poisson", "bernoulli")


@dataclass(frozen=True)
class Tree:
    """A forest over ``nodes``; ``parent[i]`` is the index of node i's parent or -1.

    ``cover`` is the sparse 0/1 matrix with cover[g, i] = 1 when node i is g or one of
    its descendants, so ``cover @ own_counts`` gives every node's cut count.
    """

    nodes: tuple[str, ...]
    parent: np.ndarray
    cover: sparse.csr_matrix

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.nodes)}

    def depth(self, i: int) -> int:
        d = 0
        while self.parent[i] >= 0:
            i = int(self.parent[i])
            d += 1
        return d


def build_tree(parents: Mapping[str, str | None]) -> Tree:
    """Build a :class:`Tree` from ``{node: parent or None}``.

    A parent that is not itself a key is added as a root. Raises ValueError on a cycle
    (including a node that is its own parent).
    """
    names = list(parents)
    for p in parents.values():
        if p is not None and p not in parents and p not in names:
            names.append(p)
    idx = {name: i for i, name in enumerate(names)}
    parent = np.full(len(names), -1, dtype=np.int64)
    for child, p in parents.items():
        if p is not None:
            parent[idx[child]] = idx[p]
    rows, cols = [], []
    for i in range(len(names)):
        j, steps = i, 0
        while j >= 0:
            rows.append(j)
            cols.append(i)
            j = int(parent[j])
            steps += 1
            if steps > len(names):
                raise ValueError(f"the hierarchy has a cycle through {names[i]!r}")
    cover = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(names), len(names)))
    return Tree(nodes=tuple(names), parent=parent, cover=cover)


def node_llr(
    c: npt.ArrayLike, n: npt.ArrayLike, C: float, N: float, model: str = "poisson"
) -> np.ndarray:
    """One-sided log-likelihood ratio of each cut (vectorised; see the module text).

    ``c`` the product's count in the cut, ``n`` all products' count in the cut, ``C`` and
    ``N`` the totals. Cuts without excess (or with n = 0) give 0.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}")
    c = np.asarray(c, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if model == "poisson":
            e = C * n / N
            raw = special.xlogy(c, c / e) + special.xlogy(C - c, (C - c) / (C - e))
            excess = c > e
        else:
            out_n = N - n
            raw = (
                special.xlogy(c, c / n)
                + special.xlogy(n - c, (n - c) / n)
                + special.xlogy(C - c, (C - c) / out_n)
                + special.xlogy(out_n - C + c, (out_n - C + c) / out_n)
                - special.xlogy(C, C / N)
                - special.xlogy(N - C, (N - C) / N)
            )
            # Inside share above outside share; a cut holding everything has no contrast.
            excess = (c * out_n > (C - c) * n) & (out_n > 0)
        llr = np.where(excess & (n > 0), raw, 0.0)
    return np.maximum(llr, 0.0)


@dataclass(frozen=True)
class NodeResult:
    """One cut: the product's count, its expectation under H0, all products' count."""

    node: str
    depth: int
    observed: int
    expected: float
    total: int
    llr: float
    p_value: float


@dataclass(frozen=True)
class TreeScanResult:
    """The scan: cuts by decreasing LLR, the maximum, its Monte Carlo p-value."""

    model: str
    replications: int
    max_llr: float
    p_value: float
    best: NodeResult | None
    nodes: tuple[NodeResult, ...]

    def signals(self, alpha: float = 0.05) -> tuple[NodeResult, ...]:
        """Cuts whose p-value (against the max over the tree) is <= alpha."""
        return tuple(r for r in self.nodes if r.p_value <= alpha)


def _own_counts(tree: Tree, values: Mapping[str, float] | Sequence[float], name: str) -> np.ndarray:
    if isinstance(values, Mapping):
        idx = tree.index()
        out = np.zeros(len(tree.nodes))
        for key, v in values.items():
            if key not in idx:
                raise ValueError(f"{name}: {key!r} is not a node of the tree")
            out[idx[key]] += v
    else:
        out = np.asarray(values, dtype=float)
        if out.shape != (len(tree.nodes),):
            raise ValueError(f"{name} must have one count per node ({len(tree.nodes)})")
    if np.any(out < 0) or np.any(out != np.floor(out)):
        raise ValueError(f"{name} must be whole non-negative counts")
    return out


def tree_scan(
    tree: Tree,
    cases: Mapping[str, float] | Sequence[float],
    totals: Mapping[str, float] | Sequence[float],
    model: str = "bernoulli",
    replications: int = 999,
    seed: int | np.random.Generator | None = None,
) -> TreeScanResult:
    """Scan every cut of ``tree`` for an excess of the product's counts.

    ``cases`` are the product's own counts per node and ``totals`` all products' own
    counts per node (this product included, so cases <= totals): a mapping node -> count
    or a sequence in ``tree.nodes`` order. Counts on internal nodes are allowed (a report
    coded only to a symptom). Replicates are drawn in one vectorised call from a seeded
    numpy Generator (``seed``), so a result is reproducible.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}")
    if int(replications) != replications or replications < 1:
        raise ValueError("replications must be a positive integer")
    own_c = _own_counts(tree, cases, "cases")
    own_n = _own_counts(tree, totals, "totals")
    if np.any(own_c > own_n):
        raise ValueError("cases cannot exceed totals at any node (totals include the product)")
    C, N = float(own_c.sum()), float(own_n.sum())
    cut_c = tree.cover @ own_c
    cut_n = tree.cover @ own_n
    llr = node_llr(cut_c, cut_n, C, N, model) if C > 0 else np.zeros(len(tree.nodes))
    observed_max = float(llr.max()) if llr.size else 0.0

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sim_max = np.zeros(int(replications))
    if C > 0:
        if model == "poisson":
            sims = rng.multinomial(int(C), own_n / N, size=int(replications))
        else:
            sims = rng.multivariate_hypergeometric(
                own_n.astype(np.int64), int(C), size=int(replications)
            )
        sim_cut = (tree.cover @ sims.T.astype(float)).T
        sim_max = node_llr(sim_cut, cut_n[None, :], C, N, model).max(axis=1)
    sorted_max = np.sort(sim_max)

    def p_of(x: float) -> float:
        if x <= 0:
            return 1.0
        exceed = sim_max.size - np.searchsorted(sorted_max, x * (1 - 1e-12), side="left")
        return float((1 + exceed) / (sim_max.size + 1))

    results = [
        NodeResult(
            node=tree.nodes[i],
            depth=tree.depth(i),
            observed=int(cut_c[i]),
            expected=float(C * cut_n[i] / N) if N > 0 else 0.0,
            total=int(cut_n[i]),
            llr=float(llr[i]),
            p_value=p_of(float(llr[i])),
        )
        for i in np.argsort(-llr, kind="stable")
    ]
    return TreeScanResult(
        model=model,
        replications=int(replications),
        max_llr=observed_max,
        p_value=p_of(observed_max),
        best=results[0] if results and observed_max > 0 else None,
        nodes=tuple(results),
    )
