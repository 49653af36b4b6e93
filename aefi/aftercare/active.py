"""Active-surveillance figures from check-ins: of the people invited (a certificate with the
personal link printed, or a reminder sent), who answered each scheduled day, and the share
of responders reporting each event group with an exact (Clopper–Pearson) interval — a
denominator that spontaneous reports never have. Pure: counts in, figures out."""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

from aefi.aftercare import questions
from aefi.intake.symptoms import groups_of


@dataclass(frozen=True)
class Share:
    k: int
    n: int
    low: float
    high: float

    @property
    def share(self) -> float:
        return self.k / self.n if self.n else 0.0


def exact_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of a binomial proportion k/n."""
    if n <= 0:
        return (0.0, 1.0)
    alpha = 1 - confidence
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (low, high)


def share(k: int, n: int) -> Share:
    low, high = exact_interval(k, n)
    return Share(k, n, low, high)


def compare(k: int, n: int, k_other: int, n_other: int) -> float | None:
    """Two-sided Fisher exact p of this lot's share against the product's other lots."""
    if n == 0 or n_other == 0:
        return None
    return float(stats.fisher_exact([[k, n - k], [k_other, n_other - k_other]])[1])


def answer_groups(answer: str, symptoms: str) -> list[str]:
    """The event groups an answer counts in: an "unwell" answer's plain symptoms through
    the report card's codes (the same groups a confirmed self-report counts in)."""
    if answer != "unwell":  # aftercare.models.Answer.unwell (this module reads no tables)
        return []
    return groups_of(questions.report_codes([c for c in symptoms.split(",") if c]))


# Every event group an answer can count in: the family a lot is tested over.
ANSWER_GROUPS: tuple[str, ...] = tuple(
    groups_of([c for s in questions.SYMPTOMS for c in s.report_codes])
)
