"""Body systems: the top level of aefi's term hierarchy (reported term -> symptom code ->
event group -> body system), in plain words after MedDRA's system organ classes (SOCs).

Keys are stable identifiers. ``SOC_ABBREV`` maps MedDRA's SOC abbreviations (``mdhier.asc``
column ``soc_abbrev``) to them, so a county that loads its MedDRA files gets the body system
of every term from the term's primary SOC."""

from __future__ import annotations

BODY_SYSTEMS: dict[str, tuple[str, str]] = {
    "general": ("全身性及接种部位", "General and administration site"),
    "immune": ("免疫系统", "Immune system"),
    "skin": ("皮肤及皮下组织", "Skin and subcutaneous tissue"),
    "nervous": ("神经系统", "Nervous system"),
    "psychiatric": ("精神", "Psychiatric"),
    "cardiac": ("心脏", "Heart"),
    "vascular": ("血管与血压", "Blood vessels and blood pressure"),
    "blood": ("血液及淋巴系统", "Blood and lymphatic system"),
    "respiratory": ("呼吸系统", "Respiratory system"),
    "gastrointestinal": ("胃肠系统", "Digestive system"),
    "hepatobiliary": ("肝胆系统", "Liver and bile ducts"),
    "musculoskeletal": ("肌肉骨骼及结缔组织", "Muscles, bones and joints"),
    "infections": ("感染", "Infections"),
    "eye": ("眼", "Eye"),
    "ear": ("耳及迷路", "Ear and balance"),
    "metabolism": ("代谢及营养", "Metabolism and nutrition"),
    "renal": ("肾脏及泌尿系统", "Kidneys and urinary tract"),
    "reproductive": ("生殖系统及乳腺", "Reproductive system and breast"),
    "pregnancy": ("妊娠及围产期", "Pregnancy and birth"),
    "endocrine": ("内分泌系统", "Hormone glands"),
    "congenital": ("先天性疾病", "Congenital conditions"),
    "neoplasms": ("肿瘤", "Tumours"),
    "investigations": ("检查结果", "Test results"),
    "injury": ("损伤、中毒及操作并发症", "Injury, poisoning and procedures"),
    "social": ("社会环境", "Social circumstances"),
    "surgical": ("手术及医疗操作", "Surgical and medical procedures"),
    "product": ("产品问题", "Product issues"),
}

SOC_ABBREV: dict[str, str] = {
    "Blood": "blood",
    "Card": "cardiac",
    "Cong": "congenital",
    "Ear": "ear",
    "Endo": "endocrine",
    "Eye": "eye",
    "Gastr": "gastrointestinal",
    "Genrl": "general",
    "Hepat": "hepatobiliary",
    "Immun": "immune",
    "Infec": "infections",
    "Inj&P": "injury",
    "Inv": "investigations",
    "Metab": "metabolism",
    "Musc": "musculoskeletal",
    "Neopl": "neoplasms",
    "Nerv": "nervous",
    "Preg": "pregnancy",
    "Prod": "product",
    "Psych": "psychiatric",
    "Renal": "renal",
    "Repro": "reproductive",
    "Resp": "respiratory",
    "Skin": "skin",
    "SocCi": "social",
    "Surg": "surgical",
    "Vasc": "vascular",
}

# The body system of each aefi symptom code, where a seeded term names none itself.
OF_CODE: dict[str, str] = {
    "ANAPH": "immune",
    "LARYNX": "respiratory",
    "BRONCHO": "respiratory",
    "HYPOTEN": "vascular",
    "URTIC": "skin",
    "RASH": "skin",
    "ITCH": "skin",
    "ANGIO": "skin",
    "FEVER": "general",
    "FEVHI": "general",
    "REDNESS": "general",
    "SWELL": "general",
    "INDUR": "general",
    "PAIN": "general",
    "ABSCESS": "general",
    "FEBSEIZ": "nervous",
    "SEIZ": "nervous",
    "SYNCOPE": "nervous",
    "HHE": "nervous",
    "PURPURA": "blood",
    "PETECH": "skin",
    "GBS": "nervous",
    "WEAKLEG": "nervous",
    "ENCEPH": "nervous",
    "ENCEPHP": "nervous",
    "MENING": "nervous",
    "MYOCARD": "cardiac",
    "PERICARD": "cardiac",
    "CHESTPN": "general",
    "DEATH": "general",
    "VOMIT": "gastrointestinal",
    "DIARR": "gastrointestinal",
    "ABDPAIN": "gastrointestinal",
    "NAUSEA": "gastrointestinal",
    "HEADACHE": "nervous",
    "FATIGUE": "general",
    "MYALGIA": "musculoskeletal",
    "CRYING": "general",
    "DIZZY": "nervous",
    "HYPERV": "respiratory",
    "LYMPH": "blood",
    "BCGITIS": "infections",
}


def label(key: str | None, locale: str) -> str:
    if not key or key not in BODY_SYSTEMS:
        return ""
    zh, en = BODY_SYSTEMS[key]
    return en if locale == "en" else zh
