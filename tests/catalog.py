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


if __name__ == "__main__":
    gaps = missing()
    for msgid, where in sorted(gaps.items(), key=lambda kv: kv[1]):
        esc = msgid.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        print(f'#: {where}\nmsgid "{esc}"\nmsgstr ""\n')
    print(f"# {len(gaps)} missing", file=sys.stderr)
