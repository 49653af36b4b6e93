"""The expert panel's classification, the appraisal, compensation; closing and reopening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from aefi import clock
from aefi.auth.permissions import Actor
from aefi.errors import Conflict, Invalid
from aefi.investigation import causality as who
from aefi.investigation import closing, workflow
from aefi.investigation.access import can_work, load_case
from aefi.investigation.assessments.service import refresh_warning
from aefi.investigation.form.service import form_sections
from aefi.investigation.lifecycle import (
    apply_changes,
    move,
    record,
)
from aefi.investigation.models import (
    AppraisalStatus,
    CaseFile,
    CaseStatus,
    CompensationStatus,
)
from aefi.investigation.schemas import (
    AppraisalIn,
    ClassifyIn,
    CloseIn,
    CompensationIn,
    ReopenIn,
)

# --- the expert panel, appraisal, compensation -------------------------------------------


def classify_case(session: Session, actor: Actor, case_id: int, data: ClassifyIn) -> CaseFile:
    """Record the expert panel's final diagnosis and China's classification; warn (and keep
    the warning on the case) when it disagrees with the latest WHO category."""
    case = load_case(session, actor, case_id, write=True)
    if not workflow.allowed(case.status, "classify"):
        raise Conflict("The case is closed; reopen it to change it.")
    if data.panel_on is not None and data.panel_on > clock.now().date() + timedelta(days=1):
        raise Invalid(
            "The date lies in the future.", fields={"panel_on": "The date lies in the future."}
        )
    changes = apply_changes(
        case,
        {
            "china_classification": data.china_classification.value,
            "panel_diagnosis": data.panel_diagnosis.strip(),
            "panel_on": data.panel_on or clock.now().date(),
            "panel_members": data.panel_members.strip(),
        },
    )
    case.classification_note = data.note.strip()
    case.classified_at = clock.now()
    refresh_warning(case)
    # A rare adverse reaction (异常反应) is compensated (Vaccine Administration Law, art. 56):
    # put the question on the case's list.
    if (
        data.china_classification is who.ChinaClassification.rare_reaction
        and case.compensation_status == CompensationStatus.not_applicable
    ):
        case.compensation_status = CompensationStatus.pending
    if case.classification_warning:
        changes["warning"] = case.classification_warning
    record(session, actor, case, "classified", changes=changes, summary=case.china_classification)
    if case.status != CaseStatus.classified:
        move(session, actor, case, "classify")
    else:
        session.add(case)
    session.commit()
    return case


def record_appraisal(session: Session, actor: Actor, case_id: int, data: AppraisalIn) -> CaseFile:
    """The appraisal (鉴定) asked of the medical association, and its result."""
    case = load_case(session, actor, case_id, write=True)
    if data.status != AppraisalStatus.none and data.requested_on is None:
        raise Invalid(
            "Give the date of the request.",
            fields={"requested_on": "Give the date of the request."},
        )
    if data.status == AppraisalStatus.concluded and not data.result.strip():
        raise Invalid(
            "Record the result of the appraisal.",
            fields={"result": "Record the result of the appraisal."},
        )
    if data.result_on and data.requested_on and data.result_on < data.requested_on:
        raise Invalid(
            "The result cannot precede the request.",
            fields={"result_on": "The result cannot precede the request."},
        )
    changes = apply_changes(
        case,
        {
            "appraisal_status": data.status.value,
            "appraisal_requested_on": data.requested_on,
            "appraisal_body": data.body.strip(),
            "appraisal_result": data.result.strip(),
            "appraisal_on": data.result_on,
        },
    )
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "appraisal",
        changes=changes,
        summary=case.appraisal_status,
    )
    session.commit()
    return case


def record_compensation(
    session: Session, actor: Actor, case_id: int, data: CompensationIn
) -> CaseFile:
    case = load_case(session, actor, case_id, write=True)
    if data.status == CompensationStatus.paid and data.amount is None:
        raise Invalid("Give the amount paid.", fields={"amount": "Give the amount paid."})
    changes = apply_changes(
        case,
        {
            "compensation_status": data.status.value,
            "compensation_amount": data.amount,
            "compensation_note": data.note.strip(),
        },
    )
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "compensation",
        changes=changes,
        summary=case.compensation_status,
    )
    session.commit()
    return case


class FormIncomplete(Invalid):
    """Closing refused: required sections of the investigation form are empty and no
    reason was given. ``missing`` lists them; ``fields`` names each (``missing.<key>``)."""

    def __init__(self, message: str, missing: list[closing.MissingSection]) -> None:
        super().__init__(message, fields={f"missing.{m.key}": m.title for m in missing})
        self.missing = missing


def close_case(session: Session, actor: Actor, case_id: int, data: CloseIn) -> CaseFile:
    """Close the case: complete, or with a reason why the form's missing sections cannot
    be filled (closing.check_close). A case without the panel's classification also needs
    a note (or one of those reasons) saying why it closes unclassified."""
    case = load_case(session, actor, case_id, write=True)
    note = data.note.strip()
    if not workflow.allowed(case.status, "close"):
        raise Conflict("The case is already closed.")
    missing = closing.what_is_missing(
        {k: dict(v.values) for k, v in form_sections(session, case.id).items()}
    )
    check = closing.check_close(missing, data.reason, data.reason_text)
    if not check.ok:
        if check.field == "reason" and missing and not data.reason.strip():
            raise FormIncomplete(check.error, missing)
        raise Invalid(check.error, fields={check.field: check.error})
    if case.status != CaseStatus.classified and not note and not check.reason:
        raise Invalid(
            "Give a reason to close a case without a classification.",
            fields={"note": "Give a reason to close a case without a classification."},
        )
    case.close_note = note
    case.close_reason = check.reason
    case.close_reason_text = check.reason_text
    case.close_missing = [m.key for m in missing]
    extra: dict[str, object] = {"note": note}
    if check.reason:
        extra |= {
            "reason": check.reason,
            "reason_text": check.reason_text,
            "missing": case.close_missing,
        }
    move(session, actor, case, "close", **extra)
    session.commit()
    return case


def reopen_case(session: Session, actor: Actor, case_id: int, data: ReopenIn) -> CaseFile:
    case = load_case(session, actor, case_id, write=True)
    reason = data.reason.strip()
    if not reason:
        raise Invalid(
            "Say why the case is reopened.", fields={"reason": "Say why the case is reopened."}
        )
    move(session, actor, case, "reopen", reason=reason)
    # Closed again later, it is judged on its form then.
    case.close_reason, case.close_reason_text, case.close_missing = "", "", []
    session.add(case)
    session.commit()
    return case


@dataclass
class PanelPart:
    """What the classification fragment shows."""

    case: CaseFile
    can_work: bool


def panel_part(session: Session, actor: Actor, case_id: int) -> PanelPart:
    return PanelPart(load_case(session, actor, case_id), can_work(actor))
