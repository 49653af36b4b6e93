"""The arithmetic of the surveillance indicators, on plain values.

Timeliness follows DOMAIN.md's deadlines (China's national AEFI surveillance plan): report
card within 48 h of discovery, investigation started within 48 h of receipt, investigation
form completed within 3 days of the start; then the share of cases with a final
classification and the completeness of the report card's key fields. The reporting rate
is reports per 100,000 doses, set beside an expected rate with the exact (Garwood) interval
of observed / expected.

No web or database imports: the service gathers the values, this module counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from aefi.i18n import N_
from aefi.signals.stats import oe_ratio

# DOMAIN.md, "Deadlines" (national AEFI surveillance plan; defaults).
REPORT_WITHIN = timedelta(hours=48)  # report card filed, from discovery
INVESTIGATION_START_WITHIN = timedelta(hours=48)  # investigation started, from receipt
FORM_WITHIN = timedelta(days=3)  # investigation form completed, from the start

PER = 100_000  # rates are given per 100,000 doses

# The report card's key fields (DOMAIN.md, "The report card"), in the order tables show them.
KEY_FIELDS: tuple[tuple[str, str], ...] = (
    ("patient_name", N_("Patient's name")),
    ("patient_sex", N_("Sex")),
    ("patient_birth_on", N_("Date of birth")),
    ("patient_id_number", N_("ID number")),
    ("patient_phone", N_("Phone")),
    ("onset_at", N_("Onset")),
    ("symptoms", N_("Symptoms")),
    ("doses", N_("Vaccine and lot")),
    ("outcome", N_("Outcome")),
    ("reporter_name", N_("Reporter")),
    ("reporter_phone", N_("Reporter's phone")),
)
# A value that says "not known" is as good as an empty one.
_UNKNOWN = {"patient_sex": "unknown", "outcome": "unknown"}


@dataclass(frozen=True)
class Share:
    """``done`` of ``total``; ``pending``: clocks still running, counted in neither."""

    done: int
    total: int
    pending: int = 0

    @property
    def percent(self) -> float | None:
        return None if self.total == 0 else 100.0 * self.done / self.total

    @property
    def missed(self) -> int:
        return self.total - self.done


def on_time(
    clocks: Iterable[tuple[datetime, datetime | None]], limit: timedelta, now: datetime
) -> Share:
    """Of (started, done) pairs: done within ``limit`` counts as on time; done late or not
    done with the time run out counts as missed; not done with time left is pending."""
    done = total = pending = 0
    for start, finished in clocks:
        if finished is not None:
            total += 1
            done += finished - start <= limit
        elif now - start > limit:
            total += 1
        else:
            pending += 1
    return Share(done, total, pending)


def share(flags: Iterable[bool]) -> Share:
    flags = list(flags)
    return Share(sum(1 for f in flags if f), len(flags))


def filled(name: str, value: object) -> bool:
    """Whether one key field of a report card is filled."""
    if value is None:
        return False
    if name in _UNKNOWN:
        return bool(value) and value != _UNKNOWN[name]
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | set | dict):
        return len(value) > 0
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    return True


@dataclass(frozen=True)
class Completeness:
    complete: Share  # reports with every key field filled
    fields: dict[str, Share]  # field -> reports with that field filled


def completeness(cards: Iterable[Mapping[str, object]]) -> Completeness:
    cards = list(cards)
    per_field = {
        name: share(filled(name, c.get(name)) for c in cards) for name, _label in KEY_FIELDS
    }
    whole = share(all(filled(name, c.get(name)) for name, _label in KEY_FIELDS) for c in cards)
    return Completeness(whole, per_field)


def rate_per_100k(events: int, doses: int) -> float | None:
    return None if doses <= 0 else events * PER / doses


@dataclass(frozen=True)
class RateLine:
    """Reports per 100,000 doses for one vaccine, township or the county."""

    key: str
    label_zh: str
    label_en: str
    reports: int
    doses: int
    rate: float | None
    expected_rate: float | None  # per 100,000
    expected_reports: float | None
    oe: float | None
    oe_lower: float | None
    oe_upper: float | None

    @property
    def flag(self) -> str:
        """ "above" when the whole interval lies above the expected rate, "below" when it
        lies below (in a passive system mostly a sign of under-reporting), else ""."""
        if self.oe_lower is not None and self.oe_lower > 1:
            return "above"
        if self.oe_upper is not None and self.oe_upper < 1:
            return "below"
        return ""


def rate_line(
    key: str,
    label_zh: str,
    label_en: str,
    reports: int,
    doses: int,
    expected_per_100k: float | None,
) -> RateLine:
    expected = (
        expected_per_100k * doses / PER if expected_per_100k is not None and doses > 0 else None
    )
    oe = lower = upper = None
    if expected:
        r = oe_ratio(reports, expected)
        oe, lower, upper = r.ratio, r.lower, r.upper
    return RateLine(
        key,
        label_zh,
        label_en,
        reports,
        doses,
        rate_per_100k(reports, doses),
        expected_per_100k,
        expected,
        oe,
        lower,
        upper,
    )


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}%"
