"""What the green channel tells people: the hospital of a new leg, the senders of a step."""

from __future__ import annotations

from sqlmodel import Session, select

from aefi import i18n
from aefi.auth.models import Role
from aefi.i18n import _
from aefi.intake.models import Report
from aefi.notifications.service import notify
from aefi.referral.access import COUNTY_WATCHERS
from aefi.referral.models import Referral, label
from aefi.registry.models import Hospital, Site


def report_number(session: Session, ref: Referral) -> str:
    return session.exec(select(Report.number).where(Report.id == ref.report_id)).one()


def hospital_name(session: Session, hospital_id: int) -> str:
    h = session.get(Hospital, hospital_id)
    return i18n.pick(h.name, h.name_en) if h else ""


def tell_hospital(session: Session, ref: Referral, title: str, body: str = "") -> None:
    notify(
        session,
        county_id=ref.county_id,
        roles=(Role.hospital,),
        hospital_id=ref.hospital_id,
        kind="referral",
        title=title,
        body=body,
        link=f"/referrals/{ref.id}",
        urgent=True,
    )


def tell_senders(
    session: Session,
    ref: Referral,
    title: str,
    body: str = "",
    *,
    urgent: bool = False,
    county: bool = False,
) -> None:
    """The site's physicians; with ``county`` also the county CDC and bureau."""
    roles = (Role.reporter, *COUNTY_WATCHERS) if county else (Role.reporter,)
    notify(
        session,
        county_id=ref.county_id,
        roles=roles,
        site_id=ref.site_id,
        kind="referral",
        title=title,
        body=body,
        link=f"/referrals/{ref.id}",
        urgent=urgent,
    )


def announce(session: Session, ref: Referral) -> None:
    number = report_number(session, ref)
    site = session.get(Site, ref.site_id)
    tell_hospital(
        session,
        ref,
        _(
            "New green-channel referral {number} ({urgency}) from {site}",
            number=number,
            urgency=label(ref.urgency),
            site=i18n.pick(site.name, site.name_en),
        ),
        _("Acknowledge it in the referral inbox."),
    )
