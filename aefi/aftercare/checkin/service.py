"""The vaccinee's side, through the personal link only: what the page shows about the dose
(the vaccine, the day, whom to call — no name, no ID number), and recording an answer.

"well" is recorded. "unwell" records the coded answers and queues a self-report for the
site's physician; red flags (``aftercare.questions``) also alert, at once and marked
urgent, the site's physicians and the green-channel hospital's desk, and the page shows
the emergency number and the hospital. Everything runs in one transaction: an answer is
stored with its queue entry and its alerts, or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from aefi import audit, clock, i18n
from aefi.aftercare import links, questions, schedule
from aefi.aftercare.models import Answer, CheckIn, SelfReport
from aefi.aftercare.schemas import AnswerIn
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.errors import Invalid
from aefi.i18n import N_, gettext
from aefi.notifications import service as notifications
from aefi.registry.models import Dose, Hospital, Lot, Person, Site, Vaccine
from aefi.settings import Settings


@dataclass(frozen=True)
class LinkPage:
    """What the holder of a personal link may see."""

    dose: Dose
    vaccine: Vaccine
    site: Site
    hospital: Hospital | None
    given_on: date
    days: tuple[int, ...]
    day_due: int | None
    answered_days: frozenset[int]
    age_days: int | None
    emergency_number: str


@dataclass(frozen=True)
class Recorded:
    checkin: CheckIn
    red_flags: list[str]
    self_report: SelfReport | None


def link_page(session: Session, token: str, settings: Settings) -> LinkPage:
    """Raises tokens.TokenRejected for a link aefi did not make, or that expired."""
    dose = links.dose_of_token(session, token, settings)
    lot = session.get(Lot, dose.lot_id)
    vaccine = session.get(Vaccine, lot.vaccine_id)
    site = session.get(Site, dose.site_id)
    person = session.get(Person, dose.person_id)
    hospital = session.get(Hospital, site.primary_hospital_id) if site.primary_hospital_id else None
    given_on = links.local_day(dose)
    days = schedule.days_for(vaccine.code, vaccine.checkin_days)
    today = clock.local_today()
    answered = session.exec(select(CheckIn.day).where(CheckIn.dose_id == dose.id)).all()
    age = (given_on - person.birth_on).days if person and person.birth_on else None
    return LinkPage(
        dose=dose,
        vaccine=vaccine,
        site=site,
        hospital=hospital,
        given_on=given_on,
        days=days,
        day_due=schedule.day_due(given_on, days, today),
        answered_days=frozenset(answered),
        age_days=age,
        emergency_number=settings.emergency_number,
    )


def check_answer(data: AnswerIn, page: LinkPage, today: date) -> dict[str, str]:
    """Field → message (msgid) for what must be corrected."""
    errors: dict[str, str] = {}
    if data.answer == Answer.well:
        return errors
    unknown = [c for c in data.symptoms if c not in questions.BY_CODE]
    if unknown:
        errors["symptoms"] = N_("Choose the symptoms from the list.")
    elif not data.symptoms:
        errors["symptoms"] = N_("Tick at least one thing that is wrong, or choose “Well”.")
    if "other" in data.symptoms and not data.note.strip():
        errors["note"] = N_("Describe the other problem in a few words.")
    if data.onset_on is None:
        errors["onset_on"] = N_("Give the day it started.")
    elif data.onset_on < page.given_on or data.onset_on > today:
        errors["onset_on"] = N_("The day it started must be between the vaccination and today.")
    if data.severity not in questions.SEVERITY_CODES:
        errors["severity"] = N_("Say how bad it is.")
    return errors


def record_answer(session: Session, token: str, data: AnswerIn, settings: Settings) -> Recorded:
    page = link_page(session, token, settings)
    today = clock.local_today()
    errors = check_answer(data, page, today)
    if errors:
        raise Invalid("Some answers need correcting.", fields=errors)
    day = page.day_due if page.day_due is not None else 0
    unwell = data.answer == Answer.unwell
    flags = (
        questions.red_flags_in(
            data.symptoms,
            age_days=page.age_days,
            red_flags=questions.parse_red_flags(settings.checkin_red_flags),
        )
        if unwell
        else []
    )
    checkin = CheckIn(
        dose_id=page.dose.id,
        county_id=page.site.county_id,
        site_id=page.site.id,
        day=day,
        answer=data.answer.value,
        symptoms=",".join(data.symptoms) if unwell else "",
        onset_on=data.onset_on if unwell else None,
        severity=data.severity if unwell else "",
        seen_doctor=data.seen_doctor if unwell else None,
        note=data.note.strip() if unwell else "",
        red_flags=",".join(flags),
    )
    session.add(checkin)
    session.flush()
    actor = Actor.system(page.site.county_id, reason="check-in")
    self_report = None
    if unwell:
        self_report = SelfReport(
            checkin_id=checkin.id,
            dose_id=page.dose.id,
            county_id=page.site.county_id,
            site_id=page.site.id,
            urgent=bool(flags),
        )
        session.add(self_report)
        session.flush()
        _alert(session, page, self_report, flags, settings)
    audit.record(
        session,
        actor,
        "checkin_answered",
        "dose",
        page.dose.id,
        changes={"day": day, "answer": checkin.answer, "red_flags": checkin.red_flags},
        county_id=page.site.county_id,
    )
    session.commit()
    return Recorded(checkin=checkin, red_flags=flags, self_report=self_report)


def _alert(
    session: Session, page: LinkPage, self_report: SelfReport, flags: list[str], settings: Settings
) -> None:
    # The alert is read by the county's staff: in the county's language, not the guardian's.
    previous = i18n.get_locale()
    i18n.set_locale(settings.default_locale)
    try:
        _notify(session, page, self_report, flags, settings)
    finally:
        i18n.set_locale(previous)


def _notify(
    session: Session, page: LinkPage, self_report: SelfReport, flags: list[str], settings: Settings
) -> None:
    link = f"/aftercare/self-reports/{self_report.id}"
    words = "、".join(gettext(questions.BY_CODE[c].label) for c in flags)
    if flags:
        title = gettext(
            "Red flag at home: {vaccine}, day {day} after the dose",
            vaccine=page.vaccine.name,
            day=(clock.local_today() - page.given_on).days,
        )
        roles: tuple[Role, ...] = (Role.reporter, Role.hospital)
    else:
        title = gettext("A vaccinee reports feeling unwell: {vaccine}", vaccine=page.vaccine.name)
        roles = (Role.reporter,)
    notifications.notify(
        session,
        county_id=page.site.county_id,
        roles=roles,
        kind="checkin_red_flag" if flags else "self_report",
        title=title,
        body=words,
        link=link,
        urgent=bool(flags),
        site_id=page.site.id,
        hospital_id=page.hospital.id if page.hospital and flags else None,
        settings=settings,
    )


def answers_of(session: Session, dose_id: int) -> list[CheckIn]:
    return list(
        session.exec(
            select(CheckIn).where(CheckIn.dose_id == dose_id).order_by(col(CheckIn.answered_at))
        ).all()
    )


def latest_answers(session: Session, dose_ids: list[int]) -> dict[int, CheckIn]:
    """Each dose's latest check-in answer (the follow-up list shows who answered)."""
    latest: dict[int, CheckIn] = {}
    for start in range(0, len(dose_ids), 500):
        chunk = dose_ids[start : start + 500]
        for c in session.exec(
            select(CheckIn)
            .where(col(CheckIn.dose_id).in_(chunk))
            .order_by(col(CheckIn.answered_at))
        ):
            latest[c.dose_id] = c
    return latest
