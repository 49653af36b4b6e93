"""Which vaccinee and dose a draft of the report form is about: its subject key.

A person keeps one draft per dose (saving again updates it, filing a report for the dose
removes it), and a draft is offered only on the form for its own dose. The key is the
linked dose (the first one, by id, when several were given together), or for a dose given
elsewhere and typed by hand, the patient's ID number and the lot. A form that names neither
yet has no key (a draft with no subject, kept until it names one)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

KEY_MAX = 160
_HAND_LOT = re.compile(r"^hand-(\d{1,2})-lot_number$")


def dose_key(dose_id: int) -> str:
    return f"dose:{dose_id}"


def hand_key(id_number: str, lot_number: str) -> str | None:
    person = (id_number or "").strip().upper()
    if not person:
        return None
    lot = (lot_number or "").strip()
    return f"person:{person}|lot:{lot}"[:KEY_MAX]


def _ids(values: Iterable[Any]) -> list[int]:
    return sorted({int(v) for v in values if str(v).isdigit() and 0 < int(v) < 2**63})


def subject_key(payload: dict[str, Any]) -> str | None:
    """The subject of a draft's payload (the report form's fields, as typed)."""
    ids = _ids(payload.get("dose_ids") or [])
    if ids:
        return dose_key(ids[0])
    rows = sorted(
        (int(m.group(1)), str(v))
        for k, v in payload.items()
        if (m := _HAND_LOT.match(k)) and str(v).strip()
    )
    return hand_key(str(payload.get("patient_id_number") or ""), rows[0][1] if rows else "")


def filed_keys(
    dose_ids: Iterable[int], id_number: str | None, hand_lots: Iterable[str]
) -> set[str]:
    """Every subject key a filed report settles: each of its linked doses, and each of its
    hand-entered doses of the patient."""
    keys = {dose_key(i) for i in dose_ids}
    for lot in hand_lots:
        key = hand_key(id_number or "", lot)
        if key:
            keys.add(key)
    return keys
