"""Which strings aefi shows, and whether the Chinese catalogs translate each of them.

``python -m tests.catalog`` prints the missing ones as .po entries, ready to translate."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir

ROOT = Path(__file__).resolve().parent.parent
# Service errors are raised with English msgids; their first argument is the message.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "N_": None,
    "ngettext": (1, 2),
    "DomainError": None,
    "NotFound": None,
    "Forbidden": None,
    "Conflict": None,
    "Invalid": None,
    "LoginFailed": None,
    "Unauthenticated": None,
}
METHODS = [("aefi/**.py", "python"), ("templates/**.html", "jinja2")]


def used_msgids() -> dict[str, str]:
    """msgid → first place it is used."""
    found: dict[str, str] = {}
    for sub, method in (("aefi", "python"), ("templates", "jinja2")):
        pattern = "**.py" if method == "python" else "**.html"
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
            ROOT / sub,
            method_map=[(pattern, method)],
            keywords=KEYWORDS,
            options_map={pattern: {"extensions": "jinja2.ext.i18n"}}
            if method == "jinja2"
            else None,
        ):
            msgs = message if isinstance(message, tuple) else (message,)
            for m in msgs:
                if m and isinstance(m, str):
                    found.setdefault(m, f"{sub}/{filename}:{lineno}")
    return found


def missing() -> dict[str, str]:
    from aefi import i18n

    i18n.reload()
    cat = i18n._catalog("zh_CN")
    return {m: where for m, where in used_msgids().items() if m not in cat._catalog}


def clashes(locale_dir: Path | None = None) -> dict[object, dict[object, list[str]]]:
    """msgid -> {translation -> catalogs giving it}, for each msgid with two translations.

    ``aefi.i18n`` merges the domains' catalogs in sorted file order, so of two
    translations of one msgid the later file's wins on every page: a msgid that means two
    things needs two English strings instead."""
    from collections import defaultdict

    from babel.messages.pofile import read_po

    from aefi import i18n

    found: dict[object, dict[object, list[str]]] = defaultdict(lambda: defaultdict(list))
    for po in sorted(((locale_dir or i18n.LOCALE_DIR) / "zh_CN").glob("*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh, locale="zh_CN")
        for msg in catalog:
            if not msg.id or not msg.string or msg.fuzzy:  # as aefi.i18n skips them
                continue
            text = tuple(msg.string) if isinstance(msg.string, (list, tuple)) else msg.string
            found[msg.id][text].append(po.name)
    return {m: dict(by_text) for m, by_text in found.items() if len(by_text) > 1}


if __name__ == "__main__":
    gaps = missing()
    for msgid, where in sorted(gaps.items(), key=lambda kv: kv[1]):
        esc = msgid.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        print(f'#: {where}\nmsgid "{esc}"\nmsgstr ""\n')
    print(f"# {len(gaps)} missing", file=sys.stderr)
