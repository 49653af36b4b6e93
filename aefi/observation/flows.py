"""What the observation area does when other things happen (``aefi/flow.py``): a report
filed on a dose under observation marks its row; a background job puts new doses on the
boards and closes the rows whose referral reached the hospital even when no board is open,
so the day's counts do not depend on a screen being watched."""

from __future__ import annotations

from sqlmodel import Session

from aefi.auth.permissions import Actor
from aefi.events import ReportFiled
from aefi.intake.models import Report
from aefi.observation import service


def on_report_filed(session: Session, actor: Actor, event: ReportFiled) -> None:
    service.note_reaction(session, session.get(Report, event.report_id))


def sync_boards(session: Session) -> None:
    service.refresh_sites(session)
