"""The region frame: a county placed under its province, frame regions added by the admin."""

from __future__ import annotations

from sqlmodel import Session, select

from aefi import audit
from aefi.auth.permissions import Actor
from aefi.errors import Invalid, NotFound
from aefi.registry.models import (
    Region,
    RegionLevel,
)


def add_frame_region(
    session: Session,
    *,
    code: str,
    name: str,
    level: str,
    parent_code: str = "",
    name_en: str = "",
) -> Region:
    """The operator (command line) adds a province, or a county below its province."""
    if level not in (RegionLevel.province, RegionLevel.county):
        raise Invalid("Some fields need correcting.", fields={"level": "province or county"})
    if session.exec(select(Region).where(Region.code == code.strip())).first() is not None:
        raise Invalid("Some fields need correcting.", fields={"code": f"{code} exists already."})
    parent = None
    if parent_code.strip():
        parent = session.exec(
            select(Region).where(
                Region.code == parent_code.strip(), Region.level == RegionLevel.province
            )
        ).first()
        if parent is None or level != RegionLevel.county:
            raise Invalid(
                "Some fields need correcting.",
                fields={"parent": f"no province with code {parent_code}"},
            )
    region = Region(
        code=code.strip(),
        name=name.strip(),
        name_en=name_en.strip(),
        level=level,
        parent_id=parent.id if parent else None,
    )
    session.add(region)
    session.flush()
    audit.record(
        session,
        Actor.system(region.id, reason="command line: add region"),
        "create",
        "region",
        region.id,
        changes=audit.snapshot(region),
        summary=region.code,
        county_id=region.id,
    )
    session.commit()
    return region


def place_county(session: Session, *, county_code: str, province_code: str) -> Region:
    """The operator puts a county below a province (audited)."""
    county = session.exec(
        select(Region).where(Region.code == county_code, Region.level == RegionLevel.county)
    ).first()
    province = session.exec(
        select(Region).where(Region.code == province_code, Region.level == RegionLevel.province)
    ).first()
    if county is None or province is None:
        raise NotFound("Not found.")
    before = {"parent_id": county.parent_id}
    county.parent_id = province.id
    session.add(county)
    audit.record(
        session,
        Actor.system(county.id, reason="command line: place county"),
        "update",
        "region",
        county.id,
        changes=audit.diff(before, {"parent_id": province.id}),
        summary=f"{county.code} → {province.code}",
        county_id=county.id,
    )
    session.commit()
    return county
