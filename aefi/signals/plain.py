"""Numbers and sentences for people: what a signal saw and how unusual it is, in the
reader's language, without exponents (``9.07e-09`` reads "less than 1 in 1,000,000").
Pure: the words come from the catalogs (``aefi.i18n``), nothing else is read."""

from __future__ import annotations

import math

from aefi import i18n

# Chinese names of the powers of ten a chance is told in ("less than 1 in 10,000": 不到万分之一).
_ZH_POWERS = {2: "百", 3: "千", 4: "万", 5: "十万", 6: "百万"}
SMALLEST_CHANCE_POWER = 6  # below 1 in a million the page says "< 1 in 1,000,000"


def count(n: float | int | None) -> str:
    """A whole number with thousands separators: 1240 → "1,240"."""
    if n is None:
        return "—"
    return f"{round(n):,}"


def amount(x: float | None) -> str:
    """An expected count: two significant digits, no exponent ("0.8", "0.0031", "12",
    "1,470"); below 0.001 "< 0.001"."""
    if x is None or not math.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    if abs(x) < 0.001:
        return "< 0.001"
    if abs(x) >= 100:
        return f"{round(x):,}"
    digits = max(0, 1 - int(math.floor(math.log10(abs(x)))))
    text = f"{round(x, digits):.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def times(ratio: float | None) -> str:
    """How many times the expected: "6", "1.5", "1,200"."""
    if ratio is None or not math.isfinite(ratio):
        return "—"
    if ratio >= 1000:
        return f"{round(ratio, 2 - len(str(int(ratio)))):,.0f}"
    if ratio >= 10:
        return f"{round(ratio):,}"
    if ratio >= 3:
        return f"{round(ratio)}"
    return f"{ratio:.1f}"


def _power_name(k: int) -> str:
    if i18n.get_locale() == "zh_CN":
        return _ZH_POWERS.get(k, f"{10**k:,}")
    return f"{10**k:,}"


def chance(p: float | None) -> str:
    """The chance of a count this high or higher if nothing were wrong, in words:
    p 9.07e-09 → "less than 1 in 1,000,000"; 3e-5 → "less than 1 in 10,000";
    0.02 → "about 1 in 50"; 0.6 → "about 6 in 10"."""
    if p is None or not math.isfinite(p) or p < 0:
        return i18n.gettext("not computed")
    if p < 10.0**-SMALLEST_CHANCE_POWER:
        return i18n.gettext("less than 1 in {n}", n=_power_name(SMALLEST_CHANCE_POWER))
    if p < 0.001:
        k = int(math.floor(-math.log10(p)))  # p < 10^-k
        return i18n.gettext("less than 1 in {n}", n=_power_name(k))
    if p >= 0.95:
        return i18n.gettext("more than 9 in 10")
    if p >= 0.1:
        return i18n.gettext("about {k} in 10", k=max(1, min(10, round(p * 10))))
    inv = 1.0 / p
    digits = int(math.floor(math.log10(inv))) - 1
    n = round(inv, -digits) if digits > 0 else round(inv)
    return i18n.gettext("about 1 in {n}", n=f"{int(n):,}")


def window(start_days: float | None, end_days: float | None) -> str:
    """The risk window in words: "within 2 days", "within 1 hour", "6–12 days after"."""
    if end_days is None:
        return i18n.gettext("within each vaccine's risk window")
    start = start_days or 0.0
    if start > 0:
        return i18n.gettext("{a}–{b} days after", a=f"{start:g}", b=f"{end_days:g}")
    if end_days < 1:
        hours = max(1, round(end_days * 24))
        return (
            i18n.gettext("within 1 hour")
            if hours == 1
            else i18n.gettext("within {n} hours", n=hours)
        )
    n = round(end_days)
    return i18n.gettext("within 1 day") if n == 1 else i18n.gettext("within {n} days", n=n)


def reports(n: int) -> str:
    return i18n.gettext("1 report") if n == 1 else i18n.gettext("{k} reports", k=count(n))


def doses(n: int) -> str:
    return i18n.gettext("1 dose") if n == 1 else i18n.gettext("{k} doses", k=count(n))


def sites(n: int) -> str:
    return i18n.gettext("1 site") if n == 1 else i18n.gettext("{k} sites", k=count(n))


def unusual(observed: int, expected: float | None, ratio: float | None, p: float | None) -> str:
    """How unusual the count is: "about 6 times the expected 0.8; a count this high by
    chance: less than 1 in 10,000"."""
    by_chance = chance(p)
    if not expected:
        return i18n.gettext(
            "none expected from the rate; a count this high by chance: {chance}.", chance=by_chance
        )
    if expected < 0.01:
        return i18n.gettext(
            "far above the expected {expected} (almost none); a count this high by chance: "
            "{chance}.",
            expected=amount(expected),
            chance=by_chance,
        )
    return i18n.gettext(
        "about {times} times the expected {expected}; a count this high by chance: {chance}.",
        times=times(ratio if ratio is not None else observed / expected),
        expected=amount(expected),
        chance=by_chance,
    )


def event(group_name_en: str, group_name_zh: str) -> str:
    """An event group's name inside a sentence ("anaphylaxis"; acronyms stay "GBS")."""
    if i18n.get_locale() == "zh_CN":
        return group_name_zh
    en = group_name_en
    return en[:1].lower() + en[1:] if not en[:2].isupper() else en


def decimal(x: float | None, digits: int = 3) -> str:
    """A small number in decimals, never an exponent: 9.07e-09 → "< 0.000001",
    0.000123 → "0.000123", 0.0421 → "0.0421", 1473.2 → "1,473"."""
    if x is None or not math.isfinite(x):
        return "—"
    if x == 0:
        return "0"
    if abs(x) < 1e-6:
        return "< 0.000001"
    if abs(x) >= 100:
        return f"{round(x):,}"
    places = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    text = f"{x:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def per_million(rate: float | None) -> str:
    """A rate per dose as people read it: 1.31e-06 → "1.31 per million doses"."""
    if rate is None or not math.isfinite(rate):
        return "—"
    return i18n.gettext("{x} per million doses", x=decimal(rate * 1_000_000))


def percent(x: float | None) -> str:
    """A share as a percentage: "37.5%" (one decimal below 10%: "2.5%", "0.4%")."""
    if x is None:
        return "—"
    pct = x * 100
    return f"{pct:.1f}%" if pct < 10 or pct != round(pct) else f"{pct:.0f}%"
