"""The vaccination certificate (预防接种凭证): the person, each dose, what to watch for, the
numbers to call, and the QR code of the personal check-in link of the latest dose.

Issued at release from the observation board and from a person's page, by those who see
identities (the site's physician for vaccinees of their site, the county's staff); each
issue is audited (it prints a full name)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from aefi import audit
from aefi.aftercare import links, questions
from aefi.auth.permissions import Actor, sees_identity
from aefi.errors import NotFound
from aefi.registry.doses import service as doses
from aefi.registry.doses.service import DoseRow
from aefi.registry.models import Hospital, Person, Site
from aefi.settings import Settings


@dataclass(frozen=True)
class Certificate:
    person: Person
    doses: list[DoseRow]
    latest: DoseRow
    site: Site
    hospital: Hospital | None
    advice: tuple[str, ...]  # msgids
    link: links.DoseLink
    qr: str  # PNG data URI
    emergency_number: str


def certificate(
    session: Session,
    actor: Actor,
    person_id: int,
    *,
    settings: Settings,
    base_url: str,
    dose_id: int | None = None,
) -> Certificate:
    """The certificate of a person in the actor's scope; its link is the one of ``dose_id``
    (one of the person's doses) or of the latest dose."""
    if not sees_identity(actor):
        raise NotFound("Not found.")
    person = doses.get_person(session, actor, person_id)
    rows = sorted(
        doses.find_doses(session, actor, person_id=person_id, limit=500),
        key=lambda r: r.dose.administered_at,
    )
    if not rows:
        raise NotFound("This person has no recorded dose to put on a certificate.")
    latest = rows[-1]
    if dose_id is not None:
        chosen = next((r for r in rows if r.dose.id == dose_id), None)
        if chosen is None:
            raise NotFound("Not found.")
        latest = chosen
    site = latest.site
    hospital = session.get(Hospital, site.primary_hospital_id) if site.primary_hospital_id else None
    link = links.link_for(session, latest.dose, settings, base_url)
    links.invited(session, latest.dose.id, "certificate")
    audit.record(
        session,
        actor,
        "certificate_issued",
        "person",
        person.id,
        changes={"dose_id": latest.dose.id, "doses": len(rows)},
        summary=person.name,
        county_id=person.county_id,
    )
    session.commit()
    return Certificate(
        person=person,
        doses=rows,
        latest=latest,
        site=site,
        hospital=hospital,
        advice=questions.advice_for(latest.vaccine.code),
        link=link,
        qr=links.qr_svg_data_uri(link.url),
        emergency_number=settings.emergency_number,
    )
