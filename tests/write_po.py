"""Merge a dict of translations into one domain's catalog: ``write(domain, {msgid: zh})``."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "aefi" / "locale" / "zh_CN"


def write(domain: str, translations: dict[str, str]) -> Path:
    path = LOCALE_DIR / f"{domain}.po"
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
    else:
        catalog = Catalog(locale="zh_CN", project="aefi", domain=domain)
    for msgid, msgstr in translations.items():
        catalog.add(msgid, msgstr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, sort_output=True, omit_header=False, width=0)
    return path
