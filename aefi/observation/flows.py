"""What the observation area does when other things happen: a report filed on a dose under
observation marks its row; a background job puts new doses on the boards even when no
board is open, so the day's counts do not depend on a screen being watched."""

from __future__ import annotations

from sqlmodel import Session

from aefi import background
from aefi.auth.permissions import Actor
from aefi.intake import events
from aefi.intake.models import Report
from aefi.observation import service


def on_report_filed(session: Session, actor: Actor, report: Report) -> None:
    service.note_reaction(session, report)


def sync_boards(session: Session) -> None:
    service.sync_sites(session)


events.subscribe_report_filed(on_report_filed)
background.register("observation.sync", sync_boards, every_s=60)
