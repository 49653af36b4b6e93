"""Evidence of a case: files (checked by ``checks``) and notes."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.permissions import Actor
from aefi.errors import Invalid, NotFound
from aefi.investigation.access import can_work, load_case, load_working
from aefi.investigation.evidence import checks
from aefi.investigation.lifecycle import (
    record,
)
from aefi.investigation.models import (
    CaseAttachment,
    CaseFile,
    CaseNote,
)
from aefi.settings import get_settings


def _upload_root() -> Path:
    return Path(get_settings().upload_dir) / "cases"


def add_attachment(
    session: Session,
    actor: Actor,
    case_id: int,
    filename: str,
    stream: IO[bytes],
    description: str = "",
) -> CaseAttachment:
    """Store a file of checks. Refused when too large or when its name or its content is
    not one of PDF, JPG, PNG, DOCX, XLSX, TXT."""
    case = load_working(session, actor, case_id)
    limit = get_settings().upload_max_bytes
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            break
        chunks.append(chunk)
    content = b"".join(chunks)
    verdict = checks.check(filename, content, size, limit)
    if verdict.kind is None:
        raise Invalid(verdict.error, fields={"file": verdict.error}, **(verdict.params or {}))
    root = _upload_root()
    root.mkdir(parents=True, exist_ok=True)
    stored = secrets.token_hex(16)
    tmp = root / f".{stored}.part"
    tmp.write_bytes(content)
    os.replace(tmp, root / stored)
    attachment = CaseAttachment(
        case_id=case.id,
        filename=checks.safe_display_name(filename),
        stored_name=stored,
        kind=verdict.kind,
        size=size,
        sha256=hashlib.sha256(content).hexdigest(),
        description=description.strip()[:500],
        uploaded_by_id=actor.user_id,
        uploaded_by_name=actor.name,
    )
    session.add(attachment)
    session.flush()
    record(
        session,
        actor,
        case,
        "attachment",
        changes={"file": attachment.filename, "size": size, "sha256": attachment.sha256},
        summary=attachment.filename,
    )
    try:
        session.commit()
    except Exception:
        (root / stored).unlink(missing_ok=True)
        raise
    return attachment


def open_attachment(
    session: Session, actor: Actor, case_id: int, attachment_id: int
) -> tuple[CaseAttachment, Path]:
    """A file of evidence for download, to those who may read the case."""
    case = load_case(session, actor, case_id)
    attachment = session.get(CaseAttachment, attachment_id)
    if attachment is None or attachment.case_id != case.id or attachment.removed_at is not None:
        raise NotFound("Not found.")
    path = _upload_root() / attachment.stored_name
    if not path.is_file():
        raise NotFound("The file is no longer stored.")
    return attachment, path


def remove_attachment(
    session: Session, actor: Actor, case_id: int, attachment_id: int
) -> CaseAttachment:
    """Take a file off the case (kept on disk and in the trail: evidence is not destroyed)."""
    case = load_working(session, actor, case_id)
    attachment = session.get(CaseAttachment, attachment_id)
    if attachment is None or attachment.case_id != case.id or attachment.removed_at is not None:
        raise NotFound("Not found.")
    attachment.removed_at = clock.now()
    session.add(attachment)
    session.flush()
    record(session, actor, case, "attachment_removed", summary=attachment.filename)
    session.commit()
    return attachment


def attachments(session: Session, case_id: int) -> list[CaseAttachment]:
    return list(
        session.exec(
            select(CaseAttachment)
            .where(CaseAttachment.case_id == case_id, col(CaseAttachment.removed_at).is_(None))
            .order_by(CaseAttachment.uploaded_at, CaseAttachment.id)
        )
    )


def add_note(session: Session, actor: Actor, case_id: int, text: str) -> CaseNote:
    case = load_working(session, actor, case_id)
    text = (text or "").strip()
    if not text:
        raise Invalid("Write the note first.", fields={"text": "Write the note first."})
    if len(text) > 4000:
        raise Invalid("Too long: at most {n} characters.", fields={"text": "Too long."}, n=4000)
    note = CaseNote(case_id=case.id, author_id=actor.user_id, author_name=actor.name, text=text)
    session.add(note)
    session.flush()
    record(session, actor, case, "note", changes={"note_id": note.id}, summary=text[:500])
    session.commit()
    return note


def notes(session: Session, case_id: int) -> list[CaseNote]:
    return list(
        session.exec(
            select(CaseNote)
            .where(CaseNote.case_id == case_id)
            .order_by(col(CaseNote.at).desc(), col(CaseNote.id).desc())
        )
    )


@dataclass
class EvidencePart:
    """What the evidence fragment shows."""

    case: CaseFile
    attachments: list[CaseAttachment]
    notes: list[CaseNote]
    can_work: bool


def evidence_part(session: Session, actor: Actor, case_id: int) -> EvidencePart:
    case = load_case(session, actor, case_id)
    return EvidencePart(
        case, attachments(session, case.id), notes(session, case.id), can_work(actor)
    )
