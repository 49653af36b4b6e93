"""A lot against the product's other lots among the people who answered the check-ins
(issue 17, active surveillance): is the share of a lot's responders reporting an event
group larger than among the responders after the product's other lots? Pure arithmetic.

Check-ins give what spontaneous reports never have, a denominator: the people who answered.
Within one product, the question is relative (as in :mod:`aefi.signals.siblings`): under H0
a responder reports the group with the same probability whatever the lot, so, given the
total of responders reporting it, the lot's count is hypergeometric. The one-sided Fisher
exact test (alternative: the lot's share is larger) is that tail,
P(X >= k | k + k', n, n + n'), exact for any size and conservative (a discrete test never
exceeds its alpha).

* **Family error.** Each lot is tested for every event group an answer can count in; a
  false signal on any of them is a false signal of the lot, so alpha is split over the
  family (:func:`aefi.signals.sequential.family_alpha`, Bonferroni: the union bound holds
  whatever the dependence between groups, and one answer can name several).
* **Minimums.** A lot with few answers cannot signal by chance alone or on one person's
  answer: it needs ``min_responders`` responders (and the siblings as many) and
  ``min_events`` of them reporting the group.
* **Review only.** These are self-reports of a sample of the vaccinees (those who chose to
  answer); a responder's "fever" is not a confirmed AEFI. The result is a signal for
  review, never a halt recommendation.
* **Repeated looks.** The scans test again as answers arrive; alpha is the error of one
  look, not of a lot's whole surveillance (no sequential correction: the review level can
  afford it, and the minimums keep the early looks, where a chance excess is likeliest,
  out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from aefi.aftercare import active
from aefi.signals.sequential import family_alpha


@dataclass(frozen=True)
class Rules:
    alpha: float  # of the family: every event group of one lot
    family_size: int  # event groups an answer can count in
    min_responders: int
    min_events: int


@dataclass(frozen=True)
class GroupCounts:
    event_group: str
    events: int  # the lot's responders reporting the group
    responders: int  # the lot's responders
    sibling_events: int  # the same, over the product's other lots
    sibling_responders: int


@dataclass(frozen=True)
class Decision:
    counts: GroupCounts
    p_value: float | None  # None: not tested (below the minimums)
    alpha: float  # this group's share of the family's alpha
    signal: bool

    # The shares with their exact (Clopper-Pearson) intervals, computed when asked: a scan
    # decides every lot x group and stores only the few that signal.
    @property
    def lot(self) -> active.Share:
        return active.share(self.counts.events, self.counts.responders)

    @property
    def siblings(self) -> active.Share:
        return active.share(self.counts.sibling_events, self.counts.sibling_responders)

    @property
    def ratio(self) -> float | None:
        """The lot's share over the siblings' (None when the siblings' is 0)."""
        c = self.counts
        if not (c.responders and c.sibling_events):
            return None
        return (c.events / c.responders) / (c.sibling_events / c.sibling_responders)

    @property
    def strength(self) -> float:
        """For ranking beside the other methods (>= 1 when signalled, like LLR / CV):
        log p / log alpha_g."""
        if self.p_value is None or self.p_value >= 1.0:
            return 0.0
        return math.log(max(self.p_value, 1e-300)) / math.log(self.alpha)


def excess_p(k: int, n: int, k_other: int, n_other: int) -> float:
    """One-sided Fisher exact p: P(X >= k) for X hypergeometric with n of the n + n_other
    responders drawn from them, k + k_other of whom report the group."""
    total, reporting = n + n_other, k + k_other
    if k <= 0:
        return 1.0
    return float(min(1.0, stats.hypergeom.sf(k - 1, total, reporting, n)))


def decide(groups: Sequence[GroupCounts], rules: Rules) -> list[Decision]:
    """The decision of each event group of one lot (in the order given)."""
    if len(groups) > rules.family_size:
        raise ValueError("more event groups than the family holds")
    alpha_g = family_alpha(rules.alpha, rules.family_size)[0]
    out = []
    for g in groups:
        testable = (
            g.responders >= rules.min_responders
            and g.sibling_responders >= rules.min_responders
            and g.events >= rules.min_events
        )
        p = (
            excess_p(g.events, g.responders, g.sibling_events, g.sibling_responders)
            if testable
            else None
        )
        out.append(
            Decision(
                counts=g,
                p_value=p,
                alpha=alpha_g,
                signal=p is not None and p <= alpha_g,
            )
        )
    return out
