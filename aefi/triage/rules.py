"""Triage rules: from a report's facts, decide seriousness, escalation, investigation,
green-channel referral and deadlines, and say why in words a physician understands.

Pure: plain values in, a frozen `TriageDecision` out. Cluster membership is decided first
by `aefi.triage.clusters` and passed in as `ReportFacts.in_cluster`.

The rules, in the order their reasons are listed:

- Death: the death box, an outcome of "died" or a "death" event all mean the patient died.
- Serious: any of the five WHO / ICH E2A criteria (death, life-threatening,
  hospitalisation or its prolongation, persistent or significant disability, congenital
  anomaly). Designated conditions do not make a report serious; they escalate it.
- Escalated to the county CDC and health bureau: serious, a designated condition present,
  part of a cluster (group AEFI), or of great public concern.
- Investigation: required for all but clearly diagnosed common reactions (national plan):
  exempt only when not serious, no designated condition, not in a cluster, not of great
  public concern, every event group is a common reaction, the physician marked the
  diagnosis clear and the temperature is below the hyperpyrexia threshold.
- Green-channel referral: a life-threatening event, a referral event group (anaphylaxis,
  seizure), hospitalisation or need of hospital care; not when the patient is already in
  hospital (the treating hospital keeps the patient) and not when the patient died (there
  is nobody to transfer; the death is reported and investigated instead).
- Deadlines: report card from discovery; the fast report for death, serious, group AEFI or
  great public concern from discovery; the start of investigation from receipt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from aefi.intake.symptoms import group_label
from aefi.triage import deadlines as due
from aefi.triage.deadlines import Deadline
from aefi.triage.ruleset import Ruleset


class Outcome(StrEnum):
    RECOVERED = "recovered"
    RECOVERING = "recovering"
    SEQUELAE = "sequelae"
    DIED = "died"
    UNKNOWN = "unknown"


def _labels(groups: Iterable[str], *, in_sentence: bool = False) -> tuple[str, str]:
    groups = list(groups)
    return (
        ", ".join(group_label(g, "en", in_sentence=in_sentence) for g in groups),
        "、".join(group_label(g, "zh") for g in groups),
    )


def _duration(hours: float) -> tuple[str, str]:
    if hours >= 72 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} days", f"{days}天"
    return f"{hours:g} h", f"{hours:g}小时"


@dataclass(frozen=True)
class Reason:
    """A rule that fired: a stable id such as "serious.death" and its text in two languages."""

    rule: str
    text_en: str
    text_zh: str

    def text(self, lang: str = "en") -> str:
        return self.text_zh if lang == "zh" else self.text_en


@dataclass(frozen=True)
class ReportFacts:
    """What triage needs to know about one report, as currently known.

    `follow_up_at` is the time a follow-up supplied these facts; clocks that start with a
    re-triage (a fast report for a report that has just become serious, an investigation
    newly required) run from it instead of from discovery or receipt.
    """

    event_groups: frozenset[str]
    onset_at: datetime
    discovered_at: datetime
    received_at: datetime
    vaccinated_at: datetime | None = None
    death: bool = False
    life_threatening: bool = False
    hospitalization: bool = False
    disability: bool = False
    congenital_anomaly: bool = False
    already_in_hospital: bool = False
    needs_hospital_care: bool = False
    outcome: Outcome = Outcome.UNKNOWN
    max_temperature_c: float | None = None
    local_reaction_cm: float | None = None
    diagnosis_clear: bool = False
    in_cluster: bool = False
    great_public_concern: bool = False
    follow_up_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "event_groups", frozenset(self.event_groups))
        try:
            object.__setattr__(self, "outcome", Outcome(self.outcome))
        except ValueError:
            allowed = ", ".join(o.value for o in Outcome)
            raise ValueError(f"outcome must be one of {allowed}, got {self.outcome!r}") from None
        for name in ("onset_at", "discovered_at", "received_at", "vaccinated_at", "follow_up_at"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name} must carry a time zone offset, got {value.isoformat()}")

    @property
    def died(self) -> bool:
        return self.death or self.outcome is Outcome.DIED or "death" in self.event_groups

    @property
    def serious_criteria(self) -> tuple[str, ...]:
        return serious_criteria(
            died=self.died,
            life_threatening=self.life_threatening,
            hospitalization=self.hospitalization,
            disability=self.disability,
            congenital_anomaly=self.congenital_anomaly,
        )


# --- seriousness: the one decision (intake stores the facts, triage decides) -------------


def serious_criteria(
    *,
    died: bool,
    life_threatening: bool,
    hospitalization: bool,
    disability: bool,
    congenital_anomaly: bool,
) -> tuple[str, ...]:
    """The WHO / ICH E2A seriousness criteria met, in order; a report is serious when any
    is. Designated conditions are not among them: they escalate, they do not make serious."""
    met = {
        "death": died,
        "life_threatening": life_threatening,
        "hospitalization": hospitalization,
        "disability": disability,
        "congenital_anomaly": congenital_anomaly,
    }
    return tuple(name for name, yes in met.items() if yes)


@dataclass(frozen=True)
class TriageDecision:
    serious: bool
    escalated: bool
    investigation_required: bool
    referral_required: bool
    # Death, serious, group AEFI or great public concern: report within 2 h by fastest means.
    fast_report_required: bool
    # Death, serious or group AEFI: preliminary investigation report within 7 days of start.
    preliminary_report_required: bool
    designated: tuple[str, ...]
    reasons: tuple[Reason, ...]
    # Deadline name (see `Deadline`) -> due time. Form and preliminary report deadlines
    # count from the start of investigation: see `deadlines.case_deadlines`.
    deadlines: dict[str, datetime] = field(hash=False)
    ruleset_version: str

    @property
    def rules(self) -> tuple[str, ...]:
        """The ids of the rules that fired, in order."""
        return tuple(r.rule for r in self.reasons)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """JSON-ready form for the API (`cluster_id` is the caller's to add)."""
        return {
            "serious": self.serious,
            "escalated": self.escalated,
            "investigation_required": self.investigation_required,
            "referral_required": self.referral_required,
            "fast_report_required": self.fast_report_required,
            "preliminary_report_required": self.preliminary_report_required,
            "designated": list(self.designated),
            "reasons": [
                {"rule": r.rule, "text": r.text(lang), "text_en": r.text_en, "text_zh": r.text_zh}
                for r in self.reasons
            ],
            "deadlines": {name: at.isoformat() for name, at in self.deadlines.items()},
            "ruleset_version": self.ruleset_version,
        }


_Fire = Callable[[str, str, str], None]

# Why each seriousness criterion makes a report serious, in the order they are listed.
_SERIOUS_REASONS = {
    "death": ("The patient died: death is a serious AEFI (WHO, ICH E2A).",
              "受种者死亡：死亡属严重AEFI（WHO、ICH E2A）。"),
    "life_threatening": ("The event was life-threatening: a serious AEFI.",
                         "事件危及生命：属严重AEFI。"),
    "hospitalization": (
        "The event led to hospitalisation or prolonged a hospital stay: a serious AEFI.",
        "事件导致住院或住院时间延长：属严重AEFI。"),
    "disability": ("The event caused persistent or significant disability: a serious AEFI.",
                   "事件导致永久或显著的伤残：属严重AEFI。"),
    "congenital_anomaly": ("The event is a congenital anomaly: a serious AEFI.",
                           "事件为先天性异常：属严重AEFI。"),
}  # fmt: skip

_FLAG_LABELS = {
    "serious": ("serious", "严重"),
    "escalated": ("escalated", "上报"),
    "investigation_required": ("investigation", "调查"),
    "referral_required": ("green-channel referral", "绿色通道转诊"),
    "fast_report_required": ("fast report", "快速报告"),
    "preliminary_report_required": ("preliminary report", "初步调查报告"),
}


def decision_changes(before: TriageDecision, after: TriageDecision) -> tuple[str, ...]:
    """Names of the decision fields that differ, e.g. ("serious", "escalated")."""
    names = (*_FLAG_LABELS, "designated")
    return tuple(n for n in names if getattr(before, n) != getattr(after, n))


def triage(
    facts: ReportFacts, ruleset: Ruleset, *, previous: TriageDecision | None = None
) -> TriageDecision:
    """Decide what follows a report.

    On re-triage after a follow-up, pass the earlier decision as `previous`: deadlines that
    were already running keep their due times, new ones run from `facts.follow_up_at`.
    """
    reasons: list[Reason] = []

    def fire(rule: str, en: str, zh: str) -> None:
        reasons.append(Reason(rule, en, zh))

    groups = facts.event_groups
    died = facts.died
    if died and not facts.death:
        if facts.outcome is Outcome.DIED:
            fire(
                "facts.outcome_died",
                "Outcome recorded as died: the report is treated as a death.",
                "转归记录为死亡：按死亡病例处理。",
            )
        else:
            fire(
                "facts.death_event",
                "A death is among the reported events: the report is treated as a death.",
                "报告事件中包含死亡：按死亡病例处理。",
            )

    # Seriousness: WHO / ICH E2A.
    met = facts.serious_criteria
    serious = bool(met)
    for criterion in met:
        fire(f"serious.{criterion}", *_SERIOUS_REASONS[criterion])
    if not serious:
        fire(
            "not_serious.no_criteria",
            "No seriousness criterion is met (death, life-threatening, hospitalisation, "
            "disability, congenital anomaly): not serious.",
            "未符合任何严重标准（死亡、危及生命、住院、伤残、先天性异常）：非严重AEFI。",
        )

    # Designated conditions and escalation.
    designated = tuple(g for g in ruleset.designated_conditions if g in groups)
    for g in designated:
        fire(
            f"designated.{g}",
            f"{group_label(g)} is a designated condition: always escalated to the county CDC "
            "and health bureau, and investigated.",
            f"{group_label(g, 'zh')}为指定病症：一律上报县疾控中心和卫健局，并开展调查。",
        )
    if serious:
        fire(
            "escalate.serious",
            "Serious AEFI: escalated to the county CDC and health bureau.",
            "严重AEFI：上报县疾控中心和卫健局。",
        )
    if facts.in_cluster:
        fire(
            "escalate.cluster",
            "Part of a possible group AEFI (cluster): escalated to the county CDC and health "
            "bureau.",
            "属疑似群体性AEFI：上报县疾控中心和卫健局。",
        )
    if facts.great_public_concern:
        fire(
            "escalate.public_concern",
            "Event of great public concern: escalated to the county CDC and health bureau.",
            "社会关注度高的事件：上报县疾控中心和卫健局。",
        )
    escalated = serious or bool(designated) or facts.in_cluster or facts.great_public_concern
    fast_report_required = died or serious or facts.in_cluster or facts.great_public_concern
    preliminary_report_required = died or serious or facts.in_cluster

    # Investigation: all but clearly diagnosed common reactions.
    investigation_required = _investigation(facts, ruleset, serious, designated, fire)

    # Green-channel referral.
    referral_required = _referral(facts, ruleset, died, fire)

    # Deadlines.
    running = previous.deadlines if previous is not None else {}
    clock_discovered = facts.follow_up_at or facts.discovered_at
    clock_received = facts.follow_up_at or facts.received_at
    deadlines = {
        Deadline.REPORT.value: running.get(Deadline.REPORT.value)
        or due.report_due(facts.discovered_at, ruleset)
    }
    hours_en, hours_zh = _duration(ruleset.deadlines.report_card_hours)
    fire(
        "deadline.report_card",
        f"File the report card within {hours_en} of discovery.",
        f"发现后{hours_zh}内填报个案报告卡。",
    )
    if fast_report_required:
        deadlines[Deadline.FAST_REPORT.value] = running.get(
            Deadline.FAST_REPORT.value
        ) or due.fast_report_due(clock_discovered, ruleset)
        hours_en, hours_zh = _duration(ruleset.deadlines.fast_report_hours)
        fire(
            "deadline.fast_report",
            "Death, serious or group AEFI, or great public concern: report to the county "
            f"health bureau and CDC by the fastest means within {hours_en} of discovery.",
            f"死亡、严重、群体性AEFI或社会关注度高的事件：发现后{hours_zh}内以最快方式"
            "报告县卫健局和疾控中心。",
        )
    if investigation_required:
        deadlines[Deadline.INVESTIGATION_START.value] = running.get(
            Deadline.INVESTIGATION_START.value
        ) or due.investigation_start_due(clock_received, ruleset)
        hours_en, hours_zh = _duration(ruleset.deadlines.investigation_start_hours)
        fire(
            "deadline.investigation_start",
            f"The county CDC starts the investigation within {hours_en} of receiving the report.",
            f"县疾控中心在接到报告后{hours_zh}内开展调查。",
        )

    if facts.vaccinated_at is not None and facts.onset_at < facts.vaccinated_at:
        fire(
            "check.onset_before_vaccination",
            "Onset is recorded before vaccination: check the dates.",
            "发病时间早于接种时间：请核对日期。",
        )

    decision = TriageDecision(
        serious=serious,
        escalated=escalated,
        investigation_required=investigation_required,
        referral_required=referral_required,
        fast_report_required=fast_report_required,
        preliminary_report_required=preliminary_report_required,
        designated=designated,
        reasons=tuple(reasons),
        deadlines=deadlines,
        ruleset_version=ruleset.version,
    )
    if previous is None:
        return decision
    return _with_retriage_reason(previous, decision)


def _investigation(
    facts: ReportFacts,
    ruleset: Ruleset,
    serious: bool,
    designated: tuple[str, ...],
    fire: _Fire,
) -> bool:
    groups = facts.event_groups
    common = set(ruleset.common_reaction_groups)
    required = False
    if serious:
        required = True
        fire(
            "investigation.serious",
            "Serious AEFI: the county CDC investigates.",
            "严重AEFI：县疾控中心须开展调查。",
        )
    if designated:
        required = True
        en, zh = _labels(designated, in_sentence=True)
        fire(
            "investigation.designated",
            f"Designated condition ({en}): the county CDC investigates.",
            f"指定病症（{zh}）：县疾控中心须开展调查。",
        )
    if facts.in_cluster:
        required = True
        fire(
            "investigation.cluster",
            "Possible group AEFI: the county CDC investigates.",
            "疑似群体性AEFI：县疾控中心须开展调查。",
        )
    if facts.great_public_concern:
        required = True
        fire(
            "investigation.public_concern",
            "Event of great public concern: the county CDC investigates.",
            "社会关注度高的事件：县疾控中心须开展调查。",
        )
    if not groups:
        required = True
        fire(
            "investigation.no_event",
            "No event is recorded that identifies a common reaction: the county CDC investigates.",
            "未记录可判定为一般反应的事件：县疾控中心须开展调查。",
        )
    uncommon = sorted(groups - common - set(designated))
    if uncommon:
        required = True
        en, zh = _labels(uncommon)
        fire(
            "investigation.not_common_reaction",
            f"{en}: not a common reaction; only clearly diagnosed common reactions are exempt "
            "from investigation.",
            f"{zh}：不属于一般反应；仅明确诊断的一般反应可不调查。",
        )
    if groups and groups <= common:
        if not facts.diagnosis_clear:
            required = True
            fire(
                "investigation.diagnosis_unclear",
                "The physician has not marked the diagnosis as clearly a common reaction: the "
                "county CDC investigates.",
                "医生未确认明确诊断为一般反应：县疾控中心须开展调查。",
            )
        t = facts.max_temperature_c
        limit = ruleset.thresholds.hyperpyrexia_c
        if t is not None and t >= limit:
            required = True
            fire(
                "investigation.hyperpyrexia",
                f"Temperature {t:.1f} °C is at or above {limit:.1f} °C: investigated even as a "
                "common reaction (county rule).",
                f"体温{t:.1f}℃，达到或超过{limit:.1f}℃：即使为一般反应也须调查（本县规定）。",
            )
        _grade_common_reaction(facts, ruleset, fire)
    if not required:
        en, zh = _labels(sorted(groups), in_sentence=True)
        fire(
            "not_serious.common_reaction",
            f"Clearly diagnosed common reaction ({en}) with no seriousness "
            "criterion: no investigation needed; the site follows up.",
            f"明确诊断的一般反应（{zh}），未符合严重标准：无需调查，由接种单位随访。",
        )
    return required


def _grade_common_reaction(facts: ReportFacts, ruleset: Ruleset, fire: _Fire) -> None:
    # Grading of common reactions: a strong reaction is still a common reaction.
    t = facts.max_temperature_c
    if t is not None and t >= ruleset.thresholds.high_fever_c:
        limit = ruleset.thresholds.high_fever_c
        fire(
            "common.high_fever",
            f"Fever of {t:.1f} °C is a strong common reaction (at or above {limit:.1f} °C).",
            f"发热{t:.1f}℃，属一般反应中的强反应（≥{limit:.1f}℃）。",
        )
    cm = facts.local_reaction_cm
    if cm is not None and cm > ruleset.thresholds.large_local_reaction_cm:
        limit = ruleset.thresholds.large_local_reaction_cm
        fire(
            "common.large_local_reaction",
            f"Local reaction of {cm:g} cm is a strong common reaction (more than {limit:g} cm).",
            f"局部反应直径{cm:g}cm，属一般反应中的强反应（>{limit:g}cm）。",
        )


def _referral(facts: ReportFacts, ruleset: Ruleset, died: bool, fire: _Fire) -> bool:
    rules = ruleset.referral
    grounds: list[tuple[str, str, str]] = []
    if rules.life_threatening and facts.life_threatening:
        grounds.append(
            (
                "referral.life_threatening",
                "Life-threatening event: refer to the site's green-channel hospital.",
                "事件危及生命：经绿色通道转诊至定点医院。",
            )
        )
    for g in rules.event_groups:
        if g in facts.event_groups:
            grounds.append(
                (
                    f"referral.{g}",
                    f"{group_label(g)}: refer to the site's green-channel hospital.",
                    f"{group_label(g, 'zh')}：经绿色通道转诊至定点医院。",
                )
            )
    if rules.hospitalization and facts.hospitalization:
        grounds.append(
            (
                "referral.hospitalization",
                "Hospital admission needed: refer to the site's green-channel hospital.",
                "需住院治疗：经绿色通道转诊至定点医院。",
            )
        )
    if rules.needs_hospital_care and facts.needs_hospital_care:
        grounds.append(
            (
                "referral.needs_hospital_care",
                "The event needs hospital care: refer to the site's green-channel hospital.",
                "事件需医院救治：经绿色通道转诊至定点医院。",
            )
        )
    if not grounds:
        return False
    if died:
        fire(
            "referral.not_for_death",
            "Referral criteria are met but the patient died: no referral.",
            "符合转诊条件，但受种者已死亡：不转诊。",
        )
        return False
    if facts.already_in_hospital:
        fire(
            "referral.already_in_hospital",
            "Referral criteria are met but the patient is already in hospital: no "
            "green-channel referral.",
            "符合转诊条件，但患者已在医院：无需绿色通道转诊。",
        )
        return False
    for ground in grounds:
        fire(*ground)
    return True


def _with_retriage_reason(previous: TriageDecision, decision: TriageDecision) -> TriageDecision:
    changes = decision_changes(previous, decision)
    en_parts: list[str] = []
    zh_parts: list[str] = []
    for name in changes:
        if name == "designated":
            before_en, before_zh = (
                _labels(previous.designated) if previous.designated else ("none", "无")
            )
            after_en, after_zh = (
                _labels(decision.designated) if decision.designated else ("none", "无")
            )
            en_parts.append(f"designated conditions {before_en} → {after_en}")
            zh_parts.append(f"指定病症：{before_zh}→{after_zh}")
            continue
        label_en, label_zh = _FLAG_LABELS[name]
        before, after = getattr(previous, name), getattr(decision, name)
        en_parts.append(f"{label_en} {'yes' if before else 'no'} → {'yes' if after else 'no'}")
        zh_parts.append(f"{label_zh}：{'是' if before else '否'}→{'是' if after else '否'}")
    if changes:
        en = "Re-triaged after follow-up information: " + "; ".join(en_parts) + "."
        zh = "根据随访信息重新分级：" + "；".join(zh_parts) + "。"
    else:
        en = "Re-triaged after follow-up information: no decision changed."
        zh = "根据随访信息重新分级：结论未变。"
    return replace(decision, reasons=(Reason("retriage.follow_up", en, zh), *decision.reasons))
