"""aefi/flow.py: the docstring that tells the chain is the table that runs it, and an
event survives the trip through a failure record."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aefi import flow
from aefi.events import (
    EVENT_TYPES,
    ClusterFormed,
    FollowUpAdded,
    HaltIssued,
    HaltLifted,
    LotHeld,
    ReportFiled,
    ReportTriaged,
    from_payload,
    to_payload,
)
from aefi.triage.rules import Reason, TriageDecision

_EVENT = re.compile(r"^ {3}([A-Z][A-Za-z]+)$")
_STEP = re.compile(r"^ {5}(\d+)\. ([a-z_.]+)  \[(safety|retried)\]$")


def documented() -> dict[str, list[tuple[str, str]]]:
    """What the docstring lists: event name -> [(subscriber, policy), ...] in order."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in (flow.__doc__ or "").splitlines():
        if m := _EVENT.match(line):
            current = out.setdefault(m.group(1), [])
        elif (m := _STEP.match(line)) and current is not None:
            assert int(m.group(1)) == len(current) + 1, line
            current.append((m.group(2), m.group(3)))
    return out


def test_the_docstring_lists_every_subscriber_in_the_order_they_run():
    table = {
        event.__name__: [(s.name, "safety" if s.safety else "retried") for s in subs]
        for event, subs in flow.SUBSCRIBERS.items()
    }
    assert documented() == table


def test_every_event_has_subscribers_and_the_safety_path_is_triage_and_referral():
    assert set(flow.SUBSCRIBERS) == set(EVENT_TYPES.values())
    safety = {s.name for subs in flow.SUBSCRIBERS.values() for s in subs if s.safety}
    assert safety == {
        "triage.decision.service.on_report_filed",
        "triage.decision.service.on_follow_up_added",
        "referral.flows.on_report_triaged",
    }
    # Triage decides before anything else looks at a filed report.
    assert flow.SUBSCRIBERS[ReportFiled][0].name == "triage.decision.service.on_report_filed"


def test_every_subscriber_is_found_by_its_name_and_jobs_are_named_once():
    for subs in flow.SUBSCRIBERS.values():
        for sub in subs:
            assert flow.subscriber_named(sub.name) is sub
    names = [job.name for job in flow.JOBS]
    assert len(names) == len(set(names)) and "flow_retry" not in names  # the job queue retries


def test_events_survive_the_failure_record():
    at = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    decision = TriageDecision(
        serious=True,
        escalated=True,
        investigation_required=True,
        referral_required=False,
        fast_report_required=True,
        preliminary_report_required=True,
        designated=("anaphylaxis",),
        reasons=(Reason("serious.life_threatening", "Life-threatening", "危及生命"),),
        deadlines={"fast_report_due": at},
        ruleset_version="2026-1",
    )
    events = [
        ReportFiled(report_id=1, county_id=2, site_id=3, source="web"),
        FollowUpAdded(report_id=1, follow_up_id=4, county_id=2, at=at, changed=("symptoms",)),
        ReportTriaged(report_id=1, county_id=2, decision=decision, previous=None),
        ReportTriaged(report_id=1, county_id=2, decision=decision, previous=decision),
        ClusterFormed(
            cluster_id=5, county_id=2, site_id=None, report_ids=(1, 6), lot_ids=(7,), created=True
        ),
        LotHeld(lot_id=7, county_id=2, signal_id=None),
        HaltIssued(
            halt_id=8,
            county_id=9,
            county_ids=(2, 3),
            scope="lot",
            lot_id=7,
            vaccine_id=None,
            site_id=None,
            number="叫停〔2026〕1号",
            in_force_at=at,
        ),
        HaltLifted(
            halt_id=8,
            county_id=9,
            county_ids=(2, 3),
            scope="vaccine",
            lot_id=None,
            vaccine_id=4,
            site_id=None,
            number="叫停〔2026〕1号",
            lift_number="解除叫停〔2026〕1号",
            lifted_at=at,
            was_in_force=False,
        ),
    ]
    for event in events:
        assert from_payload(type(event).__name__, to_payload(event)) == event
