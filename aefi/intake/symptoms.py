"""The one event-group vocabulary: each group's code and names (zh, en), and the coded
symptoms that are its members, in both languages.

Event groups are what triage, signals and investigation count and name; every module that
names a group imports it from here (``group_name``, ``group_label``). The codes of API.md's
groups are fixed. Codes are stable identifiers: add new ones, never rename or reuse one.
Names follow DOMAIN.md (thrombocytopenic purpura, 血小板减少性紫癜)."""

from __future__ import annotations

from dataclasses import dataclass

from aefi import i18n

# code → (zh, en)
EVENT_GROUPS: dict[str, tuple[str, str]] = {
    "anaphylaxis": ("严重过敏反应", "Anaphylaxis"),
    "allergic_rash": ("过敏性皮疹", "Allergic rash"),
    "angioedema": ("血管性水肿", "Angioedema"),
    "fever": ("发热", "Fever"),
    "local_reaction": ("局部反应", "Local reaction"),
    "seizure": ("惊厥", "Seizure"),
    "syncope": ("晕厥", "Syncope"),
    "hhe": ("低张力低反应发作", "Hypotonic-hyporesponsive episode"),
    "thrombocytopenia": ("血小板减少性紫癜", "Thrombocytopenic purpura"),
    "gbs": ("吉兰-巴雷综合征", "Guillain-Barré syndrome"),
    "encephalitis": ("脑炎/脑病", "Encephalitis / encephalopathy"),
    "myocarditis": ("心肌炎/心包炎", "Myocarditis / pericarditis"),
    "death": ("死亡", "Death"),
    "gastrointestinal": ("胃肠道反应", "Gastrointestinal reaction"),
    "systemic_other": ("其他全身反应", "Other systemic reaction"),
    "anxiety": ("预防接种焦虑相关反应", "Immunization anxiety-related reaction"),
    "lymphadenitis": ("淋巴结炎（含卡介苗）", "Lymphadenitis (incl. BCG)"),
    "other": ("其他", "Other"),
}


@dataclass(frozen=True)
class Symptom:
    code: str
    group: str
    zh: str
    en: str


SYMPTOMS: tuple[Symptom, ...] = (
    Symptom("ANAPH", "anaphylaxis", "严重过敏反应/过敏性休克", "Anaphylaxis / anaphylactic shock"),
    Symptom("LARYNX", "anaphylaxis", "喉头水肿", "Laryngeal oedema"),
    Symptom("BRONCHO", "anaphylaxis", "支气管痉挛/喘鸣", "Bronchospasm / wheeze"),
    Symptom("HYPOTEN", "anaphylaxis", "血压下降", "Hypotension"),
    Symptom("URTIC", "allergic_rash", "荨麻疹", "Urticaria"),
    Symptom("RASH", "allergic_rash", "皮疹", "Rash"),
    Symptom("ITCH", "allergic_rash", "全身瘙痒", "Generalised itching"),
    Symptom(
        "ANGIO", "angioedema", "血管性水肿（唇、眼睑、面部）", "Angioedema (lips, eyelids, face)"
    ),
    Symptom("FEVER", "fever", "发热", "Fever"),
    Symptom("FEVHI", "fever", "高热（≥38.6 ℃）", "High fever (≥38.6 °C)"),
    Symptom("REDNESS", "local_reaction", "局部红晕", "Redness at injection site"),
    Symptom("SWELL", "local_reaction", "局部肿胀", "Swelling at injection site"),
    Symptom("INDUR", "local_reaction", "局部硬结", "Induration at injection site"),
    Symptom("PAIN", "local_reaction", "局部疼痛", "Pain at injection site"),
    Symptom("ABSCESS", "local_reaction", "无菌性脓肿", "Sterile abscess"),
    Symptom("FEBSEIZ", "seizure", "热性惊厥", "Febrile seizure"),
    Symptom("SEIZ", "seizure", "无热惊厥/癫痫发作", "Afebrile seizure"),
    Symptom("SYNCOPE", "syncope", "晕厥", "Syncope (fainting)"),
    Symptom("HHE", "hhe", "低张力低反应发作", "Hypotonic-hyporesponsive episode"),
    Symptom("PURPURA", "thrombocytopenia", "血小板减少性紫癜", "Thrombocytopenic purpura"),
    Symptom("PETECH", "thrombocytopenia", "皮肤出血点/瘀斑", "Petechiae / bruising"),
    Symptom("GBS", "gbs", "吉兰-巴雷综合征", "Guillain-Barré syndrome"),
    Symptom("WEAKLEG", "gbs", "肢体无力/瘫痪", "Limb weakness / paralysis"),
    Symptom("ENCEPH", "encephalitis", "脑炎", "Encephalitis"),
    Symptom("ENCEPHP", "encephalitis", "脑病/意识障碍", "Encephalopathy / altered consciousness"),
    Symptom("MENING", "encephalitis", "脑膜炎", "Meningitis"),
    Symptom("MYOCARD", "myocarditis", "心肌炎", "Myocarditis"),
    Symptom("PERICARD", "myocarditis", "心包炎", "Pericarditis"),
    Symptom("CHESTPN", "myocarditis", "胸痛/心悸", "Chest pain / palpitations"),
    Symptom("DEATH", "death", "死亡", "Death"),
    Symptom("VOMIT", "gastrointestinal", "呕吐", "Vomiting"),
    Symptom("DIARR", "gastrointestinal", "腹泻", "Diarrhoea"),
    Symptom("ABDPAIN", "gastrointestinal", "腹痛", "Abdominal pain"),
    Symptom("NAUSEA", "gastrointestinal", "恶心", "Nausea"),
    Symptom("HEADACHE", "systemic_other", "头痛", "Headache"),
    Symptom("FATIGUE", "systemic_other", "乏力", "Fatigue"),
    Symptom("MYALGIA", "systemic_other", "肌肉酸痛", "Myalgia"),
    Symptom("CRYING", "systemic_other", "持续哭闹（≥3小时）", "Persistent crying (≥3 hours)"),
    Symptom(
        "DIZZY", "anxiety", "头晕、心慌（焦虑相关）", "Dizziness, palpitations (anxiety-related)"
    ),
    Symptom("HYPERV", "anxiety", "过度换气", "Hyperventilation"),
    Symptom("LYMPH", "lymphadenitis", "淋巴结肿大/淋巴结炎", "Lymphadenopathy / lymphadenitis"),
    Symptom(
        "BCGITIS", "lymphadenitis", "卡介苗相关局部溃疡/淋巴结炎", "BCG local ulcer / lymphadenitis"
    ),
    Symptom("OTHER", "other", "其他（请在描述中说明）", "Other (describe in free text)"),
)

BY_CODE: dict[str, Symptom] = {s.code: s for s in SYMPTOMS}


def groups_of(codes: list[str] | tuple[str, ...]) -> list[str]:
    """The event groups of the given codes, in vocabulary order, each once."""
    wanted = {BY_CODE[c].group for c in codes if c in BY_CODE}
    return [g for g in EVENT_GROUPS if g in wanted]


def unknown_codes(codes: list[str] | tuple[str, ...]) -> list[str]:
    return [c for c in codes if c not in BY_CODE]


# The signals' two pseudo-groups: every report, and every serious one (signals/counts.py).
PSEUDO_GROUPS = {
    "all_aefi": ("全部AEFI", "all AEFI"),
    "serious_aefi": ("严重AEFI", "serious AEFI"),
}


def _names(group: str) -> tuple[str, str]:
    return EVENT_GROUPS.get(group) or PSEUDO_GROUPS.get(group) or (group, group)


def group_label(group: str, lang: str = "en", *, in_sentence: bool = False) -> str:
    """A group's name in ``lang`` ("zh" or "en"; its code when unknown). ``in_sentence``
    lower-cases the English name ("fever"); acronyms such as "GBS" stay as they are."""
    zh, en = _names(group)
    if lang == "zh":
        return zh
    return en[:1].lower() + en[1:] if in_sentence and not en[:2].isupper() else en


def group_name(group: str) -> str:
    """A group's name in the reader's language (its code when unknown)."""
    zh, en = _names(group)
    return i18n.pick(zh, en)
