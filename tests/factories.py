"""Small, explicit test data: a county with the least rows a test needs, and the steps
tests repeat (a person, a dose, a report card, a filed report, a case, a referral).

``a_county`` makes the shape of the demo county's first corner (code 330782, the same
user names and passwords as ``aefi.demo.DEMO_PASSWORDS``, so ``login(client, "reporter")``
works), but no doses: a test makes the doses it needs with ``a_dose``. The whole demo
county (``aefi.demo.build``) stays for the tests that need its size; they are marked
``@pytest.mark.demo_county`` (see tests/conftest.py)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session, select

from aefi import clock, demo
from aefi.auth import passwords as auth_passwords
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.intake.filing import service as intake_filing
from aefi.intake.models import Report
from aefi.intake.schemas import ReportIn, SeriousIn
from aefi.investigation.models import CaseFile
from aefi.referral.models import Referral
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import (
    Dose,
    Hospital,
    Lot,
    LotStatus,
    Person,
    Region,
    RegionLevel,
    Site,
    Vaccine,
)
from aefi.registry.schemas import DoseCreate, PersonIn

COUNTY_CODE = "330782"
# The vaccines a small county carries unless a test asks for others (codes of demo.VACCINES).
VACCINES: tuple[str, ...] = ("HEPB", "DTAP", "MMR", "FLU")


@dataclass
class County:
    """A county built for a test: its ids and the users of each role, looked up by name
    (the names of ``aefi.demo.DEMO_PASSWORDS``, with the same passwords)."""

    county_id: int
    site_ids: list[int]
    hospital_ids: list[int]
    lot_ids: dict[str, list[int]] = field(default_factory=dict)  # by vaccine code

    def actor(self, session: Session, username: str) -> Actor:
        return Actor.of(session.exec(select(User).where(User.username == username)).one())

    def lot(self, session: Session, code: str = VACCINES[-1], nth: int = 0) -> Lot:
        """The ``nth`` lot of the vaccine ``code`` (the demo county's lots too)."""
        if code in self.lot_ids:
            return session.get(Lot, self.lot_ids[code][nth])
        stmt = (
            select(Lot)
            .join(Vaccine, Vaccine.id == Lot.vaccine_id)
            .where(Vaccine.code == code)
            .order_by(Lot.id)
        )
        return list(session.exec(stmt))[nth]


@cache
def _password_hash(password: str) -> str:
    return auth_passwords.hash_password(password)


def a_county(
    session: Session,
    *,
    sites: int = 2,
    hospitals: int = 2,
    vaccines: Sequence[str] = VACCINES,
    lots_per_vaccine: int = 2,
    users: bool = True,
) -> County:
    """One county region with one township per site, ``sites`` vaccination sites (each
    sends its severe cases to the first hospital, the second as backup), ``hospitals``
    hospitals, ``lots_per_vaccine`` active lots of each vaccine in ``vaccines`` and, with
    ``users``, one user per name of the demo county (reporter at the first site, reporter2
    at the second; hospital at the first hospital, hospital2 at the second). Committed."""
    assert sites <= len(demo.TOWNSHIPS) and hospitals <= len(demo.HOSPITALS)
    county = Region(
        code=COUNTY_CODE, name="示范县", name_en="Demo County", level=RegionLevel.county
    )
    session.add(county)
    session.flush()
    towns = [
        Region(
            code=f"{COUNTY_CODE}{i:03d}",
            name=zh,
            name_en=f"{en} Township",
            level=RegionLevel.township,
            parent_id=county.id,
        )
        for i, (zh, en) in enumerate(demo.TOWNSHIPS[:sites], start=1)
    ]
    hosps = [
        Hospital(code=code, name=zh, name_en=en, level=level, phone=phone, county_id=county.id)
        for code, zh, en, level, phone in demo.HOSPITALS[:hospitals]
    ]
    session.add_all([*towns, *hosps])
    session.flush()
    site_rows = [
        Site(
            code=f"S{i:02d}",
            name=f"{t.name}卫生院预防接种门诊",
            name_en=f"{t.name_en} Health Centre Vaccination Clinic",
            township_id=t.id,
            county_id=county.id,
            phone=f"0571-88{i:02d}1234",
            primary_hospital_id=hosps[0].id if hosps else None,
            backup_hospital_id=hosps[1].id if len(hosps) > 1 else None,
        )
        for i, t in enumerate(towns, start=1)
    ]
    specs = {spec[0]: spec for spec in demo.VACCINES}
    vaccine_rows = [
        Vaccine(
            code=code,
            name=specs[code][1],
            name_en=specs[code][2],
            manufacturer=specs[code][3],
            observation_minutes=30,
        )
        for code in vaccines
    ]
    session.add_all([*site_rows, *vaccine_rows])
    session.flush()
    expiry = (clock.now() + timedelta(days=365)).date()
    lot_rows = {
        v.code: [
            Lot(
                lot_number=f"{v.code}2026{j:03d}",
                vaccine_id=v.id,
                expiry_on=expiry,
                doses_received=5000,
                status=LotStatus.active,
            )
            for j in range(1, lots_per_vaccine + 1)
        ]
        for v in vaccine_rows
    }
    session.add_all([lot for rows in lot_rows.values() for lot in rows])
    session.flush()
    if users:
        _users(session, county.id, site_rows, hosps)
    session.commit()
    return County(
        county.id,
        [s.id for s in site_rows],
        [h.id for h in hosps],
        {code: [lot.id for lot in rows] for code, rows in lot_rows.items()},
    )


def _users(session: Session, county_id: int, sites: list[Site], hospitals: list[Hospital]):
    """The demo county's users, inserted at once (create_user commits and audits each)."""
    bound_site = {"reporter": 0, "reporter2": 1}
    bound_hospital = {"hospital": 0, "hospital2": 1}
    rows = []
    for username, (role, password) in demo.DEMO_PASSWORDS.items():
        site = bound_site.get(username)
        hospital = bound_hospital.get(username)
        if (site is not None and site >= len(sites)) or (
            hospital is not None and hospital >= len(hospitals)
        ):
            continue  # a county without a second site has no reporter2
        rows.append(
            {
                "username": username,
                "full_name": demo._demo_name(username),
                "role": Role(role).value,
                "county_id": county_id,
                "site_id": sites[site].id if site is not None else None,
                "hospital_id": hospitals[hospital].id if hospital is not None else None,
                "password_hash": _password_hash(password),
                "email": f"{username}@demo.invalid",
                "credential_version": 1,
                "active": True,
                "created_at": clock.now(),
            }
        )
    session.execute(insert(User), rows)


_people = itertools.count(1)


def a_person(
    session: Session,
    county_id: int,
    *,
    name: str | None = None,
    birth_on: date = date(2020, 1, 1),
    sex: str = "female",
    **kw,
) -> Person:
    """A resident of the county with a unique, valid ID number (flushed)."""
    n = next(_people)
    person = Person(
        county_id=county_id,
        name=name or f"受种者{n}",
        id_number=demo._id_number(birth_on, n % 1000),  # valid GB 11643 check digit
        sex=sex,
        birth_on=birth_on,
        **kw,
    )
    session.add(person)
    session.flush()
    return person


def a_dose(
    session: Session,
    county: County,
    *,
    site: int = 0,
    lot: Lot | None = None,
    person: Person | None = None,
    at: datetime | None = None,
    dose_number: int = 1,
    commit: bool = True,
) -> Dose:
    """A dose given at ``county.site_ids[site]``, of ``lot`` (default: the first lot), to
    ``person`` (default: a new person), ``at`` (default: two hours ago)."""
    person = person or a_person(session, county.county_id)
    if lot is None:
        lot = session.exec(select(Lot).order_by(Lot.id)).first()
    dose = Dose(
        person_id=person.id,
        lot_id=lot.id,
        site_id=county.site_ids[site],
        dose_number=dose_number,
        route="im",
        administered_at=at or clock.now() - timedelta(hours=2),
    )
    session.add(dose)
    if commit:
        session.commit()
    else:
        session.flush()
    return dose


def nth_dose_at(session: Session, site_id: int, nth: int = 0) -> Dose:
    """The ``nth`` dose at a site by id, each of a different person; doses for new persons
    (a day ago, of the first lot) are made when the site has fewer."""
    seen: set[int] = set()
    out: list[Dose] = []
    for d in session.exec(select(Dose).where(Dose.site_id == site_id).order_by(Dose.id)):
        if d.person_id not in seen:
            seen.add(d.person_id)
            out.append(d)
        if len(out) > nth:
            return out[nth]
    site = session.get(Site, site_id)
    at_site = County(site.county_id, [site_id], [])
    while len(out) <= nth:
        out.append(a_dose(session, at_site, at=clock.now() - timedelta(days=1)))
    return out[nth]


def report_in(dose: Dose | Sequence[Dose], **kw) -> ReportIn:
    """A valid report card for a reaction 15 minutes after ``dose`` (urticaria,
    recovering, reported by 刘医生); keywords replace any field."""
    doses = [dose] if isinstance(dose, Dose) else list(dose)
    base: dict = dict(
        dose_ids=[d.id for d in doses],
        onset_at=doses[0].administered_at + timedelta(minutes=15),
        symptoms=["URTIC"],
        outcome="recovering",
        reporter_name="刘医生",
        reporter_phone="13800000000",
    )
    base.update(kw)
    return ReportIn(**base)


def file_report(session: Session, actor: Actor, dose: Dose | Sequence[Dose], **kw) -> Report:
    """File ``report_in(dose, **kw)`` as ``actor`` through intake (triaged on return)."""
    return intake_filing.file_report(session, actor, report_in(dose, **kw))


def a_report(
    session: Session,
    county: County,
    username: str = "reporter",
    *,
    dose: Dose | None = None,
    **kw,
) -> Report:
    """A fever on ``dose`` (default: a new dose at the user's site), filed as that user (as
    a new event); keywords replace any field of the card."""
    actor = county.actor(session, username)
    dose = dose or a_dose(session, county, site=county.site_ids.index(actor.site_id))
    return file_report(
        session, actor, dose, **{"symptoms": ["FEVER"], "confirm_new_event": True, **kw}
    )


def a_case(session: Session, report: Report) -> CaseFile:
    """The case file of ``report``, opened as triage opens one (the system actor of the
    report's county); committed."""
    from aefi.investigation.cases import service as case_files

    case = case_files.open_case_for_report(
        session, Actor.system(report.county_id, reason="triage"), report
    )
    session.commit()
    return case


def a_held_lot(session: Session, county: County, note: str = "信号复核中") -> Lot:
    """The first lot by id, held in the county as a signal's review holds it; committed."""
    from aefi.registry import lot_states

    lot = session.exec(select(Lot).order_by(Lot.id)).first()
    lot_states.hold_lot(
        session,
        Actor.system(county.county_id, reason="signal"),
        lot,
        county.county_id,
        signal_id=None,
        note=note,
    )
    session.commit()
    return lot


# --- the triage and referral corner --------------------------------------------------------

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # a Friday, 09:00 in the county
REFERRAL_T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai


def lots(session: Session, n: int = 3) -> list[Lot]:
    """The first ``n`` lots by id."""
    return list(session.exec(select(Lot).order_by(Lot.id).limit(n)))


def new_dose(session: Session, county: County, *, site_index: int, lot: Lot, minutes: int = 0):
    """A dose of ``lot`` for a new person at ``county.site_ids[site_index]``, ``minutes``
    after T0."""
    return a_dose(session, county, site=site_index, lot=lot, at=T0 + timedelta(minutes=minutes))


def file(session: Session, county: County, username: str, dose: Dose, **kw) -> Report:
    """File as ``username`` an anaphylaxis 15 minutes after ``dose``, discovered 5 minutes
    later; keywords replace any field of the card."""
    base: dict = dict(
        onset_at=dose.administered_at + timedelta(minutes=15),
        discovered_at=dose.administered_at + timedelta(minutes=20),
        symptoms=["ANAPH"],
    )
    return file_report(session, county.actor(session, username), dose, **{**base, **kw})


ANAPHYLAXIS = dict(
    symptoms=["ANAPH", "HYPOTEN"],
    serious=SeriousIn(life_threatening=True),
    treatment="肾上腺素0.3mg肌注",
)


def file_anaphylaxis(session: Session, county: County, username: str = "reporter") -> Report:
    """A life-threatening anaphylaxis 15 minutes after a new dose at the user's site, filed
    5 minutes later as that user; the clock is stopped then (REFERRAL_T0 unless a test
    stopped it already). Triage refers it to the site's primary hospital."""
    actor = county.actor(session, username)
    now = clock.now() if clock._frozen is not None else REFERRAL_T0
    clock.freeze(now)
    site = county.site_ids.index(actor.site_id)
    dose = a_dose(session, county, site=site, at=now - timedelta(minutes=20))
    return file_report(session, actor, dose, **ANAPHYLAXIS)


def referral_of(session: Session, report: Report) -> Referral:
    """The first referral triage opened for ``report``."""
    return session.exec(
        select(Referral).where(Referral.report_id == report.id).order_by(Referral.id)
    ).first()


# --- the observation corner ----------------------------------------------------------------

# A day well after any county's doses (the demo county's lie in the 30 days before the real
# now), 10:00 in Shanghai: nothing but what the test records is on the boards.
DAY0 = (datetime.now(UTC) + timedelta(days=60)).replace(hour=2, minute=0, second=0, microsecond=0)


def active_lot(session: Session, code: str = "FLU") -> Lot:
    """An active lot of the vaccine ``code``."""
    v = session.exec(select(Vaccine).where(Vaccine.code == code)).one()
    return session.exec(
        select(Lot).where(Lot.vaccine_id == v.id, Lot.status == LotStatus.active)
    ).first()


def give(
    session: Session,
    actor: Actor,
    site: Site,
    lot: Lot,
    n: int,
    *,
    name: str = "王小明",
    at: datetime | None = None,
) -> Dose:
    """Record dose ``n`` (the person's ID number ends in ``n``) through the registry, as
    the registry form or the API does (the observation board gets its row)."""
    return registry_doses.record_dose(
        session,
        actor,
        DoseCreate(
            person=PersonIn(name=name, id_number=f"33078220200101{n:04d}", sex="male"),
            lot_number=lot.lot_number,
            site_code=site.code,
            dose_number=1,
            administered_at=at or clock.now(),
        ),
    )


def complete_values() -> dict[str, dict[str, str]]:
    """Every required field of the investigation form, filled (by section)."""
    from aefi.investigation import sections

    out: dict[str, dict[str, str]] = {}
    for section in sections.SECTIONS:
        values = {}
        for f in section.fields:
            if not f.required:
                continue
            if f.kind == "yesno":
                values[f.name] = "yes" if f.concern != "yes" else "no"
            elif f.kind == "choice":
                values[f.name] = f.choices[0][0]
            elif f.kind == "int":
                values[f.name] = "0"
            elif f.kind == "date":
                values[f.name] = "2026-03-03"
            else:
                values[f.name] = "已记录"
        out[section.key] = values
    return out


# --- VAERS files -------------------------------------------------------------------------------

DATA_HEAD = (
    "VAERS_ID,RECVDATE,STATE,AGE_YRS,CAGE_YR,CAGE_MO,SEX,RPT_DATE,SYMPTOM_TEXT,DIED,DATEDIED,"
    "L_THREAT,ER_VISIT,HOSPITAL,HOSPDAYS,X_STAY,DISABLE,RECOVD,VAX_DATE,ONSET_DATE,NUMDAYS,"
    "LAB_DATA,V_ADMINBY,V_FUNDBY,OTHER_MEDS,CUR_ILL,HISTORY,PRIOR_VAX,SPLTTYPE\n"
)
VAX_HEAD = "VAERS_ID,VAX_TYPE,VAX_MANU,VAX_LOT,VAX_DOSE,VAX_ROUTE,VAX_SITE,VAX_NAME\n"
SYM_HEAD = (
    "VAERS_ID,SYMPTOM1,SYMPTOMVERSION1,SYMPTOM2,SYMPTOMVERSION2,SYMPTOM3,SYMPTOMVERSION3,"
    "SYMPTOM4,SYMPTOMVERSION4,SYMPTOM5,SYMPTOMVERSION5\n"
)


def data_row(vid: str, recv: str, died: str = "", text: str = "pt febrile; seizure") -> str:
    """A row of a VAERSDATA file: a Californian toddler, recovered."""
    return (
        f'{vid},{recv},CA,1.2,1,,F,{recv},"{text}",{died},,,,,,,,Y,{recv},{recv},0,,PUB,PUB,,,,,\n'
    )


def write_year(folder: Path, year: int, data: list[str], vax: list[str], sym: list[str]) -> None:
    """The three VAERS files of ``year`` (DATA, VAX, SYMPTOMS) in ``folder``."""
    (folder / f"{year}VAERSDATA.csv").write_text(DATA_HEAD + "".join(data), encoding="latin-1")
    (folder / f"{year}VAERSVAX.csv").write_text(VAX_HEAD + "".join(vax), encoding="latin-1")
    (folder / f"{year}VAERSSYMPTOMS.csv").write_text(SYM_HEAD + "".join(sym), encoding="latin-1")


def vaers_data_row(vid: str, recv: str, *, died: str = "", x_stay: str = "") -> str:
    """A row of a VAERSDATA file, every column named."""
    cols = dict.fromkeys(DATA_HEAD.strip().split(","), "")
    cols.update(VAERS_ID=vid, RECVDATE=recv, VAX_DATE=recv, ONSET_DATE=recv, RECOVD="Y",
                DIED=died, X_STAY=x_stay, SEX="F", SYMPTOM_TEXT="text")  # fmt: skip
    return ",".join(cols.values()) + "\n"


def a_small_vaers_year(folder: Path) -> None:
    """1996 in 30 reports: ten MMR reports with one lot written three ways and a term of no
    aefi code (gaze palsy) twice on a report; the rest DTP or OPV with pyrexia."""
    data, vax, sym = [], [], []
    for k in range(1, 31):
        vid = f"{k:06d}"
        recv = f"0{1 + k % 3}/{10 + k % 9}/1996"
        data.append(vaers_data_row(vid, recv, x_stay="Y" if k == 5 else ""))
        vtype = "MMR" if k <= 10 else ["DTP", "OPV"][k % 2]
        lot = ["EJN*157A", "ejn-157a", "EJN157A"][k % 3] if vtype == "MMR" else "L1"
        dose = ["", "0", "2"][k % 3]
        vax.append(f"{vid},{vtype},MERCK,{lot},{dose},SC,LA,{vtype} (BRAND)\n")
        if vtype == "MMR":
            # A term of no aefi code, twice on one report (two symptom rows).
            sym.append(f"{vid},Gaze palsy,8.1,Pyrexia,8.1,,,,,,\n")
            sym.append(f"{vid},gaze  PALSY,8.1,,,,,,,,\n")
        else:
            sym.append(f"{vid},Pyrexia,8.1,Dizziness,8.1,,,,,,\n")
    write_year(folder, 1996, data, vax, sym)


def answer_checkins(session: Session, county: County, lot_id: int, *, well: int, fever: int):
    """``well + fever`` new vaccinees of the lot (dosed yesterday) answer their day-1
    check-in through the personal link and the public service: ``fever`` of them unwell
    with a fever, the others well."""
    from aefi.aftercare import links
    from aefi.aftercare.checkin import service as checkin
    from aefi.aftercare.schemas import AnswerIn
    from aefi.settings import get_settings

    settings = get_settings()
    lot = session.get(Lot, lot_id)
    yesterday = clock.now() - timedelta(hours=26)
    for i in range(well + fever):
        dose = a_dose(session, county, lot=lot, at=yesterday)
        token = links.link_for(session, dose, settings, "http://test").token
        data = (
            AnswerIn(
                answer="unwell", symptoms=["fever"], onset_on=links.local_day(dose), severity="mild"
            )
            if i < fever
            else AnswerIn(answer="well")
        )
        checkin.record_answer(session, token, data, settings)


def local_midnight_edges(zone: str, days: Sequence[datetime]) -> list[datetime]:
    """Instants in UTC at and around local midnight of each day in ``zone`` (half a
    millisecond before it, on it, a quarter hour either side) and one in the morning: where a
    count by local day goes wrong if it does."""
    tz = ZoneInfo(zone)
    out = []
    for day in days:
        midnight = day.replace(tzinfo=tz).astimezone(UTC)
        for delta in (
            -timedelta(microseconds=500),
            timedelta(0),
            timedelta(minutes=14, seconds=59),
            -timedelta(minutes=15),
            timedelta(hours=9, minutes=7),
        ):
            out.append(midnight + delta)
    return out
