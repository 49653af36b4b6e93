"""The SMS outbox against a local gateway that speaks the protocol: sent; gateway down →
the message waits with back-off; gateway back → delivered; a refused number → failed with
the gateway's reason. Reminders on the scheduled days, once; a halt's check-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from aefi import clock
from aefi.aftercare.models import CheckIn, SmsMessage
from aefi.aftercare.sms import service as sms
from aefi.events import HaltIssued
from aefi.settings import get_settings
from tests.factories import DAY0, a_dose, a_person
from tests.sms_gateway import LocalSmsGateway


@pytest.fixture
def gateway(monkeypatch):
    gw = LocalSmsGateway().start()
    s = get_settings()
    monkeypatch.setattr(s, "sms_gateway_url", gw.url)
    monkeypatch.setattr(s, "sms_account", gw.account)
    monkeypatch.setattr(s, "sms_auth_token", gw.token)
    monkeypatch.setattr(s, "sms_sender", "+8610690000")
    monkeypatch.setattr(s, "public_base_url", "https://aefi.example.cn")
    yield gw
    gw.stop()


def _given_two_days_ago(session, county, phone="13800001111"):
    # 10:00 local on DAY0 + 1 day is inside the sending hours.
    clock.freeze(DAY0)
    person = a_person(session, county.county_id, phone=phone)
    return a_dose(session, county, person=person, at=DAY0 - timedelta(days=1))


def test_reminders_on_their_day_once_and_not_after_an_answer(session, county, gateway):
    dose = _given_two_days_ago(session, county)
    no_phone = a_dose(session, county, at=DAY0 - timedelta(days=1))
    assert sms.queue_reminders(session) == 1  # day 1; the dose without a phone gets none
    assert sms.queue_reminders(session) == 0  # the same day again: nothing new
    msg = session.exec(select(SmsMessage)).one()
    assert (msg.dose_id, msg.day, msg.kind) == (dose.id, 1, "reminder")
    assert "https://aefi.example.cn/c/" in msg.body and "第 1 天" in msg.body
    assert no_phone.id != msg.dose_id
    # Day 3: answered already (through the link) → no reminder.
    clock.advance(timedelta(days=2))
    session.add(
        CheckIn(
            dose_id=dose.id, county_id=county.county_id, site_id=dose.site_id, day=3, answer="well"
        )
    )
    session.commit()
    assert sms.queue_reminders(session) == 0
    # Outside the sending hours nothing is queued.
    clock.advance(timedelta(days=4, hours=12))  # day 7 at 22:00 local
    assert sms.queue_reminders(session) == 0


def test_sent_then_down_waits_then_back_delivered_and_a_refusal_recorded(session, county, gateway):
    dose = _given_two_days_ago(session, county)
    sms.queue_reminders(session)
    assert sms.deliver_sms(session) == 1
    msg = session.exec(select(SmsMessage)).one()
    assert msg.status == "sent" and msg.gateway_id.startswith("SM") and msg.attempts == 1
    assert gateway.received[0]["To"] == "13800001111" and gateway.received[0]["Body"] == msg.body

    # The gateway goes down: the next message waits, with doubling back-off.
    clock.advance(timedelta(days=2))
    gateway.stop()
    assert sms.queue_reminders(session) == 1
    assert sms.deliver_sms(session) == 0
    waiting = session.exec(select(SmsMessage).where(SmsMessage.day == 3)).one()
    assert waiting.status == "pending" and waiting.attempts == 1 and waiting.last_error
    first_wait = waiting.next_attempt_at - clock.now()
    assert sms.deliver_sms(session) == 0  # not due yet: no attempt
    clock.advance(first_wait + timedelta(seconds=1))
    assert sms.deliver_sms(session) == 0
    session.refresh(waiting)
    assert waiting.attempts == 2 and waiting.next_attempt_at - clock.now() == 2 * first_wait
    # Back on the same port: delivered.
    gateway.start()
    clock.advance(2 * first_wait + timedelta(seconds=1))
    assert sms.deliver_sms(session) == 1
    session.refresh(waiting)
    assert waiting.status == "sent" and waiting.last_error == ""

    # A number the gateway refuses: failed at once, with its reason.
    bad = a_dose(
        session,
        county,
        person=a_person(session, county.county_id, phone="000"),
        at=clock.now() - timedelta(days=1),
    )
    sms.queue_reminders(session)
    sms.deliver_sms(session)
    refused = session.exec(select(SmsMessage).where(SmsMessage.dose_id == bad.id)).one()
    assert refused.status == "failed" and "21211" in refused.last_error
    assert dose.id != bad.id


def test_a_lot_halt_sends_its_vaccinees_a_check_in(session, county, gateway):
    dose = _given_two_days_ago(session, county)
    other = a_dose(
        session,
        county,
        lot=county.lot(session, "DTAP"),
        person=a_person(session, county.county_id, phone="13900002222"),
    )
    actor = county.actor(session, "bureau")
    event = HaltIssued(
        halt_id=1,
        county_id=county.county_id,
        county_ids=(county.county_id,),
        scope="lot",
        lot_id=dose.lot_id,
        vaccine_id=None,
        site_id=None,
        number="2026-1",
        in_force_at=clock.now(),
    )
    sms.on_halt_issued(session, actor, event)
    session.commit()
    msgs = session.exec(select(SmsMessage).where(SmsMessage.kind == "halt")).all()
    assert [m.dose_id for m in msgs] == [dose.id] and other.id not in [m.dose_id for m in msgs]
    sms.on_halt_issued(session, actor, event)  # again: nothing new
    session.commit()
    assert len(session.exec(select(SmsMessage).where(SmsMessage.kind == "halt")).all()) == 1


def test_nothing_is_queued_without_a_gateway(session, county):
    _given_two_days_ago(session, county)
    assert sms.queue_reminders(session) == 0 and sms.deliver_sms(session) == 0
