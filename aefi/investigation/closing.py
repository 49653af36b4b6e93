"""Whether a case may close: what of the investigation form is still missing, and the
reasons an investigator may give for closing it anyway.

A case file closes complete — every required field of the investigation form filled — or
with a reason why it cannot be: the patient was lost to follow-up, the family refused the
investigation, or another reason written out. The form's required fields are the ones
the national AEFI surveillance plan's 个案调查表 needs for the expert panel
(``aefi.investigation.sections``).

Pure: saved form values in, plain values and msgids out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from aefi.i18n import N_
from aefi.investigation import sections


class CloseReason(enum.StrEnum):
    """Why a case closes with parts of its investigation form empty."""

    lost_to_follow_up = "lost_to_follow_up"
    refused_by_family = "refused_by_family"
    other = "other"


CLOSE_REASON_LABELS: dict[str, str] = {
    CloseReason.lost_to_follow_up: N_("Lost to follow-up"),
    CloseReason.refused_by_family: N_("Investigation refused by the family"),
    CloseReason.other: N_("Other reason"),
}


@dataclass(frozen=True)
class MissingSection:
    """A section of the form with required fields still empty."""

    key: str
    title: str  # msgid
    fields: tuple[str, ...]  # msgids of the empty required fields
    empty: bool  # nothing of the section was filled at all

    @property
    def anchor(self) -> str:
        return f"section-{self.key}"


def what_is_missing(saved: dict[str, dict[str, Any]]) -> list[MissingSection]:
    """The sections (in the form's order) whose required fields are not all filled;
    ``saved`` maps a section key to its saved values."""
    out = []
    for section in sections.SECTIONS:
        values = saved.get(section.key) or {}
        empty_required = tuple(
            f.label for f in section.fields if f.required and values.get(f.name) in (None, "")
        )
        if empty_required:
            anything = any(values.get(f.name) not in (None, "") for f in section.fields)
            out.append(MissingSection(section.key, section.title, empty_required, not anything))
    return out


def section_empty(values: dict[str, Any] | None) -> bool:
    """Nothing of a section was filled: what a printed form marks "not filled in"."""
    return not values or all(v in (None, "") for v in values.values())


@dataclass(frozen=True)
class CloseCheck:
    """The outcome of the closing rule: the error (msgid) and the field it concerns, or
    none when the case may close; the reason as it is stored."""

    error: str = ""
    field: str = ""
    reason: str = ""
    reason_text: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def check_close(
    missing: list[MissingSection], reason: str | None, reason_text: str = ""
) -> CloseCheck:
    """A case with its form complete closes (a reason given anyway is kept); one with
    sections missing needs a reason, and "other" needs the reason written out."""
    text = (reason_text or "").strip()
    code = (reason or "").strip()
    if code and code not in CloseReason.__members__:
        return CloseCheck(N_("Choose one of the reasons."), "reason")
    if code == CloseReason.other and not text:
        return CloseCheck(N_("Write the reason for closing the case."), "reason_text")
    if missing and not code:
        return CloseCheck(
            N_(
                "The investigation form is not complete: fill in the sections listed, or "
                "give the reason they cannot be filled."
            ),
            "reason",
        )
    return CloseCheck(reason=code, reason_text=text if code else "")
