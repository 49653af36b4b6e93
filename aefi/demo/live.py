"""What a demo server does on every start (``aefi serve --demo``, ``make run``): whatever
the hour, every site's observation board has vaccinees, and today's daily reports are not
yet due.

- ``configure``: the demo's daily-report policy, a day's report due by 17:00 the next day
  (``daily_report_deadline_days``), so that a demo started in the evening does not open on
  a county whose every report is overdue.
- ``start``: tops up each site's doses of the last 30 minutes (local time) to a few, as the
  immunization information system records them (its API client, through the registry), puts
  them on the boards, and has the physicians of the first sites note a mild reaction on one
  of them. Idempotent: a site that has its vaccinees (and reaction) gets nothing more.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.errors import DomainError
from aefi.intake.filing import service as intake_filing
from aefi.intake.models import ReportDose
from aefi.intake.schemas import ReportIn
from aefi.observation import service as observation
from aefi.observation.actions import service as observation_actions
from aefi.registry import lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, Site, Vaccine
from aefi.registry.schemas import DoseCreate, PersonIn
from aefi.settings import Settings

WINDOW = timedelta(minutes=30)  # the observation period of DOMAIN.md
PER_SITE = (3, 6)  # vaccinees under observation at a site, at least and at most
REACTION_SITES = 3  # sites whose physician has noted a reaction on the board
DEADLINE_DAYS = 1  # the demo's daily report is due by 17:00 the next day


def configure(settings: Settings) -> Settings:
    """The demo's policies, on the settings the server runs with."""
    settings.daily_report_deadline_days = DEADLINE_DAYS
    return settings


@dataclass(frozen=True)
class Started:
    doses: int
    reactions: int
    entries: int


def start(session: Session, *, seed: int | None = None) -> Started:
    """Top up every site's observation board (see the module's docstring). Commits."""
    now = clock.now()
    rng = random.Random(seed if seed is not None else int(now.timestamp()) // 60)
    iis = _user_actor(session, Role.api_client)
    sites = list(session.exec(select(Site).order_by(Site.id)))
    lots = _usable_lots(session)
    made = reactions = 0
    # The physicians released, half an hour ago, whoever had waited their 30 minutes then
    # (the doses of the morning, yesterday's last): the board shows the vaccinees of now.
    with _clock_at(now - WINDOW):
        for site in sites:
            physician = _user_actor(session, Role.reporter, site_id=site.id)
            if physician is not None:
                observation.refresh_sites(session, [site.id])
                observation_actions.release_ready(session, physician, site.id)
    if iis is not None and lots:
        for site in sites:
            recent = _recent_doses(session, site.id, now)
            if len(recent) >= PER_SITE[0]:
                continue  # this site has its vaccinees
            for _k in range(rng.randint(*PER_SITE) - len(recent)):
                at = now - timedelta(minutes=rng.uniform(1, WINDOW.total_seconds() / 60 - 2))
                if _give(session, iis, site, rng.choice(lots), at, rng) is not None:
                    made += 1
    entries = observation.sync_sites(session, [s.id for s in sites])
    session.commit()
    for site in sites[:REACTION_SITES]:
        if _note_reaction(session, site, now, rng):
            reactions += 1
    return Started(made, reactions, entries)


@contextmanager
def _clock_at(when: datetime) -> Iterator[None]:
    """The clock at ``when`` for a step, then back where it was (running or frozen)."""
    was = clock._frozen
    clock.freeze(when)
    try:
        yield
    finally:
        if was is None:
            clock.unfreeze()
        else:
            clock.freeze(was)


def _user_actor(session: Session, role: Role, **where) -> Actor | None:
    stmt = select(User).where(User.role == role, User.active == True)  # noqa: E712
    for name, value in where.items():
        stmt = stmt.where(getattr(User, name) == value)
    user = session.exec(stmt.order_by(User.id)).first()
    return Actor.of(user) if user is not None else None


def _usable_lots(session: Session) -> list[Lot]:
    today = clock.local_today()
    return [
        lot
        for lot in session.exec(select(Lot).order_by(Lot.id))
        if lot_states.is_usable(lot) and (lot.expiry_on is None or lot.expiry_on > today)
    ]


def _recent_doses(session: Session, site_id: int, now: datetime) -> list[Dose]:
    return list(
        session.exec(
            select(Dose).where(
                Dose.site_id == site_id,
                col(Dose.administered_at) > now - WINDOW,
                col(Dose.administered_at) <= now,
            )
        )
    )


def _give(session: Session, iis: Actor, site: Site, lot: Lot, at: datetime, rng) -> Dose | None:
    from aefi.demo.county import GIVEN, SURNAMES, _id_number

    vaccine = session.get(Vaccine, lot.vaccine_id)
    adult = vaccine.code in ("COV", "FLU") and rng.random() < 0.5
    age_days = rng.randint(7000, 25000) if adult else rng.randint(60, 2200)
    birth = (at - timedelta(days=age_days)).date()
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    try:
        return registry_doses.record_dose(
            session,
            iis,
            DoseCreate(
                person=PersonIn(
                    name=name,
                    id_number=_id_number(birth, rng.randint(500, 999)),
                    sex=rng.choice(("male", "female")),
                    birth_date=birth,
                    guardian_name="" if adult else rng.choice(SURNAMES) + rng.choice(GIVEN),
                    phone=f"138{rng.randint(10000000, 99999999)}",
                ),
                lot_number=lot.lot_number,
                site_code=site.code,
                dose_number=1,
                administered_at=at,
                route="sc" if vaccine.code in ("MMR", "JEL", "HEPA", "VAR") else "im",
                body_site=rng.choice(("左上臂三角肌", "右上臂三角肌")),
                vaccinator="值班护士",
            ),
        )
    except DomainError:  # the same person drawn twice, a lot halted meanwhile: skip it
        session.rollback()
        return None


def _note_reaction(session: Session, site: Site, now: datetime, rng) -> bool:
    """The site's physician files a mild reaction on one of the vaccinees under observation,
    unless one is noted already."""
    physician = _user_actor(session, Role.reporter, site_id=site.id)
    recent = _recent_doses(session, site.id, now)
    if physician is None or not recent:
        return False
    noted = session.exec(
        select(ReportDose.id).where(col(ReportDose.dose_id).in_([d.id for d in recent]))
    ).first()
    if noted is not None:
        return False
    dose = min(recent, key=lambda d: d.administered_at)  # the longest under observation
    onset = min(now - timedelta(minutes=1), dose.administered_at + timedelta(minutes=10))
    try:
        intake_filing.file_report(
            session,
            physician,
            ReportIn(
                dose_ids=[dose.id],
                onset_at=onset,
                discovered_at=onset,
                symptoms=["REDNESS", "PAIN"],
                local_reaction_cm=round(rng.uniform(1.0, 2.5), 1),
                description="留观期间注射部位红晕、轻度疼痛，无全身症状",
                treatment="继续留观",
                outcome="recovering",
                diagnosis="局部红晕（一般反应）",
                diagnosis_clear=True,
                reporter_name=physician.name,
                reporter_phone=site.phone,
                reporter_unit=site.name,
                confirm_new_event=True,
            ),
        )
    except DomainError:
        session.rollback()
        return False
    return True
