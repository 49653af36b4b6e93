"""The lot page's active-surveillance figures (``aftercare.active``): the lot's vaccinees
invited to check in, who answered each day, and the share of responders reporting each
event group beside the product's other lots — in the actor's scope (a site's physician:
their site; the county's staff: their counties)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from aefi.aftercare import active, questions
from aefi.aftercare.models import Answer, CheckIn, CheckinInvite
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.intake.symptoms import groups_of
from aefi.registry.models import Dose, Lot, Site


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
        if answer == Answer.unwell:
            codes = questions.report_codes([c for c in symptoms.split(",") if c])
            for group in groups_of(codes):
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
