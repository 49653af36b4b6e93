"""The report page's follow-up form: what was typed, parsed once by a pydantic model, and
what it asks for (a ``FollowUpIn``) or the messages beside the fields that are wrong.

Every value is kept as typed, so a page shown again with a message loses nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from aefi.i18n import gettext
from aefi.intake.models import Outcome
from aefi.intake.schemas import FollowUpIn
from aefi.web import parse_local

TEXTS = ("outcome", "hospital_name", "diagnosis", "treatment", "note", "at")
# Boxes a follow-up can tick; an unticked box never clears a fact already on the card.
FLAGS = (
    "death",
    "life_threatening",
    "hospitalization",
    "disability",
    "already_in_hospital",
    "diagnosis_clear",
)
# A follow-up dated a little ahead of the server's clock is a clock skew, not the future.
FUTURE_SLACK = timedelta(minutes=5)
NOTE_MAX = 4000


class FollowUpForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    outcome: str = ""
    hospital_name: str = ""
    diagnosis: str = ""
    treatment: str = ""
    note: str = ""
    at: str = ""
    death: bool = False
    life_threatening: bool = False
    hospitalization: bool = False
    disability: bool = False
    already_in_hospital: bool = False
    diagnosis_clear: bool = False
    symptoms_added: list[str] = []

    @classmethod
    def from_form(cls, form: Any) -> FollowUpForm:
        """From Starlette's FormData: a ticked box is any value sent under its name."""
        data: dict[str, Any] = {k: str(form.get(k) or "") for k in TEXTS}
        data.update({k: bool(form.get(k)) for k in FLAGS})
        data["symptoms_added"] = [str(v) for v in form.getlist("symptoms_added")]
        return cls.model_validate(data)

    def typed(self) -> dict[str, Any]:
        """The values as the page shows them again (a ticked box as "1")."""
        values: dict[str, Any] = {k: getattr(self, k) for k in TEXTS}
        values.update({k: "1" if getattr(self, k) else "" for k in FLAGS})
        values["symptoms_added"] = list(self.symptoms_added)
        return values

    def parse(self, now: datetime) -> tuple[FollowUpIn | None, dict[str, str]]:
        """What the follow-up asks for, or the translated messages by field."""
        errors: dict[str, str] = {}
        at = None
        try:
            at = parse_local(self.at) if self.at.strip() else None
        except ValueError:
            errors["at"] = gettext("Enter a date and time.")
        if at is not None and at > now + FUTURE_SLACK:
            errors["at"] = gettext("The time of the follow-up lies in the future.")
        if errors:
            return None, errors
        fields: dict[str, Any] = {k: True for k in FLAGS if getattr(self, k)}
        if self.outcome in Outcome.__members__:
            fields["outcome"] = self.outcome
        for k in ("hospital_name", "diagnosis", "treatment"):
            if getattr(self, k).strip():
                fields[k] = getattr(self, k).strip()
        body = FollowUpIn(
            **fields, symptoms_added=list(self.symptoms_added), note=self.note[:NOTE_MAX], at=at
        )
        return body, {}
