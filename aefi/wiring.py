"""Connects the domains' event subscribers and background jobs, once per process.

Each domain that reacts to another's events has a ``flows.py`` whose import subscribes
its handlers (triage to intake's events, referral and investigation to triage's)."""

from __future__ import annotations

import importlib
import importlib.util

FLOW_DOMAINS = (
    "notifications",
    "triage",
    "referral",
    "investigation",
    "signals",
    "observation",
    "reporting",
)
_wired = False


def wire() -> None:
    global _wired
    if _wired:
        return
    import aefi.models  # noqa: F401  every table known before any flow runs

    for domain in FLOW_DOMAINS:
        name = f"aefi.{domain}.flows"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    _wired = True
