"""A believable demo county: townships with a site each, green-channel hospitals,
vaccine products and lots, persons and 200,000 dose records over the last 90 days.

Demo users and their passwords exist only when this module builds the demo county."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select
from sqlmodel import Session

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.auth.users import service as auth_users
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

TOWNSHIPS = [
    ("城关镇", "Chengguan"),
    ("东湖镇", "Donghu"),
    ("西山乡", "Xishan"),
    ("南塘镇", "Nantang"),
    ("北岭乡", "Beiling"),
    ("青石镇", "Qingshi"),
    ("白沙镇", "Baisha"),
    ("柳河乡", "Liuhe"),
    ("松林镇", "Songlin"),
    ("石桥镇", "Shiqiao"),
    ("清水乡", "Qingshui"),
    ("桃源镇", "Taoyuan"),
]
HOSPITALS = [
    ("H01", "县人民医院", "County People's Hospital", "二级甲等", "0571-8800120"),
    (
        "H02",
        "县中医院",
        "County Hospital of Traditional Chinese Medicine",
        "二级甲等",
        "0571-8800230",
    ),
    (
        "H03",
        "县妇幼保健院",
        "County Maternal and Child Health Hospital",
        "二级乙等",
        "0571-8800340",
    ),
]
# Where each hospital is: the check-in page's red-flag box gives the address beside the phone.
HOSPITAL_ADDRESSES = {
    "H01": "示范县城关镇人民路 88 号",
    "H02": "示范县城关镇健康路 16 号",
    "H03": "示范县城关镇育才路 5 号",
}
# code, name, English name, manufacturer, (min age days, max age days), share of doses, doses in series
VACCINES = [
    ("HEPB", "乙型肝炎疫苗", "Hepatitis B vaccine", "华兰生物疫苗股份有限公司", (0, 200), 0.12, 3),
    ("BCG", "卡介苗", "BCG vaccine", "上海生物制品研究所", (0, 30), 0.04, 1),
    ("DTAP", "吸附无细胞百白破联合疫苗", "DTaP vaccine", "武汉生物制品研究所", (90, 2200), 0.16, 4),
    (
        "MMR",
        "麻腮风联合减毒活疫苗",
        "MMR vaccine",
        "北京天坛生物制品股份有限公司",
        (240, 2200),
        0.08,
        2,
    ),
    (
        "IPV",
        "脊髓灰质炎灭活疫苗",
        "Inactivated poliovirus vaccine",
        "中国医学科学院医学生物学研究所",
        (60, 1500),
        0.10,
        4,
    ),
    (
        "JEL",
        "乙脑减毒活疫苗",
        "Japanese encephalitis live vaccine",
        "成都生物制品研究所",
        (240, 800),
        0.05,
        2,
    ),
    (
        "HEPA",
        "甲型肝炎减毒活疫苗",
        "Hepatitis A live vaccine",
        "长春生物制品研究所",
        (540, 1500),
        0.04,
        1,
    ),
    (
        "FLU",
        "流感病毒裂解疫苗",
        "Influenza vaccine (split virion)",
        "华兰生物疫苗股份有限公司",
        (180, 30000),
        0.25,
        1,
    ),
    (
        "COV",
        "新型冠状病毒灭活疫苗（Vero细胞）",
        "COVID-19 vaccine (inactivated, Vero cell)",
        "北京科兴中维生物技术有限公司",
        (6570, 30000),
        0.10,
        3,
    ),
    (
        "VAR",
        "水痘减毒活疫苗",
        "Varicella live vaccine",
        "长春百克生物科技股份公司",
        (365, 4500),
        0.06,
        2,
    ),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉玲凤晨浩宇轩梓涵欣怡子墨一诺雨桐思远嘉豪"
VACCINATORS = ["陈护士", "林护士", "周医生", "黄护士", "吴医生", "郑护士"]

DEMO_PASSWORDS = {
    "admin": ("admin", "demo-admin-1"),
    "reporter": ("reporter", "demo-reporter-1"),
    "reporter2": ("reporter", "demo-reporter-2"),
    "investigator": ("investigator", "demo-investigator-1"),
    "bureau": ("bureau", "demo-bureau-1"),
    "hospital": ("hospital", "demo-hospital-1"),
    "hospital2": ("hospital", "demo-hospital-2"),
    "iis": ("api_client", "demo-iis-1"),
}


@dataclass(frozen=True)
class DemoCounty:
    county_id: int
    site_ids: list[int]
    hospital_ids: list[int]
    doses: int


def _id_number(birth: date, seq: int) -> str:
    """An 18-digit resident ID with a valid ISO 7064 MOD 11-2 check digit (GB 11643)."""
    body = f"330782{birth:%Y%m%d}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


# The frame's doses end three hours before now, whatever the hour: a reaction noted within
# two hours of any of them lies in the past (the board's doses of the last 30 minutes are
# ``live``'s, put there when the demo server starts).
FRAME_ENDS_BEFORE_NOW = timedelta(hours=3)


def is_loaded(session: Session) -> bool:
    return session.exec(select(Region.id).limit(1)).first() is not None


def build(
    session: Session,
    *,
    doses: int = 200_000,
    days: int = 90,
    seed: int = 20261125,
    with_users: bool = True,
    quiet: tuple[str, datetime, datetime] | None = None,
) -> DemoCounty:
    """Build the demo county into an empty database. ``quiet``: (vaccine code, from, to)
    — the first lot of that vaccine gets no doses then (the demo's halted lot)."""
    rng = random.Random(seed)
    now = clock.now()
    county = Region(code="330782", name="示范县", name_en="Demo County", level=RegionLevel.county)
    session.add(county)
    session.flush()
    towns = []
    for i, (zh, en) in enumerate(TOWNSHIPS, start=1):
        t = Region(
            code=f"330782{i:03d}",
            name=zh,
            name_en=f"{en} Township",
            level=RegionLevel.township,
            parent_id=county.id,
        )
        session.add(t)
        towns.append(t)
    hospitals = []
    for code, zh, en, level, phone in HOSPITALS:
        h = Hospital(
            code=code,
            name=zh,
            name_en=en,
            level=level,
            phone=phone,
            address=HOSPITAL_ADDRESSES[code],
            county_id=county.id,
        )
        session.add(h)
        hospitals.append(h)
    session.flush()
    sites = []
    for i, t in enumerate(towns, start=1):
        primary = hospitals[0] if i % 3 else hospitals[2]
        backup = hospitals[1] if primary is not hospitals[1] else hospitals[0]
        s = Site(
            code=f"S{i:02d}",
            name=f"{t.name}卫生院预防接种门诊",
            name_en=f"{t.name_en} Health Centre Vaccination Clinic",
            township_id=t.id,
            county_id=county.id,
            phone=f"0571-88{i:02d}1234",
            primary_hospital_id=primary.id,
            backup_hospital_id=backup.id,
        )
        session.add(s)
        sites.append(s)
    vaccines = []
    for code, zh, en, maker, _ages, _share, _series in VACCINES:
        v = Vaccine(code=code, name=zh, name_en=en, manufacturer=maker, observation_minutes=30)
        session.add(v)
        vaccines.append(v)
    session.flush()
    lots_by_vaccine: dict[int, list[Lot]] = {}
    for v, spec in zip(vaccines, VACCINES, strict=True):
        n_lots = max(4, round(spec[5] * 70))
        for j in range(n_lots):
            lot = Lot(
                lot_number=f"{spec[0]}{2026}{rng.randint(10, 12):02d}{j + 1:03d}",
                vaccine_id=v.id,
                expiry_on=(now + timedelta(days=rng.randint(120, 700))).date(),
                doses_received=rng.randint(2000, 8000),
                status=LotStatus.active,
            )
            session.add(lot)
            lots_by_vaccine.setdefault(v.id, []).append(lot)
    session.flush()
    _doses(session, rng, county.id, sites, vaccines, lots_by_vaccine, doses, days, now, quiet)
    system = Actor.system(county.id, reason="demo county")
    if with_users:
        for username, (role, password) in DEMO_PASSWORDS.items():
            auth_users.create_user(
                session,
                system,
                username=username,
                password=password,
                role=Role(role),
                county_id=county.id,
                full_name=_demo_name(username),
                site_id=sites[0].id
                if username == "reporter"
                else (sites[1].id if username == "reporter2" else None),
                hospital_id=hospitals[0].id
                if username == "hospital"
                else (hospitals[1].id if username == "hospital2" else None),
                email=f"{username}@demo.invalid",
            )
    audit.record(
        session,
        system,
        "demo_built",
        "region",
        county.id,
        county_id=county.id,
        summary=f"demo county with {doses} doses",
    )
    session.commit()
    return DemoCounty(county.id, [s.id for s in sites], [h.id for h in hospitals], doses)


def _demo_name(username: str) -> str:
    return {
        "admin": "系统管理员",
        "reporter": "刘医生（城关镇留观）",
        "reporter2": "陈医生（东湖镇留观）",
        "investigator": "王调查员（县疾控）",
        "bureau": "赵科长（县卫健局）",
        "hospital": "县人民医院急诊科",
        "hospital2": "县中医院急诊科",
        "iis": "免疫规划信息系统",
    }.get(username, username)


def _doses(
    session, rng, county_id, sites, vaccines, lots_by_vaccine, total, days, now, quiet=None
) -> None:
    shares = [spec[5] for spec in VACCINES]
    site_weights = [rng.uniform(0.6, 1.6) for _ in sites]
    people: list[dict] = []
    dose_rows: list[dict] = []
    # Persons: ~0.6 per dose, so that series vaccines give several doses to one child.
    n_people = int(total * 0.6)
    per_birthday: dict[date, int] = {}
    for _k in range(n_people):
        spec = rng.choices(VACCINES, weights=shares)[0]
        age_days = rng.randint(*spec[4])
        birth = (now - timedelta(days=age_days + days)).date()
        sex = rng.choice(("male", "female"))
        seq = per_birthday[birth] = per_birthday.get(birth, 0) + 1
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        people.append(
            {
                "county_id": county_id,
                "name": name,
                "id_number": _id_number(birth, seq),
                "sex": sex,
                "birth_on": birth,
                "phone": f"13{rng.randint(100000000, 999999999)}",
                "address": "",
                "guardian_name": (rng.choice(SURNAMES) + rng.choice(GIVEN))
                if age_days < 6570
                else "",
                "_vaccine": spec,
                "_site": rng.choices(range(len(sites)), weights=site_weights)[0],
            }
        )
    person_ids: list[int] = []
    for i in range(0, len(people), 10000):
        chunk = [
            {k: v for k, v in p.items() if not k.startswith("_")} for p in people[i : i + 10000]
        ]
        result = session.execute(
            insert(Person).returning(Person.id, sort_by_parameter_order=True), chunk
        )
        person_ids.extend(pid for (pid,) in result)
    vaccine_by_code = {v.code: v for v in vaccines}
    made = 0
    idx = 0
    while made < total:
        p = people[idx % len(people)]
        pid = person_ids[idx % len(people)]
        idx += 1
        spec = p["_vaccine"]
        v = vaccine_by_code[spec[0]]
        site = sites[p["_site"]]
        dose_number = min(spec[6], 1 + (idx // len(people)))
        # Working hours 08:00–16:30 local (UTC+8), more doses on weekdays.
        day = now - timedelta(days=rng.randint(0, days - 1))
        if day.weekday() >= 5 and rng.random() < 0.7:
            day -= timedelta(days=2)
        at = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            hours=rng.uniform(0, 8.5)
        )  # 00:00–08:30 UTC is 08:00–16:30 in China
        if at > now - FRAME_ENDS_BEFORE_NOW:
            at -= timedelta(days=1)
        lot = rng.choice(lots_by_vaccine[v.id])
        if quiet is not None and spec[0] == quiet[0] and quiet[1] <= at <= quiet[2]:
            lot = rng.choice(lots_by_vaccine[v.id][1:])  # the first lot was stopped then
        dose_rows.append(
            {
                "person_id": pid,
                "lot_id": lot.id,
                "site_id": site.id,
                "dose_number": dose_number,
                "route": {"BCG": "id", "HEPA": "sc", "MMR": "sc", "JEL": "sc", "VAR": "sc"}.get(
                    spec[0], "im"
                ),
                "body_site": rng.choice(("左上臂三角肌", "右上臂三角肌")),
                "administered_at": at,
                "vaccinator": rng.choice(VACCINATORS),
                "created_at": at,
            }
        )
        made += 1
        if len(dose_rows) >= 20000:
            session.execute(insert(Dose), dose_rows)
            dose_rows = []
    if dose_rows:
        session.execute(insert(Dose), dose_rows)
    session.flush()


def credentials() -> list[tuple[str, str, str]]:
    return [(u, role, pw) for u, (role, pw) in DEMO_PASSWORDS.items()]
