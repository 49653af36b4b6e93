"""The individual case safety report (ICSR) as plain values: what an E2B(R3) message says.

The writer (``e2b_writer.py``) turns an ``Icsr`` into HL7 v3 XML, the reader
(``e2b_reader.py``) turns XML back into one; the service builds it from a report and its
case file. Element numbers in comments are the ICH E2B(R3) data elements (ICH IG v5.02;
FDA's table in ``shared/standards/e2br3/data-elements``). Nothing here knows the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# E.i.7 outcome codes (OID 2.16.840.1.113883.3.989.2.1.1.11), keyed by aefi's outcome.
OUTCOME_CODES: dict[str, str] = {
    "recovered": "1",
    "recovering": "2",
    "not_recovered": "3",
    "sequelae": "4",
    "died": "5",
    "unknown": "6",
}
OUTCOMES_BY_CODE: dict[str, str] = {code: name for name, code in OUTCOME_CODES.items()}

# D.5 sex (ISO 5218, OID 1.0.5218): 1 male, 2 female; unknown is nullFlavor UNK.
SEX_CODES: dict[str, str] = {"male": "1", "female": "2"}
SEX_BY_CODE: dict[str, str] = {code: name for name, code in SEX_CODES.items()}

# G.k.4.r.10 route of administration, ICH route codes (E2B(R2) list, OID
# 2.16.840.1.113883.3.989.2.1.1.14), keyed by aefi's route (registry.models.Route).
ROUTE_CODES: dict[str, str] = {
    "id": "023",
    "im": "030",
    "intranasal": "045",
    "oral": "048",
    "sc": "058",
}
ROUTES_BY_CODE: dict[str, str] = {code: name for name, code in ROUTE_CODES.items()}

# C.3.1 sender type: 4 = regional pharmacovigilance centre, which is what a county CDC is
# to the national system. C.1.8.2 first sender: 2 = other (not a regulator).
SENDER_TYPE_REGIONAL_CENTRE = "4"
FIRST_SENDER_OTHER = "2"
# C.1.3 type of report: 1 = spontaneous (passive surveillance, the report card).
REPORT_TYPE_SPONTANEOUS = "1"
# A.2.r.1.4 / C.2.r.4 qualification: 1 physician, 3 other health professional.
QUALIFICATION_PHYSICIAN = "1"
QUALIFICATION_OTHER_HP = "3"


@dataclass(frozen=True)
class Party:
    """A batch/message sender or receiver (N.1.3/N.1.4, N.2.r.2/N.2.r.3)."""

    identifier: str


@dataclass(frozen=True)
class Sender:
    """C.3: who sends the case (the county CDC)."""

    organisation: str
    department: str = ""
    sender_type: str = SENDER_TYPE_REGIONAL_CENTRE
    country: str = "CN"
    phone: str = ""


@dataclass(frozen=True)
class Reporter:
    """C.2.r: the primary source (the reporting physician)."""

    name: str = ""
    organisation: str = ""
    phone: str = ""
    qualification: str = QUALIFICATION_PHYSICIAN
    country: str = "CN"


@dataclass(frozen=True)
class Patient:
    """D: the vaccinee. ``name`` empty means masked (nullFlavor MSK)."""

    name: str = ""
    sex: str = "unknown"
    birth_on: date | None = None


@dataclass(frozen=True)
class Seriousness:
    """E.i.3.2a-f. ``False`` is written as nullFlavor NI: E2B(R3) carries only "true"."""

    death: bool = False
    life_threatening: bool = False
    hospitalization: bool = False
    disability: bool = False
    congenital_anomaly: bool = False
    other_important: bool = False

    @property
    def any(self) -> bool:
        return any(
            (
                self.death,
                self.life_threatening,
                self.hospitalization,
                self.disability,
                self.congenital_anomaly,
                self.other_important,
            )
        )


@dataclass(frozen=True)
class Reaction:
    """E.i: one reaction. ``ref`` is the UUID other elements point at (G.k.9.i)."""

    ref: str
    reported_term: str
    meddra_code: str = ""
    meddra_version: str = ""
    start_at: datetime | date | None = None
    seriousness: Seriousness = field(default_factory=Seriousness)
    outcome: str = "unknown"  # a key of OUTCOME_CODES


@dataclass(frozen=True)
class SuspectVaccine:
    """G.k: one vaccine, always with drug role 1 (suspect)."""

    ref: str
    product_name: str
    product_code: str = ""
    manufacturer: str = ""
    lot_number: str = ""
    dose_number: int | None = None
    route: str = ""  # a key of ROUTE_CODES, or free text
    administered_at: datetime | date | None = None


@dataclass(frozen=True)
class Relatedness:
    """G.k.9.i.2.r: one assessment of one vaccine against one reaction."""

    vaccine_ref: str
    reaction_ref: str
    source: str  # G.k.9.i.2.r.1
    method: str  # G.k.9.i.2.r.2
    result: str  # G.k.9.i.2.r.3


@dataclass(frozen=True)
class Icsr:
    """One case at one version. ``safety_report_id`` (C.1.1) and ``worldwide_case_id``
    (C.1.8.1) stay the same for every version of the case; ``message_id`` (N.2.r.1) is new
    for each transmission and ``most_recent_on`` (C.1.5) moves with each follow-up."""

    message_id: str
    safety_report_id: str
    worldwide_case_id: str
    created_at: datetime  # C.1.2
    first_received_on: date  # C.1.4
    most_recent_on: date  # C.1.5
    narrative: str  # H.1
    sender: Sender
    reporter: Reporter
    patient: Patient
    reactions: tuple[Reaction, ...]
    vaccines: tuple[SuspectVaccine, ...]
    relatedness: tuple[Relatedness, ...] = ()
    report_type: str = REPORT_TYPE_SPONTANEOUS
    expedited: bool = False  # C.1.7
    additional_documents: bool = False  # C.1.6.1
    first_sender: str = FIRST_SENDER_OTHER


@dataclass(frozen=True)
class Batch:
    """N.1: one transmission of one or more ICSRs."""

    batch_number: str
    sender: Party
    receiver: Party
    created_at: datetime
    messages: tuple[Icsr, ...]
