"""Every table of aefi, imported in one place so Alembic and the tests see them all."""

from aefi.audit import AuditEvent  # noqa: F401
from aefi.auth.models import LoginThrottle, User  # noqa: F401
from aefi.registry.models import Dose, Hospital, Lot, Person, Region, Site, Vaccine  # noqa: F401
