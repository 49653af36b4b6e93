"""An escalation reaches the bureau's queue, the app's notifications and a real SMTP server
(aiosmtpd on 127.0.0.1, started by the test); with the server down the mail waits in the
outbox and goes out once the server is back and the back-off has passed."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from aefi import audit, clock
from aefi.notifications import service as notifications
from aefi.notifications.models import Notification, OutboxMessage, OutboxStatus
from aefi.settings import get_settings
from aefi.triage.escalation import service as escalation
from aefi.triage.models import Escalation
from tests.factories import T0, file, lots, new_dose


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


class MailServer:
    """A real SMTP server on a free local port that can be stopped and started again."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp(monkeypatch):
    server = MailServer()
    server.start()
    monkeypatch.setenv("AEFI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AEFI_SMTP_PORT", str(server.port))
    get_settings.cache_clear()
    yield server
    server.stop()
    get_settings.cache_clear()


def test_escalation_reaches_queue_notifications_and_smtp_and_survives_a_mail_outage(
    session, county, smtp
):
    clock.freeze(T0 + timedelta(hours=6))
    bureau = county.actor(session, "bureau")
    investigator = county.actor(session, "investigator")
    lot_a, lot_b = lots(session, 2)

    report = file(session, county, "reporter", new_dose(session, county, site_index=0, lot=lot_a))
    assert report.triage["escalated"]

    # The bureau's queue and the investigator's queue hold it.
    for actor in (bureau, investigator):
        (item,) = escalation.escalation_queue(session, actor)
        assert item.report.id == report.id and not item.overdue
    # In the app: urgent for the county, the outcome for the reporting site (other domains
    # may tell these users more; ours are the escalation notices).
    notes = session.exec(select(Notification).where(Notification.kind == "escalation")).all()
    by_user = {n.user_id: n for n in notes if report.number in n.title}
    assert by_user[bureau.user_id].urgent and "上报" in by_user[bureau.user_id].title
    reporter = county.actor(session, "reporter")
    assert "后续处理" in by_user[reporter.user_id].title
    assert county.actor(session, "reporter2").user_id not in by_user

    # By mail, through the outbox, to the real server.
    def ours(number: str) -> list[OutboxMessage]:
        return [
            m
            for m in session.exec(
                select(OutboxMessage).where(OutboxMessage.to_address == "bureau@demo.invalid")
            )
            if number in m.subject and "上报" in m.subject
        ]

    assert [m.status for m in ours(report.number)] == [OutboxStatus.pending]
    assert notifications.deliver_outbox(session) >= 2
    (mail,) = [m for m in smtp.inbox.to("bureau@demo.invalid") if report.number in m["Subject"]]
    assert "上报" in mail["Subject"]
    assert f"/reports/{report.id}" in mail.get_content()

    # The server goes down: the next escalation's mail waits in the outbox.
    smtp.stop()
    clock.advance(timedelta(minutes=10))
    second = file(
        session,
        county,
        "reporter",
        new_dose(session, county, site_index=0, lot=lot_b, minutes=300),
        symptoms=["SEIZ"],
    )
    assert notifications.deliver_outbox(session) == 0
    (msg,) = ours(second.number)
    assert msg.status == OutboxStatus.pending
    assert msg.attempts == 1 and msg.last_error
    assert msg.next_attempt_at == clock.now() + timedelta(seconds=30)

    # Back up: nothing is tried before the back-off has passed, then the mail goes out.
    smtp.start()
    assert notifications.deliver_outbox(session) == 0
    session.refresh(msg)
    assert msg.attempts == 1 and msg.status == OutboxStatus.pending
    clock.advance(timedelta(seconds=31))
    assert notifications.deliver_outbox(session) >= 1
    session.refresh(msg)
    assert msg.status == OutboxStatus.sent and msg.attempts == 2
    assert any(second.number in m["Subject"] for m in smtp.inbox.to("bureau@demo.invalid"))


def test_backoff_doubles_and_gives_up(session, county, monkeypatch):
    # Nothing listens on this port: every attempt fails.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AEFI_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AEFI_SMTP_PORT", str(port))
    get_settings.cache_clear()
    clock.freeze(T0)
    session.add(OutboxMessage(to_address="x@demo.invalid", subject="s", body="b"))
    session.commit()
    waits = []
    for _ in range(notifications.MAX_ATTEMPTS):
        notifications.deliver_outbox(session)
        msg = session.exec(select(OutboxMessage)).one()
        waits.append(msg.next_attempt_at - clock.now())
        clock.advance(msg.next_attempt_at - clock.now())
    assert waits[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert msg.status == OutboxStatus.failed and msg.attempts == notifications.MAX_ATTEMPTS
    get_settings.cache_clear()


def test_overdue_items_are_flagged_once(session, county):
    clock.freeze(T0 + timedelta(hours=6))
    bureau = county.actor(session, "bureau")
    report = file(
        session,
        county,
        "reporter",
        new_dose(session, county, site_index=0, lot=lots(session)[0], minutes=330),
    )
    esc = session.exec(select(Escalation).where(Escalation.report_id == report.id)).one()
    assert escalation.flag_overdue(session) == 0
    clock.freeze(esc.due_at + timedelta(minutes=1))
    (item,) = escalation.escalation_queue(session, bureau)
    assert item.overdue
    assert escalation.flag_overdue(session) == 1
    assert escalation.flag_overdue(session) == 0
    assert session.exec(select(Notification).where(Notification.kind == "deadline")).first()
    escalation.acknowledge(session, bureau, esc.id, note="已电话报告")
    (item,) = escalation.escalation_queue(session, bureau, show="all")
    assert not item.overdue and item.acknowledged.user_name
    # Who and when, in the report's audit trail.
    trail = audit.timeline(session, "report", report.id)
    (ack,) = [e for e in trail if e.action == "acknowledge"]
    assert ack.actor_id == bureau.user_id and ack.summary == "已电话报告" and ack.at == clock.now()
