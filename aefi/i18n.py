"""Chinese and English through Babel catalogs.

Source strings are English. Each domain keeps its Chinese catalog in
``aefi/locale/zh_CN/<domain>.po``; they are merged at start, so two domains never edit
one file. The request's language lives in a context variable that ``_`` reads.
"""

from __future__ import annotations

import contextvars
import re
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("zh_CN", "en")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("aefi_locale", default="zh_CN")


class _CatalogTranslations(Translations):
    """Translations read straight from .po files (no compile step, nothing generated)."""

    def __init__(self, messages: dict[str, str]) -> None:
        NullTranslations.__init__(self)
        self._catalog = messages
        self.plural = lambda n: int(n != 1)


@lru_cache
def _catalog(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()
    messages: dict[str, str] = {}
    for po in sorted((LOCALE_DIR / locale).glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=locale)
        for msg in cat:
            if not msg.id or not msg.string or msg.fuzzy:
                continue
            if isinstance(msg.id, tuple):
                for i, s in enumerate(msg.string):
                    messages[(msg.id[0], i)] = s
            else:
                messages[msg.id] = msg.string
    return _CatalogTranslations(messages)


def reload() -> None:
    _catalog.cache_clear()


def set_locale(locale: str) -> contextvars.Token:
    return _current.set(locale if locale in LOCALES else "zh_CN")


def get_locale() -> str:
    return _current.get()


def N_(message: str) -> str:
    """Marks a string for the catalog without translating it here (labels in tables)."""
    return message


# How each role is named (the header, timelines, and a refusal's "your role (…)").
ROLE_LABELS = {
    "reporter": N_("Observation physician"),
    "investigator": N_("CDC investigator"),
    "bureau": N_("Health bureau"),
    "hospital": N_("Green-channel hospital"),
    "admin": N_("Administrator"),
    "api_client": N_("Immunization information system"),
    "province": N_("Provincial CDC"),
    "system": N_("aefi (automatic)"),  # the system actor's audit rows
}
# Message parameters that carry a code (a role, a status): shown through the catalog, so
# that "Your role ({role})" never reads "您的角色（reporter）".
_CODE_PARAMS = ("role", "status", "state")


def _shown(key: str, value: object, catalog: NullTranslations) -> object:
    if key not in _CODE_PARAMS or not isinstance(value, str):
        return value
    if key == "role" and value in ROLE_LABELS:
        return catalog.gettext(ROLE_LABELS[value])
    return catalog.gettext(value) if value.replace("_", "").isalpha() else value


def gettext(message: str, **params: object) -> str:
    catalog = _catalog(get_locale())
    text = catalog.gettext(message)
    if not params:
        return text
    text = text.format(**{k: _shown(k, v, catalog) for k, v in params.items()})
    # A parameter that ends a sentence inside one ("{note}。") must not double the stop.
    return re.sub(r"([。！？；])[。.]+", r"\1", text)


_ = gettext


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = _catalog(get_locale()).ngettext(singular, plural, n)
    return text.format(n=n, **params) if params or "{n}" in text else text


def colon() -> str:
    """After a label: "：" in Chinese, ": " in English."""
    return "：" if get_locale().startswith("zh") else ": "


def list_separator() -> str:
    """Between the items of a list in running text: "、" in Chinese, ", " in English."""
    return "、" if get_locale().startswith("zh") else ", "


def pick(zh: str, en: str) -> str:
    """For reference data that carries both names (vaccines, sites, symptom codes)."""
    return en if get_locale() == "en" and en else zh


def negotiate(accept_language: str | None, default: str = "zh_CN") -> str:
    """The best of our locales for the browser's Accept-Language header."""
    if not accept_language:
        return default
    prefs = []
    for part in accept_language.split(","):
        lang, _sep, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        prefs.append((weight, lang.strip().lower()))
    for _w, lang in sorted(prefs, key=lambda p: -p[0]):
        if lang.startswith("zh"):
            return "zh_CN"
        if lang.startswith("en"):
            return "en"
    return default
