"""What the public check-in page takes."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from aefi.aftercare.models import Answer


class AnswerIn(BaseModel):
    answer: Answer
    symptoms: list[str] = Field(default_factory=list, max_length=20)
    onset_on: date | None = None
    severity: str = Field(default="", max_length=16)
    seen_doctor: bool | None = None
    note: str = Field(default="", max_length=1000)
