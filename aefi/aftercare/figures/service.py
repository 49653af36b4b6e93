"""Active-surveillance figures (``aftercare.active``) in the actor's scope (a site's
physician: their site; the county's staff: their counties):

- the lot page's: the lot's vaccinees invited to check in, who answered each day, and the
  share of responders reporting each event group beside the product's other lots;
- the indicators': per vaccine, for the doses given in a period, the same counts and the
  share reporting each event group with its exact interval."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from aefi.aftercare import active
from aefi.aftercare.models import Answer, CheckIn, CheckinInvite
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.registry.models import Dose, Lot, Site, Vaccine


@dataclass(frozen=True)
class GroupLine:
    group: str
    lot: active.Share
    others: active.Share
    p: float | None


@dataclass(frozen=True)
class LotFigures:
    invited: int
    responders: int
    days: list[tuple[int, active.Share]]  # answered of invited, per scheduled day
    groups: list[GroupLine]


def _scope(stmt, actor: Actor):
    stmt = stmt.join(Site, Site.id == Dose.site_id).where(col(Site.county_id).in_(actor.county_ids))
    if actor.role == Role.reporter and actor.site_id is not None:
        stmt = stmt.where(Dose.site_id == actor.site_id)
    return stmt


def _answers(
    session: Session, actor: Actor, lot_ids: list[int]
) -> tuple[set[int], dict[str, set[int]], dict[int, set[int]]]:
    """Responders, dose ids per event group (unwell answers), dose ids per day."""
    if not lot_ids:
        return set(), {}, {}
    rows = session.exec(
        _scope(
            select(CheckIn.dose_id, CheckIn.day, CheckIn.answer, CheckIn.symptoms).join(
                Dose, Dose.id == CheckIn.dose_id
            ),
            actor,
        ).where(col(Dose.lot_id).in_(lot_ids))
    ).all()
    responders: set[int] = set()
    by_group: dict[str, set[int]] = defaultdict(set)
    by_day: dict[int, set[int]] = defaultdict(set)
    for dose_id, day, answer, symptoms in rows:
        responders.add(dose_id)
        by_day[day].add(dose_id)
        for group in active.answer_groups(answer, symptoms):
            by_group[group].add(dose_id)
    return responders, by_group, by_day


def lot_figures(session: Session, actor: Actor, lot: Lot) -> LotFigures:
    invited = session.exec(
        _scope(
            select(func.count())
            .select_from(CheckinInvite)
            .join(Dose, Dose.id == CheckinInvite.dose_id),
            actor,
        ).where(Dose.lot_id == lot.id)
    ).one()
    responders, by_group, by_day = _answers(session, actor, [lot.id])
    others = [
        lid
        for lid in session.exec(
            select(Lot.id).where(Lot.vaccine_id == lot.vaccine_id, Lot.id != lot.id)
        ).all()
    ]
    o_resp, o_group, _ = _answers(session, actor, others)
    groups = []
    for group in sorted(set(by_group) | set(o_group), key=lambda g: -len(by_group.get(g, ()))):
        k, ko = len(by_group.get(group, ())), len(o_group.get(group, ()))
        groups.append(
            GroupLine(
                group,
                active.share(k, len(responders)),
                active.share(ko, len(o_resp)),
                active.compare(k, len(responders), ko, len(o_resp)),
            )
        )
    denominator = max(invited, len(responders))
    days = [(day, active.share(len(ids), denominator)) for day, ids in sorted(by_day.items())]
    return LotFigures(invited=invited, responders=len(responders), days=days, groups=groups)


@dataclass(frozen=True)
class VaccineFigures:
    vaccine_code: str
    name: str
    name_en: str
    invited: int
    responders: int
    days: list[tuple[int, active.Share]]  # answered of invited, per scheduled day
    groups: list[tuple[str, active.Share]]  # responders reporting each event group


def vaccine_figures(
    session: Session, actor: Actor, start: datetime, end: datetime
) -> list[VaccineFigures]:
    """Per vaccine, for the doses given in [start, end): invited, who answered each
    scheduled day, and the share of responders reporting each event group (exact
    Clopper–Pearson intervals). Vaccines nobody was invited for are left out."""
    in_period = (col(Dose.administered_at) >= start) & (col(Dose.administered_at) < end)
    invited = dict(
        session.exec(
            _scope(
                select(Lot.vaccine_id, func.count())
                .select_from(CheckinInvite)
                .join(Dose, Dose.id == CheckinInvite.dose_id)
                .join(Lot, Lot.id == Dose.lot_id),
                actor,
            )
            .where(in_period)
            .group_by(Lot.vaccine_id)
        ).all()
    )
    rows = session.exec(
        _scope(
            select(Lot.vaccine_id, CheckIn.dose_id, CheckIn.day, CheckIn.answer, CheckIn.symptoms)
            .join(Dose, Dose.id == CheckIn.dose_id)
            .join(Lot, Lot.id == Dose.lot_id),
            actor,
        ).where(in_period)
    ).all()
    responders: dict[int, set[int]] = defaultdict(set)
    by_day: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    by_group: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for vaccine_id, dose_id, day, answer, symptoms in rows:
        responders[vaccine_id].add(dose_id)
        by_day[vaccine_id][day].add(dose_id)
        for group in active.answer_groups(answer, symptoms):
            by_group[vaccine_id][group].add(dose_id)
    ids = set(invited) | set(responders)
    if not ids:
        return []
    vaccines = session.exec(
        select(Vaccine).where(col(Vaccine.id).in_(ids)).order_by(Vaccine.code)
    ).all()
    out = []
    for v in vaccines:
        n = len(responders.get(v.id, ()))
        # A dose answered without an invite on record (an old link) still counts as invited.
        denominator = max(invited.get(v.id, 0), n)
        days = sorted(by_day.get(v.id, {}).items())
        groups = sorted(by_group.get(v.id, {}).items(), key=lambda kv: (-len(kv[1]), kv[0]))
        out.append(
            VaccineFigures(
                vaccine_code=v.code,
                name=v.name,
                name_en=v.name_en,
                invited=denominator,
                responders=n,
                days=[(day, active.share(len(d), denominator)) for day, d in days],
                groups=[(g, active.share(len(d), n)) for g, d in groups],
            )
        )
    return out


@dataclass
class LotAnswers:
    """One lot's responders (doses with an answer) and, per event group, the responders
    reporting it."""

    vaccine_id: int
    responders: int
    by_group: dict[str, set[int]]


def answers_by_lot(session: Session, vaccine_ids: list[int] | None = None) -> dict[int, LotAnswers]:
    """Every lot's answers (of the vaccines named; every vaccine: None), pooled across
    counties: the signal scans' input (``aefi.signals.scans.responders``), which counts like
    the other scans, not in one actor's scope. The responders are counted in SQL; only the
    unwell answers (the few) come back to be put in their event groups."""
    if vaccine_ids is not None and not vaccine_ids:
        return {}

    def of_vaccines(stmt):
        stmt = stmt.join(Dose, Dose.id == CheckIn.dose_id).join(Lot, Lot.id == Dose.lot_id)
        return stmt if vaccine_ids is None else stmt.where(col(Lot.vaccine_id).in_(vaccine_ids))

    # The doses that have answers, then their lots: the check-ins lead (a handful per lot).
    # Joined the other way, SQLite walked every dose of every lot to probe its check-ins,
    # and the full scan's cost followed the registry (0.11 s at 1 M doses, none answered).
    answered = select(CheckIn.dose_id).distinct()
    responders = (
        select(Lot.vaccine_id, Dose.lot_id, func.count(Dose.id))
        .join(Lot, Lot.id == Dose.lot_id)
        .where(col(Dose.id).in_(answered))
    )
    if vaccine_ids is not None:
        responders = responders.where(col(Lot.vaccine_id).in_(vaccine_ids))
    out: dict[int, LotAnswers] = {
        int(lot_id): LotAnswers(int(vaccine_id), int(n), defaultdict(set))
        for vaccine_id, lot_id, n in session.exec(responders.group_by(Lot.vaccine_id, Dose.lot_id))
    }
    unwell = of_vaccines(
        select(Dose.lot_id, CheckIn.dose_id, CheckIn.answer, CheckIn.symptoms).distinct()
    ).where(CheckIn.answer == Answer.unwell)
    for lot_id, dose_id, answer, symptoms in session.exec(unwell):
        for group in active.answer_groups(answer, symptoms):
            out[int(lot_id)].by_group[group].add(dose_id)
    return out
