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

from aefi import clock
from aefi.registry import dose_summary, importer
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, Region, Site
from aefi.registry.schemas import DoseCreate, PersonIn
from aefi.reporting.trace import service as trace
from aefi.settings import get_settings
from aefi.signals import counts
from tests.factories import County, a_dose, a_person, file_report, local_midnight_edges


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


def _summary_rows(session) -> list:
    return sorted(
        dose_summary._rows(
            session,
            "SELECT lot_id, site_id, day, n, persons_site, persons_county, first_at, last_at "
            "FROM dose_day",
            {},
        ),
        key=lambda r: (r.lot_id, r.site_id, r.day),
    )


def _counted(session, zone: str) -> list:
    """dose_day as defined, from the dose rows: per lot x site x local day, the doses,
    their first and last time, and the doses that are their person's lowest id of the lot
    at the site and at the sites of the site's county."""
    session.expire_all()
    tz = ZoneInfo(zone)
    county_of = {s.id: s.county_id for s in session.exec(select(Site))}
    first_at_site: dict[tuple, int] = {}
    first_in_county: dict[tuple, int] = {}
    doses = list(session.exec(select(Dose).order_by(Dose.id)))
    for d in doses:
        first_at_site.setdefault((d.person_id, d.lot_id, d.site_id), d.id)
        first_in_county.setdefault((d.person_id, d.lot_id, county_of[d.site_id]), d.id)
    cells: dict[tuple, list] = {}
    for d in doses:
        key = (d.lot_id, d.site_id, d.administered_at.astimezone(tz).date())
        c = cells.setdefault(key, [0, 0, 0, d.administered_at, d.administered_at])
        c[0] += 1
        c[1] += first_at_site[(d.person_id, d.lot_id, d.site_id)] == d.id
        c[2] += first_in_county[(d.person_id, d.lot_id, county_of[d.site_id])] == d.id
        c[3], c[4] = min(c[3], d.administered_at), max(c[4], d.administered_at)
    return [dose_summary.DoseDayRow(*k, *v) for k, v in sorted(cells.items())]


def test_the_recount_equals_a_fold_in_steps_and_the_dose_rows(session, county, monkeypatch):
    """The full recount finds first doses by window functions, a fold above the watermark
    probes each dose against the doses before it (below the watermark too): over a mixed
    history folded in four steps, both give the rows counted here from the doses. Persons
    with several doses of a lot at one site, at both sites of the county, at a site of
    another county; doses either side of local midnight, across a change of offset, ids
    not in the order of time."""
    zone = "Europe/Berlin"  # the doses span the change of offset of 25 October 2026
    monkeypatch.setenv("AEFI_TIMEZONE", zone)
    get_settings.cache_clear()
    other = Region(code="330783", name="邻县", name_en="Next County", level="county")
    session.add(other)
    session.flush()
    town = Region(
        code="330783001", name="邻镇", name_en="Next Township", level="township", parent_id=other.id
    )
    session.add(town)
    session.flush()
    far = Site(code="N01", name="邻县接种点", township_id=town.id, county_id=other.id)
    session.add(far)
    session.commit()
    sites = [*county.site_ids, far.id]
    away = County(other.id, [far.id], [])
    lot, lot2 = county.lot(session, "HEPB", 0), county.lot(session, "HEPB", 1)
    times = local_midnight_edges(
        zone, [datetime(2026, 10, 24), datetime(2026, 10, 25), datetime(2026, 11, 3)]
    )
    persons = [a_person(session, county.county_id) for _ in range(5)]
    # (person, lot, site index in `sites`, time index): four steps, each folded.
    steps = [
        [(0, lot, 0, 7), (0, lot, 0, 1), (1, lot, 0, 0), (2, lot, 1, 3), (3, lot, 2, 4)],
        [(0, lot, 0, 2), (1, lot, 1, 6), (2, lot, 2, 5), (4, lot2, 0, 9), (3, lot, 2, 1)],
        [(1, lot, 0, 8), (2, lot, 0, 0), (2, lot, 1, 14), (4, lot, 2, 10), (4, lot2, 1, 11)],
        [(3, lot, 0, 12), (0, lot, 1, 13), (4, lot, 2, 3), (1, lot2, 2, 2), (2, lot, 2, 6)],
    ]
    folds: list[tuple[bool, int]] = []
    fold = dose_summary._fold

    def recorded(session, mark, top, zone, *, setwise):
        folds.append((setwise, mark))
        fold(session, mark, top, zone, setwise=setwise)

    monkeypatch.setattr(dose_summary, "_fold", recorded)
    for step in steps:
        for p, lt, s, t in step:
            place = away if sites[s] == far.id else county
            a_dose(
                session,
                place,
                site=place.site_ids.index(sites[s]),
                lot=lt,
                person=persons[p],
                at=times[t],
                commit=False,
            )
        session.commit()
        dose_summary.top_up(session)
        session.commit()
    in_steps = _summary_rows(session)
    session.execute(text("DELETE FROM dose_day_state"))  # what a dose deleted does
    dose_summary.top_up(session)
    session.commit()
    recounted = _summary_rows(session)
    assert [setwise for setwise, _mark in folds] == [True, False, False, False, True]
    assert all(mark > 0 for _s, mark in folds[1:4])
    counted = _counted(session, zone)
    assert in_steps == counted
    assert recounted == counted
    # The history has what the test is about: a person's later doses at a site, in the
    # county, and first doses in both counties.
    assert sum(r.n for r in counted) > sum(r.persons_site for r in counted)
    assert sum(r.persons_site for r in counted) > sum(r.persons_county for r in counted)
    assert {r.site_id for r in counted if r.persons_county} == set(sites)


def test_the_timer_folds_new_doses_off_the_request_path(session, county, engine):
    """The background job (aefi.flow.JOBS) recounts a summary that has no state row and
    folds new doses above the watermark; run_job commits, so the lot page then only reads."""
    from aefi import background, flow

    job = next(j for j in flow.JOBS if j.name == "registry_dose_summary")
    lot = county.lot(session, "HEPB", 0)
    person = a_person(session, county.county_id)
    a_dose(session, county, lot=lot, person=person)
    assert background.run_job(job, engine)  # the first run: a recount
    a_dose(session, county, lot=lot, person=person, site=1)
    a_dose(session, county, lot=lot, person=person, at=clock.now() - timedelta(days=1))
    assert background.run_job(job, engine)  # a fold above the watermark
    session.expire_all()
    top = session.execute(text("SELECT MAX(id) FROM dose")).scalar_one()
    state = session.execute(text("SELECT last_dose_id, zone FROM dose_day_state")).one()
    assert tuple(state) == (top, get_settings().timezone)
    session.commit()
    assert _summary_rows(session) == _counted(session, get_settings().timezone)
    _check(session, county)
