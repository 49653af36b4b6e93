"""The pages the responsive and accessibility tests walk: a small county (tests/factories.py)
with a little of everything a page lists, and each role's pages in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from aefi import clock
from aefi.investigation.models import CaseFile
from aefi.navigation import items_for
from aefi.registry.models import Lot, Site
from aefi.signals.halts import service as halts
from aefi.signals.models import Signal
from tests.factories import ANAPHYLAXIS, County, a_dose, a_report, file_report, give, referral_of


@dataclass
class Scene:
    report: int
    case: int
    referral: int
    lot: int
    lot_number: str
    signal: int | None
    halt: int


def build_scene(session: Session, county: County) -> Scene:
    """Two anaphylaxis reports on one lot (so a referral, a case, a signal and a hold), a
    fever at the second site, two children on the first site's board, and the bureau's
    halt of the lot."""
    reporter = county.actor(session, "reporter")
    lot = session.get(Lot, county.lot_ids["FLU"][0])
    now = clock.now()
    reports = []
    for minutes in (50, 40):
        dose = a_dose(session, county, lot=lot, at=now - timedelta(minutes=minutes))
        reports.append(file_report(session, reporter, dose, **ANAPHYLAXIS))
    a_report(session, county, "reporter2")
    site = session.get(Site, county.site_ids[0])
    admin = county.actor(session, "admin")
    other = session.get(Lot, county.lot_ids["HEPB"][0])
    for n, name in ((1, "王小明"), (2, "李思思")):
        give(session, admin, site, other, n, name=name, at=now - timedelta(minutes=5 * n))
    session.commit()
    case = session.exec(select(CaseFile).where(CaseFile.report_id == reports[0].id)).first()
    signal = session.exec(select(Signal).order_by(Signal.id)).first()
    halt = halts.issue_halt(
        session,
        county.actor(session, "bureau"),
        scope="lot",
        target=lot.lot_number,
        reason="同一批号两例严重过敏反应",
        signal_ids=[signal.id] if signal else [],
        confirmed=True,
    )
    session.commit()
    return Scene(
        report=reports[0].id,
        case=case.id,
        referral=referral_of(session, reports[0]).id,
        lot=lot.id,
        lot_number=lot.lot_number,
        signal=signal.id if signal else None,
        halt=halt.id,
    )


def pages_of(role: str, s: Scene) -> list[str]:
    """The role's menu and the detail pages the role opens from it."""
    paths = [path for path, _ in items_for(role)]
    details = {
        "reporter": [f"/reports/{s.report}", f"/referrals/{s.referral}", f"/halts/{s.halt}",
                     "/account/password"],
        "investigator": [f"/reports/{s.report}", f"/cases/{s.case}", f"/referrals/{s.referral}",
                         f"/registry/lots/{s.lot}", f"/lots/{s.lot_number}", f"/halts/{s.halt}",
                         *([f"/signals/{s.signal}"] if s.signal else []), "/daily/summary"],
        "bureau": [f"/reports/{s.report}", f"/cases/{s.case}", f"/halts/{s.halt}",
                   *([f"/signals/{s.signal}"] if s.signal else []), "/daily/summary"],
        "hospital": [f"/referrals/{s.referral}"],
        "admin": ["/admin/users", f"/registry/lots/{s.lot}", "/registry/sites/new"],
    }  # fmt: skip
    return list(dict.fromkeys([*paths, *details[role]]))
