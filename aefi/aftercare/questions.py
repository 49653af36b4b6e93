"""What a vaccinee or guardian is asked, in plain words, and which answers are red flags.

Each plain symptom maps onto the report card's coded symptoms (``intake.symptoms``), so a
confirmed self-report counts in the same event groups as any report. Red flags are a
setting (``Settings.checkin_red_flags``); ``high_fever`` is a red flag only for an infant
(under one year) — ``high_fever_infant`` in the setting. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from aefi.i18n import N_


@dataclass(frozen=True)
class PlainSymptom:
    code: str
    label: str  # msgid
    report_codes: tuple[str, ...]  # intake.symptoms codes


SYMPTOMS: tuple[PlainSymptom, ...] = (
    PlainSymptom(
        "breathing", N_("Difficulty breathing, wheezing or noisy breathing"), ("BRONCHO",)
    ),
    PlainSymptom(
        "face_swelling", N_("Swelling of the face, lips, tongue or throat"), ("ANGIO", "LARYNX")
    ),
    PlainSymptom("seizure", N_("Fits, jerking or stiffening (a seizure)"), ("SEIZ",)),
    PlainSymptom("unresponsive", N_("Floppy, pale, hard to wake or not responding"), ("HHE",)),
    PlainSymptom("high_fever", N_("High fever (39 °C or more)"), ("FEVHI",)),
    PlainSymptom("fever", N_("Fever below 39 °C"), ("FEVER",)),
    PlainSymptom("rash", N_("Rash, hives or itching"), ("RASH",)),
    PlainSymptom(
        "injection_site",
        N_("Redness, swelling, a lump or pain where the injection was given"),
        ("SWELL",),
    ),
    PlainSymptom("crying", N_("Crying that cannot be soothed for 3 hours or more"), ("CRYING",)),
    PlainSymptom("stomach", N_("Vomiting or diarrhoea"), ("VOMIT",)),
    PlainSymptom("other", N_("Something else (please describe)"), ("OTHER",)),
)
BY_CODE = {s.code: s for s in SYMPTOMS}

DEFAULT_RED_FLAGS = ("breathing", "face_swelling", "seizure", "unresponsive", "high_fever_infant")

SEVERITIES = (
    ("mild", N_("Mild: noticed, but daily life goes on")),
    ("moderate", N_("Moderate: gets in the way of daily life")),
    ("severe", N_("Severe: cannot do the usual things / needs a doctor")),
)
SEVERITY_CODES = tuple(code for code, _ in SEVERITIES)


def parse_red_flags(setting: str) -> tuple[str, ...]:
    flags = tuple(f.strip() for f in setting.split(",") if f.strip())
    return flags or DEFAULT_RED_FLAGS


def red_flags_in(
    codes: list[str], *, age_days: int | None, red_flags: tuple[str, ...]
) -> list[str]:
    """The red-flag answers among ``codes`` (in vocabulary order)."""
    infant = age_days is not None and age_days < 365
    hits = []
    for code in [s.code for s in SYMPTOMS if s.code in codes]:
        if code in red_flags or (
            code == "high_fever" and infant and "high_fever_infant" in red_flags
        ):
            hits.append(code)
    return hits


def report_codes(codes: list[str]) -> list[str]:
    """The report card's symptom codes for these plain answers, each once."""
    out: list[str] = []
    for code in codes:
        for rc in BY_CODE[code].report_codes if code in BY_CODE else ():
            if rc not in out:
                out.append(rc)
    return out


# What to watch for after a vaccine, by vaccine code (the start of it); generic otherwise.
ADVICE_COMMON = (
    N_(
        "Redness, swelling or pain where the injection was given, and a mild fever, are common in the first two days and pass by themselves."
    ),
    N_(
        "Call 120 at once, then the hospital below, for difficulty breathing, swelling of the face or throat, a seizure, or a child who is floppy or hard to wake."
    ),
    N_(
        "Tell the vaccination site about anything else that worries you, using the link or the phone number on this certificate."
    ),
)
ADVICE_BY_VACCINE = {
    "MMR": (
        N_(
            "A fever or a rash may appear 5 to 12 days after this vaccine; it usually passes within two days."
        ),
    ),
    "MR": (
        N_(
            "A fever or a rash may appear 5 to 12 days after this vaccine; it usually passes within two days."
        ),
    ),
    "BCG": (
        N_(
            "A small lump at the injection site that turns into a sore and heals into a scar over 2 to 3 months is expected; do not squeeze or cover it tightly. Swollen glands in the armpit should be shown to the site."
        ),
    ),
    "DTAP": (
        N_(
            "Crying that cannot be soothed for 3 hours or more, or a high fever, should be reported to the site."
        ),
    ),
}


def advice_for(vaccine_code: str) -> tuple[str, ...]:
    code = vaccine_code.upper()
    specific = ADVICE_BY_VACCINE.get(code) or ADVICE_BY_VACCINE.get(code.split("_")[0], ())
    return (*specific, *ADVICE_COMMON)
