"""County scope for every role, per-county halts of a shared lot, the province role, and
the registry refusing a status change (issue 12). Runs on SQLite and PostgreSQL.

The world is small and built here (not the demo county): province P with counties A and
B, county C under another province Q; each county has a township, a site, a hospital and
one user of each role. Vaccine V and lot SHARED are used in A and B; lot BONLY in B only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from aefi import audit, clock
from aefi.auth import passwords
from aefi.auth.models import USER_ROLES, Role, User
from aefi.auth.permissions import Actor
from aefi.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from aefi.registry import access as registry_access
from aefi.registry import lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.lots import service as registry_lots
from aefi.registry.models import (
    Dose,
    Hospital,
    Lot,
    LotHold,
    LotStatus,
    Person,
    Region,
    RegionLevel,
    Site,
    Vaccine,
)
from aefi.registry.records import service as registry_records
from aefi.registry.schemas import DoseCreate, PersonIn
from aefi.signals import access
from aefi.signals.halts import banners
from aefi.signals.halts import service as halts
from aefi.signals.models import HaltDecision, Signal, SignalLevel, SignalMethod, SignalScope
from aefi.signals.review import service as review
from aefi.signals.scans import service as scans

PASSWORD = "scope-pass-1"
COUNTY_ROLES = [r for r in USER_ROLES if r != Role.province]
REFUSED = (NotFound, Forbidden, Invalid)


def _system(county_id: int) -> Actor:
    return Actor.system(county_id, reason="signal")


@dataclass
class CountyBits:
    id: int
    code: str
    township_id: int
    site: Site
    hospital: Hospital
    users: dict[Role, User] = field(default_factory=dict)


@dataclass
class World:
    province_id: int
    other_province_id: int
    a: CountyBits
    b: CountyBits
    c: CountyBits
    province_user: User
    vaccine: Vaccine
    shared: Lot
    b_only: Lot

    def actor(self, session: Session, user: User) -> Actor:
        return Actor.of(user, session)


def _user(session: Session, username: str, role: Role, region_id: int, **kw) -> User:
    u = User(
        username=username,
        full_name=username,
        role=role.value,
        county_id=region_id,
        password_hash=passwords.hash_password(PASSWORD),
        **kw,
    )
    session.add(u)
    session.flush()
    return u


def _county(session: Session, code: str, parent_id: int) -> CountyBits:
    county = Region(code=code, name=f"县{code}", level=RegionLevel.county, parent_id=parent_id)
    session.add(county)
    session.flush()
    town = Region(
        code=f"{code}01", name=f"镇{code}", level=RegionLevel.township, parent_id=county.id
    )
    session.add(town)
    session.flush()
    hosp = Hospital(code=f"H{code}", name=f"医院{code}", county_id=county.id)
    session.add(hosp)
    session.flush()
    site = Site(
        code=f"S{code}",
        name=f"接种点{code}",
        township_id=town.id,
        county_id=county.id,
        primary_hospital_id=hosp.id,
    )
    session.add(site)
    session.flush()
    bits = CountyBits(county.id, code, town.id, site, hosp)
    for role in COUNTY_ROLES:
        extra = {}
        if role == Role.reporter:
            extra["site_id"] = site.id
        if role == Role.hospital:
            extra["hospital_id"] = hosp.id
        bits.users[role] = _user(session, f"{role.value}-{code.lower()}", role, county.id, **extra)
    return bits


def _dose(session: Session, lot: Lot, site: Site, n: int) -> None:
    person = Person(county_id=site.county_id, name=f"儿童{n}", id_number=f"3301{n:014d}")
    session.add(person)
    session.flush()
    session.add(
        Dose(
            person_id=person.id,
            lot_id=lot.id,
            site_id=site.id,
            administered_at=clock.now() - timedelta(days=3),
        )
    )


def build_world(session: Session) -> World:
    p = Region(code="P33", name="省P", level=RegionLevel.province)
    q = Region(code="Q44", name="省Q", level=RegionLevel.province)
    session.add_all([p, q])
    session.flush()
    a, b, c = (
        _county(session, "A1", p.id),
        _county(session, "B2", p.id),
        _county(session, "C3", q.id),
    )
    prov = _user(session, "province-p", Role.province, p.id)
    vaccine = Vaccine(code="VX", name="疫苗X")
    session.add(vaccine)
    session.flush()
    shared = Lot(lot_number="SHARED-1", vaccine_id=vaccine.id)
    b_only = Lot(lot_number="BONLY-1", vaccine_id=vaccine.id)
    session.add_all([shared, b_only])
    session.flush()
    _dose(session, shared, a.site, 1)
    _dose(session, shared, b.site, 2)
    _dose(session, b_only, b.site, 3)
    session.commit()
    return World(p.id, q.id, a, b, c, prov, vaccine, shared, b_only)


@pytest.fixture
def world(session) -> World:
    return build_world(session)


def _new_dose(lot: Lot, site: Site, n: int) -> DoseCreate:
    return DoseCreate(
        person=PersonIn(name=f"新儿童{n}", id_number=f"3302{n:014d}"),
        lot_number=lot.lot_number,
        site_code=site.code,
        administered_at=clock.now() - timedelta(minutes=5),
    )


def _accepts(session: Session, w: World, bits: CountyBits, lot: Lot, n: int) -> bool:
    """Whether the county's admin can record a dose of the lot at the county's site."""
    try:
        registry_doses.record_dose(
            session, w.actor(session, bits.users[Role.admin]), _new_dose(lot, bits.site, n)
        )
        return True
    except Conflict:
        session.rollback()
        return False


def _signal(session: Session, lot: Lot) -> Signal:
    sig = Signal(
        scope=SignalScope.lot,
        target_id=lot.id,
        lot_id=lot.id,
        vaccine_id=lot.vaccine_id,
        event_group="fever",
        method=SignalMethod.maxsprt,
        level=SignalLevel.halt_recommended,
        observed=3,
        expected=0.2,
        statistic=5.0,
        threshold=3.0,
    )
    session.add(sig)
    session.commit()
    return sig


def _halt_of_other(session: Session, w: World, other: CountyBits) -> HaltDecision:
    bureau = w.actor(session, other.users[Role.bureau])
    return halts.issue_halt(
        session, bureau, scope="site", target=other.site.code, reason="冷链故障", confirmed=True
    )


def _home_and_other(session: Session, w: World, role: Role) -> tuple[Actor, CountyBits]:
    if role == Role.province:
        return w.actor(session, w.province_user), w.c
    return w.actor(session, w.a.users[role]), w.b


# --- every role, the other county's records --------------------------------------------


@pytest.mark.parametrize("role", USER_ROLES)
def test_other_county_reference_data_is_out_of_reach(session, world, role):
    w = world
    actor, other = _home_and_other(session, w, role)
    k = registry_records.KINDS
    for kind, rid in (
        ("regions", other.id),
        ("regions", other.township_id),
        ("sites", other.site.id),
        ("hospitals", other.hospital.id),
    ):
        with pytest.raises((NotFound, Forbidden)):
            registry_records.get_record(session, actor, k[kind], rid)
        with pytest.raises(REFUSED):
            registry_records.save_record(session, actor, k[kind], rid, {"name": "改名"})
        session.rollback()
        if role in registry_access.READERS:
            rows, _ = registry_records.list_records(session, actor, k[kind])
            assert rid not in {r.id for r in rows}
    # No site in the other county's township, no township under the other county.
    with pytest.raises(REFUSED):
        registry_records.save_record(
            session,
            actor,
            k["sites"],
            None,
            {"code": "NEW-S", "name": "新点", "township_id": str(other.township_id)},
        )
    session.rollback()
    with pytest.raises(REFUSED):
        registry_records.save_record(
            session,
            actor,
            k["regions"],
            None,
            {"code": "NEW-T", "name": "新镇", "level": "township", "parent_id": str(other.id)},
        )
    session.rollback()
    with pytest.raises((NotFound, Forbidden, Invalid)):
        registry_records.create_site(
            session, actor, code="NEW-S2", name="新点", township=f"{other.code}01"
        )
    session.rollback()
    names = {r.name for r in session.exec(select(Region).where(Region.id == other.id))}
    assert names == {f"县{other.code}"}
    assert session.exec(select(Site).where(Site.code.in_(["NEW-S", "NEW-S2"]))).first() is None


@pytest.mark.parametrize("role", COUNTY_ROLES)
def test_shared_lot_used_by_another_county_is_not_edited_by_a_county(session, world, role):
    w = world
    actor = w.actor(session, w.a.users[role])
    for kind, rid in (("lots", w.shared.id), ("lots", w.b_only.id), ("vaccines", w.vaccine.id)):
        with pytest.raises((Forbidden, NotFound)):
            registry_records.save_record(
                session,
                actor,
                registry_records.KINDS[kind],
                rid,
                {"name_en": "x"} if kind == "vaccines" else {"doses_received": "5"},
            )
        session.rollback()
    assert session.get(Lot, w.shared.id).doses_received is None


def test_province_corrects_shared_reference_data_and_writes_nothing_county_bound(session, world):
    w = world
    prov = w.actor(session, w.province_user)
    registry_records.save_record(
        session, prov, registry_records.KINDS["lots"], w.shared.id, {"doses_received": "900"}
    )
    assert session.get(Lot, w.shared.id).doses_received == 900
    with pytest.raises(REFUSED):
        registry_records.save_record(
            session, prov, registry_records.KINDS["sites"], w.a.site.id, {"name": "x"}
        )
    session.rollback()
    with pytest.raises(REFUSED):
        registry_records.save_record(
            session, prov, registry_records.KINDS["hospitals"], None, {"code": "HX", "name": "x"}
        )
    session.rollback()


@pytest.mark.parametrize("role", USER_ROLES)
def test_other_county_signals_and_halts_are_out_of_reach(session, world, role):
    w = world
    actor, other = _home_and_other(session, w, role)
    other_lot = w.b_only
    if role == Role.province:  # C has no lot of its own yet: give it one
        other_lot = Lot(lot_number="CONLY-1", vaccine_id=w.vaccine.id)
        session.add(other_lot)
        session.flush()
        _dose(session, other_lot, w.c.site, 9)
        session.commit()
    sig = _signal(session, other_lot)
    halt = _halt_of_other(session, w, other)
    with pytest.raises((NotFound, Forbidden)):
        review.get_signal(session, actor, sig.id)
    with pytest.raises((NotFound, Forbidden)):
        review.set_signal_status(session, actor, sig.id, "under_review", "看看")
    session.rollback()
    assert session.get(Signal, sig.id).status == "new"
    if role in access.READERS:
        rows, total = review.list_signals(session, actor, review.SignalFilter())
        assert sig.id not in {r.signal.id for r in rows} and total == len(rows)
    with pytest.raises((NotFound, Forbidden)):
        halts.get_halt(session, actor, halt.id)
    with pytest.raises((NotFound, Forbidden)):
        halts.lift_halt(session, actor, halt.id, "误报", confirmed=True)
    session.rollback()
    assert session.get(HaltDecision, halt.id).lifted_at is None
    if role in access.HALT_READERS:
        assert halt.id not in {h.id for h in halts.list_halts(session, actor)}
    # The other county's site cannot be halted from here.
    with pytest.raises(REFUSED):
        halts.issue_halt(
            session, actor, scope="site", target=other.site.code, reason="x", confirmed=True
        )
    session.rollback()
    assert session.get(Site, other.site.id).halted  # only the other county's own decision


def test_reporter_of_a_county_does_not_see_the_other_countys_hold_banner(session, world):
    w = world
    lot_states.hold_lot(session, _system(w.b.id), w.shared, w.b.id, signal_id=None, note="B 的暂停")
    session.commit()
    banners_a = banners.banners_for(session, w.a.users[Role.reporter])
    banners_b = banners.banners_for(session, w.b.users[Role.reporter])
    assert not any("SHARED-1" in b.text for b in banners_a)
    assert any("SHARED-1" in b.text for b in banners_b)


# --- lot status only through decisions --------------------------------------------------


@pytest.mark.parametrize("field_name", ["status", "status_note"])
def test_registry_refuses_a_lot_status_change(session, world, field_name):
    w = world
    admin = w.actor(session, w.a.users[Role.admin])
    lot_states.hold_lot(
        session, _system(w.a.id), w.shared, w.a.id, signal_id=None, note="信号复核中"
    )
    session.commit()
    for actor in (admin, w.actor(session, w.a.users[Role.api_client])):
        with pytest.raises(Invalid) as err:
            registry_records.save_record(
                session, actor, registry_records.KINDS["lots"], w.shared.id, {field_name: "active"}
            )
        assert "only through its decisions" in err.value.message
        session.rollback()
        with pytest.raises(Invalid):
            registry_records.save_record(
                session,
                actor,
                registry_records.KINDS["lots"],
                None,
                {"lot_number": "NEW-L", "vaccine_id": str(w.vaccine.id), field_name: "halted"},
            )
        session.rollback()
    assert session.get(Lot, w.shared.id).status == LotStatus.held
    assert lot_states.state_for_county(session, w.shared, w.a.id).status == "held"
    assert session.exec(select(Lot).where(Lot.lot_number == "NEW-L")).first() is None


def test_no_halt_flag_through_the_registry(session, world):
    admin = world.actor(session, world.a.users[Role.admin])
    with pytest.raises(Invalid):
        registry_records.save_record(
            session, admin, registry_records.KINDS["sites"], world.a.site.id, {"halted": "false"}
        )
    session.rollback()
    with pytest.raises(Invalid):
        registry_records.save_record(
            session, admin, registry_records.KINDS["vaccines"], world.vaccine.id, {"halted": "1"}
        )


def test_each_decision_is_audited_naming_it(session, world):
    w = world
    bureau = w.actor(session, w.a.users[Role.bureau])
    halt = halts.issue_halt(
        session, bureau, scope="lot", target="SHARED-1", reason="聚集", confirmed=True
    )
    halts.lift_halt(session, bureau, halt.id, "排除", confirmed=True)
    lot_states.recall_lot(
        session, _system(w.b.id), session.get(Lot, w.b_only.id), notice="召回通知 2026-9"
    )
    session.commit()
    shared = [e.summary for e in audit.timeline(session, "lot", w.shared.id)]
    assert any(halt.number in s and s.startswith("SHARED-1: halt") for s in shared)
    assert any(halt.lift_number in s for s in shared)
    assert session.get(Lot, w.shared.id).status == LotStatus.active
    assert session.get(Lot, w.b_only.id).status == LotStatus.recalled
    assert any("召回通知 2026-9" in e.summary for e in audit.timeline(session, "lot", w.b_only.id))
    assert not _accepts(session, w, w.b, w.b_only, 50)  # a recall stops it everywhere


def test_expiry_follows_the_date(session, world):
    w = world
    admin = w.actor(session, w.a.users[Role.admin])
    lot = registry_records.create_lot(
        session,
        admin,
        lot_number="OLD-1",
        vaccine_code="VX",
        expiry_on=clock.now().date() - timedelta(days=1),
        doses_received=None,
    )
    assert lot.status == LotStatus.expired
    fresh = registry_records.create_lot(
        session,
        admin,
        lot_number="NEW-1",
        vaccine_code="VX",
        expiry_on=clock.now().date() + timedelta(days=2),
        doses_received=None,
    )
    clock.freeze(clock.now() + timedelta(days=3))
    assert lot_states.expire_due_lots(session) == 1
    assert session.get(Lot, fresh.id).status == LotStatus.expired
    assert any("expiry date" in e.summary for e in audit.timeline(session, "lot", fresh.id))


# --- per-county halts of a shared lot ------------------------------------------------


def test_county_halt_of_a_shared_lot_stops_only_its_own_sites(session, world):
    w = world
    bureau_a = w.actor(session, w.a.users[Role.bureau])
    halt = halts.issue_halt(
        session, bureau_a, scope="lot", target="SHARED-1", reason="A 聚集", confirmed=True
    )
    assert not _accepts(session, w, w.a, w.shared, 10)
    assert _accepts(session, w, w.b, w.shared, 11)
    assert lot_states.state_for_county(session, w.shared, w.b.id).status == "active"
    # B may halt the same lot for itself; A's decision does not stand in its way.
    bureau_b = w.actor(session, w.b.users[Role.bureau])
    halt_b = halts.issue_halt(
        session, bureau_b, scope="lot", target="SHARED-1", reason="B 也停", confirmed=True
    )
    assert not _accepts(session, w, w.b, w.shared, 12)
    assert {h.id for h in halts.list_halts(session, bureau_b)} == {halt_b.id}
    # A lifts its own: A's sites use the lot again, B's stay halted by B's decision.
    with pytest.raises(NotFound):
        halts.lift_halt(session, bureau_a, halt_b.id, "不是我们的", confirmed=True)
    session.rollback()
    halts.lift_halt(session, bureau_a, halt.id, "A 排除", confirmed=True)
    assert _accepts(session, w, w.a, w.shared, 13)
    assert not _accepts(session, w, w.b, w.shared, 14)
    assert session.get(Lot, w.shared.id).status == LotStatus.halted  # the summary


def test_county_halt_of_a_product_stops_only_its_own_sites(session, world):
    w = world
    bureau_a = w.actor(session, w.a.users[Role.bureau])
    halts.issue_halt(
        session, bureau_a, scope="vaccine", target="VX", reason="A 停用", confirmed=True
    )
    assert not _accepts(session, w, w.a, w.shared, 20)
    assert _accepts(session, w, w.b, w.shared, 21)


def test_province_halt_hits_every_county_below_it(session, world):
    w = world
    prov = w.actor(session, w.province_user)
    lot_c = Lot(lot_number="SHARED-1C", vaccine_id=w.vaccine.id)
    session.add(lot_c)
    session.commit()
    halt = halts.issue_halt(
        session, prov, scope="lot", target="SHARED-1", reason="全省叫停", confirmed=True
    )
    assert not _accepts(session, w, w.a, w.shared, 30)
    assert not _accepts(session, w, w.b, w.shared, 31)
    assert _accepts(session, w, w.c, w.shared, 32)  # county C is in another province
    bureau_a = w.actor(session, w.a.users[Role.bureau])
    assert halt.id in {h.id for h in halts.list_halts(session, bureau_a)}
    assert halt.id not in {
        h.id for h in halts.list_halts(session, w.actor(session, w.c.users[Role.bureau]))
    }
    with pytest.raises(Forbidden):
        halts.lift_halt(session, bureau_a, halt.id, "县里不能解除", confirmed=True)
    session.rollback()
    halts.lift_halt(session, prov, halt.id, "全省解除", confirmed=True)
    assert _accepts(session, w, w.a, w.shared, 33)
    assert _accepts(session, w, w.b, w.shared, 34)


def test_signal_hold_is_per_county_and_released_per_county(session, world):
    w = world
    sig = _signal(session, w.shared)
    held = scans._hold_if_needed(session, _system(w.a.id), sig, scans.get_signal_settings())
    session.commit()
    assert held is not None
    assert {h.county_id for h in session.exec(select(LotHold))} == {w.a.id, w.b.id}
    assert not _accepts(session, w, w.a, w.shared, 40)
    bureau_a = w.actor(session, w.a.users[Role.bureau])
    review.set_signal_status(session, bureau_a, sig.id, "dismissed", "排除", release_hold=True)
    assert _accepts(session, w, w.a, w.shared, 41)
    assert not _accepts(session, w, w.b, w.shared, 42)
    assert session.get(Lot, w.shared.id).status == LotStatus.held  # still held in B


# --- the province reads every county below it -----------------------------------------


def test_province_reads_all_counties_below_it(session, world):
    w = world
    prov = w.actor(session, w.province_user)
    assert prov.county_ids == frozenset({w.a.id, w.b.id})
    sites, _ = registry_records.list_records(session, prov, registry_records.KINDS["sites"])
    assert {s.id for s in sites} == {w.a.site.id, w.b.site.id}
    regions, _ = registry_records.list_records(session, prov, registry_records.KINDS["regions"])
    assert {w.a.id, w.b.id, w.a.township_id, w.province_id} <= {r.id for r in regions}
    assert w.c.id not in {r.id for r in regions}
    sig_b = _signal(session, w.b_only)
    rows, _ = review.list_signals(session, prov, review.SignalFilter())
    assert sig_b.id in {r.signal.id for r in rows}
    halt_a = _halt_of_other(session, w, w.a)
    assert halt_a.id in {h.id for h in halts.list_halts(session, prov)}
    # ...and county A does not read B's signal.
    bureau_a = w.actor(session, w.a.users[Role.bureau])
    rows, _ = review.list_signals(session, bureau_a, review.SignalFilter())
    assert sig_b.id not in {r.signal.id for r in rows}
    assert review.pending_halt_recommendations(session, bureau_a) == 0
    assert review.pending_halt_recommendations(session, prov) == 1


def test_province_is_read_only_for_doses_and_reviews(session, world):
    prov = world.actor(session, world.province_user)
    with pytest.raises(DomainError):
        registry_doses.record_dose(session, prov, _new_dose(world.shared, world.a.site, 60))
    sig = _signal(session, world.shared)
    with pytest.raises(Forbidden):
        review.set_signal_status(session, prov, sig.id, "under_review")


# --- the same through the API and the pages -------------------------------------------


def _token(client, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_api_refuses_the_other_county_and_a_status_field(client, session, world):
    w = world
    sig = _signal(session, w.b_only)
    halt = _halt_of_other(session, w, w.b)
    admin = _token(client, "admin-a1")
    bureau = _token(client, "bureau-a1")
    investigator = _token(client, "investigator-a1")
    r = client.post(
        "/api/v1/sites",
        json={"code": "API-S", "name": "x", "township": "B201"},
        headers=admin,
    )
    assert r.status_code in (404, 422), r.text
    assert client.get(f"/api/v1/signals/{sig.id}", headers=investigator).status_code == 404
    r = client.post(
        f"/api/v1/signals/{sig.id}/status",
        json={"status": "under_review", "note": ""},
        headers=investigator,
    )
    assert r.status_code == 404
    assert client.get(f"/api/v1/halts/{halt.id}", headers=bureau).status_code == 404
    r = client.post(f"/api/v1/halts/{halt.id}/lift", json={"reason": "x"}, headers=bureau)
    assert r.status_code == 404
    r = client.post(
        "/api/v1/halts",
        json={"scope": "site", "target": w.b.site.code, "reason": "x"},
        headers=bureau,
    )
    assert r.status_code == 422
    for who in (admin, _token(client, "api_client-a1")):
        r = client.post(
            "/api/v1/lots",
            json={"lot_number": "API-L", "vaccine_code": "VX", "status": "active"},
            headers=who,
        )
        assert r.status_code == 422 and "status" in r.text and "decisions" in r.text
    # The lot's state in the API is the one in force in the caller's county.
    halts.issue_halt(
        session,
        w.actor(session, w.b.users[Role.bureau]),
        scope="lot",
        target="SHARED-1",
        reason="B 叫停",
        confirmed=True,
    )
    got_a = client.get("/api/v1/lots/SHARED-1", headers=_token(client, "api_client-a1")).json()
    got_b = client.get("/api/v1/lots/SHARED-1", headers=_token(client, "api_client-b2")).json()
    assert (got_a["status"], got_b["status"]) == ("active", "halted")


def _login(client, username: str) -> str:
    import re

    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return token


def test_province_pages_read_every_county_below(client, session, world):
    w = world
    halts.issue_halt(
        session,
        w.actor(session, w.b.users[Role.bureau]),
        scope="lot",
        target="SHARED-1",
        reason="B 叫停",
        confirmed=True,
    )
    _signal(session, w.b_only)
    _login(client, "province-p")
    for path in (
        "/",
        "/reports",
        "/cases",
        "/signals",
        "/halts",
        "/registry/regions",
        "/registry/sites",
        "/registry/vaccines",
        "/registry/lots",
    ):
        r = client.get(path, headers={"Accept-Language": "en"})
        assert r.status_code == 200, (path, r.status_code)
    assert "SB2" in client.get("/registry/sites").text
    assert "SC3" not in client.get("/registry/sites").text
    assert "SHARED-1" in client.get("/halts").text
    assert "BONLY-1" in client.get("/signals").text
    assert client.get(f"/registry/sites/{w.c.site.id}").status_code == 404


def test_registry_form_refuses_a_status_field(client, session, world):
    token = _login(client, "admin-a1")
    lot_states.hold_lot(
        session, _system(world.a.id), world.shared, world.a.id, signal_id=None, note="暂停"
    )
    session.commit()
    r = client.post(
        f"/registry/lots/{world.shared.id}",
        data={
            "csrf_token": token,
            "lot_number": "SHARED-1",
            "vaccine_id": str(world.vaccine.id),
            "status": "active",
        },
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422 and "only through its decisions" in r.text
    session.expire_all()
    assert lot_states.state_for_county(session, world.shared, world.a.id).status == "held"
    assert client.get(f"/registry/sites/{world.b.site.id}").status_code == 404
    page = client.get(f"/registry/lots/{world.shared.id}", headers={"Accept-Language": "en"})
    assert 'name="status"' not in page.text and 'id="lot-state"' in page.text


def test_operator_sets_up_a_province_and_its_user_on_the_command_line(session, world):
    from typer.testing import CliRunner

    from aefi.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["regions", "add", "R55", "省R", "--level", "province"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(
        app, ["regions", "add", "D4", "县D", "--level", "county", "--parent", "R55"]
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["regions", "place", "C3", "--province", "R55"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["regions", "add", "E5", "x", "--level", "township"])
    assert out.exit_code == 2
    out = runner.invoke(
        app,
        ["users", "create", "prov-r", "--role", "province", "--county", "R55"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert out.exit_code == 0, out.output
    session.expire_all()
    user = session.exec(select(User).where(User.username == "prov-r")).one()
    d4 = session.exec(select(Region).where(Region.code == "D4")).one()
    assert Actor.of(user, session).county_ids == frozenset({world.c.id, d4.id})


def test_a_countys_admin_keeps_its_own_reference_data(session, world):
    w = world
    admin = w.actor(session, w.a.users[Role.admin])
    k = registry_records.KINDS
    town = registry_records.save_record(
        session,
        admin,
        k["regions"],
        None,
        {"code": "A1-02", "name": "新镇", "level": "township", "parent_id": str(w.a.id)},
    )
    site = registry_records.save_record(
        session,
        admin,
        k["sites"],
        None,
        {"code": "SA1-2", "name": "新点", "township_id": str(town.id)},
    )
    assert site.county_id == w.a.id
    registry_records.save_record(session, admin, k["sites"], w.a.site.id, {"name": "改名点"})
    registry_records.save_record(session, admin, k["regions"], w.a.id, {"name": "县A改"})
    lot_a = Lot(lot_number="AONLY-1", vaccine_id=w.vaccine.id)
    session.add(lot_a)
    session.flush()
    _dose(session, lot_a, w.a.site, 70)
    session.commit()
    registry_records.save_record(session, admin, k["lots"], lot_a.id, {"doses_received": "40"})
    assert session.get(Lot, lot_a.id).doses_received == 40
    assert session.get(Site, w.a.site.id).name == "改名点"
    with pytest.raises(Invalid):  # a county cannot make itself a township or move
        registry_records.save_record(session, admin, k["regions"], w.a.id, {"level": "township"})


@pytest.mark.parametrize("role", USER_ROLES)
def test_recall_is_a_decision_of_the_bureau_admin_or_province_for_the_lots_it_may_stop(
    session, world, role
):
    w = world
    actor = w.actor(session, w.province_user if role == Role.province else w.b.users[role])
    if role not in (Role.admin, Role.bureau, Role.province):
        with pytest.raises(REFUSED):
            registry_lots.record_recall(session, actor, "BONLY-1", notice="召回〔2026〕1号")
        return
    if role != Role.province:
        # County A's bureau or admin cannot withdraw a lot county B uses too.
        a_actor = w.actor(session, w.a.users[role])
        with pytest.raises(Forbidden):
            registry_lots.record_recall(session, a_actor, "SHARED-1", notice="召回〔2026〕1号")
    lot = registry_lots.record_recall(session, actor, "BONLY-1", notice="召回〔2026〕1号")
    assert lot.status == LotStatus.recalled
    assert not _accepts(session, w, w.b, w.b_only, 901)
    assert any(
        "recall" in e.summary and e.actor_id == actor.user_id
        for e in audit.timeline(session, "lot", lot.id)
    )
    with pytest.raises(Conflict):
        registry_lots.record_recall(session, actor, "BONLY-1", notice="again")


def test_recall_through_the_api_and_the_lot_page(client, session, world):
    w = world
    r = client.post(
        "/api/v1/lots/BONLY-1/recall", json={"notice": "x"}, headers=_token(client, "reporter-b2")
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/lots/BONLY-1/recall", json={"notice": ""}, headers=_token(client, "bureau-b2")
    )
    assert r.status_code == 422
    token = _login(client, "bureau-b2")
    page = client.get("/lots/BONLY-1")
    assert 'action="/lots/BONLY-1/recall"' in page.text
    # Without the confirmation nothing happens.
    client.post("/lots/BONLY-1/recall", data={"notice": "召回1号", "csrf_token": token})
    session.expire_all()
    assert session.get(Lot, w.b_only.id).status != LotStatus.recalled
    r = client.post(
        "/lots/BONLY-1/recall",
        data={"notice": "召回1号", "confirm": "yes", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Lot, w.b_only.id).status == LotStatus.recalled
    got = client.get("/api/v1/lots/BONLY-1", headers=_token(client, "api_client-b2")).json()
    assert got["status"] == "recalled"
