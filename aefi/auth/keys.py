"""The secret key: refused when missing or weak outside demo mode; in demo mode one random
key per installation, kept in ``var/secret_key`` (mode 0600) and reused on the next start."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from aefi.settings import Settings

MIN_LENGTH = 32
# Public strings that must never sign anything: the old shipped default and the usual
# placeholders.
WEAK_KEYS = frozenset(
    {
        "dev-only-change-me",
        "change-me",
        "changeme",
        "secret",
        "secret-key",
        "secret_key",
        "test-secret",
        "password",
        "aefi",
        "default",
    }
)
KEY_FILE = "secret_key"
HOW_TO = (
    "Set AEFI_SECRET_KEY to a random value of at least {n} characters, for example the "
    "output of: python -c 'import secrets; print(secrets.token_urlsafe(48))' "
    "(or run `aefi serve --demo` for a demo installation, which keeps its own key in var/)."
)


class SecretKeyError(RuntimeError):
    """The app must not start with this key."""


def problem(key: str) -> str | None:
    """Why ``key`` cannot sign, or None when it can."""
    if not key:
        return "AEFI_SECRET_KEY is not set."
    if key.strip().lower() in WEAK_KEYS:
        return "AEFI_SECRET_KEY is a known public default value."
    if len(key) < MIN_LENGTH:
        return f"AEFI_SECRET_KEY is too short ({len(key)} characters)."
    if len(set(key)) < 8:
        return "AEFI_SECRET_KEY repeats too few characters to be random."
    return None


def check(settings: Settings) -> None:
    """Raise SecretKeyError (message says how to fix it) when the key may not be used."""
    why = problem(settings.secret_key)
    if why is not None:
        raise SecretKeyError(f"aefi will not start: {why} " + HOW_TO.format(n=MIN_LENGTH))
    for old in settings.verification_keys[:-1]:
        if old.strip().lower() in WEAK_KEYS:
            raise SecretKeyError(
                "aefi will not start: AEFI_SECRET_KEY_OLD lists a known public default value; "
                "remove it."
            )


def demo_key(var_dir: Path) -> str:
    """The installation's demo key: read from ``var_dir/secret_key``, or made and written
    there (0600) on the first start."""
    path = Path(var_dir) / KEY_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if problem(key) is None:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return key


def use_demo_key(settings: Settings) -> Settings:
    """Demo mode: keep a configured key that passes, else the installation's own key.

    Also put it into the environment so that ``get_settings()`` everywhere (and worker
    processes) sees the same key."""
    if problem(settings.secret_key) is None:
        return settings
    key = demo_key(settings.var_dir)
    os.environ["AEFI_SECRET_KEY"] = key
    settings.secret_key = key
    return settings
