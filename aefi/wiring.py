"""Loads, once per process, every table and the event flow (``aefi/flow.py``: every
subscriber and background job), so that a misspelled module fails at start-up rather
than at the first report filed."""

from __future__ import annotations


def wire() -> None:
    import aefi.flow  # noqa: F401  every subscriber and job
    import aefi.models  # noqa: F401  every table known before any flow runs
