"""Reporting upward through the outbox: a filed case is queued once, sent as an E2B batch
with a stable message id, acknowledged per case; an upstream that is down is retried with
back-off; a refused case is rejected with the receiver's reason; all audited."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.errors import Forbidden
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.schemas import FollowUpIn
from aefi.interchange import e2b_reader
from aefi.interchange.ack import Acknowledgement, MessageAck, write_ack
from aefi.interchange.icsr import Party
from aefi.interchange.models import UpstreamMessage, UpstreamStatus
from aefi.interchange.upstream import service as upstream
from aefi.settings import get_settings
from tests.factories import a_dose, file_report


@pytest.fixture
def configured(monkeypatch):
    s = get_settings()
    monkeypatch.setattr(s, "upstream_url", "http://province.test")
    monkeypatch.setattr(s, "upstream_token", "tok")
    monkeypatch.setattr(s, "upstream_backoff_s", 30)
    return s


class Upstream:
    """A fake province: answers each batch with an acknowledgement, or is down."""

    def __init__(self) -> None:
        self.down = False
        self.refuse = ""
        self.received: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/e2b"
        assert request.headers["Authorization"] == "Bearer tok"
        if self.down:
            return httpx.Response(503, text="down for maintenance")
        batch = e2b_reader.read_batch(request.content).batch
        self.received += [m.message_id for m in batch.messages]
        ack = Acknowledgement(
            "ACK-1",
            batch.batch_number,
            Party("CN-PROVINCE"),
            batch.receiver,
            clock.now(),
            tuple(
                MessageAck(m.message_id, not self.refuse, self.refuse, m.safety_report_id, "P-1")
                for m in batch.messages
            ),
        )
        return httpx.Response(200, content=write_ack(ack))


@pytest.fixture
def province(monkeypatch):
    fake = Upstream()
    monkeypatch.setattr(upstream, "transport", httpx.MockTransport(fake))
    return fake


def _messages(session):
    session.expire_all()
    return list(session.exec(select(UpstreamMessage).order_by(UpstreamMessage.id)))


def test_a_filed_case_is_queued_once_and_acknowledged(session, county, configured, province):
    report = file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    [msg] = _messages(session)  # filed and triaged: one pending message
    assert (msg.report_id, msg.status) == (report.id, UpstreamStatus.pending)
    assert upstream.deliver_upstream(session) == 1
    [msg] = _messages(session)
    assert (msg.status, msg.batch_ack, msg.case_ack) == ("acknowledged", "AA", "CA")
    assert msg.remote_number == "P-1"
    assert province.received == [msg.message_id]
    audited = session.exec(
        select(AuditEvent).where(AuditEvent.action == "upstream_acknowledged")
    ).all()
    assert [a.entity_id for a in audited] == [report.id]
    # An amendment is a new message (a new id) for the same case.
    intake_follow_up.add_follow_up(
        session, county.actor(session, "investigator"), report.id, FollowUpIn(note="better")
    )
    first, second = _messages(session)
    assert second.status == "pending" and second.message_id != first.message_id


def test_a_down_upstream_is_retried_with_back_off(session, county, configured, province):
    file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    province.down = True
    assert upstream.deliver_upstream(session) == 0
    [msg] = _messages(session)
    assert msg.status == "pending" and msg.attempts == 1 and "503" in msg.reason
    assert msg.next_attempt_at > clock.now() + timedelta(seconds=20)
    assert upstream.deliver_upstream(session) == 0  # not due yet: nothing sent
    assert _messages(session)[0].attempts == 1
    province.down = False
    msg.next_attempt_at = clock.now() - timedelta(seconds=1)
    session.add(msg)
    session.commit()
    assert upstream.deliver_upstream(session) == 1
    assert _messages(session)[0].status == "acknowledged"


def test_a_refused_case_is_rejected_with_the_reason(session, county, configured, province):
    file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    province.refuse = "No vaccination site to file under."
    upstream.deliver_upstream(session)
    [msg] = _messages(session)
    assert (msg.status, msg.case_ack, msg.reason) == (
        "rejected",
        "CR",
        "No vaccination site to file under.",
    )


def test_nothing_is_queued_without_an_upstream(session, county):
    assert not get_settings().upstream_url
    file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    assert _messages(session) == []


def test_who_sees_the_outbox(session, county, configured, province):
    file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    rows, total = upstream.list_outbox(
        session, county.actor(session, "investigator"), "pending", page=1, per_page=10
    )
    assert total == 1 and rows[0][0].status == "pending"
    with pytest.raises(Forbidden):
        upstream.list_outbox(session, county.actor(session, "reporter"), "", page=1, per_page=10)


def test_the_outbox_page_lists_by_status(client, session, county, configured, province):
    from tests.conftest import login

    report = file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    province.refuse = "Duplicate of P-7."
    upstream.deliver_upstream(session)
    login(client, "investigator")
    page = client.get("/interchange/outbox?status=rejected")
    assert page.status_code == 200
    assert report.number in page.text and "Duplicate of P-7." in page.text
    assert 'href="/interchange/outbox"' in client.get("/").text  # in the nav
    assert client.get("/interchange/outbox?status=nonsense").status_code == 422
    assert report.number not in client.get("/interchange/outbox?status=pending").text
