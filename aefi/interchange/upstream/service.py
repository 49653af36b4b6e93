"""Reporting upward: each new or amended case goes to the configured upstream (the
province's aefi, or any E2B endpoint) through an outbox.

A change queues one ``UpstreamMessage`` (at most one pending per report: it is built when
sent, so it carries the case as it is then). The ``interchange_upstream`` job POSTs each
due message as an E2B batch, reads the acknowledgement and records it per case: CA →
acknowledged, CR/AR → rejected with the receiver's reason; a connection error or a 5xx
waits and retries with doubling back-off, and after the last attempt is rejected with the
error. The message id (N.2.r.1) is stable across retries, so the upstream files the case
once however often it is sent. Every outcome is audited.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
from sqlmodel import Session, col, func, select

from aefi import audit, clock, outbox
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.events import FollowUpAdded, ReportFiled, ReportTriaged
from aefi.intake.models import Report
from aefi.interchange import e2b_writer
from aefi.interchange.ack import Acknowledgement, read_ack
from aefi.interchange.export import service as export
from aefi.interchange.icsr import Batch, Party
from aefi.interchange.models import UpstreamMessage, UpstreamStatus
from aefi.settings import Settings, get_settings

log = logging.getLogger("aefi.interchange.upstream")

VIEWERS = (Role.admin, Role.investigator)
TIMEOUT_S = 30.0

# Tests replace this with an httpx.MockTransport; None: the network.
transport: httpx.BaseTransport | None = None


# --- queueing (flow.py subscribers, [retried]) ---------------------------------------------


def queue(session: Session, report_id: int, why: str) -> UpstreamMessage | None:
    """Queue the report for the upstream unless a message for it is already pending (that
    one will carry the change: it is built when sent). Nothing when no upstream is set."""
    if not get_settings().upstream_url:
        return None
    pending = session.exec(
        select(UpstreamMessage).where(
            UpstreamMessage.report_id == report_id,
            UpstreamMessage.status == UpstreamStatus.pending,
        )
    ).first()
    if pending is not None:
        return pending
    report = session.get(Report, report_id)
    if report is None:
        return None
    n = session.exec(
        select(func.count())
        .select_from(UpstreamMessage)
        .where(UpstreamMessage.report_id == report_id)
    ).one()
    msg = UpstreamMessage(
        report_id=report_id,
        county_id=report.county_id,
        message_id=f"{export.safety_report_id(report)}-u{n + 1}"[:100],
        reason_queued=why,
    )
    session.add(msg)
    session.flush()
    return msg


def on_report_filed(session: Session, actor: Actor, event: ReportFiled) -> None:
    queue(session, event.report_id, "filed")


def on_follow_up_added(session: Session, actor: Actor, event: FollowUpAdded) -> None:
    queue(session, event.report_id, "follow_up")


def on_report_triaged(session: Session, actor: Actor, event: ReportTriaged) -> None:
    queue(session, event.report_id, "case_changed")


# --- sending (the background job) ----------------------------------------------------------


def endpoint(settings: Settings) -> str:
    url = settings.upstream_url.rstrip("/")
    return url if url.endswith("/e2b") else f"{url}/api/v1/e2b"


def _headers(client: httpx.Client, settings: Settings) -> dict[str, str]:
    if settings.upstream_token:
        return {"Authorization": f"Bearer {settings.upstream_token}"}
    if settings.upstream_username:
        base = settings.upstream_url.rstrip("/").removesuffix("/api/v1/e2b")
        r = client.post(
            f"{base}/api/v1/auth/token",
            data={"username": settings.upstream_username, "password": settings.upstream_password},
        )
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}
    return {}


def _batch_xml(session: Session, msg: UpstreamMessage) -> bytes:
    actor = Actor.system(msg.county_id, reason="reporting upward")
    icsr = dataclasses.replace(
        export.icsr_of_report(session, actor, msg.report_id), message_id=msg.message_id
    )
    sender = export.sender_party(session, msg.county_id)
    now = export.as_utc(clock.now())
    batch = Batch(
        batch_number=f"{sender.identifier}-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}",
        sender=sender,
        receiver=Party(get_settings().e2b_receiver_id),
        created_at=now,
        messages=(icsr,),
    )
    return e2b_writer.write_batch(batch)


def _box(settings: Settings) -> outbox.Box:
    return outbox.Box(
        UpstreamMessage,
        pending=UpstreamStatus.pending,
        sent=UpstreamStatus.sent,
        failed=UpstreamStatus.rejected,
        first_s=settings.upstream_backoff_s,
        max_attempts=settings.upstream_max_attempts,
        error_field="reason",
        error_max=1000,
    )


def _record(msg: UpstreamMessage, ack: Acknowledgement, now: datetime) -> None:
    msg.attempts += 1
    msg.sent_at = msg.sent_at or now
    msg.batch_ack = ack.code
    mine = next((m for m in ack.messages if m.message_id == msg.message_id), None)
    if ack.batch_error:
        msg.status, msg.reason = UpstreamStatus.rejected, ack.batch_error[:1000]
    elif mine is None:
        msg.status = UpstreamStatus.sent
        msg.reason = "The acknowledgement does not name this message."
    elif mine.accepted:
        msg.status, msg.case_ack, msg.reason = UpstreamStatus.acknowledged, "CA", ""
        msg.acked_at, msg.remote_number = now, mine.local_id[:64]
    else:
        msg.status, msg.case_ack, msg.reason = UpstreamStatus.rejected, "CR", mine.reason[:1000]
        msg.acked_at = now


def deliver_upstream(session: Session, settings: Settings | None = None, limit: int = 50) -> int:
    """Send the due messages; returns how many the upstream acknowledged."""
    settings = settings or get_settings()
    if not settings.upstream_url:
        return 0

    @contextmanager
    def connect() -> Iterator[tuple[httpx.Client, dict[str, str]]]:
        with httpx.Client(transport=transport, timeout=TIMEOUT_S) as client:
            try:
                headers = _headers(client, settings)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise outbox.Unreachable(f"Signing in upstream failed: {exc}") from exc
            yield client, headers

    def send(channel: tuple[httpx.Client, dict[str, str]], msg: UpstreamMessage) -> Acknowledgement:
        client, headers = channel
        try:
            body = _batch_xml(session, msg)
            r = client.post(
                endpoint(settings),
                content=body,
                headers={**headers, "Content-Type": "application/xml"},
            )
            if r.status_code >= 500 or r.status_code in (401, 403, 404, 408, 429):
                raise httpx.HTTPStatusError(
                    f"{r.status_code} {r.text[:300]}", request=r.request, response=r
                )
            if r.status_code >= 400:  # the receiver refuses what we sent: say why
                raise outbox.Refused(r.text)
            return read_ack(r.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise outbox.Failed(outbox.reason(exc)) from exc

    done = outbox.deliver_due(
        session,
        _box(settings),
        send,
        limit=limit,
        connect=connect,
        on_sent=_record,
        after=lambda msg: _audit(session, msg),
    )
    return done[UpstreamStatus.acknowledged]


def _audit(session: Session, msg: UpstreamMessage) -> None:
    audit.record(
        session,
        Actor.system(msg.county_id, reason="reporting upward"),
        f"upstream_{msg.status}",
        "report",
        msg.report_id,
        summary=f"{msg.message_id}: {msg.status} {msg.case_ack or msg.batch_ack}".strip(),
        changes={"attempts": msg.attempts, "reason": msg.reason, "remote": msg.remote_number},
    )


# --- the page ------------------------------------------------------------------------------


def list_outbox(
    session: Session, actor: Actor, status: str, *, page: int, per_page: int
) -> tuple[list[tuple[UpstreamMessage, Report]], int]:
    require_role(actor, *VIEWERS)
    stmt = select(UpstreamMessage, Report).join(Report, Report.id == UpstreamMessage.report_id)
    stmt = stmt.where(col(UpstreamMessage.county_id).in_(actor.county_ids))
    if status:
        stmt = stmt.where(UpstreamMessage.status == status)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(col(UpstreamMessage.id).desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return [(m, r) for m, r in rows], total


def counts(session: Session, actor: Actor) -> dict[str, int]:
    require_role(actor, *VIEWERS)
    rows = session.exec(
        select(UpstreamMessage.status, func.count())
        .where(col(UpstreamMessage.county_id).in_(actor.county_ids))
        .group_by(UpstreamMessage.status)
    ).all()
    return {s.value: 0 for s in UpstreamStatus} | dict(rows)
