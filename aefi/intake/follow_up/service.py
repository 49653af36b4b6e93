"""Later information about a report as dated follow-ups: the card's current facts change,
each follow-up keeps what they were, so the history (and the card as first filed) can be
shown."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from aefi import audit, clock
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid, NotFound
from aefi.events import FollowUpAdded, publish
from aefi.intake import access, symptoms
from aefi.intake.drafts import service as drafts_service
from aefi.intake.models import FollowUp, Outcome, Report
from aefi.intake.schemas import FollowUpIn

FOLLOW_UP_FIELDS = (
    "outcome",
    "death",
    "life_threatening",
    "hospitalization",
    "disability",
    "already_in_hospital",
    "hospital_name",
    "diagnosis",
    "diagnosis_clear",
    "treatment",
)


# The stored length of an Idempotency-Key (intake.models.IdempotencyKey.key); a longer key


def add_follow_up(
    session: Session,
    actor: Actor,
    report_id: int,
    data: FollowUpIn,
    *,
    source: str = "reporter",
    draft_id: int | None = None,
) -> FollowUp:
    """Add later information as a dated follow-up. The card's current facts change; the
    follow-up keeps what they were, so the report's history shows every step.

    ``access.can_follow_up`` says who may; a hospital adds to the report of a patient
    referred to it (``access.hospital_cares_for``). ``draft_id``: the report form's draft
    that ended up as this follow-up (a likely duplicate linked to its report)."""
    report = session.get(Report, report_id)
    if report is None or not access.hospital_cares_for(session, actor, report):
        report = access.get_report(session, actor, report_id)  # refused as reading it would be
        if not access.can_follow_up(actor, report):
            require_role(actor, *access.FOLLOW_UP_ROLES)
            raise NotFound("Not found.")
    unknown = symptoms.unknown_codes(data.symptoms_added)
    if unknown:
        raise Invalid(
            "Unknown symptom codes; pick from the list.",
            fields={"symptoms_added": ", ".join(unknown)},
        )
    requested = data.changes()
    if requested.get("outcome") == Outcome.died:
        requested["death"] = True
    changes: dict[str, list[Any]] = {}
    for key in FOLLOW_UP_FIELDS:
        if key in requested:
            new = requested[key].value if hasattr(requested[key], "value") else requested[key]
            old = getattr(report, key)
            if new != old:
                changes[key] = [old, new]
                setattr(report, key, new)
    added = [c for c in data.symptoms_added if c not in report.symptoms]
    if added:
        changes["symptoms"] = [list(report.symptoms), [*report.symptoms, *added]]
        report.symptoms = [*report.symptoms, *added]
        report.event_groups = symptoms.groups_of(report.symptoms)
    if not changes and not data.note.strip():
        raise Invalid(
            "The follow-up has nothing new: change a fact or write a note.",
            fields={"note": "empty"},
        )
    follow_up = FollowUp(
        report_id=report.id,
        at=data.at or clock.now(),
        author_id=actor.user_id or None,
        author_name=actor.name,
        source=source,
        changes=changes,
        note=data.note.strip(),
    )
    session.add(follow_up)
    session.add(report)
    if draft_id is not None:
        # The draft became this follow-up: done, in the same transaction.
        drafts_service.retire_for_report(session, actor, set(), draft_id)
    session.flush()
    audit.record(
        session,
        actor,
        "follow_up",
        "report",
        report.id,
        changes=changes,
        summary=data.note.strip()[:200] or report.number,
        county_id=report.county_id,
    )
    publish(
        session,
        actor,
        FollowUpAdded(
            report_id=report.id,
            follow_up_id=follow_up.id,
            county_id=report.county_id,
            at=follow_up.at,
            changed=tuple(changes),
        ),
    )
    session.commit()
    return follow_up


def follow_ups(session: Session, report_id: int) -> list[FollowUp]:
    return list(
        session.exec(
            select(FollowUp)
            .where(FollowUp.report_id == report_id)
            .order_by(FollowUp.at, FollowUp.id)
        )
    )


def original_card(report: Report, history: list[FollowUp]) -> dict[str, Any]:
    """The facts as first filed, recovered by undoing the follow-ups newest first."""
    card = {k: getattr(report, k) for k in (*FOLLOW_UP_FIELDS, "symptoms")}
    for fu in reversed(history):
        for key, (old, _new) in fu.changes.items():
            card[key] = old
    return card
