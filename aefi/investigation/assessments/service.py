"""The assessments of a case: WHO causality (``causality``) and the Brighton level of
anaphylaxis (``brighton``), previewed as the form fills and recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.permissions import Actor
from aefi.errors import Invalid
from aefi.investigation import brighton as bc
from aefi.investigation import causality as who
from aefi.investigation.access import can_work, load_case, load_working
from aefi.investigation.lifecycle import (
    ensure_started,
    record,
)
from aefi.investigation.models import (
    CaseFile,
    CausalityAssessment,
)
from aefi.investigation.schemas import (
    BrightonIn,
    CausalityIn,
)

# --- WHO causality -----------------------------------------------------------------------

_ITEM_BY_CODE = {code: name for name, (code, _words) in who.CHECKLIST_ITEMS.items()}


def checklist_of(answers: dict[str, Any]) -> who.Checklist:
    """A checklist from item names or numbers ("II.5"); unknown keys are refused."""
    values: dict[str, who.Answer] = {}
    bad = []
    for key, value in answers.items():
        name = key if key in who.CHECKLIST_ITEMS else _ITEM_BY_CODE.get(key)
        if name is None:
            bad.append(key)
            continue
        try:
            values[name] = who.Answer(value)
        except ValueError:
            bad.append(key)
    if bad:
        raise Invalid(
            "Unknown checklist items or answers: {items}.",
            fields={k: "Unknown checklist items or answers: {items}." for k in bad},
            items=", ".join(bad),
        )
    return who.Checklist(**values)


def eligibility_of(data: CausalityIn) -> who.Eligibility:
    e = data.eligibility
    return who.Eligibility(
        vaccine_given_before_event=e.vaccine_given_before_event,
        valid_diagnosis=e.valid_diagnosis,
        clear_event=e.clear_event,
        vaccine=e.vaccine.strip() or None,
        diagnosis=e.diagnosis.strip() or None,
    )


def preview_causality(
    session: Session, actor: Actor, case_id: int, data: CausalityIn
) -> who.Assessment:
    """Run the algorithm without saving: the guided form shows the category as it fills."""
    load_case(session, actor, case_id)
    return who.assess(eligibility_of(data), checklist_of(data.checklist))


def refresh_warning(case: CaseFile) -> None:
    """Compare the panel's Chinese classification with the latest WHO category."""
    warning = None
    if case.china_classification:
        category = who.CausalityCategory(case.who_category) if case.who_category else None
        warning = who.classification_warning(
            category, who.ChinaClassification(case.china_classification)
        )
    case.classification_warning = warning.en if warning else ""
    case.classification_warning_zh = warning.zh if warning else ""


def assess_causality(
    session: Session, actor: Actor, case_id: int, data: CausalityIn
) -> CausalityAssessment:
    """Run and keep one WHO causality assessment; the case shows the latest category."""
    case = load_working(session, actor, case_id)
    checklist = checklist_of(data.checklist)
    eligibility = eligibility_of(data)
    result = who.assess(eligibility, checklist)
    ensure_started(session, actor, case)
    row = CausalityAssessment(
        case_id=case.id,
        assessor_id=actor.user_id,
        assessor_name=actor.name,
        vaccine=eligibility.vaccine or "",
        diagnosis=eligibility.diagnosis or "",
        eligibility=data.eligibility.model_dump(),
        checklist={k: v.value for k, v in vars(checklist).items()},
        eligible=result.eligible,
        category=result.category.value if result.category else "",
        applicable=[c.value for c in result.applicable],
        reasons=list(result.reasons),
        reasons_zh=list(result.reasons_zh),
        missing=list(result.missing),
        missing_zh=list(result.missing_zh),
        path=[s.value for s in result.path],
        note=data.note.strip(),
    )
    session.add(row)
    old = case.who_category
    case.who_category = row.category
    case.who_assessed_at = row.at
    refresh_warning(case)
    case.updated_at = clock.now()
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "causality",
        changes={"category": [old, row.category], "assessment_id": row.id},
        summary=row.category or "ineligible",
    )
    session.commit()
    return row


def assessments(session: Session, case_id: int) -> list[CausalityAssessment]:
    """Every assessment of the case, newest first."""
    return list(
        session.exec(
            select(CausalityAssessment)
            .where(CausalityAssessment.case_id == case_id)
            .order_by(col(CausalityAssessment.at).desc(), col(CausalityAssessment.id).desc())
        )
    )


# --- Brighton ----------------------------------------------------------------------------


def reported_as_anaphylaxis(case: CaseFile) -> bool:
    return "anaphylaxis" in (case.event_groups or [])


def brighton_of(case: CaseFile) -> bc.BrightonResult | None:
    """The level the recorded criteria give (recomputed, so a corrected rule applies)."""
    if not case.brighton:
        return None
    b = case.brighton
    return bc.brighton_level(
        [bc.Criterion(c) for c in b.get("criteria", [])],
        sudden_onset_rapid_progression=b.get("sudden_onset_rapid_progression"),
        multiple_organ_systems=b.get("multiple_organ_systems"),
        reported_as_anaphylaxis=b.get("reported_as_anaphylaxis", True),
    )


def preview_brighton(
    session: Session, actor: Actor, case_id: int, data: BrightonIn
) -> bc.BrightonResult:
    case = load_case(session, actor, case_id)
    return _brighton(case, data)[2]


def _brighton(
    case: CaseFile, data: BrightonIn
) -> tuple[list[bc.Criterion], bool, bc.BrightonResult]:
    criteria = sorted(
        set(data.criteria) | bc.criteria_from_signs(data.signs), key=list(bc.Criterion).index
    )
    reported = (
        data.reported_as_anaphylaxis
        if data.reported_as_anaphylaxis is not None
        else reported_as_anaphylaxis(case)
    )
    result = bc.brighton_level(
        criteria,
        sudden_onset_rapid_progression=data.sudden_onset_rapid_progression,
        multiple_organ_systems=data.multiple_organ_systems,
        reported_as_anaphylaxis=reported,
    )
    return criteria, reported, result


def record_brighton(session: Session, actor: Actor, case_id: int, data: BrightonIn) -> CaseFile:
    """Record the anaphylaxis criteria found and the Brighton level they give."""
    case = load_working(session, actor, case_id)
    criteria, reported, result = _brighton(case, data)
    old = case.brighton_level
    case.brighton = {
        "criteria": [c.value for c in criteria],
        "signs": [s.value for s in data.signs],
        "sudden_onset_rapid_progression": data.sudden_onset_rapid_progression,
        "multiple_organ_systems": data.multiple_organ_systems,
        "reported_as_anaphylaxis": reported,
        "at": clock.now().isoformat(),
        "by": actor.name,
    }
    case.brighton_level = result.level
    ensure_started(session, actor, case)
    case.updated_at = clock.now()
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "brighton",
        changes={"level": [old, result.level], "criteria": case.brighton["criteria"]},
        summary=f"Brighton {result.level}",
    )
    session.commit()
    return case


@dataclass
class BrightonPart:
    """What the Brighton fragment shows."""

    case: CaseFile
    brighton: bc.BrightonResult | None
    can_work: bool


def brighton_part(session: Session, actor: Actor, case_id: int) -> BrightonPart:
    case = load_case(session, actor, case_id)
    return BrightonPart(case, brighton_of(case), can_work(actor))
