"""The registry's summary of doses per (lot, site, local day) (``registry.dose_summary``,
migration 0033), on SQLite and PostgreSQL, against its definition computed here from the
dose rows: doses, first and last time per site and local day of the county's zone, and
persons counted once per lot (in the county and at each site) — through doses added one by
one, an import, a dose recorded by the service, a filing, a dose deleted, a dose moved to
another site and person, and a change of the county's zone; in a +05:45 zone and across a
change of offset."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import select

from aefi.registry import dose_summary, importer
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, Site
from aefi.registry.schemas import DoseCreate, PersonIn
from aefi.reporting.trace import service as trace
from aefi.settings import get_settings
from aefi.signals import counts
from tests.factories import a_dose, a_person, file_report, local_midnight_edges


def _definition(session, county, lot_id: int, zone: str):
    """(site, day) -> (n, first, last); distinct persons in the county and per site."""
    session.expire_all()
    tz = ZoneInfo(zone)
    cells: dict[tuple[int, object], list] = {}
    persons: set[int] = set()
    at_site: dict[int, set[int]] = defaultdict(set)
    for d in session.exec(select(Dose).where(Dose.lot_id == lot_id)):
        if d.site_id not in county.site_ids:
            continue
        key = (d.site_id, d.administered_at.astimezone(tz).date())
        c = cells.setdefault(key, [0, d.administered_at, d.administered_at])
        c[0] += 1
        c[1], c[2] = min(c[1], d.administered_at), max(c[2], d.administered_at)
        persons.add(d.person_id)
        at_site[d.site_id].add(d.person_id)
    return {k: tuple(v) for k, v in cells.items()}, len(persons), at_site


def _check(session, county) -> None:
    zone = get_settings().timezone
    bureau = county.actor(session, "bureau")
    reporter = county.actor(session, "reporter")  # site 0 only
    for lot in session.exec(select(Lot).order_by(Lot.id)).all():
        cells, persons, at_site = _definition(session, county, lot.id, zone)
        rows = dose_summary.lot_days(session, lot.id, county.county_id)
        got = {(r.site_id, r.day): (r.n, r.first_at, r.last_at) for r in rows}
        assert got == cells
        assert sum(r.persons_county for r in rows) == persons
        for sid in county.site_ids:
            assert sum(r.persons_site for r in rows if r.site_id == sid) == len(at_site[sid])
        if cells:
            t = trace.lot_trace(session, bureau, lot.lot_number)
            assert (t.doses, t.persons) == (sum(c[0] for c in cells.values()), persons)
            mine = trace.lot_trace(session, reporter, lot.lot_number)
            assert mine.persons == len(at_site[county.site_ids[0]])
            _rows, total = trace.lot_persons(session, reporter, lot.lot_number)
            assert total == sum(c[0] for (sid, _d), c in cells.items() if sid == reporter.site_id)
    # The summary was folded, not counted live: the watermark is at the last dose.
    top = session.execute(text("SELECT MAX(id) FROM dose")).scalar_one()
    state = session.execute(text("SELECT last_dose_id, zone FROM dose_day_state")).one()
    assert tuple(state) == (top, zone)
    # The scan's denominators are the summary's sums.
    dc = counts.full_dose_counts(session)
    got = Counter()
    for lot_id, site_id, n in zip(
        dc.lot_id.tolist(), dc.site_id.tolist(), dc.n.tolist(), strict=True
    ):
        got[(lot_id, site_id)] += n
    session.expire_all()
    assert +got == Counter((d.lot_id, d.site_id) for d in session.exec(select(Dose)))


# Kathmandu: +05:45; Berlin: the doses span a change of offset (25 October 2026).
@pytest.mark.parametrize("zone", ["Asia/Kathmandu", "Europe/Berlin"])
def test_summary_equals_its_definition_through_writes(session, county, monkeypatch, zone):
    monkeypatch.setenv("AEFI_TIMEZONE", zone)
    get_settings.cache_clear()
    lot = county.lot(session, "HEPB", 1)
    other = county.lot(session, "FLU", 0)
    twice = a_person(session, county.county_id)  # three doses of the lot, two at one site
    times = local_midnight_edges(
        zone, [datetime(2026, 10, 24), datetime(2026, 10, 25), datetime(2026, 11, 3)]
    )
    for i, at in enumerate(times):
        person = twice if i in (0, 3, 7) else None
        a_dose(session, county, site=i % 3 % 2, lot=lot, person=person, at=at, commit=False)
    a_dose(session, county, site=1, lot=other, person=twice, at=times[3], commit=False)
    session.commit()
    _check(session, county)  # the first read: the summary built from nothing

    # An import above the watermark: a new person with two doses, one of them at the
    # other site, and one of `twice`'s lot again at a local-day edge.
    admin = county.actor(session, "admin")
    site0, site1 = (session.get(Site, sid).code for sid in county.site_ids)
    header = ",".join(importer.COLUMNS)

    def row(i: int, site: str, dose: str, at: datetime) -> str:
        person = f"33078220100102{i:04d},王{i},female,2010-01-01,138{i:08d}"
        return f"{person},{lot.lot_number},{site},{dose},{at.isoformat()},sc,右上臂,李"

    body = [
        row(1, site0, "1", times[1]),
        row(1, site1, "2", times[2]),
        row(2, site1, "1", times[4]),
    ]
    report = importer.import_doses(
        session, admin, io.BytesIO(("\n".join([header, *body]) + "\n").encode())
    )
    assert report.imported == 3
    _check(session, county)

    # One dose recorded through the registry's service, and a filing on a dose.
    recorded = registry_doses.record_dose(
        session,
        admin,
        DoseCreate(
            person=PersonIn(name="新人", id_number="330782201001020007"),
            lot_number=lot.lot_number,
            site_code=site0,
            administered_at=times[5] + timedelta(seconds=1),
        ),
    )
    file_report(session, county.actor(session, "reporter"), recorded, symptoms=["FEVER"])
    _check(session, county)

    # A dose deleted (`twice`'s first: their second becomes their first), then one moved
    # to the other site and to another person: the triggers drop the state, the next
    # read recounts.
    first = session.exec(
        select(Dose).where(Dose.person_id == twice.id, Dose.lot_id == lot.id).order_by(Dose.id)
    ).first()
    session.delete(first)
    session.commit()
    _check(session, county)
    moved = session.exec(select(Dose).where(Dose.lot_id == lot.id).order_by(Dose.id)).first()
    moved.site_id = county.site_ids[1 - county.site_ids.index(moved.site_id)]
    moved.person_id = twice.id
    session.add(moved)
    session.commit()
    _check(session, county)

    # The county's zone changes: the days are cut again.
    monkeypatch.setenv("AEFI_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    _check(session, county)


def test_a_rolled_back_reader_leaves_the_summary_as_it_was(session, county):
    """The scan folds in its own transaction: rolled back, the watermark and the rows go
    back with it, and the next reader folds the same doses once."""
    lot = county.lot(session, "HEPB", 1)
    a_dose(session, county, lot=lot)
    _check(session, county)
    a_dose(session, county, lot=lot, site=1)
    counts.full_dose_counts(session)
    session.rollback()
    _check(session, county)
