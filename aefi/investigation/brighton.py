"""Brighton Collaboration level of diagnostic certainty for anaphylaxis.

Source: Rüggeberg JU, Gold MS, Bayas JM, et al. Anaphylaxis: case definition and guidelines
for data collection, analysis, and presentation of immunization safety data. Vaccine
2007;25:5675-84. Levels 1-3 and the major and minor criteria are the paper's; levels 4
("reported anaphylaxis with insufficient evidence to meet any level") and 5 ("not a case of
anaphylaxis") follow later Brighton practice as stated in DOMAIN.md.

For every level 1-3 the paper requires sudden onset AND rapid progression of signs and
symptoms AND involvement of multiple (>=2) organ systems, then:

    Level 1  >=1 major dermatologic AND (>=1 major cardiovascular AND/OR >=1 major
             respiratory)
    Level 2  >=1 major cardiovascular AND >=1 major respiratory
             OR >=1 major cardiovascular or respiratory AND >=1 minor criterion involving
                >=1 different system (other than cardiovascular or respiratory)
             OR >=1 major dermatologic AND >=1 minor cardiovascular and/or respiratory
    Level 3  >=1 minor cardiovascular or respiratory AND >=1 minor criterion from each of
             >=2 different systems/categories

Readings where the wording allows two, marked "Reading:" below.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class OrganSystem(StrEnum):
    dermatologic = "dermatologic"  # the paper: "dermatologic or mucosal"
    cardiovascular = "cardiovascular"
    respiratory = "respiratory"
    gastrointestinal = "gastrointestinal"
    laboratory = "laboratory"  # a category of criteria, not an organ system


class Rank(StrEnum):
    major = "major"
    minor = "minor"


class Criterion(StrEnum):
    """The paper's criteria, in its order. `CRITERIA` gives each one's system and rank."""

    # Major, dermatologic or mucosal
    generalized_urticaria_or_erythema = "generalized_urticaria_or_erythema"
    angioedema = "angioedema"
    generalized_pruritus_with_rash = "generalized_pruritus_with_rash"
    # Major, cardiovascular
    measured_hypotension = "measured_hypotension"
    uncompensated_shock = "uncompensated_shock"
    # Major, respiratory
    bilateral_wheeze = "bilateral_wheeze"
    stridor = "stridor"
    upper_airway_swelling = "upper_airway_swelling"
    respiratory_distress = "respiratory_distress"
    # Minor, dermatologic or mucosal
    generalized_pruritus_without_rash = "generalized_pruritus_without_rash"
    generalized_prickle_sensation = "generalized_prickle_sensation"
    injection_site_urticaria = "injection_site_urticaria"
    red_itchy_eyes = "red_itchy_eyes"
    # Minor, cardiovascular
    reduced_peripheral_circulation = "reduced_peripheral_circulation"
    # Minor, respiratory
    persistent_dry_cough = "persistent_dry_cough"
    hoarse_voice = "hoarse_voice"
    difficulty_breathing = "difficulty_breathing"
    throat_closure_sensation = "throat_closure_sensation"
    sneezing_rhinorrhoea = "sneezing_rhinorrhoea"
    # Minor, gastrointestinal
    diarrhoea = "diarrhoea"
    abdominal_pain = "abdominal_pain"
    nausea = "nausea"
    vomiting = "vomiting"
    # Minor, laboratory
    tryptase_elevated = "tryptase_elevated"


@dataclass(frozen=True)
class CriterionSpec:
    system: OrganSystem
    rank: Rank
    en: str
    zh: str


_D, _CV, _R = OrganSystem.dermatologic, OrganSystem.cardiovascular, OrganSystem.respiratory
_GI, _LAB = OrganSystem.gastrointestinal, OrganSystem.laboratory
_MAJ, _MIN = Rank.major, Rank.minor

CRITERIA: dict[Criterion, CriterionSpec] = {
    Criterion.generalized_urticaria_or_erythema: CriterionSpec(
        _D,
        _MAJ,
        "Generalized urticaria (hives) or generalized erythema",
        "全身性荨麻疹或全身性红斑",
    ),
    Criterion.angioedema: CriterionSpec(
        _D, _MAJ, "Angioedema, localized or generalized", "血管性水肿（局部或全身）"
    ),
    Criterion.generalized_pruritus_with_rash: CriterionSpec(
        _D, _MAJ, "Generalized pruritus with skin rash", "全身瘙痒伴皮疹"
    ),
    Criterion.measured_hypotension: CriterionSpec(_CV, _MAJ, "Measured hypotension", "测得低血压"),
    Criterion.uncompensated_shock: CriterionSpec(
        _CV,
        _MAJ,
        "Clinical diagnosis of uncompensated shock (at least 3 of: tachycardia, capillary "
        "refill time > 3 s, reduced central pulse volume, decreased or lost consciousness)",
        "失代偿性休克的临床诊断（心动过速、毛细血管再充盈时间>3秒、中心脉搏减弱、"
        "意识水平下降或丧失，至少3项）",
    ),
    Criterion.bilateral_wheeze: CriterionSpec(
        _R, _MAJ, "Bilateral wheeze (bronchospasm)", "双肺哮鸣音（支气管痉挛）"
    ),
    Criterion.stridor: CriterionSpec(_R, _MAJ, "Stridor", "喉喘鸣"),
    Criterion.upper_airway_swelling: CriterionSpec(
        _R,
        _MAJ,
        "Upper airway swelling (lip, tongue, throat, uvula or larynx)",
        "上气道肿胀（唇、舌、咽、悬雍垂或喉）",
    ),
    Criterion.respiratory_distress: CriterionSpec(
        _R,
        _MAJ,
        "Respiratory distress (at least 2 of: tachypnoea, increased use of accessory "
        "respiratory muscles, recession, cyanosis, grunting)",
        "呼吸窘迫（呼吸急促、辅助呼吸肌使用增加、吸气性凹陷、发绀、呻吟，至少2项）",
    ),
    Criterion.generalized_pruritus_without_rash: CriterionSpec(
        _D, _MIN, "Generalized pruritus without skin rash", "全身瘙痒不伴皮疹"
    ),
    Criterion.generalized_prickle_sensation: CriterionSpec(
        _D, _MIN, "Generalized prickle sensation", "全身针刺感"
    ),
    Criterion.injection_site_urticaria: CriterionSpec(
        _D, _MIN, "Localized injection site urticaria", "注射部位局部荨麻疹"
    ),
    Criterion.red_itchy_eyes: CriterionSpec(_D, _MIN, "Red and itchy eyes", "眼红、眼痒"),
    Criterion.reduced_peripheral_circulation: CriterionSpec(
        _CV,
        _MIN,
        "Reduced peripheral circulation (at least 2 of: tachycardia, capillary refill time "
        "> 3 s without hypotension, decreased level of consciousness)",
        "外周循环减弱（心动过速、无低血压时毛细血管再充盈时间>3秒、意识水平下降，至少2项）",
    ),
    Criterion.persistent_dry_cough: CriterionSpec(_R, _MIN, "Persistent dry cough", "持续干咳"),
    Criterion.hoarse_voice: CriterionSpec(_R, _MIN, "Hoarse voice", "声音嘶哑"),
    Criterion.difficulty_breathing: CriterionSpec(
        _R, _MIN, "Difficulty breathing without wheeze or stridor", "呼吸困难（无哮鸣音或喉喘鸣）"
    ),
    Criterion.throat_closure_sensation: CriterionSpec(
        _R, _MIN, "Sensation of throat closure", "咽喉紧缩感"
    ),
    Criterion.sneezing_rhinorrhoea: CriterionSpec(
        _R, _MIN, "Sneezing, rhinorrhoea", "打喷嚏、流涕"
    ),
    Criterion.diarrhoea: CriterionSpec(_GI, _MIN, "Diarrhoea", "腹泻"),
    Criterion.abdominal_pain: CriterionSpec(_GI, _MIN, "Abdominal pain", "腹痛"),
    Criterion.nausea: CriterionSpec(_GI, _MIN, "Nausea", "恶心"),
    Criterion.vomiting: CriterionSpec(_GI, _MIN, "Vomiting", "呕吐"),
    Criterion.tryptase_elevated: CriterionSpec(
        _LAB,
        _MIN,
        "Mast cell tryptase elevation above the upper normal limit",
        "肥大细胞类胰蛋白酶升高（高于正常上限）",
    ),
}

CRITERION_LABELS: dict[Criterion, dict[str, str]] = {
    criterion: {"en": spec.en, "zh": spec.zh} for criterion, spec in CRITERIA.items()
}

LEVEL_LABELS: dict[int, dict[str, str]] = {
    1: {"en": "Level 1 of diagnostic certainty", "zh": "诊断确定性1级"},
    2: {"en": "Level 2 of diagnostic certainty", "zh": "诊断确定性2级"},
    3: {"en": "Level 3 of diagnostic certainty", "zh": "诊断确定性3级"},
    4: {
        "en": "Reported anaphylaxis with insufficient evidence to meet any level",
        "zh": "报告为严重过敏反应，但证据不足以达到任何诊断确定性级别",
    },
    5: {"en": "Not a case of anaphylaxis", "zh": "非严重过敏反应病例"},
}


class Sign(StrEnum):
    """Signs that make up the paper's composite criteria."""

    measured_hypotension = "measured_hypotension"
    tachycardia = "tachycardia"
    capillary_refill_over_3s = "capillary_refill_over_3s"
    reduced_central_pulse = "reduced_central_pulse"
    decreased_consciousness = "decreased_consciousness"
    tachypnoea = "tachypnoea"
    accessory_muscle_use = "accessory_muscle_use"
    recession = "recession"
    cyanosis = "cyanosis"
    grunting = "grunting"


_SHOCK_SIGNS = frozenset(
    {
        Sign.tachycardia,
        Sign.capillary_refill_over_3s,
        Sign.reduced_central_pulse,
        Sign.decreased_consciousness,
    }
)
_DISTRESS_SIGNS = frozenset(
    {Sign.tachypnoea, Sign.accessory_muscle_use, Sign.recession, Sign.cyanosis, Sign.grunting}
)
_PERIPHERAL_SIGNS = frozenset(
    {Sign.tachycardia, Sign.capillary_refill_over_3s, Sign.decreased_consciousness}
)


def criteria_from_signs(signs: Iterable[Sign]) -> frozenset[Criterion]:
    """The cardiovascular and respiratory criteria that recorded signs add up to."""
    present = frozenset(signs)
    found: set[Criterion] = set()
    if Sign.measured_hypotension in present:
        found.add(Criterion.measured_hypotension)
    if len(present & _SHOCK_SIGNS) >= 3:  # paper: "at least 3" for uncompensated shock
        found.add(Criterion.uncompensated_shock)
    if len(present & _DISTRESS_SIGNS) >= 2:  # paper: "2 or more" for respiratory distress
        found.add(Criterion.respiratory_distress)
    # Paper: "at least 2" of its three signs, with capillary refill "without hypotension";
    # with measured hypotension the major criterion applies instead.
    if Sign.measured_hypotension not in present and len(present & _PERIPHERAL_SIGNS) >= 2:
        found.add(Criterion.reduced_peripheral_circulation)
    return frozenset(found)


@dataclass(frozen=True)
class BrightonResult:
    level: int  # 1-3 levels of diagnostic certainty, 4 insufficient evidence, 5 not a case
    reasons: tuple[str, ...]
    label: str
    label_zh: str
    reasons_zh: tuple[str, ...] = ()  # `reasons` in Chinese, item for item

    def reasons_in(self, lang: str) -> tuple[str, ...]:
        return self.reasons_zh if lang.startswith("zh") and self.reasons_zh else self.reasons


SYSTEM_LABELS: dict[OrganSystem, dict[str, str]] = {
    OrganSystem.dermatologic: {"en": "dermatologic or mucosal", "zh": "皮肤黏膜"},
    OrganSystem.cardiovascular: {"en": "cardiovascular", "zh": "心血管"},
    OrganSystem.respiratory: {"en": "respiratory", "zh": "呼吸"},
    OrganSystem.gastrointestinal: {"en": "gastrointestinal", "zh": "胃肠道"},
    OrganSystem.laboratory: {"en": "laboratory", "zh": "实验室"},
}


def _result(level: int, reasons: list[tuple[str, str]]) -> BrightonResult:
    return BrightonResult(
        level=level,
        reasons=tuple(en for en, _zh in reasons),
        label=LEVEL_LABELS[level]["en"],
        label_zh=LEVEL_LABELS[level]["zh"],
        reasons_zh=tuple(zh for _en, zh in reasons),
    )


def _names(systems: Iterable[OrganSystem]) -> str:
    return ", ".join(sorted(systems))


def _names_zh(systems: Iterable[OrganSystem]) -> str:
    return "、".join(SYSTEM_LABELS[s]["zh"] for s in sorted(systems))


def _criteria_level(
    major: set[OrganSystem], minor: set[OrganSystem]
) -> tuple[int, str, str] | None:
    """The best level that the criteria alone reach, and the branch that reached it
    (in English and in Chinese)."""
    major_cv_or_r = major & {_CV, _R}
    if _D in major and major_cv_or_r:
        return (
            1,
            f"major dermatologic and major {_names(major_cv_or_r)} criteria",
            f"皮肤黏膜主要标准和{_names_zh(major_cv_or_r)}主要标准",
        )
    if {_CV, _R} <= major:
        return 2, "major cardiovascular and major respiratory criteria", "心血管和呼吸主要标准"
    # Reading: "a different system (other than cardiovascular or respiratory systems)" means
    # a minor criterion from the dermatologic, gastrointestinal or laboratory category; a
    # minor respiratory criterion beside a major cardiovascular one does not count here, so
    # that pair alone (with no dermatologic, gastrointestinal or laboratory finding) meets
    # no level, as the paper's wording gives.
    other = minor - {_CV, _R}
    if major_cv_or_r and other:
        return (
            2,
            f"major {_names(major_cv_or_r)} criterion and minor criterion from another "
            f"system ({_names(other)})",
            f"{_names_zh(major_cv_or_r)}主要标准和另一系统的次要标准（{_names_zh(other)}）",
        )
    minor_cv_or_r = minor & {_CV, _R}
    if _D in major and minor_cv_or_r:
        return (
            2,
            f"major dermatologic and minor {_names(minor_cv_or_r)} criteria",
            f"皮肤黏膜主要标准和{_names_zh(minor_cv_or_r)}次要标准",
        )
    # Reading (DOMAIN.md): the minor criteria of ">=2 different systems/categories" are
    # besides the cardiovascular or respiratory one, so level 3 needs minor criteria from at
    # least three systems or categories, one of them cardiovascular or respiratory. The
    # laboratory category counts as one of them, as the paper says "systems/categories".
    if minor_cv_or_r and len(minor) >= 3:
        return (
            3,
            f"minor {_names(minor_cv_or_r)} criterion and minor criteria from "
            f"{len(minor) - 1} further systems or categories ({_names(minor)})",
            f"{_names_zh(minor_cv_or_r)}次要标准及另外{len(minor) - 1}个系统或类别的次要标准"
            f"（{_names_zh(minor)}）",
        )
    return None


def brighton_level(
    criteria: Iterable[Criterion],
    sudden_onset_rapid_progression: bool | None,
    multiple_organ_systems: bool | None,
    reported_as_anaphylaxis: bool = True,
) -> BrightonResult:
    """Level of diagnostic certainty for one event.

    `multiple_organ_systems` is the assessor's finding; None means not recorded, and then
    the criteria decide (two or more organ systems among them, the laboratory not being an
    organ system). None for `sudden_onset_rapid_progression` means not recorded: levels 1-3
    cannot be confirmed. False for either rules anaphylaxis out (level 5).
    """
    present = frozenset(criteria)
    major = {CRITERIA[c].system for c in present if CRITERIA[c].rank is Rank.major}
    minor = {CRITERIA[c].system for c in present if CRITERIA[c].rank is Rank.minor}
    organ_systems = (major | minor) - {_LAB}
    reasons: list[tuple[str, str]] = []

    if sudden_onset_rapid_progression is False:
        return _result(
            5,
            [
                (
                    "Onset was not sudden or progression not rapid; every level requires both.",
                    "起病不突然或进展不迅速；各级别均要求二者同时具备。",
                )
            ],
        )
    if multiple_organ_systems is False:
        return _result(
            5,
            [
                (
                    "Only one organ system was involved; every level requires two.",
                    "仅累及一个器官系统；各级别均要求累及两个及以上。",
                )
            ],
        )

    met = _criteria_level(major, minor)
    if met is not None:
        reasons.append(
            (f"The criteria meet level {met[0]}: {met[1]}.", f"符合{met[0]}级标准：{met[2]}。")
        )
    else:
        reasons.append(
            ("The criteria do not meet any of levels 1-3.", "不符合1-3级中任何级别的标准。")
        )

    confirmed = True
    if sudden_onset_rapid_progression is None:
        reasons.append(
            ("Sudden onset and rapid progression are not recorded.", "未记录突然起病和迅速进展。")
        )
        confirmed = False
    if multiple_organ_systems is None and len(organ_systems) < 2:
        reasons.append(
            (
                "Involvement of two or more organ systems is not recorded and the criteria show "
                f"{len(organ_systems)} ({_names(organ_systems) or 'none'}).",
                f"未记录累及两个及以上器官系统，所记录标准仅涉及{len(organ_systems)}个"
                f"（{_names_zh(organ_systems) or '无'}）。",
            )
        )
        confirmed = False

    if met is not None and confirmed:
        return _result(met[0], reasons)
    # Reading: level 4 is for an event that is reported as anaphylaxis, or whose criteria
    # alone would meet a level, when the evidence falls short; an event not reported as
    # anaphylaxis whose criteria meet no level is not a case.
    if reported_as_anaphylaxis or met is not None:
        return _result(4, reasons)
    reasons.append(("It was not reported as anaphylaxis.", "未作为严重过敏反应报告。"))
    return _result(5, reasons)
