"""Who is told when a lot is held, a halt comes into force or is lifted: the subscribers of
``LotHeld``, ``HaltIssued`` and ``HaltLifted`` (``aefi/flow.py``). The state change itself
(the registry) is done before, by the service that publishes the event; a notice that
fails is retried without undoing it."""

from __future__ import annotations

from sqlmodel import Session

from aefi import i18n
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.events import HaltIssued, HaltLifted, LotHeld
from aefi.notifications import service as notifications
from aefi.registry.models import Lot
from aefi.signals import access
from aefi.signals.models import HaltDecision, HaltScope


def _target_id(event: HaltIssued | HaltLifted) -> int:
    return {"lot": event.lot_id, "vaccine": event.vaccine_id, "site": event.site_id}[
        event.scope
    ] or 0


def _tell(
    session: Session,
    event: HaltIssued | HaltLifted,
    *,
    title: str,
    body: str,
    urgent: bool,
) -> None:
    """Every site of the governed counties that holds the target (has given doses of the
    lot or product, or is the site) gets the notice; the counties' investigators and bureau
    too."""
    link = f"/halts/{event.halt_id}"
    governed = set(event.county_ids)
    for site in access.sites_holding(session, event.scope, _target_id(event)):
        if site.county_id not in governed:
            continue
        notifications.notify(
            session,
            county_id=site.county_id,
            roles=(Role.reporter,),
            site_id=site.id,
            kind="halt",
            title=title,
            body=body,
            link=link,
            urgent=urgent,
        )
    for county_id in event.county_ids:
        notifications.notify(
            session,
            county_id=county_id,
            roles=(Role.investigator, Role.bureau, Role.admin),
            kind="halt",
            title=title,
            body=body,
            link=link,
        )


def on_halt_issued(session: Session, actor: Actor, event: HaltIssued) -> None:
    """Stop using it: the sites that hold the target, and the counties' staff."""
    halt = session.get(HaltDecision, event.halt_id)
    if halt is None:
        return
    _tell(
        session,
        event,
        title=i18n.gettext(
            "Halted: {target} ({number})", target=halt.target_label, number=halt.number
        ),
        body=i18n.gettext(
            "Stop using it at once, set the stock aside and count it. Reason: {reason}",
            reason=halt.reason,
        ),
        urgent=True,
    )


def on_halt_lifted(session: Session, actor: Actor, event: HaltLifted) -> None:
    """The same people are told it may be used again (nobody, when it never came into
    force: nobody was told of it)."""
    halt = session.get(HaltDecision, event.halt_id)
    if halt is None or not event.was_in_force:
        return
    _tell(
        session,
        event,
        title=i18n.gettext(
            "Halt lifted: {target} ({number})", target=halt.target_label, number=halt.lift_number
        ),
        body=i18n.gettext(
            "{number} is lifted: {reason}", number=halt.number, reason=halt.lift_reason
        ),
        urgent=False,
    )


def on_lot_held(session: Session, actor: Actor, event: LotHeld) -> None:
    """The county's sites that gave doses of the lot set the stock aside."""
    lot = session.get(Lot, event.lot_id)
    if lot is None:
        return
    for site in access.sites_holding(session, HaltScope.lot, lot.id):
        if site.county_id != event.county_id:
            continue
        notifications.notify(
            session,
            county_id=site.county_id,
            roles=(Role.reporter,),
            site_id=site.id,
            kind="lot_held",
            title=i18n.gettext(
                "Lot {lot} is on hold: do not use it until the bureau decides",
                lot=lot.lot_number,
            ),
            body=i18n.gettext(
                "A signal put the lot on hold. Set the stock aside; new doses of it are "
                "refused until the health bureau decides."
            ),
            link="/halts",
            urgent=True,
        )
