"""Every table of aefi, imported in one place so Alembic and the tests see them all."""

import importlib
import importlib.util

from aefi.audit import AuditEvent  # noqa: F401
from aefi.auth.models import LoginFailure, LoginSession, LoginThrottle, User  # noqa: F401
from aefi.background import JobLease  # noqa: F401
from aefi.registry.models import Dose, Hospital, Lot, Person, Region, Site, Vaccine  # noqa: F401

# Each domain's models.py, where it has one (intake, triage, referral, ...).
for _domain in (
    "intake",
    "triage",
    "referral",
    "investigation",
    "signals",
    "observation",
    "reporting",
    "notifications",
    "terminology",
    "interchange",
):
    if importlib.util.find_spec(f"aefi.{_domain}.models") is not None:
        importlib.import_module(f"aefi.{_domain}.models")
