"""WHO causality assessment of an AEFI, as a pure decision.

Source: WHO, "Causality assessment of an adverse event following immunization (AEFI):
user manual for the revised WHO classification", 2nd edition, 2018 (2019 update). The
manual has four steps: (1) eligibility, (2) checklist, (3) algorithm, (4) classification.
`assess` performs steps 1 and 3 over the answers of step 2 and proposes the step-4 category;
the expert panel makes the final classification.

Numbering. aefi numbers the checklist I–V: I other causes, II known causal association,
III time window, IV evidence against, V other qualifying factors. The manual prints the
time-window question as "II (time)" and numbers the last two sections III and IV; the
questions and the order in which the algorithm asks them are the same.

The figure of step 3, read top to bottom:

    I  strong evidence for other causes?      yes -> C
    II known causal association?              yes -> time window of increased risk?
                                                      yes -> A (A1-A4 by the II item)
                                                      no  -> III
                                              no  -> III
    III strong evidence against association?  yes -> C
                                              no  -> IV review qualifying factors
    IV "is the event classifiable?"           no  -> D unclassifiable
                                              yes -> A, B (B1, B2) or C

Where the figure leaves room, the choices made here are marked "Choice:" below.
"""

from dataclasses import dataclass, field, fields
from enum import StrEnum


class Answer(StrEnum):
    yes = "yes"
    no = "no"
    unknown = "unknown"
    na = "na"  # not applicable, e.g. II.6 anxiety for an event found at a routine check


ANSWER_LABELS: dict[Answer, dict[str, str]] = {
    Answer.yes: {"en": "Yes", "zh": "是"},
    Answer.no: {"en": "No", "zh": "否"},
    Answer.unknown: {"en": "Unknown", "zh": "不详"},
    Answer.na: {"en": "Not applicable", "zh": "不适用"},
}


@dataclass(frozen=True)
class Eligibility:
    """Step 1. None means the investigation has not established the point."""

    vaccine_given_before_event: bool | None = None
    valid_diagnosis: bool | None = None  # the diagnosis meets a case definition
    clear_event: bool | None = None  # the event for review is clearly stated
    vaccine: str | None = None  # which vaccine the question is about, when several were given
    diagnosis: str | None = None


@dataclass(frozen=True)
class Checklist:
    """Step 2. Every answer starts unknown; the investigation fills them in.

    Only "yes" moves the algorithm towards a finding; "no" and "na" do not, and "unknown"
    is listed in `Assessment.missing`. III.1 needs "yes" or "no"; "na" there is unknown.
    """

    # I. Is there strong evidence for other causes?
    other_cause_confirmed: Answer = Answer.unknown  # I.1 history, exam or tests confirm one
    # II. Is there a known causal association with the vaccine or vaccination?
    in_published_literature: Answer = Answer.unknown  # II.1 product, given correctly
    biologically_plausible: Answer = Answer.unknown  # II.2
    specific_test_confirms_vaccine: Answer = Answer.unknown  # II.3 in this patient
    quality_defect: Answer = Answer.unknown  # II.4 defect, substandard or falsified
    # II.5 stands for the manual's immunization-error questions: prescribing error or
    # non-adherence to recommendations, unsterile administration, abnormal physical
    # condition, wrong reconstitution, handling (cold chain, expiry), wrong dose/site/route.
    immunization_error: Answer = Answer.unknown
    immunization_anxiety: Answer = Answer.unknown  # II.6 stress response to immunization
    # III. Was the event within the time window of increased risk?
    within_time_window: Answer = Answer.unknown  # III.1
    # IV. Is there strong evidence against a causal association?
    evidence_against: Answer = Answer.unknown  # IV.1 published body of evidence
    # V. Other qualifying factors
    similar_event_after_previous_dose: Answer = Answer.unknown  # V.1
    could_occur_without_vaccination: Answer = Answer.unknown  # V.2 past episodes, background
    pre_existing_condition: Answer = Answer.unknown  # V.3 illness or risk factor
    other_exposure: Answer = Answer.unknown  # V.4 medicines, allergens, other exposures


# Item number and plain words for each checklist field, in checklist order.
CHECKLIST_ITEMS: dict[str, tuple[str, str]] = {
    "other_cause_confirmed": ("I.1", "another cause confirmed by history, examination or tests"),
    "in_published_literature": ("II.1", "published evidence that the vaccine causes the event"),
    "biologically_plausible": ("II.2", "biological plausibility that the vaccine causes it"),
    "specific_test_confirms_vaccine": ("II.3", "a specific test showing the vaccine's role"),
    "quality_defect": ("II.4", "vaccine quality defect, substandard or falsified product"),
    "immunization_error": (
        "II.5",
        "immunization error (prescribing, sterility, handling, administration)",
    ),
    "immunization_anxiety": ("II.6", "immunization anxiety (stress response)"),
    "within_time_window": ("III.1", "event within the time window of increased risk"),
    "evidence_against": ("IV.1", "published evidence against a causal association"),
    "similar_event_after_previous_dose": ("V.1", "similar event after a previous dose"),
    "could_occur_without_vaccination": (
        "V.2",
        "event could occur without vaccination (past episodes, background rate)",
    ),
    "pre_existing_condition": ("V.3", "pre-existing illness or risk factor"),
    "other_exposure": ("V.4", "other exposure before the event (medicines, allergens)"),
}

ELIGIBILITY_ITEMS: dict[str, str] = {
    "vaccine_given_before_event": "vaccine given before the event",
    "valid_diagnosis": "valid diagnosis meeting a case definition",
    "clear_event": "clearly stated event for review",
}

# The same items in Chinese, for reasons and missing items shown to Chinese users.
CHECKLIST_ITEMS_ZH: dict[str, str] = {
    "other_cause_confirmed": "病史、体检或检查证实存在其他原因",
    "in_published_literature": "已发表的证据表明该疫苗可引起此事件",
    "biologically_plausible": "疫苗引起此事件具有生物学合理性",
    "specific_test_confirms_vaccine": "特异性检测证实疫苗的作用",
    "quality_defect": "疫苗质量缺陷、不合格或假冒产品",
    "immunization_error": "预防接种差错（处方、无菌操作、储运、接种实施）",
    "immunization_anxiety": "预防接种焦虑（应激反应）",
    "within_time_window": "事件发生在风险增加的时间窗内",
    "evidence_against": "已发表的证据不支持因果关联",
    "similar_event_after_previous_dose": "既往接种后出现过类似事件",
    "could_occur_without_vaccination": "不接种也可能发生（既往发作、背景发生率）",
    "pre_existing_condition": "既往疾病或危险因素",
    "other_exposure": "事件前的其他暴露（药物、过敏原等）",
}

ELIGIBILITY_ITEMS_ZH: dict[str, str] = {
    "vaccine_given_before_event": "事件发生前接种了疫苗",
    "valid_diagnosis": "诊断有效（符合病例定义）",
    "clear_event": "待评估事件表述明确",
}


class CausalityCategory(StrEnum):
    A1 = "A1"
    A2 = "A2"
    A3 = "A3"
    A4 = "A4"
    B1 = "B1"
    B2 = "B2"
    C = "C"
    D = "D"


CATEGORY_LABELS: dict[CausalityCategory, dict[str, str]] = {
    CausalityCategory.A1: {"en": "Vaccine product-related reaction", "zh": "疫苗产品相关反应"},
    CausalityCategory.A2: {
        "en": "Vaccine quality defect-related reaction",
        "zh": "疫苗质量缺陷相关反应",
    },
    CausalityCategory.A3: {
        "en": "Immunization error-related reaction",
        "zh": "预防接种差错相关反应",
    },
    CausalityCategory.A4: {
        "en": "Immunization anxiety-related reaction",
        "zh": "预防接种焦虑相关反应",
    },
    CausalityCategory.B1: {
        "en": "Temporal relationship consistent but insufficient definitive evidence "
        "(potential signal)",
        "zh": "时间关系一致但证据不足（可能为新信号）",
    },
    CausalityCategory.B2: {
        "en": "Conflicting trends of consistency and inconsistency",
        "zh": "存在相互矛盾的因素",
    },
    CausalityCategory.C: {
        "en": "Coincidental (inconsistent causal association)",
        "zh": "偶合（不一致的因果关系）",
    },
    CausalityCategory.D: {
        "en": "Unclassifiable (information missing)",
        "zh": "无法分类（信息不足）",
    },
}


class Step(StrEnum):
    """The boxes of the algorithm, for `Assessment.path`."""

    eligibility = "eligibility"
    other_causes = "I"
    known_association = "II"
    time_window = "III"
    evidence_against = "IV"
    qualifying_factors = "V"


@dataclass(frozen=True)
class Assessment:
    eligible: bool
    category: CausalityCategory | None
    reasons: tuple[str, ...]
    # Checklist or eligibility items answered "unknown" that the algorithm consulted. For D
    # they are what blocks a classification; for other categories, gaps worth closing.
    missing: tuple[str, ...] = ()
    path: tuple[Step, ...] = ()
    # Every A category the II answers support, the primary (`category`) first.
    applicable: tuple[CausalityCategory, ...] = ()
    # `reasons` and `missing` in Chinese, item for item.
    reasons_zh: tuple[str, ...] = ()
    missing_zh: tuple[str, ...] = ()

    def reasons_in(self, lang: str) -> tuple[str, ...]:
        return self.reasons_zh if lang.startswith("zh") and self.reasons_zh else self.reasons

    def missing_in(self, lang: str) -> tuple[str, ...]:
        return self.missing_zh if lang.startswith("zh") and self.missing_zh else self.missing


# Choice: the manual ticks every A box that applies but names no order. When several II
# items are "yes", the primary category is the most specific, actionable cause: a quality
# defect (lot action) before an immunization error (retraining) before anxiety, and the
# inherent product reaction last, since II.1-II.3 describe what the product does even when
# given correctly.
_A_BY_ITEM: tuple[tuple[str, CausalityCategory], ...] = (
    ("quality_defect", CausalityCategory.A2),
    ("immunization_error", CausalityCategory.A3),
    ("immunization_anxiety", CausalityCategory.A4),
    ("in_published_literature", CausalityCategory.A1),
    ("biologically_plausible", CausalityCategory.A1),
    ("specific_test_confirms_vaccine", CausalityCategory.A1),
)

_A_OF_ITEM = dict(_A_BY_ITEM)
_ASSOCIATION_ITEMS = (
    "in_published_literature",
    "biologically_plausible",
    "specific_test_confirms_vaccine",
    "quality_defect",
    "immunization_error",
    "immunization_anxiety",
)
_FACTORS_AGAINST = ("could_occur_without_vaccination", "pre_existing_condition", "other_exposure")
_FACTORS = ("similar_event_after_previous_dose", *_FACTORS_AGAINST)


def _item(name: str) -> str:
    code, words = CHECKLIST_ITEMS[name]
    return f"{code} {words}"


def _item_zh(name: str) -> str:
    return f"{CHECKLIST_ITEMS[name][0]} {CHECKLIST_ITEMS_ZH[name]}"


def _codes(names: list[str]) -> str:
    return ", ".join(CHECKLIST_ITEMS[name][0] for name in names)


@dataclass
class _Walk:
    """What one run through the algorithm has seen so far."""

    checklist: Checklist
    path: list[Step] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    reasons_zh: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    def say(self, en: str, zh: str) -> None:
        self.reasons.append(en)
        self.reasons_zh.append(zh)

    def answer(self, name: str) -> Answer:
        value = getattr(self.checklist, name)
        # "Not applicable" is an answer for every item but the time window: every event has
        # a time relationship to the dose, so there it counts as not known.
        if value is Answer.unknown or (value is Answer.na and name == "within_time_window"):
            self.gaps.append(name)
        return value

    def conclude(
        self,
        category: CausalityCategory,
        reason: str,
        reason_zh: str,
        applicable: tuple[CausalityCategory, ...] = (),
    ) -> Assessment:
        self.say(reason, reason_zh)
        order = [f.name for f in fields(Checklist)]
        gaps = sorted(set(self.gaps), key=order.index)
        return Assessment(
            eligible=True,
            category=category,
            reasons=tuple(self.reasons),
            missing=tuple(_item(n) for n in gaps),
            path=tuple(self.path),
            applicable=applicable or (category,),
            reasons_zh=tuple(self.reasons_zh),
            missing_zh=tuple(_item_zh(n) for n in gaps),
        )


def _check_eligibility(eligibility: Eligibility) -> Assessment | None:
    """None when the case is eligible; otherwise the assessment that ends here."""
    reasons: list[str] = []
    reasons_zh: list[str] = []
    missing: list[str] = []
    if eligibility.vaccine_given_before_event is False:
        reasons.append(
            "No vaccine was given before the event, so it cannot be an adverse event "
            "following this immunization; causality is not assessed."
        )
        reasons_zh.append("事件发生前未接种疫苗，不属于预防接种后的不良事件，不进行因果关系评估。")
    if eligibility.valid_diagnosis is False:
        reasons.append(
            "The event has no valid diagnosis (it does not meet a case definition); "
            "establish the diagnosis before assessing causality."
        )
        reasons_zh.append("事件无有效诊断（不符合病例定义）；请先明确诊断，再评估因果关系。")
        missing.append("valid_diagnosis")
    if eligibility.clear_event is False:
        reasons.append("The event for review is not clearly stated; restate the question.")
        reasons_zh.append("待评估事件表述不明确；请重新表述评估问题。")
        missing.append("clear_event")
    unknown = [name for name in ELIGIBILITY_ITEMS if getattr(eligibility, name) is None]
    if reasons:
        # Without a vaccine before the event no further information makes the case eligible.
        if eligibility.vaccine_given_before_event is not False:
            missing += unknown
        return Assessment(
            eligible=False,
            category=None,
            reasons=tuple(reasons),
            missing=tuple(ELIGIBILITY_ITEMS[n] for n in missing),
            path=(Step.eligibility,),
            reasons_zh=tuple(reasons_zh),
            missing_zh=tuple(ELIGIBILITY_ITEMS_ZH[n] for n in missing),
        )
    if unknown:
        # The manual sends a case that cannot be shown eligible for want of information to
        # "unclassifiable", naming what to collect.
        en = [ELIGIBILITY_ITEMS[n] for n in unknown]
        zh = [ELIGIBILITY_ITEMS_ZH[n] for n in unknown]
        return Assessment(
            eligible=False,
            category=CausalityCategory.D,
            reasons=("Eligibility cannot be established; still unknown: " + "; ".join(en) + ".",),
            missing=tuple(en),
            path=(Step.eligibility,),
            applicable=(CausalityCategory.D,),
            reasons_zh=("无法确定是否符合评估条件；尚不清楚：" + "；".join(zh) + "。",),
            missing_zh=tuple(zh),
        )
    return None


def assess(eligibility: Eligibility, checklist: Checklist) -> Assessment:
    """Run steps 1 and 3 of the WHO method and propose a category."""
    ended = _check_eligibility(eligibility)
    if ended is not None:
        return ended

    walk = _Walk(checklist)
    walk.path.append(Step.eligibility)
    vaccine = eligibility.vaccine or "the vaccine"
    vaccine_zh = eligibility.vaccine or "疫苗"
    diagnosis = f" ({eligibility.diagnosis})" if eligibility.diagnosis else ""
    diagnosis_zh = f"（{eligibility.diagnosis}）" if eligibility.diagnosis else ""
    walk.say(
        f"Eligible: {vaccine} was given before the event, and the diagnosis{diagnosis} is valid.",
        f"符合评估条件：事件发生前接种了{vaccine_zh}，诊断{diagnosis_zh}有效。",
    )

    association = [n for n in _ASSOCIATION_ITEMS if getattr(checklist, n) is Answer.yes]

    # I. Strong evidence for other causes. Choice: "unknown" or "not applicable" is not
    # strong evidence, so the walk goes on as for "no" and lists I.1 as missing.
    walk.path.append(Step.other_causes)
    if walk.answer("other_cause_confirmed") is Answer.yes:
        # Choice: the figure goes straight to C. When the checklist also records a known
        # causal association (II) that the time window does not contradict, the case has
        # both trends, which is the manual's definition of B2.
        if association and checklist.within_time_window is not Answer.no:
            walk.path.append(Step.known_association)
            walk.path.append(Step.time_window)
            walk.answer("within_time_window")
            return walk.conclude(
                CausalityCategory.B2,
                f"Another cause is confirmed (I.1), yet a known causal association with "
                f"{vaccine} is also recorded ({_codes(association)}): conflicting trends.",
                f"已证实存在其他原因（I.1），但同时记录了与{vaccine_zh}的已知因果关联"
                f"（{_codes(association)}）：存在相互矛盾的因素。",
            )
        return walk.conclude(
            CausalityCategory.C,
            "Another cause is confirmed by history, examination or tests (I.1): coincidental.",
            "病史、体检或检查证实存在其他原因（I.1）：偶合。",
        )
    walk.say("No other cause is confirmed (I.1).", "未证实存在其他原因（I.1）。")

    # II. Known causal association with the vaccine or vaccination.
    walk.path.append(Step.known_association)
    unknown_association = [n for n in _ASSOCIATION_ITEMS if getattr(checklist, n) is Answer.unknown]
    applicable = tuple(dict.fromkeys(cat for name, cat in _A_BY_ITEM if name in association))
    # An unanswered II item is a gap only when it could add a category not yet supported.
    walk.gaps += [n for n in unknown_association if _A_OF_ITEM[n] not in applicable]
    if association:
        walk.path.append(Step.time_window)
        timing = walk.answer("within_time_window")
        if timing is Answer.yes:
            primary = applicable[0]
            # Choice: the figure concludes A here without looking at V; factors recorded
            # there are named so that the panel sees them.
            noted = [n for n in _FACTORS if getattr(checklist, n) is Answer.yes]
            if noted:
                walk.say(
                    f"Noted for the panel: {_codes(noted)} answered yes.",
                    f"提请专家组注意：{_codes(noted)}回答为“是”。",
                )
            return walk.conclude(
                primary,
                f"Known causal association ({_codes(association)}) and the event fell within "
                f"the time window of increased risk (III.1): "
                f"{CATEGORY_LABELS[primary]['en'].lower()}.",
                f"存在已知因果关联（{_codes(association)}），且事件发生在风险增加的时间窗内"
                f"（III.1）：{CATEGORY_LABELS[primary]['zh']}。",
                applicable,
            )
        if timing is not Answer.no:
            # Choice: with an association known, the time window decides between A and the
            # rest of the figure, so an unanswered III.1 leaves the case unclassifiable.
            return walk.conclude(
                CausalityCategory.D,
                f"A known causal association is recorded ({_codes(association)}) but whether "
                f"the event fell within the time window of increased risk (III.1) is not "
                f"known: unclassifiable until it is.",
                f"记录了已知因果关联（{_codes(association)}），但不清楚事件是否发生在风险增加的"
                f"时间窗内（III.1）：在明确之前无法分类。",
            )
        walk.say(
            f"A causal association is known ({_codes(association)}) but the event fell "
            f"outside the time window of increased risk (III.1).",
            f"存在已知因果关联（{_codes(association)}），但事件发生在风险增加的时间窗之外"
            f"（III.1）。",
        )
    elif unknown_association:
        walk.say(
            f"No known causal association is established; {_codes(unknown_association)} not known.",
            f"未确立已知因果关联；{_codes(unknown_association)}尚不清楚。",
        )
    else:
        walk.say(
            "No known causal association with the vaccine or vaccination (II).",
            "与疫苗或预防接种无已知因果关联（II）。",
        )

    # III of the manual (IV here). Strong evidence against a causal association.
    walk.path.append(Step.evidence_against)
    if walk.answer("evidence_against") is Answer.yes:
        return walk.conclude(
            CausalityCategory.C,
            "A body of published evidence is against a causal association (IV.1): "
            "inconsistent with causation, coincidental.",
            "已发表的证据不支持因果关联（IV.1）：与因果关系不一致，属偶合。",
        )

    # IV of the manual (V here). Review of other qualifying factors.
    walk.path.append(Step.qualifying_factors)
    recurrence = walk.answer("similar_event_after_previous_dose") is Answer.yes
    against = [n for n in _FACTORS_AGAINST if walk.answer(n) is Answer.yes]
    if not association:
        # B1 is defined by a consistent temporal relationship, so the review consults the
        # time window even though the figure asks III.1 only after a "yes" to II.
        walk.path.append(Step.time_window)
        timing = walk.answer("within_time_window")
    else:
        timing = Answer.no  # reached only when the event fell outside the window

    if timing is Answer.yes:
        if against:
            return walk.conclude(
                CausalityCategory.B2,
                f"The timing is consistent with the vaccine (III.1) but qualifying factors "
                f"point to other explanations ({_codes(against)}): conflicting trends.",
                f"时间关系与疫苗一致（III.1），但其他相关因素提示另有解释（{_codes(against)}）："
                f"存在相互矛盾的因素。",
            )
        # Choice: without a known association (II) there is no A category to name, so a
        # recurrence after a previous dose (V.1) strengthens the signal rather than
        # concluding A; the panel may decide otherwise.
        extra = extra_zh = ""
        if recurrence:
            extra = " A similar event after a previous dose (V.1) strengthens the signal."
            extra_zh = "既往接种后出现过类似事件（V.1），加强了该信号。"
        return walk.conclude(
            CausalityCategory.B1,
            "The event fell within a plausible time window (III.1) but there is no "
            "definitive evidence that the vaccine caused it: a potential signal to "
            "investigate." + extra,
            "事件发生在合理的时间窗内（III.1），但没有确切证据表明由疫苗引起：可能为需要"
            "调查的新信号。" + extra_zh,
        )
    if timing is Answer.no:
        if recurrence:
            return walk.conclude(
                CausalityCategory.B2,
                "The event fell outside the time window of increased risk (III.1), yet a "
                "similar event followed a previous dose (V.1): conflicting trends.",
                "事件发生在风险增加的时间窗之外（III.1），但既往接种后出现过类似事件（V.1）："
                "存在相互矛盾的因素。",
            )
        return walk.conclude(
            CausalityCategory.C,
            "The event fell outside the time window of increased risk (III.1) and nothing "
            "else links it to the vaccine: inconsistent with causation, coincidental.",
            "事件发生在风险增加的时间窗之外（III.1），也无其他因素将其与疫苗关联："
            "与因果关系不一致，属偶合。",
        )
    return walk.conclude(
        CausalityCategory.D,
        "Neither a known causal association nor the time relationship (III.1) can be "
        "established: unclassifiable until the missing information is collected.",
        "既不能确立已知因果关联，也不能确定时间关系（III.1）：在补充缺失信息之前无法分类。",
    )


class ChinaClassification(StrEnum):
    """Final classification by China's expert panel (调查诊断专家组)."""

    common_reaction = "common_reaction"
    rare_reaction = "rare_reaction"
    quality_defect = "quality_defect"
    immunization_error = "immunization_error"
    coincidental = "coincidental"
    psychogenic = "psychogenic"


CHINA_CLASSIFICATION_LABELS: dict[ChinaClassification, dict[str, str]] = {
    ChinaClassification.common_reaction: {"en": "Common (minor) reaction", "zh": "一般反应"},
    ChinaClassification.rare_reaction: {"en": "Rare adverse reaction", "zh": "异常反应"},
    ChinaClassification.quality_defect: {"en": "Vaccine quality defect", "zh": "疫苗质量事故"},
    ChinaClassification.immunization_error: {"en": "Immunization error", "zh": "接种事故"},
    ChinaClassification.coincidental: {"en": "Coincidental event", "zh": "偶合症"},
    ChinaClassification.psychogenic: {"en": "Psychogenic reaction", "zh": "心因性反应"},
}

# The WHO cause-specific categories and the Chinese classes they correspond to (DOMAIN.md,
# "Classification in China"). B1, B2 and D name no cause, so they have no entry.
CHINA_MATCHES: dict[CausalityCategory, frozenset[ChinaClassification]] = {
    CausalityCategory.A1: frozenset(
        {ChinaClassification.common_reaction, ChinaClassification.rare_reaction}
    ),
    CausalityCategory.A2: frozenset({ChinaClassification.quality_defect}),
    CausalityCategory.A3: frozenset({ChinaClassification.immunization_error}),
    CausalityCategory.A4: frozenset({ChinaClassification.psychogenic}),
    CausalityCategory.C: frozenset({ChinaClassification.coincidental}),
}


def china_classification_matches(
    category: CausalityCategory | None, china_class: ChinaClassification
) -> bool | None:
    """True when the two agree, False when they disagree, and None when the WHO category
    (B1, B2, D, or no category) names no cause to compare with. Test with `is False`."""
    if category not in CHINA_MATCHES:
        return None
    return china_class in CHINA_MATCHES[category]


@dataclass(frozen=True)
class ClassificationWarning:
    key: str  # stable identifier for templates and translation catalogues
    en: str
    zh: str


def classification_warning(
    category: CausalityCategory | None, china_class: ChinaClassification
) -> ClassificationWarning | None:
    """A warning to show the panel when its Chinese classification disagrees with the WHO
    category proposed by the algorithm; None when they agree or cannot be compared."""
    if china_classification_matches(category, china_class) is not False:
        return None
    assert category is not None  # a disagreement needs a category
    expected = sorted(CHINA_MATCHES[category])
    who_en, who_zh = CATEGORY_LABELS[category]["en"], CATEGORY_LABELS[category]["zh"]
    got_en = CHINA_CLASSIFICATION_LABELS[china_class]["en"]
    got_zh = CHINA_CLASSIFICATION_LABELS[china_class]["zh"]
    want_en = " or ".join(CHINA_CLASSIFICATION_LABELS[c]["en"].lower() for c in expected)
    want_zh = "或".join(CHINA_CLASSIFICATION_LABELS[c]["zh"] for c in expected)
    return ClassificationWarning(
        key="causality.china_classification_mismatch",
        en=(
            f"The WHO category {category} ({who_en.lower()}) does not match the Chinese "
            f"classification {got_zh} ({got_en.lower()}); it corresponds to {want_en}."
        ),
        zh=f"WHO因果关系分类{category}（{who_zh}）与中国分类“{got_zh}”不一致，应对应“{want_zh}”。",
    )
