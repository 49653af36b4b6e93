"""Expected rates, signals, scan runs and halt decisions (紧急叫停)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime
from aefi.i18n import N_
from aefi.registry.models import Dose

# Per-lot and per-site dose counts of a scan read this index only (5 M doses, one pass):
# ``SELECT lot_id, site_id, count(*) FROM dose GROUP BY lot_id, site_id``, and the banner
# asks "has this site doses of this lot?" through it. Declared here, on the registry's
# table, because signals is the reader that needs it (migration 0005 creates it).
DOSE_LOT_SITE_INDEX = Index("ix_dose_lot_site", Dose.__table__.c.lot_id, Dose.__table__.c.site_id)


class SignalScope(enum.StrEnum):
    lot = "lot"
    vaccine = "vaccine"
    site = "site"


class SignalMethod(enum.StrEnum):
    maxsprt = "maxsprt"  # observed vs expected, Poisson MaxSPRT (with doses)
    disproportionality = "disproportionality"  # PRR/ROR/IC over reports (no doses)
    # a lot's check-in responders vs the product's other lots' (review only)
    active_surveillance = "active_surveillance"


class SignalLevel(enum.StrEnum):
    signal = "signal"  # for review
    halt_recommended = "halt_recommended"  # provisional hold, the bureau decides


class SignalStatus(enum.StrEnum):
    new = "new"
    under_review = "under_review"
    dismissed = "dismissed"
    escalated = "escalated"


class HaltScope(enum.StrEnum):
    lot = "lot"
    vaccine = "vaccine"
    site = "site"


LABELS = (
    N_("lot"),
    N_("vaccine"),
    N_("site"),
    N_("maxsprt"),
    N_("disproportionality"),
    N_("active_surveillance"),
    N_("signal"),
    N_("halt_recommended"),
    N_("new"),
    N_("under_review"),
    N_("dismissed"),
    N_("escalated"),
    # audit actions of signals and halts (timelines show them through the catalog)
    N_("raise"),
    N_("reopen"),
    N_("halt"),
    N_("lift"),
    # surveillance plans: audit actions and where the planned doses come from
    N_("start"),
    N_("replace"),
    N_("lot_size"),
    N_("product_planned"),
    N_("default"),
    N_("extension"),
)


class ExpectedRate(SQLModel, table=True):
    """An expected rate per dose for a vaccine (``*``: every vaccine) and event group,
    with the risk window after the dose in which an onset counts, and where it comes from.

    A specific vaccine's row wins over the ``*`` row of the same event group. A rate of 0
    switches the scan of that pair off."""

    __tablename__ = "expected_rate"
    __table_args__ = (UniqueConstraint("vaccine_code", "event_group"),)

    id: int | None = Field(default=None, primary_key=True)
    vaccine_code: str = Field(max_length=32)
    event_group: str = Field(max_length=32)
    rate_per_dose: float
    window_start_days: float = 0.0
    window_end_days: float = 1.0
    source: str = Field(default="", max_length=500)
    updated_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    updated_by: str = Field(default="", max_length=100)


class Signal(SQLModel, table=True):
    """The state of one test: scope (lot, vaccine, site) x target x event group x method.

    Later scans update the row (figures, ``level`` only upwards: a sequential test that has
    signalled stays signalled) instead of adding another."""

    __table_args__ = (
        UniqueConstraint("scope", "target_id", "event_group", "method"),
        Index("ix_signal_status_strength", "status", "strength"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)
    target_id: int
    lot_id: int | None = Field(default=None, foreign_key="lot.id", index=True)
    vaccine_id: int | None = Field(default=None, foreign_key="vaccine.id", index=True)
    site_id: int | None = Field(default=None, foreign_key="site.id", index=True)
    event_group: str = Field(max_length=32)
    method: str = Field(max_length=24)
    level: str = Field(default=SignalLevel.signal, max_length=24, index=True)
    status: str = Field(default=SignalStatus.new, max_length=16)
    # Figures of the latest scan.
    observed: int = 0
    expected: float = 0.0
    doses: int = 0  # MaxSPRT: doses given; disproportionality: reports with the vaccine
    rate_per_dose: float | None = None
    window_start_days: float | None = None
    window_end_days: float | None = None
    statistic: float = 0.0  # MaxSPRT: LLR; disproportionality: PRR
    threshold: float = 0.0  # MaxSPRT: CV of the level reached; disproportionality: 2
    p_value: float | None = None
    strength: float = 0.0  # for ranking: LLR / CV (MaxSPRT), chi-square / 4 (Evans)
    oe_ratio: float | None = None
    oe_lower: float | None = None
    oe_upper: float | None = None
    upper_limit: float | None = None  # MaxSPRT T
    # Everything else of the latest scan: both CVs, M, ROR, IC, the 2x2 cells, sources.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    held_lot: bool = False  # this signal put its lot on hold
    status_note: str = Field(default="", max_length=2000)
    first_detected_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    level_changed_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_scanned_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    status_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    @classmethod
    def detected(
        cls,
        now: datetime,
        *,
        scope: str,
        target_id: int,
        event_group: str,
        method: str,
        level: str = SignalLevel.signal,
        lot_id: int | None = None,
        vaccine_id: int | None = None,
        site_id: int | None = None,
    ) -> Signal:
        """A test's first signal, new for review, first detected (and at its level) now:
        what every scan method stores for a cell it has no row of yet."""
        return cls(
            scope=scope,
            target_id=target_id,
            lot_id=lot_id,
            vaccine_id=vaccine_id,
            site_id=site_id,
            event_group=event_group,
            method=method,
            level=level,
            status=SignalStatus.new,
            first_detected_at=now,
            level_changed_at=now,
        )


class ScanRun(SQLModel, table=True):
    """One scan: what triggered it, how much it looked at, and (full scans) the strongest
    lots whether or not they crossed a threshold, for the overview's ranking."""

    __tablename__ = "scan_run"

    id: int | None = Field(default=None, primary_key=True)
    trigger: str = Field(max_length=16)  # report, follow_up, cluster, timer, cli, api, web
    full: bool = False
    started_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    cells: int = 0
    signals: int = 0
    new_signals: int = 0
    halt_recommendations: int = 0
    seconds: float = 0.0
    top: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Full scans over imported reports: per level of the term hierarchy (term, symptom,
    # event group, body system) the strongest cells with PRR/ROR/IC/EBGM, and the fitted
    # MGPS prior (aefi.signals.disproportionality).
    disproportionality: dict[str, Any] | None = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=True)
    )


class HaltDecision(SQLModel, table=True):
    """The bureau's emergency halt (紧急叫停) of a lot, a vaccine product or a site's
    vaccinations, and the later decision that lifts it."""

    __tablename__ = "halt_decision"
    __table_args__ = (
        UniqueConstraint("county_id", "number"),
        Index("ix_halt_active", "county_id", "lifted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="region.id")
    number: str = Field(max_length=40)  # 叫停〔2026〕3号
    year: int
    seq: int
    scope: str = Field(max_length=16)
    target_id: int
    target_label: str = Field(max_length=200)  # lot number, vaccine code, site code
    reason: str = Field(max_length=2000)
    signal_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    cluster_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    report_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    effective_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    applied_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    issued_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    issued_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    issued_by_name: str = Field(default="", max_length=100)
    # What the registry said before, restored on lifting when no other halt holds it.
    previous_status: str = Field(default="", max_length=16)
    previous_note: str = Field(default="", max_length=500)
    lift_number: str = Field(default="", max_length=40)  # 解除叫停〔2026〕1号
    lifted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    lifted_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    lifted_by_name: str = Field(default="", max_length=100)
    lift_reason: str = Field(default="", max_length=2000)

    @property
    def state(self) -> str:
        if self.lifted_at is not None:
            return "lifted"
        return "in force" if self.applied_at is not None else "pending"


class HaltCounter(SQLModel, table=True):
    """Sequence of decision numbers per county, year and kind (halt, lift)."""

    __tablename__ = "halt_counter"

    county_id: int = Field(foreign_key="region.id", primary_key=True)
    year: int = Field(primary_key=True)
    kind: str = Field(max_length=8, primary_key=True)
    last: int = 0


class CriticalValueCache(SQLModel, table=True):
    """MaxSPRT critical values already computed, per (T on the grid, alpha, M): exact and
    for ever the same, so each is computed once per installation, not once per process
    (a CV for T in the thousands takes seconds)."""

    __tablename__ = "cv_cache"

    upper_limit: float = Field(primary_key=True)
    alpha: float = Field(primary_key=True)
    min_events: int = Field(primary_key=True)
    cv: float


class SurveillancePlan(SQLModel, table=True):
    """The fixed sequential plan of one test: scope (lot, vaccine, site) x target x event
    group (:mod:`aefi.signals.plans` has the arithmetic and the reasons).

    Fixed when surveillance starts and never lowered: the scans read T and the critical
    value from here. A change (a lot's size recorded, a product's planned doses raised, the
    planned end passed) is a new row; the old one is kept with ``active`` False and
    ``superseded_by_id`` pointing at its successor, and both are audited."""

    __tablename__ = "surveillance_plan"
    __table_args__ = (Index("ix_plan_cell", "scope", "target_id", "event_group", "active"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)
    target_id: int
    lot_id: int | None = Field(default=None, foreign_key="lot.id", index=True)
    vaccine_id: int | None = Field(default=None, foreign_key="vaccine.id")
    site_id: int | None = Field(default=None, foreign_key="site.id")
    event_group: str = Field(max_length=32)
    rate_per_dose: float
    planned_doses: float
    doses_source: str = Field(max_length=24)  # plans.SOURCES
    upper_limit: float  # T on the critical-value grid
    alpha_family: float  # alpha of the whole target (all its event groups)
    alpha: float  # this group's share (weighted Bonferroni)
    family_size: int = 1
    signal_min_events: int = 1
    halt_min_events: int = 2
    cv_signal: float  # CV(T, alpha, M_signal); 0 = any excess with M events
    halt_rule: str = Field(max_length=32)
    started_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    active: bool = True
    superseded_by_id: int | None = Field(default=None, foreign_key="surveillance_plan.id")
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reason: str = Field(default="", max_length=200)


class PlanVersion(SQLModel, table=True):
    """A token that changes with every write to ``surveillance_plan`` (one row, id 1; the
    triggers of migration 0033 draw a new random token per write): a scan keeps the active
    plans in memory and rereads them only when the token differs (``aefi.signals.scans
    .plan_store``). Random, not a counter, so that two databases (or a rolled-back write)
    never show the same token for different plans."""

    __tablename__ = "surveillance_plan_version"

    id: int = Field(primary_key=True)
    token: str = Field(max_length=32)
