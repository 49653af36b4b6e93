"""How triage's values are shown to a reader."""

from __future__ import annotations

from aefi import i18n
from aefi.intake.symptoms import EVENT_GROUPS


def group_name(group: str) -> str:
    """An event group's name in the reader's language (the code itself when unknown)."""
    zh, en = EVENT_GROUPS.get(group, (group, group))
    return i18n.pick(zh, en)
