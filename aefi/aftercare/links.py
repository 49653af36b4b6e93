"""The personal link of a dose: the token, its schedule and the QR code that carries it.
One home for how a dose's link is made, read back and drawn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import segno
from sqlmodel import Session, select

from aefi import clock
from aefi.aftercare import schedule, tokens
from aefi.errors import NotFound
from aefi.registry.models import Dose, Lot, Vaccine
from aefi.settings import Settings

CHECKIN_PATH = "/c/"


@dataclass(frozen=True)
class DoseLink:
    dose_id: int
    token: str
    url: str
    days: tuple[int, ...]
    valid_until: date


def local_day(dose: Dose) -> date:
    return clock.to_local(dose.administered_at).date()


def days_of(session: Session, dose: Dose) -> tuple[int, ...]:
    lot = session.get(Lot, dose.lot_id)
    vaccine = session.get(Vaccine, lot.vaccine_id) if lot else None
    if vaccine is None:
        return schedule.DEFAULT_DAYS
    return schedule.days_for(vaccine.code, vaccine.checkin_days)


def link_for(session: Session, dose: Dose, settings: Settings, base_url: str) -> DoseLink:
    days = days_of(session, dose)
    until = schedule.valid_until(local_day(dose), days)
    token = tokens.sign(dose.id, until, settings.secret_key)
    base = (settings.public_base_url or base_url).rstrip("/")
    return DoseLink(dose.id, token, f"{base}{CHECKIN_PATH}{token}", days, until)


def dose_of_token(session: Session, token: str, settings: Settings) -> Dose:
    """The dose a link is bound to. Raises TokenRejected (also for a dose no longer
    stored, so that a link reveals nothing about what exists)."""
    today = clock.local_today()
    parsed = tokens.read(token, settings.verification_keys, today)
    dose = session.get(Dose, parsed.dose_id)
    if dose is None:
        raise tokens.TokenRejected("invalid")
    return dose


def qr_svg_data_uri(url: str) -> str:
    """The QR code of a link, as a PNG data URI (for the PDF and the printable page)."""
    return segno.make(url, error="m").png_data_uri(scale=6, border=4)


def dose_or_404(session: Session, dose_id: int) -> Dose:
    dose = session.get(Dose, dose_id)
    if dose is None:
        raise NotFound("Dose {id} does not exist.", id=dose_id)
    return dose


def invited(session: Session, dose_id: int, via: str) -> None:
    """Record that the dose's vaccinee has the personal link (once; the first way counts)."""
    from sqlalchemy.exc import IntegrityError

    from aefi.aftercare.models import CheckinInvite

    if session.exec(select(CheckinInvite.id).where(CheckinInvite.dose_id == dose_id)).first():
        return
    try:
        with session.begin_nested():
            session.add(CheckinInvite(dose_id=dose_id, via=via))
    except IntegrityError:
        pass
