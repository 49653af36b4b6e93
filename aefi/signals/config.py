"""Signal detection settings (environment prefix ``AEFI_SIGNALS_``).

DOMAIN.md, "Thresholds": a *signal* (for review) and a *halt recommendation* (provisional
hold of the lot, pending the bureau's decision) are separate, configurable levels. The
defaults below are those levels; a county changes them through the environment.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class SignalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AEFI_SIGNALS_", env_file=".env", extra="ignore")

    # Type I error of each MaxSPRT over the planned surveillance of one lot (or vaccine,
    # site) and event group (Kulldorff et al. 2011 use 0.05).
    alpha: float = 0.05
    # Review level: MaxSPRT with at least this many events (M).
    signal_min_events: int = 1
    # Halt recommendation: MaxSPRT LLR >= CV with at least M events. DOMAIN.md: a lot's T
    # is often below 1, where one early report can cross; an automatic hold needs M >= 2.
    halt_min_events: int = 2
    # Put a lot with a halt recommendation on `held` at once (the bureau then decides).
    auto_hold: bool = True
    # Upper limit T of the MaxSPRT (expected count at the planned end of surveillance):
    # for a lot, rate x the larger of the doses received (the lot's size) and the doses
    # given so far x t_factor; for a vaccine or a site, rate x doses given x t_factor.
    t_factor: float = 2.0
    # Fixed plans (aefi.signals.plans): planned doses of a target with neither a lot size
    # nor a product plan, unless t_factor x the doses already given is more.
    default_planned_doses: int = 10_000
    # A lot against its siblings (aefi.signals.siblings): the binomial MaxSPRT ends after
    # this many reports of the product in the group; the conditional Poisson MaxSPRT after
    # this many of the lot's.
    sibling_max_events: int = 100
    cond_poisson_max_events: int = 20
    # Disproportionality over spontaneous reports without denominators (VAERS imports):
    # Evans et al. 2001 (PRR >= 2, Yates chi-square >= 4, a >= 3) makes a review signal.
    disproportionality: bool = True
    # A lot against the product's other lots among the people who answered the check-ins
    # (aefi.signals.responders; review only, never a halt): alpha (the family's, split over
    # the event groups an answer can count in) and the minimums below which a lot is not
    # tested, so that a lot with a handful of answers cannot signal by chance. 30
    # responders: below that one answer moves the share by more than 3 points.
    active_surveillance: bool = True
    active_min_responders: int = 30
    active_min_events: int = 3
    # Full scan on the background timer (seconds).
    scan_every_s: int = 900
    # Future-dated halt decisions are applied by a timer (seconds).
    halts_every_s: int = 60


@lru_cache
def get_signal_settings() -> SignalSettings:
    return SignalSettings()
