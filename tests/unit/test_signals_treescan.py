"""Unit tests for aefi.signals.treescan: LLRs by hand, planted signals, null error rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aefi.signals import treescan as ts


def small_tree() -> ts.Tree:
    # body system -> event group -> symptom -> term
    return ts.build_tree(
        {
            "skin": None,
            "local": "skin",
            "redness": "local",
            "Vasodilatation": "redness",
            "Erythema": "redness",
            "swelling": "local",
            "Injection site oedema": "swelling",
            "neuro": None,
            "febrile seizure": "neuro",
            "Convulsion": "febrile seizure",
        }
    )


def hierarchy(systems: int = 4, fan: int = 3) -> tuple[ts.Tree, list[str]]:
    parents: dict[str, str | None] = {}
    leaves = []
    for b in range(systems):
        parents[f"B{b}"] = None
        for g in range(fan):
            parents[f"B{b}G{g}"] = f"B{b}"
            for s in range(fan):
                parents[f"B{b}G{g}S{s}"] = f"B{b}G{g}"
                for t in range(fan):
                    leaf = f"B{b}G{g}S{s}T{t}"
                    parents[leaf] = f"B{b}G{g}S{s}"
                    leaves.append(leaf)
    return ts.build_tree(parents), leaves


def test_build_tree_cover_and_depth() -> None:
    tree = small_tree()
    idx = tree.index()
    own = np.zeros(len(tree.nodes))
    own[idx["Vasodilatation"]] = 3
    own[idx["Erythema"]] = 2
    own[idx["Injection site oedema"]] = 4
    own[idx["redness"]] = 1  # a report coded to the symptom only
    cut = tree.cover @ own
    assert cut[idx["redness"]] == 6
    assert cut[idx["local"]] == 10
    assert cut[idx["skin"]] == 10
    assert cut[idx["neuro"]] == 0
    assert tree.depth(idx["Vasodilatation"]) == 3
    assert tree.depth(idx["skin"]) == 0


def test_build_tree_adds_missing_roots_and_rejects_cycles() -> None:
    tree = ts.build_tree({"a": "root"})
    assert set(tree.nodes) == {"a", "root"}
    with pytest.raises(ValueError, match="cycle"):
        ts.build_tree({"a": "b", "b": "a"})
    with pytest.raises(ValueError, match="cycle"):
        ts.build_tree({"a": "a"})


def test_node_llr_by_hand() -> None:
    c, n, C, N = 30.0, 100.0, 200.0, 2000.0
    e = C * n / N  # 10
    poisson = c * math.log(c / e) + (C - c) * math.log((C - c) / (C - e))
    assert ts.node_llr(c, n, C, N, "poisson") == pytest.approx(poisson)
    inside, outside, overall = c / n, (C - c) / (N - n), C / N
    bern = (
        c * math.log(inside)
        + (n - c) * math.log(1 - inside)
        + (C - c) * math.log(outside)
        + (N - n - C + c) * math.log(1 - outside)
        - C * math.log(overall)
        - (N - C) * math.log(1 - overall)
    )
    assert ts.node_llr(c, n, C, N, "bernoulli") == pytest.approx(bern)
    # One-sided: a deficit scores 0; so does the cut holding everything.
    assert ts.node_llr(5.0, 100.0, C, N, "poisson") == 0.0
    assert ts.node_llr(5.0, 100.0, C, N, "bernoulli") == 0.0
    assert ts.node_llr(C, N, C, N, "bernoulli") == 0.0
    with pytest.raises(ValueError):
        ts.node_llr(1, 2, 3, 4, model="gaussian")


def test_tree_scan_input_checks() -> None:
    tree = small_tree()
    with pytest.raises(ValueError, match="not a node"):
        ts.tree_scan(tree, {"Headache": 1}, {"Headache": 2})
    with pytest.raises(ValueError, match="exceed"):
        ts.tree_scan(tree, {"Erythema": 3}, {"Erythema": 2})
    with pytest.raises(ValueError, match="whole"):
        ts.tree_scan(tree, {"Erythema": 1.5}, {"Erythema": 2})
    with pytest.raises(ValueError, match="model"):
        ts.tree_scan(tree, {"Erythema": 1}, {"Erythema": 2}, model="normal")


def test_tree_scan_empty_product_is_not_a_signal() -> None:
    result = ts.tree_scan(small_tree(), {}, {"Erythema": 5}, replications=9, seed=1)
    assert result.best is None
    assert result.p_value == 1.0


def planted(rng: np.random.Generator, leaves: list[str], base: np.ndarray, leaf: str, rr: float):
    mine = rng.poisson(base * np.where(np.asarray(leaves) == leaf, rr, 1.0))
    other = rng.poisson(base * 9)
    return dict(zip(leaves, mine.tolist(), strict=True)), dict(
        zip(leaves, (mine + other).tolist(), strict=True)
    )


@pytest.mark.parametrize("model", ts.MODELS)
def test_planted_leaf_signal_is_found(model: str) -> None:
    tree, leaves = hierarchy()
    rng = np.random.default_rng(2026)
    base = rng.poisson(40, len(leaves)) + 5.0
    target = "B2G1S0T2"
    cases, totals = planted(rng, leaves, base, target, rr=3.0)
    result = ts.tree_scan(tree, cases, totals, model=model, replications=999, seed=7)
    assert result.best is not None
    assert result.best.node == target
    assert result.p_value < 0.05
    assert result.best.observed > 2 * result.best.expected
    # Its ancestors are in excess too, but scored lower than the leaf itself.
    llr = {r.node: r.llr for r in result.nodes}
    assert llr["B2G1S0"] < llr[target]


@pytest.mark.parametrize("model", ts.MODELS)
def test_planted_group_signal_is_found_at_the_group(model: str) -> None:
    # A modest excess spread over all 9 terms of one event group is found at the group.
    tree, leaves = hierarchy()
    rng = np.random.default_rng(99)
    base = np.full(len(leaves), 30.0)
    rate = base * np.where([leaf.startswith("B1G2") for leaf in leaves], 1.6, 1.0)
    mine = rng.poisson(rate)
    totals = mine + rng.poisson(base * 9)
    cases = dict(zip(leaves, mine.tolist(), strict=True))
    result = ts.tree_scan(
        tree, cases, dict(zip(leaves, totals.tolist(), strict=True)), model=model, seed=3
    )
    assert result.best is not None and result.best.node == "B1G2"
    assert result.p_value < 0.05


@pytest.mark.parametrize(("model", "datasets"), [("bernoulli", 400), ("poisson", 200)])
def test_false_alarm_rate_on_permuted_data_is_within_alpha(model: str, datasets: int) -> None:
    # Null data: the product labels of all counts permuted (C fixed), so no cut has an
    # excess. With R = 99 replicates the Monte Carlo test rejects at p <= 0.05 with
    # probability <= 0.05 exactly (0.05 x (R + 1) is whole). Over `datasets` independent
    # null tables the rejection rate has Monte Carlo standard error
    # sqrt(0.05 x 0.95 / datasets) (0.011 for 400, 0.015 for 200); allow 3 of them.
    tree, leaves = hierarchy()
    rng = np.random.default_rng(31337)
    base = rng.poisson(40, len(leaves)) + 5
    rejections = 0
    for k in range(datasets):
        totals = rng.poisson(base * 10)
        C = int(rng.binomial(int(totals.sum()), 0.1))
        mine = rng.multivariate_hypergeometric(totals.astype(np.int64), C)
        result = ts.tree_scan(
            tree,
            _in_order(tree, leaves, mine),
            _in_order(tree, leaves, totals),
            model=model,
            replications=99,
            seed=k,
        )
        rejections += result.p_value <= 0.05
    rate = rejections / datasets
    se = math.sqrt(0.05 * 0.95 / datasets)
    assert rate <= 0.05 + 3 * se
    if model == "bernoulli":
        # The permutation test is exact, not merely conservative: it does reject.
        assert rate >= 0.05 - 3 * se


def _in_order(tree: ts.Tree, leaves: list[str], values: np.ndarray) -> list[int]:
    idx = tree.index()
    out = [0] * len(tree.nodes)
    for leaf, v in zip(leaves, values.tolist(), strict=True):
        out[idx[leaf]] = int(v)
    return out


def test_seed_makes_the_scan_reproducible() -> None:
    tree, leaves = hierarchy(systems=2, fan=2)
    rng = np.random.default_rng(5)
    base = rng.poisson(20, len(leaves)) + 1.0
    cases, totals = planted(rng, leaves, base, leaves[0], rr=1.5)
    a = ts.tree_scan(tree, cases, totals, seed=42, replications=199)
    b = ts.tree_scan(tree, cases, totals, seed=42, replications=199)
    assert a.p_value == b.p_value and a.nodes == b.nodes
    assert {r.node for r in a.signals(1.0)} <= set(tree.nodes)
