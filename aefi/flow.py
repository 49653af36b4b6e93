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
        a targeted scan of the report's lots (MaxSPRT): a lot crossing the halt level is
        held at once and the bureau is told a halt is recommended.
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
     2. investigation.flows.on_report_triaged  [retried]
        the case file, when an investigation is required (kept up to date once open).
     3. interchange.upstream.service.on_report_triaged  [retried]
        the changed case is queued for the upstream (one pending message per report).

3. triage found a group AEFI, or a known one grew:

   ClusterFormed
     1. investigation.flows.on_cluster_formed  [retried]
        the group case file, with every member report.
     2. signals.flows.on_cluster_formed  [retried]
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

Failure policy. A ``[safety]`` subscriber is the report's safety path (the decision, the
escalation, the referral): when it fails the use case fails, the whole transaction is
rolled back and the caller gets ``SubscriberFailed`` (nothing stored; try again). A
``[retried]`` subscriber runs in a SAVEPOINT: when it fails, only its own work is rolled
back, the error is logged, and an audit entry (``flow_retry`` / ``subscriber_failed``,
holding the event) is committed with the filing. The ``flow_retry`` job runs such a
subscriber again, up to ``MAX_ATTEMPTS`` times, and audits how it ended.

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

from sqlmodel import Session, col, select

from aefi import audit
from aefi.aftercare.sms import service as aftercare_sms
from aefi.audit import AuditEvent
from aefi.auth.permissions import Actor
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
from aefi.notifications import service as notifications
from aefi.observation import flows as observation
from aefi.referral import flows as referral
from aefi.referral.steps import service as referral_steps
from aefi.registry import lot_states
from aefi.reporting import flows as reporting
from aefi.settings import get_settings
from aefi.signals import flows as signals
from aefi.signals.config import get_signal_settings
from aefi.signals.halts import notices as halt_notices
from aefi.signals.halts import service as halts
from aefi.triage.decision import service as triage
from aefi.triage.escalation import service as escalation

log = logging.getLogger("aefi.flow")


class SubscriberFailed(DomainError):
    """A step of the report's safety path failed: nothing was stored."""

    status_code = 500


@dataclass(frozen=True)
class Subscriber:
    run: Callable[[Session, Actor, Any], None]
    # True: its failure fails the use case; False: it runs in a savepoint and is retried.
    safety: bool

    @property
    def name(self) -> str:
        return f"{self.run.__module__.removeprefix('aefi.')}.{self.run.__name__}"


def safety(run: Callable[[Session, Actor, Any], None]) -> Subscriber:
    return Subscriber(run, safety=True)


def retried(run: Callable[[Session, Actor, Any], None]) -> Subscriber:
    return Subscriber(run, safety=False)


SUBSCRIBERS: dict[type, tuple[Subscriber, ...]] = {
    ReportFiled: (
        safety(triage.on_report_filed),
        retried(signals.on_report_filed),
        retried(observation.on_report_filed),
        retried(reporting.on_report_filed),
        retried(upstream.on_report_filed),
    ),
    ReportTriaged: (
        safety(referral.on_report_triaged),
        retried(investigation.on_report_triaged),
        retried(upstream.on_report_triaged),
    ),
    ClusterFormed: (
        retried(investigation.on_cluster_formed),
        retried(signals.on_cluster_formed),
    ),
    FollowUpAdded: (
        safety(triage.on_follow_up_added),
        retried(signals.on_follow_up),
        retried(upstream.on_follow_up_added),
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
    # Subscribers that failed (audited below) run again.
    Job("flow_retry", lambda session: retry_failed(session), 60),
)


# --- publishing ----------------------------------------------------------------------------

_DEPTH = "aefi_flow_depth"  # session.info key: how many publish() calls are running


def publish(session: Session, actor: Actor, event: Event) -> None:
    """Run every subscriber of ``event`` in order, in the caller's transaction.

    A safety subscriber's error propagates (an unexpected one as ``SubscriberFailed``);
    the outermost ``publish`` rolls the transaction back first. A retried subscriber's
    error is logged and audited for ``retry_failed``; the others run all the same."""
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        for subscriber in SUBSCRIBERS[type(event)]:
            if subscriber.safety:
                _run_safety(session, actor, event, subscriber)
            elif not _run_in_savepoint(session, actor, event, subscriber):
                _record_failure(session, event, subscriber)
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


def _run_in_savepoint(session: Session, actor: Actor, event: Event, sub: Subscriber) -> bool:
    """True when ``sub`` ran; False (its work rolled back, the error logged) when it failed."""
    try:
        with session.begin_nested():
            sub.run(session, actor, event)
    except Exception:  # whatever went wrong, the report stays filed
        log.exception("%s failed on %s; it will be retried", sub.name, type(event).__name__)
        return False
    return True


# --- retrying ------------------------------------------------------------------------------

RETRY = "flow_retry"  # audit entity type of the failure records
MAX_ATTEMPTS = 5


def _record_failure(session: Session, event: Event, sub: Subscriber) -> AuditEvent:
    entry = audit.record(
        session,
        Actor.system(event.county_id, reason=f"failure of {sub.name}"),
        "subscriber_failed",
        RETRY,
        None,
        county_id=event.county_id,
        summary=f"{sub.name} failed on {type(event).__name__}; it will be retried",
        changes={
            "subscriber": sub.name,
            "event": type(event).__name__,
            "payload": to_payload(event),
        },
    )
    session.flush()
    return entry


def subscriber_named(name: str) -> Subscriber | None:
    for subs in SUBSCRIBERS.values():
        for sub in subs:
            if sub.name == name:
                return sub
    return None


def pending_failures(session: Session) -> list[AuditEvent]:
    """The failure records not yet recovered nor given up, oldest first."""
    closed = select(AuditEvent.entity_id).where(
        AuditEvent.entity_type == RETRY,
        col(AuditEvent.action).in_(("subscriber_recovered", "subscriber_abandoned")),
    )
    return list(
        session.exec(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == RETRY,
                AuditEvent.action == "subscriber_failed",
                col(AuditEvent.id).not_in(closed.where(col(AuditEvent.entity_id).is_not(None))),
            )
            .order_by(col(AuditEvent.id))
        )
    )


def retry_failed(session: Session) -> int:
    """Run each failed subscriber again (as the system), each in its own savepoint; audit
    ``subscriber_recovered``, ``subscriber_retry_failed`` or, after ``MAX_ATTEMPTS``,
    ``subscriber_abandoned``. Flushes; the background job commits. Returns how many
    recovered."""
    recovered = 0
    for failure in pending_failures(session):
        sub = subscriber_named(failure.changes.get("subscriber", ""))
        try:
            event = from_payload(failure.changes["event"], failure.changes["payload"])
        except (KeyError, TypeError, ValueError):
            event = None
        tried = len(
            session.exec(
                select(AuditEvent.id).where(
                    AuditEvent.entity_type == RETRY,
                    AuditEvent.entity_id == failure.id,
                    AuditEvent.action == "subscriber_retry_failed",
                )
            ).all()
        )
        ok = (
            sub is not None
            and event is not None
            and _run_in_savepoint(
                session,
                Actor.system(event.county_id, reason=f"retry of {sub.name}"),
                event,
                sub,
            )
        )
        if ok:
            action = "subscriber_recovered"
            recovered += 1
        elif sub is None or event is None or tried + 1 >= MAX_ATTEMPTS:
            action = "subscriber_abandoned"
            log.error("giving up on %s (audit %s)", failure.changes.get("subscriber"), failure.id)
        else:
            action = "subscriber_retry_failed"
        audit.record(
            session,
            Actor.system([failure.county_id] if failure.county_id else [], reason="flow retry"),
            action,
            RETRY,
            failure.id,
            county_id=failure.county_id,
            summary=failure.summary,
            changes={"attempt": tried + 1},
        )
        session.flush()
    return recovered
