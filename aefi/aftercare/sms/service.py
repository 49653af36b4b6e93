"""Text messages to vaccinees: check-in reminders on the scheduled days, and the check-in a
halt of a lot sends to the lot's vaccinees; the outbox that sends them through the gateway.

Queued only when a gateway is configured (``Settings.sms_gateway_url``) and the links have
a public address (``Settings.public_base_url``). Reminders go out between 09:00 and 20:00
local time, one per dose and day (a unique key: queuing again changes nothing). The outbox
shares every outbox's back-off (``aefi.outbox``): gateway down → the message waits, 30 s
doubling; the gateway refusing it (a bad number) → failed with the gateway's reason."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aefi import audit, clock, i18n, outbox
from aefi.aftercare import links, schedule
from aefi.aftercare.models import CheckIn, SmsMessage, SmsStatus
from aefi.aftercare.sms.gateway import GatewayDown, GatewayRefused, HttpGateway
from aefi.auth.permissions import Actor
from aefi.events import HaltIssued
from aefi.i18n import gettext
from aefi.registry.models import Dose, Lot, Person, Site, Vaccine
from aefi.settings import Settings, get_settings

log = logging.getLogger("aefi.sms")
SEND_FROM, SEND_UNTIL = 9, 20  # local hours
HALT_LINK_DAYS = 14


def enabled(settings: Settings) -> bool:
    return bool(settings.sms_gateway_url and settings.public_base_url)


def gateway(settings: Settings) -> HttpGateway:
    return HttpGateway(
        settings.sms_gateway_url,
        settings.sms_account,
        settings.sms_auth_token or "",
        settings.sms_sender,
    )


def _body(kind: str, site: Site, vaccine: Vaccine, day: int, url: str, settings: Settings) -> str:
    previous = i18n.get_locale()
    i18n.set_locale(settings.default_locale)
    try:
        if kind == "halt":
            text = gettext(
                "[{site}] The vaccine lot you received ({vaccine}) is being checked. "
                "Please tell us how you are: {url} Emergency: {number}",
                site=site.name,
                vaccine=vaccine.name,
                url=url,
                number=settings.emergency_number,
            )
        else:
            text = gettext(
                "[{site}] Day {day} after your {vaccine} vaccination: "
                "please tell us how you are: {url} Emergency: {number}",
                site=site.name,
                day=day,
                vaccine=vaccine.name,
                url=url,
                number=settings.emergency_number,
            )
    finally:
        i18n.set_locale(previous)
    return text[:500]


def _queue(
    session: Session, dose: Dose, person: Person, kind: str, day: int, body: str, county_id: int
) -> bool:
    """Queue one message in a savepoint; False when it was queued before."""
    try:
        with session.begin_nested():
            session.add(
                SmsMessage(
                    dose_id=dose.id,
                    county_id=county_id,
                    kind=kind,
                    day=day,
                    to_number=person.phone,
                    body=body,
                )
            )
    except IntegrityError:
        return False
    links.invited(session, dose.id, "sms")
    return True


def queue_reminders(session: Session, settings: Settings | None = None) -> int:
    """Queue today's check-in reminders (the ``aftercare_reminders`` job). Returns queued."""
    settings = settings or get_settings()
    if not enabled(settings):
        return 0
    now = clock.now()
    local_now = clock.to_local(now)
    if not SEND_FROM <= local_now.hour < SEND_UNTIL:
        return 0
    today = local_now.date()
    queued = 0
    for day in range(1, schedule.MAX_DAY + 1):
        given_on = today - timedelta(days=day)
        start = clock.local_start_of(given_on)
        rows = session.exec(
            select(Dose, Person, Vaccine, Site)
            .join(Person, Person.id == Dose.person_id)
            .join(Lot, Lot.id == Dose.lot_id)
            .join(Vaccine, Vaccine.id == Lot.vaccine_id)
            .join(Site, Site.id == Dose.site_id)
            .where(
                col(Dose.administered_at) >= start,
                col(Dose.administered_at) < start + timedelta(days=1),
                Person.phone != "",
            )
        ).all()
        wanted = [r for r in rows if day in schedule.days_for(r[2].code, r[2].checkin_days)]
        if not wanted:
            continue
        ids = [r[0].id for r in wanted]
        answered = set(
            session.exec(
                select(CheckIn.dose_id).where(col(CheckIn.dose_id).in_(ids), CheckIn.day == day)
            ).all()
        )
        already = set(
            session.exec(
                select(SmsMessage.dose_id).where(
                    col(SmsMessage.dose_id).in_(ids),
                    SmsMessage.day == day,
                    SmsMessage.kind == "reminder",
                )
            ).all()
        )
        for dose, person, vaccine, site in wanted:
            if dose.id in answered or dose.id in already:
                continue
            link = links.link_for(session, dose, settings, settings.public_base_url)
            if _queue(
                session,
                dose,
                person,
                "reminder",
                day,
                _body("reminder", site, vaccine, day, link.url, settings),
                site.county_id,
            ):
                queued += 1
    session.commit()
    return queued


def on_halt_issued(session: Session, actor: Actor, event: HaltIssued) -> None:
    """A halted lot's vaccinees who have a phone get a check-in now (link valid two weeks)."""
    settings = get_settings()
    if event.scope != "lot" or event.lot_id is None or not enabled(settings):
        return
    rows = session.exec(
        select(Dose, Person, Vaccine, Site)
        .join(Person, Person.id == Dose.person_id)
        .join(Lot, Lot.id == Dose.lot_id)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .join(Site, Site.id == Dose.site_id)
        .where(
            Dose.lot_id == event.lot_id,
            col(Site.county_id).in_(event.county_ids),
            Person.phone != "",
        )
    ).all()
    today = clock.local_today()
    queued = 0
    for dose, person, vaccine, site in rows:
        token = links.tokens.sign(
            dose.id, today + timedelta(days=HALT_LINK_DAYS), settings.secret_key
        )
        url = f"{settings.public_base_url.rstrip('/')}{links.CHECKIN_PATH}{token}"
        if _queue(
            session,
            dose,
            person,
            "halt",
            0,
            _body("halt", site, vaccine, 0, url, settings),
            site.county_id,
        ):
            queued += 1
    audit.record(
        session,
        actor,
        "halt_checkins_queued",
        "halt",
        event.halt_id,
        changes={"messages": queued, "lot_id": event.lot_id},
        county_id=event.county_id,
    )


def _box(settings: Settings) -> outbox.Box:
    return outbox.Box(
        SmsMessage,
        pending=SmsStatus.pending,
        sent=SmsStatus.sent,
        failed=SmsStatus.failed,
        first_s=settings.sms_backoff_s,
        max_attempts=settings.sms_max_attempts,
    )


def deliver_sms(
    session: Session,
    settings: Settings | None = None,
    limit: int = 100,
    *,
    via: HttpGateway | None = None,
) -> int:
    """Send what is due (the ``deliver_sms`` job). Returns sent."""
    settings = settings or get_settings()
    if not settings.sms_gateway_url:
        return 0

    def send(channel: HttpGateway, msg: SmsMessage) -> None:
        try:
            msg.gateway_id = channel.send(msg.to_number, msg.body)
        except GatewayDown as exc:
            # The gateway is unreachable: this message and the rest wait for their next attempt.
            raise outbox.Unreachable(str(exc)) from exc
        except GatewayRefused as exc:
            log.warning("SMS %s refused by the gateway: %s", msg.id, exc)
            raise outbox.Refused(str(exc)) from exc

    done = outbox.deliver_due(
        session,
        _box(settings),
        send,
        limit=limit,
        connect=lambda: nullcontext(via or gateway(settings)),
    )
    return done[SmsStatus.sent]
