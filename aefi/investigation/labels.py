"""How investigation reads on a page: the labels of statuses, steps, checklist items and
signs, and the presenters that turn a case, its deadlines and its timeline into what the
templates show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aefi import audit_text, clock, i18n
from aefi.auth.permissions import mask_id_number
from aefi.errors import Conflict, Invalid
from aefi.i18n import N_
from aefi.intake.symptoms import BY_CODE, group_name
from aefi.investigation import brighton as bc
from aefi.investigation import causality as who
from aefi.investigation import sections, workflow
from aefi.investigation.closing import CLOSE_REASON_LABELS, section_empty
from aefi.investigation.form import prefill
from aefi.investigation.models import (
    APPRAISAL_LABELS,
    CASE_KIND_LABELS,
    CASE_STATUS_LABELS,
    COMPENSATION_LABELS,
    CaseStatus,
)
from aefi.investigation.overview import service as case_overview
from aefi.settings import get_settings
from aefi.triage.models import KIND_LABELS as CLUSTER_KIND_LABELS  # triage's rules, its words

STATUS_FILTERS = (
    ("", N_("Active (not closed)")),
    ("open", N_("Not started")),
    ("investigating", N_("Investigating")),
    ("awaiting_panel", N_("Awaiting expert panel")),
    ("classified", N_("Classified")),
    ("closed", N_("Case closed")),
    ("all", N_("All")),
)
ACTION_LABELS = {
    "start": N_("Start the investigation"),
    "to_panel": N_("Send to the expert panel"),
    "back_to_investigation": N_("Back to investigation"),
}
STEP_LABELS = {
    who.Step.eligibility: N_("Eligibility"),
    who.Step.other_causes: N_("I. Other causes"),
    who.Step.known_association: N_("II. Known causal association"),
    who.Step.time_window: N_("III. Time window"),
    who.Step.evidence_against: N_("IV. Evidence against"),
    who.Step.qualifying_factors: N_("V. Other qualifying factors"),
}
CHECKLIST_GROUPS = (
    ("I", N_("I. Is there strong evidence for other causes?"), ("other_cause_confirmed",)),
    (
        "II",
        N_("II. Is there a known causal association with the vaccine or vaccination?"),
        (
            "in_published_literature",
            "biologically_plausible",
            "specific_test_confirms_vaccine",
            "quality_defect",
            "immunization_error",
            "immunization_anxiety",
        ),
    ),
    (
        "III",
        N_("III. Was the event within the time window of increased risk?"),
        ("within_time_window",),
    ),
    ("IV", N_("IV. Is there strong evidence against a causal association?"), ("evidence_against",)),
    (
        "V",
        N_("V. Other qualifying factors"),
        (
            "similar_event_after_previous_dose",
            "could_occur_without_vaccination",
            "pre_existing_condition",
            "other_exposure",
        ),
    ),
)
ANSWER_LABELS = {
    "yes": N_("Yes"),
    "no": N_("No"),
    "unknown": N_("Unknown"),
    "na": N_("Not applicable"),
}
DEADLINE_SHORT = {
    "investigation_start_due": N_("Start"),
    "investigation_form_due": N_("Form"),
    "preliminary_report_due": N_("Preliminary report"),
}
SYSTEM_LABELS = {
    bc.OrganSystem.dermatologic: N_("Skin and mucosa"),
    bc.OrganSystem.cardiovascular: N_("Cardiovascular"),
    bc.OrganSystem.respiratory: N_("Respiratory"),
    bc.OrganSystem.gastrointestinal: N_("Gastrointestinal"),
    bc.OrganSystem.laboratory: N_("Laboratory"),
}
SIGN_LABELS = {
    bc.Sign.measured_hypotension: N_("Measured hypotension"),
    bc.Sign.tachycardia: N_("Tachycardia"),
    bc.Sign.capillary_refill_over_3s: N_("Capillary refill over 3 s"),
    bc.Sign.reduced_central_pulse: N_("Reduced central pulse"),
    bc.Sign.decreased_consciousness: N_("Decreased or lost consciousness"),
    bc.Sign.tachypnoea: N_("Tachypnoea"),
    bc.Sign.accessory_muscle_use: N_("Increased use of accessory muscles"),
    bc.Sign.recession: N_("Recession"),
    bc.Sign.cyanosis: N_("Cyanosis"),
    bc.Sign.grunting: N_("Grunting"),
}


# --- presentation helpers ----------------------------------------------------------------


def symptom_name(code: str) -> str:
    s = BY_CODE.get(code)
    return i18n.pick(s.zh, s.en) if s else code


def due_in(at: datetime | None, now: datetime | None = None) -> str:
    """'in 5 h 20 min' or '3 h overdue', for people scanning a list."""
    if at is None:
        return ""
    now = now or clock.now()
    delta = at - now
    late = delta.total_seconds() < 0
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        span = i18n.gettext("{d} d {h} h", d=days, h=hours)
    elif hours:
        span = i18n.gettext("{h} h {m} min", h=hours, m=mins)
    else:
        span = i18n.gettext("{m} min", m=mins)
    return (
        i18n.gettext("{span} overdue", span=span) if late else i18n.gettext("in {span}", span=span)
    )


def category_label(category: str | None) -> str:
    if not category:
        return i18n.gettext("Not eligible for assessment")
    labels = who.CATEGORY_LABELS[who.CausalityCategory(category)]
    return i18n.pick(labels["zh"], labels["en"])


def china_label(value: str | None) -> str:
    if not value:
        return ""
    labels = who.CHINA_CLASSIFICATION_LABELS[who.ChinaClassification(value)]
    return i18n.pick(labels["zh"], labels["en"])


def item_words(name: str) -> str:
    return i18n.pick(who.CHECKLIST_ITEMS_ZH[name], who.CHECKLIST_ITEMS[name][1])


def lang() -> str:
    return "zh" if i18n.get_locale().startswith("zh") else "en"


def _section_title(key: str) -> str:
    section = sections.BY_KEY.get(key)
    return i18n.gettext(section.title) if section else key


TIMELINE_TITLES = {
    ("case_file", "case_opened"): N_("Case file opened"),
    ("case_file", "assigned"): N_("Assigned"),
    ("case_file", "status"): N_("Status changed"),
    ("case_file", "form_section"): N_("Investigation form section saved"),
    ("case_file", "form_completed"): N_("Investigation form completed"),
    ("case_file", "preliminary_report"): N_("Preliminary report submitted"),
    ("case_file", "note"): N_("Note"),
    ("case_file", "attachment"): N_("Evidence attached"),
    ("case_file", "attachment_removed"): N_("Evidence removed"),
    ("case_file", "causality"): N_("WHO causality assessed"),
    ("case_file", "brighton"): N_("Brighton level recorded"),
    ("case_file", "classified"): N_("Classified by the expert panel"),
    ("case_file", "appraisal"): N_("Appraisal"),
    ("case_file", "compensation"): N_("Compensation"),
    ("case_file", "overdue"): N_("Deadline passed"),
    ("case_file", "cluster_grew"): N_("More reports joined the group"),
    ("case_file", "retriaged"): N_("Triage changed the case"),
    ("report", "create"): N_("Report filed"),
    ("report", "follow_up"): N_("Follow-up added"),
    ("report", "triage"): N_("Triaged"),
    ("cluster", "create"): N_("Cluster (group AEFI) found"),
    ("cluster", "cluster_join"): N_("Report joined the cluster"),
    ("cluster", "evaluation_requested"): N_("Signal evaluation of the lots requested"),
    ("escalation", "acknowledge"): N_("Escalation acknowledged"),
}
ENTITY_LABELS = {
    "case_file": N_("Case file"),
    "report": N_("Report"),
    "cluster": N_("Cluster"),
    "escalation": N_("Escalation"),
    "referral": N_("Referral"),
}


def timeline_items(events: list) -> list[dict[str, Any]]:
    """Audit events as lines a person reads: what, who, and the detail that matters."""
    items = []
    for e in events:
        key = (e.entity_type, e.action)
        title = i18n.gettext(TIMELINE_TITLES[key]) if key in TIMELINE_TITLES else None
        if title is None:
            title = (
                i18n.gettext(ENTITY_LABELS.get(e.entity_type, e.entity_type))
                + i18n.colon()
                + audit_text.action_text(e.action)
            )
        ch = e.changes or {}
        detail = ""
        if e.entity_type == "case_file":
            if e.action == "status" and "status" in ch:
                old, new = ch["status"]
                detail = (
                    f"{i18n.gettext(CASE_STATUS_LABELS.get(old, old))} → "
                    f"{i18n.gettext(CASE_STATUS_LABELS.get(new, new))}"
                )
                # Closing with a reason (closing.CloseReason) stores the code: say it.
                reason = ch.get("reason")
                if new == CaseStatus.closed and reason in CLOSE_REASON_LABELS:
                    reason = i18n.gettext(CLOSE_REASON_LABELS[reason])
                    if ch.get("reason_text"):
                        reason += ("：" if lang() == "zh" else ": ") + ch["reason_text"]
                for extra in (reason, ch.get("note")):
                    if extra:
                        detail += f" · {extra}"
            elif e.action == "assigned":
                detail = e.summary
            elif e.action == "form_section":
                detail = _section_title(ch.get("section", e.summary))
            elif e.action == "causality":
                cat = ch.get("category", [None, None])[1]
                detail = f"{cat} · {category_label(cat)}" if cat else category_label(None)
            elif e.action == "classified":
                value = ch.get("china_classification", [None, e.summary])[1] or e.summary
                detail = china_label(value) if value in who.CHINA_CLASSIFICATION_LABELS else ""
                if ch.get("warning"):
                    detail += " · " + i18n.gettext("disagrees with the WHO category")
            elif e.action == "appraisal":
                detail = i18n.gettext(APPRAISAL_LABELS.get(e.summary, e.summary))
            elif e.action == "compensation":
                detail = i18n.gettext(COMPENSATION_LABELS.get(e.summary, e.summary))
            elif e.action == "overdue":
                detail = ", ".join(
                    i18n.gettext(workflow.DEADLINE_LABELS.get(n, n))
                    for n in ch.get("deadlines", [])
                )
            elif e.action == "brighton" and "level" in ch:
                detail = i18n.gettext("Level {n}", n=ch["level"][1])
            elif e.action in ("note", "attachment", "attachment_removed", "cluster_grew"):
                detail = e.summary
        else:
            detail = audit_text.summary_text(e.entity_type, e.action, e.summary or "", ch)
        items.append(
            {
                "at": e.at,
                "who": e.actor_name,
                "who_label": i18n.gettext("aefi (automatic)")
                if e.actor_role == "system"
                else e.actor_name,
                "role": e.actor_role,
                "title": title,
                "detail": detail,
                "entity": e.entity_type,
                "action": e.action,
            }
        )
    return items


def case_steps(page: case_overview.CasePage) -> list[dict[str, Any]]:
    """The path of a case, each step done (with when) or not; the first not done is next."""
    case = page.case
    brighton_at = (case.brighton or {}).get("at")
    rows: list[tuple[str, str, Any, str]] = [
        ("started", N_("Investigation started"), case.started_at, "deadlines"),
        ("form", N_("Investigation form completed"), case.form_completed_at, "form"),
    ]
    if case.preliminary_report_required:
        rows.append(
            ("preliminary", N_("Preliminary report submitted"), case.preliminary_report_at, "form")
        )
    rows.append(("causality", N_("WHO causality assessed"), case.who_assessed_at, "causality"))
    if "anaphylaxis" in (case.event_groups or []) or brighton_at:
        at = datetime.fromisoformat(brighton_at) if brighton_at else None
        rows.append(("brighton", N_("Brighton level recorded"), at, "brighton"))
    rows.append(
        ("classified", N_("Classified by the expert panel"), case.classified_at, "classification")
    )
    rows.append(("closed", N_("Case closed"), case.closed_at, "closing"))
    steps = []
    next_marked = False
    for key, label, at, anchor in rows:
        done = at is not None
        is_next = not done and not next_marked and case.status != CaseStatus.closed
        next_marked = next_marked or is_next
        steps.append(
            {"key": key, "label": label, "at": at, "done": done, "next": is_next, "anchor": anchor}
        )
    return steps


def part_ctx(part: Any, **extra: Any) -> dict[str, Any]:
    """The context of one fragment of the case page, from its slice's part (a small
    dataclass with the case and what the fragment shows), named ``page`` for the template."""
    return {
        "page": part,
        "case": part.case,
        "sections_list": sections.SECTIONS,
        "section_state": {},
        **helpers(),
        **brighton_parts(),
        **extra,
    }


def page_ctx(page: case_overview.CasePage, **extra: Any) -> dict[str, Any]:
    return {
        "page": page,
        "case": page.case,
        "path_steps": case_steps(page),
        "items": timeline_items(page.events),
        "sections_list": sections.SECTIONS,
        "section_state": {},
        **helpers(),
        **brighton_parts(),
        **extra,
    }


def brighton_parts() -> dict[str, Any]:
    groups = []
    for system in bc.OrganSystem:
        for rank in bc.Rank:
            crit = [
                c for c, spec in bc.CRITERIA.items() if spec.system is system and spec.rank is rank
            ]
            if crit:
                groups.append((system, rank, crit))
    return {
        "criteria_groups": groups,
        "criterion_labels": bc.CRITERION_LABELS,
        "system_labels": SYSTEM_LABELS,
        "signs": list(bc.Sign),
        "sign_labels": SIGN_LABELS,
    }


def helpers() -> dict[str, Any]:
    return {
        "group_name": group_name,
        "symptom_name": symptom_name,
        "due_in": due_in,
        "category_label": category_label,
        "china_label": china_label,
        "item_words": item_words,
        "lang": lang(),
        "mask_id": mask_id_number,
        "status_labels": CASE_STATUS_LABELS,
        "kind_labels": CASE_KIND_LABELS,
        "cluster_kind_labels": CLUSTER_KIND_LABELS,
        "action_labels": ACTION_LABELS,
        "deadline_short": DEADLINE_SHORT,
        "answer_labels": ANSWER_LABELS,
        "appraisal_labels": APPRAISAL_LABELS,
        "compensation_labels": COMPENSATION_LABELS,
        "close_reason_labels": CLOSE_REASON_LABELS,
        "sections_by_key": sections.BY_KEY,
        "suggestion_source": prefill.source_text,
        "section_empty": section_empty,
        "china_classes": list(who.ChinaClassification),
        "china_labels": who.CHINA_CLASSIFICATION_LABELS,
        "CaseStatus": CaseStatus,
        "yesno": sections.YESNO_CHOICES,
        "upload_limit_mb": f"{get_settings().upload_max_bytes / (1024 * 1024):g}",
        "now": clock.now(),
    }


def error_text(exc: Exception) -> str:
    if isinstance(exc, Invalid | Conflict):
        return i18n.gettext(exc.message, **exc.params)
    return str(exc)


def field_errors(exc: Invalid) -> dict[str, str]:
    return {k: i18n.gettext(v, **exc.params) for k, v in exc.fields.items()}
