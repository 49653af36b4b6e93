"""Validity of the lot-level halt recommendations on a synthetic county (issue 15).

A county-year: six vaccine products, each ~60,000 doses a year in lots of realistic size
(log-normal, median 3,000 doses, 500-50,000), each lot given at ~100 doses a day from a
random start day; six event groups at DOMAIN.md's rates (rates.csv: all AEFI 32.52,
serious 0.15, allergic rash 0.96, angioedema 0.02, thrombocytopenia 0.02 per 100,000;
anaphylaxis 1.31 per million). Reports arrive at the dose day plus a uniform onset in
the group's risk window. A few lots per county-year are planted at 3x, 5x or 20x for one
event group; every other lot is clean. Looks are daily (the app looks on every report and
every 15 minutes: daily is the coarser, slightly conservative version).

Methods, each per lot and event group with alpha = 0.05 per lot split over its six groups
(Bonferroni, alpha/6 each) and the halt rule of aefi.signals.plans (review CV and at least
2 events):

* **expected-rate MaxSPRT**: the fixed plan, T = rate x lot size (the lot's recorded
  size), exact CV(T, alpha/6, M = 1);
* **sibling binomial MaxSPRT**: the lot's reports among the product's (this lot + its
  sibling lots) with z = sibling doses / this lot's doses so far (on the conservative
  grid of aefi.signals.siblings), CV.Binomial(N = 100, alpha/6, M = 2);
* **both**: a halt recommendation only when both have signalled; **either**: when one has.

Figures: false halt recommendations per 1,000 clean lots per year (a clean lot with a halt
on any of its groups), share of planted lots found (a halt on the planted group within the
year), median delay in days from the lot's first dose to that halt.

Run: ``.venv/bin/python -m bench signals_validity`` (AEFI_VALIDITY_YEARS county-years,
default 40; AEFI_VALIDITY_SEED).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from aefi.signals import plans, scan, siblings, stats

DAYS = 365
GROUPS = [
    # group, rate per dose, risk window (days)
    ("all_aefi", 3.252e-4, (0, 30)),
    ("serious_aefi", 1.5e-6, (0, 30)),
    ("allergic_rash", 9.6e-6, (0, 3)),
    ("angioedema", 2e-7, (0, 3)),
    ("thrombocytopenia", 2e-7, (0, 42)),
    ("anaphylaxis", 1.31e-6, (0, 1)),
]
PRODUCTS = 6
DOSES_PER_PRODUCT = 60_000
PER_LOT_DAY = 100
ALPHA = 0.05
N_SIBLING = 100
M_HALT = 2
RRS = (3.0, 5.0, 20.0)
PLANTED_PER_RR = 2  # per county-year


def _lots(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product, size, start day) of every lot of one county-year."""
    prod, size, start = [], [], []
    for p in range(PRODUCTS):
        total = 0
        while total < DOSES_PER_PRODUCT:
            s = int(np.clip(rng.lognormal(math.log(3000), 0.8), 500, 50_000))
            dur = max(1, math.ceil(s / PER_LOT_DAY))
            prod.append(p)
            size.append(s)
            start.append(int(rng.integers(0, max(1, DAYS - min(dur, DAYS - 1)))))
            total += s
    return np.array(prod), np.array(size, dtype=float), np.array(start)


def _cumulative_doses(size: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Doses given by the end of each day, lots x days."""
    days = np.arange(DAYS)[None, :]
    given = np.clip((days - start[:, None] + 1) * PER_LOT_DAY, 0, None)
    return np.minimum(given, size[:, None]).astype(float)


def _events(rng, size, start, rr) -> np.ndarray:
    """Reports by the end of each day, lots x groups x days (rr: lots x groups)."""
    L, G = size.size, len(GROUPS)
    out = np.zeros((L, G, DAYS), dtype=np.int32)
    rates = np.array([r for _, r, _ in GROUPS])
    counts = rng.poisson(rates[None, :] * rr * size[:, None])
    for i, g in zip(*np.nonzero(counts), strict=True):
        n = int(counts[i, g])
        dur = size[i] / PER_LOT_DAY
        w0, w1 = GROUPS[g][2]
        day = start[i] + rng.uniform(0, dur, n) + rng.uniform(w0, w1, n)
        day = np.floor(day).astype(int)
        day = day[day < DAYS]
        hist = np.bincount(day, minlength=DAYS)
        out[i, g] = np.cumsum(hist)
    return out


def _first_day(mask: np.ndarray) -> np.ndarray:
    """First day where mask is true along the last axis, -1 if never."""
    any_ = mask.any(axis=-1)
    return np.where(any_, np.argmax(mask, axis=-1), -1)


def _expected_rate_halts(size, doses, events) -> np.ndarray:
    """Day of the first halt per lot x group (-1 never): fixed plans."""
    rates = np.array([r for _, r, _ in GROUPS])
    alpha_g = ALPHA / len(GROUPS)
    T = scan.grid_upper_limit(rates[None, :] * size[:, None])
    cv = np.vectorize(lambda t: scan.critical_value(float(t), alpha_g, 1))(T)
    E = rates[None, :, None] * doses[:, None, :]
    obs = events.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = np.asarray(stats.maxsprt_llr(obs, np.maximum(E, 1e-12))).reshape(obs.shape)
    d = plans.decide(obs, np.maximum(E, 1e-12), llr, cv[:, :, None], 1, M_HALT)
    return _first_day(d.halt & (E > 0))


def _old_rule_halts(size, doses, events, size_known: bool) -> np.ndarray:
    """The rule before fixed plans, for comparison: each group at the full alpha, the halt
    at CV(T, alpha, M = 2); T = rate x size, or (size unknown) 2 x E at every look."""
    rates = np.array([r for _, r, _ in GROUPS])
    E = rates[None, :, None] * doses[:, None, :]
    obs = events.astype(float)
    if size_known:
        T = np.broadcast_to(
            scan.grid_upper_limit(rates[None, :] * size[:, None])[:, :, None], obs.shape
        )
    else:
        T = scan.grid_upper_limit(np.maximum(2.0 * E, 1e-12))
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = np.asarray(stats.maxsprt_llr(obs, np.maximum(E, 1e-12))).reshape(obs.shape)
    cand = (obs >= M_HALT) & (obs > E) & (E > 0)
    cv = np.full(obs.shape, np.inf)
    cv[cand] = scan.critical_values(T[cand], ALPHA, M_HALT)
    return _first_day(cand & (llr >= cv))


def _binomial_llr(k, n, z):
    with np.errstate(divide="ignore", invalid="ignore"):
        from scipy.special import xlogy

        raw = (
            xlogy(k, k / n)
            + xlogy(n - k, (n - k) / n)
            + k * np.log1p(z)
            - (n - k) * np.log(z / (1 + z))
        )
    return np.where((n > 0) & (k * (1 + z) > n), raw, 0.0)


def _sibling_halts(prod, doses, events) -> np.ndarray:
    alpha_g = ALPHA / len(GROUPS)
    L, G, D = events.shape
    first = np.full((L, G), -1)
    for p in np.unique(prod):
        idx = np.nonzero(prod == p)[0]
        pd = doses[idx].sum(axis=0)  # product doses by day
        pe = events[idx].sum(axis=0)  # product events by group, day
        for i in idx:
            lot_d = doses[i]
            sib_d = pd - lot_d
            ok = (lot_d > 0) & (sib_d > 0)
            if not ok.any():
                continue
            zr = np.where(ok, sib_d / np.where(lot_d > 0, lot_d, 1), 1.0)
            zg = 10.0 ** (np.floor(np.log10(zr) * siblings.Z_STEPS + 1e-9) / siblings.Z_STEPS)
            k = events[i].astype(float)  # groups x days
            n = pe.astype(float)
            llr = _binomial_llr(k, n, zg[None, :])
            cvs = {
                z: siblings.binomial_cv(N_SIBLING, alpha_g, M_HALT, float(z))
                for z in np.unique(zg[ok & (k.sum(axis=0) > 0)])
            }
            cv = np.array([cvs.get(float(z), np.inf) for z in zg])
            sig = ok[None, :] & (k >= M_HALT) & (n <= N_SIBLING) & (llr > 0) & (llr >= cv[None, :])
            first[i] = _first_day(sig)
    return first


def run(years: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    names = (
        "expected-rate MaxSPRT",
        "sibling binomial MaxSPRT",
        "both",
        "either",
        "old rule, size known",
        "old rule, size unknown (T = 2E)",
    )
    res = {m: {"clean_lots": 0, "false": 0, "found": {r: [] for r in RRS}} for m in names}
    planted_n = {r: 0 for r in RRS}
    for _ in range(years):
        prod, size, start = _lots(rng)
        L = size.size
        rr = np.ones((L, len(GROUPS)))
        planted = rng.choice(L, size=PLANTED_PER_RR * len(RRS), replace=False)
        plant_rr = np.repeat(RRS, PLANTED_PER_RR)
        rr[planted, PLANTED_GROUP] = plant_rr
        doses = _cumulative_doses(size, start)
        events = _events(rng, size, start, rr)
        a = _expected_rate_halts(size, doses, events)
        b = _sibling_halts(prod, doses, events)
        both = np.where((a >= 0) & (b >= 0), np.maximum(a, b), -1)
        either = np.where((a >= 0) & (b >= 0), np.minimum(a, b), np.maximum(a, b))
        clean = np.ones(L, bool)
        clean[planted] = False
        old_known = _old_rule_halts(size, doses, events, True)
        old_moving = _old_rule_halts(size, doses, events, False)
        firsts = (a, b, both, either, old_known, old_moving)
        for name, first in zip(res, firsts, strict=True):
            r = res[name]
            r["clean_lots"] += int(clean.sum())
            r["false"] += int(((first >= 0).any(axis=1) & clean).sum())
            for i, rv in zip(planted, plant_rr, strict=True):
                day = first[i, PLANTED_GROUP]
                r["found"][float(rv)].append(-1 if day < 0 else int(day - start[i]))
        for rv in plant_rr:
            planted_n[float(rv)] += 1
    return {"methods": res, "planted": planted_n}


PLANTED_GROUP = 0


def table(out: dict) -> str:
    lines = [
        "| method | false halts / 1,000 clean lots / yr | "
        + " | ".join(f"found {int(r)}× (median delay d)" for r in RRS)
        + " |",
        "|---|---|" + "---|" * len(RRS),
    ]
    for name, r in out["methods"].items():
        cells = []
        for rv in RRS:
            days = np.array(r["found"][rv])
            hit = days[days >= 0]
            share = hit.size / max(days.size, 1)
            med = f"{np.median(hit):.0f}" if hit.size else "—"
            cells.append(f"{share:.0%} ({med})")
        fpr = 1000 * r["false"] / max(r["clean_lots"], 1)
        lines.append(f"| {name} | {fpr:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    global PLANTED_GROUP
    years = int(os.environ.get("AEFI_VALIDITY_YEARS", "40"))
    seed = int(os.environ.get("AEFI_VALIDITY_SEED", "2026"))
    for g in (0, 2):  # planted in all AEFI (common) and in allergic rash (rare)
        PLANTED_GROUP = g
        t0 = time.perf_counter()
        out = run(years, seed)
        lots = out["methods"]["both"]["clean_lots"]
        print(
            f"\nplanted group: {GROUPS[g][0]} (rate {GROUPS[g][1]:.3g}/dose); {years} county-years,"
            f" {lots} clean lots, {sum(out['planted'].values())} planted; "
            f"{time.perf_counter() - t0:.1f} s"
        )
        print(table(out), flush=True)


if __name__ == "__main__":
    main()
