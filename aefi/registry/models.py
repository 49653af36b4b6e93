"""Reference data every other part links to: regions, sites, hospitals, vaccines, lots,
vaccinated persons and dose records (the denominators of signal detection)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime
from aefi.i18n import N_, gettext


class RegionLevel(enum.StrEnum):
    province = "province"  # a county's parent_id is its province (may be None)
    county = "county"
    township = "township"


class LotStatus(enum.StrEnum):
    active = "active"
    held = "held"
    halted = "halted"
    recalled = "recalled"
    expired = "expired"


class Route(enum.StrEnum):
    im = "im"
    sc = "sc"
    id = "id"
    oral = "oral"
    intranasal = "intranasal"


# How a route is shown (through the catalog; the code never is).
ROUTE_NAMES = {
    Route.im: N_("intramuscular"),
    Route.sc: N_("subcutaneous"),
    Route.id: N_("intradermal"),
    Route.oral: N_("oral"),
    Route.intranasal: N_("intranasal"),
}


def route_name(code: str | None) -> str:
    """A route's name in the request's language (a code aefi does not know, as given)."""
    if not code:
        return ""
    label = ROUTE_NAMES.get(code)  # type: ignore[call-overload]
    return gettext(label) if label else code


class Sex(enum.StrEnum):
    male = "male"
    female = "female"
    unknown = "unknown"


class Region(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    name_en: str = Field(default="", max_length=100)
    level: str = Field(max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="region.id", index=True)


class Hospital(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    level: str = Field(default="", max_length=32)
    phone: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=300)
    county_id: int = Field(foreign_key="region.id", index=True)


class Site(SQLModel, table=True):
    """A vaccination site (接种单位), bound to a township."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    township_id: int = Field(foreign_key="region.id", index=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    phone: str = Field(default="", max_length=40)
    # Green channel: the hospital that receives this site's severe cases, and its backup.
    primary_hospital_id: int | None = Field(default=None, foreign_key="hospital.id")
    backup_hospital_id: int | None = Field(default=None, foreign_key="hospital.id")
    halted: bool = Field(default=False)
    halt_note: str = Field(default="", max_length=500)


class Vaccine(SQLModel, table=True):
    """A vaccine product."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    manufacturer: str = Field(default="", max_length=200)
    observation_minutes: int = Field(default=30)
    halted: bool = Field(default=False)
    halt_note: str = Field(default="", max_length=500)
    # Doses planned for this product's surveillance (set by the admin on the expected-rate
    # page): the end of the signal scans' fixed plans for the product and for its lots
    # without a recorded size (aefi.signals.plans).
    planned_doses: int | None = None
    # Days after a dose when the vaccinee is asked how they are ("1,3,7"); empty: the rule
    # of aefi.aftercare.schedule (day 1, 3, 7; measles-containing vaccines also day 12).
    checkin_days: str = Field(default="", max_length=64)


class Lot(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    lot_number: str = Field(max_length=64, unique=True)
    vaccine_id: int = Field(foreign_key="vaccine.id", index=True)
    expiry_on: date | None = None
    doses_received: int | None = None
    status: str = Field(default=LotStatus.active, max_length=16, index=True)
    # Why the lot is not active, naming the decision (shown in the 409 of a refused dose).
    status_note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))


class Person(SQLModel, table=True):
    """A vaccinated person. The ID number is stored whole, shown masked."""

    __table_args__ = (UniqueConstraint("county_id", "id_number"),)

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    name: str = Field(max_length=100, index=True)
    id_number: str = Field(max_length=32)
    sex: str = Field(default=Sex.unknown, max_length=8)
    birth_on: date | None = None
    phone: str = Field(default="", max_length=40, index=True)
    address: str = Field(default="", max_length=300)
    guardian_name: str = Field(default="", max_length=100)


class Dose(SQLModel, table=True):
    __table_args__ = (
        Index("ix_dose_lot_time", "lot_id", "administered_at"),
        # The natural key: the same vaccination recorded twice is one dose (imports rely on it).
        Index(
            "ux_dose_natural_key",
            "person_id",
            "lot_id",
            "dose_number",
            "administered_at",
            unique=True,
        ),
        # (site_id, administered_at) is served by ix_dose_site_time_lot (reporting/models.py).
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    lot_id: int = Field(foreign_key="lot.id")
    site_id: int = Field(foreign_key="site.id")
    dose_number: int = Field(default=1)
    route: str = Field(default="", max_length=16)
    body_site: str = Field(default="", max_length=64)
    administered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    vaccinator: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))


# Values shown through the catalog (statuses, sexes, region levels).
LABELS = (
    N_("active"),
    N_("held"),
    N_("halted"),
    N_("recalled"),
    N_("expired"),
    N_("male"),
    N_("female"),
    N_("unknown"),
    N_("province"),
    N_("county"),
    N_("township"),
)


class DoseDay(SQLModel, table=True):
    """Doses per lot x site x local day (the county's zone), of the doses with ids up to
    ``DoseDayState.last_dose_id``: the lot page's counts and the full scan's denominators,
    kept by their readers (``aefi.registry.dose_summary``; migration 0033 has the triggers
    that drop the state when a dose is deleted or changed). A person is counted once:
    ``persons_site`` counts the doses that are the person's first (lowest id) of the lot at
    the site, ``persons_county`` the first of the lot at the sites of the site's county."""

    __tablename__ = "dose_day"

    lot_id: int = Field(primary_key=True)
    site_id: int = Field(primary_key=True)
    day: date = Field(primary_key=True)
    n: int
    persons_site: int
    persons_county: int
    first_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class DoseCount(SQLModel, table=True):
    """Doses per lot x site: ``DoseDay``'s roll-up, kept in the same fold up to the same
    watermark, for the full scan, which reads every (lot, site) pair and no days."""

    __tablename__ = "dose_count"

    lot_id: int = Field(primary_key=True)
    site_id: int = Field(primary_key=True)
    n: int


class DoseDayState(SQLModel, table=True):
    """The watermark of ``dose_day`` and ``dose_count``, and the zone the days were cut
    in (one row, id 1; absent: recount from the doses)."""

    __tablename__ = "dose_day_state"

    id: int = Field(primary_key=True)
    last_dose_id: int
    zone: str = Field(max_length=64)


class LotHold(SQLModel, table=True):
    """A provisional hold of a lot in one county, put by a signal (DOMAIN.md): new doses of
    the lot at that county's sites are refused until the bureau halts it or releases it.
    A lot shared by several counties is held in each of them on its own."""

    __tablename__ = "lot_hold"

    lot_id: int = Field(foreign_key="lot.id", primary_key=True)
    county_id: int = Field(foreign_key="region.id", primary_key=True)
    signal_id: int | None = None
    note: str = Field(default="", max_length=500)
    held_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
