"""Expected rates: the table the scans compare observed counts with (admin edits it)."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from aefi import audit, clock
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid, NotFound
from aefi.i18n import N_
from aefi.registry.models import Vaccine
from aefi.signals import access, expected
from aefi.signals.models import (
    ExpectedRate,
)


def ensure_default_rates(session: Session) -> None:
    """On first use the table is a copy of the shipped ``rates.csv`` (DOMAIN.md's rates).
    To switch a pair off, set its rate to 0: an empty table is filled again."""
    if session.exec(select(ExpectedRate.id).limit(1)).first() is not None:
        return
    try:
        with session.begin_nested():
            for r in expected.default_rates():
                session.add(
                    ExpectedRate(
                        vaccine_code=r.vaccine_code,
                        event_group=r.event_group,
                        rate_per_dose=r.rate_per_dose,
                        window_start_days=r.window_start_days,
                        window_end_days=r.window_end_days,
                        source=r.source,
                        updated_by="aefi (shipped default)",
                    )
                )
    except IntegrityError:  # another process filled it at the same moment
        pass


def current_rates(session: Session) -> list[expected.Rate]:
    ensure_default_rates(session)
    return [
        expected.Rate(
            r.vaccine_code,
            r.event_group,
            r.rate_per_dose,
            r.window_start_days,
            r.window_end_days,
            r.source,
        )
        for r in session.exec(select(ExpectedRate).order_by(ExpectedRate.id))
    ]


def list_rates(session: Session, actor: Actor) -> list[ExpectedRate]:
    require_role(actor, *access.READERS)
    ensure_default_rates(session)
    session.commit()
    return list(
        session.exec(
            select(ExpectedRate).order_by(ExpectedRate.event_group, ExpectedRate.vaccine_code)
        )
    )


def get_rate(session: Session, actor: Actor, rate_id: int) -> ExpectedRate:
    require_role(actor, *access.READERS)
    row = session.get(ExpectedRate, rate_id)
    if row is None:
        raise NotFound("Not found.")
    return row


RATE_FIELDS = (
    "vaccine_code",
    "event_group",
    "rate_per_dose",
    "window_start_days",
    "window_end_days",
    "source",
)


def save_rate(
    session: Session, actor: Actor, rate_id: int | None, values: dict[str, Any]
) -> ExpectedRate:
    """Add or edit an expected rate (admin); every change is in the audit trail."""
    require_role(actor, *access.RATE_EDITORS)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in RATE_FIELDS:
        raw = values.get(name)
        if name in ("vaccine_code", "event_group", "source"):
            clean[name] = str(raw or "").strip()
            continue
        try:
            clean[name] = float(str(raw).strip())
            if not math.isfinite(clean[name]):
                raise ValueError
        except (TypeError, ValueError):
            errors[name] = N_("Enter a number.")
            clean[name] = 0.0
    clean["vaccine_code"] = clean["vaccine_code"].upper() if clean["vaccine_code"] != "*" else "*"
    errors = {
        **expected.check_rate(expected.Rate(**clean)),
        **errors,
    }
    if clean["vaccine_code"] not in ("", expected.ALL_VACCINES):
        known = session.exec(select(Vaccine.id).where(Vaccine.code == clean["vaccine_code"]))
        if known.first() is None:
            errors["vaccine_code"] = N_("No vaccine with this code.")
    clash = session.exec(
        select(ExpectedRate).where(
            ExpectedRate.vaccine_code == clean["vaccine_code"],
            ExpectedRate.event_group == clean["event_group"],
        )
    ).first()
    if clash is not None and clash.id != rate_id:
        errors["event_group"] = N_("This vaccine has a rate for this event group already.")
    if errors:
        raise Invalid("Some fields need correcting.", fields=errors)
    if rate_id is None:
        row = ExpectedRate(**clean, updated_at=clock.now(), updated_by=actor.name)
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "create",
            "expected_rate",
            row.id,
            changes=audit.snapshot(row),
            summary=f"{row.vaccine_code} {row.event_group}",
        )
    else:
        row = get_rate(session, actor, rate_id)
        before = audit.snapshot(row, exclude=("updated_at", "updated_by"))
        for k, v in clean.items():
            setattr(row, k, v)
        row.updated_at = clock.now()
        row.updated_by = actor.name
        session.add(row)
        session.flush()
        changes = audit.diff(before, audit.snapshot(row, exclude=("updated_at", "updated_by")))
        if changes:
            audit.record(
                session,
                actor,
                "update",
                "expected_rate",
                row.id,
                changes=changes,
                summary=f"{row.vaccine_code} {row.event_group}",
            )
    session.commit()
    return row


# --- doses planned per product (the end of the fixed surveillance plans) -----------------

MAX_PLANNED_DOSES = 1_000_000_000


def list_products(session: Session, actor: Actor) -> list[Vaccine]:
    require_role(actor, *access.READERS)
    return list(session.exec(select(Vaccine).order_by(Vaccine.code)))


def set_planned_doses(session: Session, actor: Actor, vaccine_id: int, raw: Any) -> Vaccine:
    """The doses planned for a product's surveillance (admin; blank clears it), audited.

    Used by plans that start from now on, and raises the T of running plans of the product
    and of its lots without a recorded size (a plan's T is never lowered)."""
    require_role(actor, *access.RATE_EDITORS)
    vac = session.get(Vaccine, vaccine_id)
    if vac is None:
        raise NotFound("Not found.")
    text_value = str(raw or "").strip()
    value: int | None
    if not text_value:
        value = None
    else:
        if not (text_value.isascii() and text_value.isdigit() and len(text_value) <= 10):
            raise Invalid(
                "Some fields need correcting.",
                fields={"planned_doses": N_("Enter a whole number of doses, or leave it blank.")},
            )
        value = int(text_value)
        if not 1 <= value <= MAX_PLANNED_DOSES:
            raise Invalid(
                "Some fields need correcting.",
                fields={"planned_doses": N_("Enter a number from 1 to 1,000,000,000.")},
            )
    before = vac.planned_doses
    if before != value:
        vac.planned_doses = value
        session.add(vac)
        audit.record(
            session,
            actor,
            "update",
            "vaccine",
            vac.id,
            changes={"planned_doses": [before, value]},
            summary=f"{vac.code} planned doses",
        )
    session.commit()
    return vac
