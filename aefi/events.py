"""The events of aefi: what one domain tells the others happened, as frozen dataclasses.

One module for every event rather than one per domain: the events are the contract
*between* domains, so a reader finds them all here, and ``aefi/flow.py`` (who reacts, in
which order) imports one module. Each event carries what its emitter knew and its
receivers need (ids, the triage decision, a cluster's lots), so no receiver re-derives it;
a receiver loads a row by id when it needs more. No database, no domain service: the
emitters call ``publish`` here, which hands the event to ``aefi.flow.publish`` (imported
at call time, because ``aefi.flow`` imports every subscriber and they import the emitters).

``to_payload``/``from_payload`` turn an event into JSON and back, for the record of a
subscriber that failed and is retried later (``aefi/flow.py``)."""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aefi.triage.rules import TriageDecision

if TYPE_CHECKING:
    from sqlmodel import Session

    from aefi.auth.permissions import Actor


@dataclass(frozen=True)
class ReportFiled:
    """intake stored a new report (``intake.service.file_report``)."""

    report_id: int
    county_id: int
    site_id: int
    # Where it came from ("reporter", "api", "vaers", ...): imported VAERS data is no signal.
    source: str
    # The lots of its doses, distinct and sorted, as the publisher knows them (the lot
    # scan's, without a query); empty: not given, looked up.
    lot_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class FollowUpAdded:
    """A follow-up changed a report's facts or added a note (``intake.service.add_follow_up``)."""

    report_id: int
    follow_up_id: int
    county_id: int
    at: datetime
    # The report fields it changed ("symptoms", "outcome", ...); empty for a note alone.
    changed: tuple[str, ...]


@dataclass(frozen=True)
class ReportTriaged:
    """triage decided (or re-decided) a report; ``previous`` is None on its first triage."""

    report_id: int
    county_id: int
    decision: TriageDecision
    previous: TriageDecision | None
    # What this decision did to the report's place in the escalation queue: "new" (put
    # it there), "raised" (more urgent) or "" (nothing to tell); with the urgency then.
    escalation: str = ""
    urgency: int | None = None


@dataclass(frozen=True)
class ClusterFormed:
    """triage found a group AEFI, or a known one grew (``created`` False)."""

    cluster_id: int
    county_id: int
    site_id: int | None
    report_ids: tuple[int, ...]
    # The lots signals is asked to evaluate: the cluster's own lot first, then its members'.
    lot_ids: tuple[int, ...]
    created: bool


@dataclass(frozen=True)
class LotHeld:
    """A signal put a provisional hold on a lot in one county (``registry.lot_states.hold_lot``,
    from a scan's halt recommendation); the bureau decides next."""

    lot_id: int
    county_id: int
    signal_id: int | None


@dataclass(frozen=True)
class HaltIssued:
    """A halt decision came into force (``signals.halts.service``): at issue when dated now,
    else when the ``signals_halts_due`` timer finds it due. The registry state has changed
    already (in the service, the decision's own transaction)."""

    halt_id: int
    # The issuing authority: a county's bureau, or the province (a region id).
    county_id: int
    # The counties whose sites the decision stops.
    county_ids: tuple[int, ...]
    scope: str  # "lot", "vaccine" or "site"
    # The target: exactly one of the three is set, after ``scope``.
    lot_id: int | None
    vaccine_id: int | None
    site_id: int | None
    number: str
    in_force_at: datetime


@dataclass(frozen=True)
class HaltLifted:
    """A later decision lifted a halt (``signals.halts.service.lift_halt``); the registry is
    usable again where no other decision holds it."""

    halt_id: int
    county_id: int
    county_ids: tuple[int, ...]
    scope: str
    lot_id: int | None
    vaccine_id: int | None
    site_id: int | None
    number: str
    lift_number: str
    lifted_at: datetime
    # False: lifted before its date came, it never stopped anything (nobody was told).
    was_in_force: bool


Event = (
    ReportFiled | FollowUpAdded | ReportTriaged | ClusterFormed | LotHeld | HaltIssued | HaltLifted
)
EVENT_TYPES: dict[str, type] = {
    t.__name__: t
    for t in (
        ReportFiled,
        FollowUpAdded,
        ReportTriaged,
        ClusterFormed,
        LotHeld,
        HaltIssued,
        HaltLifted,
    )
}


def publish(session: Session, actor: Actor, event: Event) -> None:
    """Run the subscribers of ``event`` in the order ``aefi/flow.py`` lists them."""
    from aefi import flow

    flow.publish(session, actor, event)


def to_payload(event: Event) -> dict[str, Any]:
    """The event as JSON-ready values (a datetime as ISO text, a decision as its dict)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, TriageDecision):
            value = value.to_dict("en")
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The field types of an event class (resolving them cost a job more than its event)."""
    return typing.get_type_hints(cls)


def from_payload(name: str, payload: dict[str, Any]) -> Event:
    """The event ``to_payload`` wrote, typed again. KeyError: no such event."""
    from aefi.triage.decision.inputs import decision_from_json

    cls = EVENT_TYPES[name]
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in payload and f.default is not dataclasses.MISSING:
            continue  # a field added since the job was recorded: its default
        value, hint = payload[f.name], hints[f.name]
        if value is None:
            pass
        elif hint is datetime:
            value = datetime.fromisoformat(value)
        elif TriageDecision in (hint, *typing.get_args(hint)):
            value = decision_from_json(value)
        elif typing.get_origin(hint) is tuple:
            value = tuple(value)
        values[f.name] = value
    return cls(**values)
