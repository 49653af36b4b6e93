"""What follows what: every subscriber of every event, in the order it runs, and the
background jobs. Read top to bottom, this is the chain from a filed report to a halt.

1. A reporter files a report. ``intake.filing.service.file_report`` stores it and publishes
   ``ReportFiled``, inside the filing transaction:

   ReportFiled
     1. triage.decision.service.on_report_filed  [safety]
        triage decides at once: serious or not, investigation, referral, deadlines; stores
        the decision on the report, escalates, finds the clusters the report makes or
        joins, and publishes ``ReportTriaged`` (then ``ClusterFormed`` per cluster).
     2. signals.flows.on_report_filed  [retried]
        a targeted scan of the report's lots (MaxSPRT; one scan for the county's reports
        of the last few seconds): a lot crossing the halt level is held at once and the
        bureau is told a halt is recommended. Not for imported VAERS reports.
     3. observation.flows.on_report_filed  [retried]
        a vaccinee still under observation gets the reaction marked on the board.
     4. reporting.flows.on_report_filed  [retried]
        a report after a follow-up contact found a reaction links back to that contact.
     5. interchange.upstream.service.on_report_filed  [retried]
        the new case is queued for the upstream (province aefi / E2B endpoint), if set.

2. triage's decision, for each report it decided (the new one, and members of a cluster
   that did not know they were in it):

   ReportTriaged
     1. referral.flows.on_report_triaged  [safety]
        the green channel: a referral to the site's hospital when the decision asks.
     2. triage.notices.on_report_triaged  [retried]
        a report put in the escalation queue (or made more urgent) is notified to the
        queue's people and the reporting site; the queue item itself is in the filing.
     3. investigation.flows.on_report_triaged  [retried]
        the case file, when an investigation is required (kept up to date once open).
     4. interchange.upstream.service.on_report_triaged  [retried]
        the changed case is queued for the upstream (one pending message per report).

3. triage found a group AEFI, or a known one grew:

   ClusterFormed
     1. triage.notices.on_cluster_formed  [retried]
        the escalation queue's people are told of the group AEFI (formed or grown).
     2. investigation.flows.on_cluster_formed  [retried]
        the group case file, with every member report.
     3. signals.flows.on_cluster_formed  [retried]
        a scan of the cluster's lots, vaccines and site; the cluster is marked evaluated.

4. A follow-up adds facts to a report (``intake.follow_up.service.add_follow_up``):

   FollowUpAdded
     1. triage.decision.service.on_follow_up_added  [safety]
        re-triage when the facts triage reads changed (then 2. and 3. again).
     2. signals.flows.on_follow_up  [retried]
        new symptoms change the event groups the report counts in: scan again.
     3. interchange.upstream.service.on_follow_up_added  [retried]
        the amended case is queued for the upstream.

5. A scan (1.2, 3.2, 4.2 or the ``signals_scan`` job) whose lot crosses the halt level
   holds the lot in each county whose sites used it (``registry.lot_states.hold_lot``,
   the state change, in the scan's transaction), one event per county:

   LotHeld
     1. signals.halts.notices.on_lot_held  [retried]
        the county's sites that gave doses of the lot are told to set the stock aside.

6. The halt itself is a person's decision: the bureau (or the province) reviews the
   recommendation and issues it (``signals.halts.service.issue_halt``). The decision puts
   the registry state in force itself, at once or when due (the ``signals_halts_due`` job
   below, ``apply_due_halts``); it fails whole if that fails. Then, in force:

   HaltIssued
     1. signals.halts.notices.on_halt_issued  [retried]
        every site of the governed counties holding the lot, product or site is told to
        stop at once; their investigators, bureau and admins too.
     2. aftercare.sms.service.on_halt_issued  [retried]
        a halted lot's vaccinees who have a phone get a check-in by text message.

7. A later decision lifts it (``signals.halts.service.lift_halt``): the registry is usable
   again where no other decision in force stops it (in the service), then:

   HaltLifted
     1. signals.halts.notices.on_halt_lifted  [retried]
        the same people are told it may be used again (nobody, if it never came into force).

Failure policy and timing. A ``[safety]`` subscriber is the report's safety path (the
decision, the escalation, the referral): it runs inline, in the publisher's transaction;
when it fails the use case fails, the whole transaction is rolled back and the caller gets
``SubscriberFailed`` (nothing stored; try again). So the referral is in the hospital's
inbox when the filing returns. A ``[retried]`` subscriber is a durable job
(``aefi.jobs``): ``publish`` records it in the publisher's transaction (committed with the
report, or not at all) and a worker runs it seconds later with the publisher's actor, in a
transaction of its own. A job that fails is retried with back-off (10 s, doubling) and,
after ``jobs_max_attempts`` runs, abandoned with an audit entry (``job_abandoned``).
Subscribers with a coalescing key (the lot scans, keyed by county; a cluster's scans) wait
``jobs_coalesce_s`` (5 s) and merge with the pending jobs of the same key; the lot scan
runs once over the lots of every report merged into it: ten reports in a county in a few
seconds cost one scan of their lots. Delay bound of a halt recommendation's hold on a
lot: the coalescing delay + the poll interval (``jobs_poll_s``, 2 s) + the scan itself,
under 10 s on a worker that is not behind.

Subscribers take ``(session, actor, event)``, run in the publisher's transaction (they
flush, never commit) and load what they need by the event's ids. The publishers
(``intake.filing.service``, ``intake.follow_up.service``, ``triage.decision.service``,
``interchange.receive.service``, ``registry.lot_states``, ``signals.halts.service``) call
``aefi.events.publish``, which imports this module at call time: it imports every
subscriber, and they the publishers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from aefi.aftercare.sms import service as aftercare_sms
from aefi.auth.permissions import Actor, Role
from aefi.background import Job
from aefi.errors import DomainError
from aefi.events import (
    ClusterFormed,
    Event,
    FollowUpAdded,
    HaltIssued,
    HaltLifted,
    LotHeld,
    ReportFiled,
    ReportTriaged,
    from_payload,
    to_payload,
)
from aefi.interchange.upstream import service as upstream
from aefi.investigation import flows as investigation
from aefi.investigation import lifecycle
from aefi.jobs import queue
from aefi.jobs import worker as _worker  # noqa: F401  (eager mode's commit hook)
from aefi.notifications import service as notifications
from aefi.observation import flows as observation
from aefi.referral import flows as referral
from aefi.referral.steps import service as referral_steps
from aefi.registry import dose_summary, lot_states
from aefi.reporting import flows as reporting
from aefi.settings import get_settings
from aefi.signals import flows as signals
from aefi.signals.config import get_signal_settings
from aefi.signals.halts import notices as halt_notices
from aefi.signals.halts import service as halts
from aefi.triage import notices as triage_notices
from aefi.triage.decision import service as triage
from aefi.triage.escalation import service as escalation

log = logging.getLogger("aefi.flow")


class SubscriberFailed(DomainError):
    """A step of the report's safety path failed: nothing was stored."""

    status_code = 500


@dataclass(frozen=True)
class Subscriber:
    run: Callable[[Session, Actor, Any], None]
    # True: inline, its failure fails the use case; False: a durable job, retried.
    safety: bool
    # A job's coalescing key (None: every event its own job); keyed jobs wait
    # ``jobs_coalesce_s`` and merge with the pending ones of the same key.
    key: Callable[[Session, Any], str | None] | None = None
    # Whether the event gives the job anything to do, decided from the event alone (no
    # query): a job that would return at once is not recorded. Each filing used to record
    # and run two upstream jobs on installations without an upstream, and a notice job
    # for every report triage did not escalate: a claim, a transaction and a commit each.
    when: Callable[[Any], bool] | None = None
    # A keyed job's run over every event merged into it (oldest first), instead of ``run``
    # on the newest: for work that differs per event (the lots of each report), so that the
    # key may be broad (one lot scan a county) and the run still covers each event.
    batch: Callable[[Session, Actor, list[Any]], None] | None = None

    @property
    def name(self) -> str:
        return f"{self.run.__module__.removeprefix('aefi.')}.{self.run.__name__}"


def safety(run: Callable[[Session, Actor, Any], None]) -> Subscriber:
    return Subscriber(run, safety=True)


def retried(
    run: Callable[[Session, Actor, Any], None],
    key: Callable[[Session, Any], str | None] | None = None,
    *,
    when: Callable[[Any], bool] | None = None,
    batch: Callable[[Session, Actor, list[Any]], None] | None = None,
) -> Subscriber:
    return Subscriber(run, safety=False, key=key, when=when, batch=batch)


def upstream_set(event: Any) -> bool:
    """The upstream jobs queue nothing when no upstream is set (``upstream.queue``); the
    setting is the process's, fixed while it runs."""
    return bool(get_settings().upstream_url)


def cluster_key(session: Session, event: ClusterFormed) -> str:
    """A cluster's scans coalesce: as it grows, one scan of its newest lots."""
    return f"cluster:{event.cluster_id}"


def lot_scan_key(session: Session, event: ReportFiled | FollowUpAdded) -> str:
    """The coalescing key of the lot scans after reports: their county. The jobs of the
    county's reports of the last ``jobs_coalesce_s`` merge, and one scan covers the lots of
    them all (``signals.flows.on_reports_filed``): under a burst of filings a county costs
    one lot scan every few seconds, not one per report."""
    return f"county:{event.county_id}:lot-scan"


SUBSCRIBERS: dict[type, tuple[Subscriber, ...]] = {
    ReportFiled: (
        safety(triage.on_report_filed),
        retried(
            signals.on_report_filed,
            lot_scan_key,
            when=signals.counts_in_scans,
            batch=signals.on_reports_filed,
        ),
        retried(observation.on_report_filed),
        retried(reporting.on_report_filed),
        retried(upstream.on_report_filed, when=upstream_set),
    ),
    ReportTriaged: (
        safety(referral.on_report_triaged),
        retried(triage_notices.on_report_triaged, when=triage_notices.tells),
        retried(investigation.on_report_triaged, when=investigation.may_touch_case),
        retried(upstream.on_report_triaged, when=upstream_set),
    ),
    ClusterFormed: (
        retried(triage_notices.on_cluster_formed),
        retried(investigation.on_cluster_formed),
        retried(signals.on_cluster_formed, cluster_key),
    ),
    FollowUpAdded: (
        safety(triage.on_follow_up_added),
        retried(signals.on_follow_up, lot_scan_key, batch=signals.on_follow_ups),
        retried(upstream.on_follow_up_added, when=upstream_set),
    ),
    LotHeld: (retried(halt_notices.on_lot_held),),
    HaltIssued: (retried(halt_notices.on_halt_issued), retried(aftercare_sms.on_halt_issued)),
    HaltLifted: (retried(halt_notices.on_halt_lifted),),
}


_signal_cfg = get_signal_settings()
# Background work on a timer (``aefi.background`` runs each once per interval across all
# processes). What a lost event would have done, the timers do later all the same.
JOBS: tuple[Job, ...] = (
    # Mail goes out from the outbox.
    Job("deliver_outbox", notifications.deliver_outbox, 30),
    # Queue items past their due time are flagged overdue.
    Job("triage_overdue", escalation.flag_overdue, 60),
    # An escalation is at most half a minute late on a 10-minute acknowledgement limit.
    Job("referral_timers", referral_steps.check_timers, 30),
    # Case deadline reminders: a late step is seen within 5 minutes.
    Job("case_deadlines", lifecycle.check_deadlines, 300),
    # New doses folded into the dose summary off the request path: the lot page and the
    # scan find it topped up, and a recount (after the migration, a dose deleted or changed,
    # a site moved, a new zone) runs here, not inside the first GET; the page's `refresh`
    # stays the fallback. Before the scan, which reads the summary in the same tick.
    # Under the process's write lock, as the page's fold: a filing waits for a recount
    # (SQLite) instead of running into the database's busy timeout.
    Job("registry_dose_summary", dose_summary.refresh, 60),
    # The full scan over every lot, vaccine and site.
    Job("signals_scan", signals.timer_scan, _signal_cfg.scan_every_s),
    # Future-dated halts come into force.
    Job("signals_halts_due", halts.apply_due_halts, _signal_cfg.halts_every_s),
    # Lots whose expiry date passed are marked expired, hourly.
    Job("registry_lots_expired", lot_states.expire_due_lots, 3600),
    # New doses go on the observation boards even when no board is open.
    Job("observation.sync", observation.sync_boards, 60),
    # New and amended cases go upward (province aefi or E2B endpoint) from their outbox.
    Job("interchange_upstream", upstream.deliver_upstream, get_settings().upstream_every_s),
    # Check-in reminders are queued on the scheduled days (09:00–20:00 local), hourly.
    Job("aftercare_reminders", aftercare_sms.queue_reminders, 3600),
    # Text messages go out from the SMS outbox.
    Job("deliver_sms", aftercare_sms.deliver_sms, get_settings().sms_every_s),
)


# --- publishing ----------------------------------------------------------------------------

_DEPTH = "aefi_flow_depth"  # session.info key: how many publish() calls are running


def publish(session: Session, actor: Actor, event: Event) -> None:
    """Run the safety subscribers of ``event`` in order, in the caller's transaction, and
    record a durable job for each retried one (committed with the caller's transaction).

    A safety subscriber's error propagates (an unexpected one as ``SubscriberFailed``);
    the outermost ``publish`` rolls the transaction back first."""
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        for subscriber in SUBSCRIBERS[type(event)]:
            if subscriber.safety:
                _run_safety(session, actor, event, subscriber)
            elif subscriber.when is None or subscriber.when(event):
                _enqueue(session, actor, event, subscriber)
    except Exception:
        if depth == 0 and not session.in_nested_transaction():
            session.rollback()
        raise
    finally:
        session.info[_DEPTH] = depth


def _run_safety(session: Session, actor: Actor, event: Event, sub: Subscriber) -> None:
    try:
        sub.run(session, actor, event)
    except DomainError:
        raise
    except Exception as exc:
        log.exception("%s failed on %s", sub.name, type(event).__name__)
        raise SubscriberFailed(
            "Nothing was stored: a required step ({step}) failed. Try again; tell the "
            "administrator if it repeats.",
            step=sub.name,
        ) from exc


# --- the jobs ------------------------------------------------------------------------------


def _enqueue(session: Session, actor: Actor, event: Event, sub: Subscriber) -> None:
    key = sub.key(session, event) if sub.key is not None else None
    queue.enqueue(
        session,
        sub.name,
        {
            "event": type(event).__name__,
            "payload": to_payload(event),
            "actor": actor_payload(actor),
        },
        key=key,
        delay_s=get_settings().jobs_coalesce_s if key is not None else 0.0,
    )


def actor_payload(actor: Actor) -> dict[str, Any]:
    """Who published the event, as JSON: the job acts as them."""
    return {
        "user_id": actor.user_id,
        "username": actor.username,
        "name": actor.name,
        "role": actor.role.value,
        "county_id": actor.county_id,
        "site_id": actor.site_id,
        "hospital_id": actor.hospital_id,
        "county_ids": sorted(actor.county_ids),
        "reason": actor.reason,
    }


def actor_from(payload: dict[str, Any]) -> Actor:
    return Actor(
        user_id=payload["user_id"],
        username=payload["username"],
        name=payload["name"],
        role=Role(payload["role"]),
        county_id=payload["county_id"],
        site_id=payload.get("site_id"),
        hospital_id=payload.get("hospital_id"),
        county_ids=frozenset(payload.get("county_ids") or ()),
        reason=payload.get("reason", ""),
    )


def subscriber_named(name: str) -> Subscriber | None:
    for subs in SUBSCRIBERS.values():
        for sub in subs:
            if sub.name == name:
                return sub
    return None


def run_queued(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    payloads: tuple[dict[str, Any], ...] = (),
) -> None:
    """Do a job ``_enqueue`` recorded: its subscriber on its event, as the publisher's
    actor, in ``session`` (the worker commits). A job that others merged into
    (``payloads``, oldest first; ``payload`` is the newest) runs the subscriber's ``batch``
    on all their events, as the newest's publisher, if it has one. Raises on a job it
    cannot read."""
    sub = subscriber_named(kind)
    if sub is None or sub.safety:
        raise LookupError(f"no retried subscriber named {kind!r}")
    actor = actor_from(payload["actor"])
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        if sub.batch is not None:
            events = [from_payload(p["event"], p["payload"]) for p in payloads or (payload,)]
            sub.batch(session, actor, events)
        else:
            sub.run(session, actor, from_payload(payload["event"], payload["payload"]))
    finally:
        session.info[_DEPTH] = depth
    session.flush()
