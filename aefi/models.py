"""Every table of aefi, imported in one place so Alembic and the tests see them all."""

from aefi.aftercare import models as aftercare  # noqa: F401
from aefi.audit import AuditEvent  # noqa: F401
from aefi.auth.models import LoginFailure, LoginSession, LoginThrottle, User  # noqa: F401
from aefi.background import JobLease  # noqa: F401
from aefi.intake import models as intake  # noqa: F401
from aefi.interchange import models as interchange  # noqa: F401
from aefi.investigation import models as investigation  # noqa: F401
from aefi.jobs.models import QueuedJob  # noqa: F401
from aefi.notifications import models as notifications  # noqa: F401
from aefi.observation import models as observation  # noqa: F401
from aefi.referral import models as referral  # noqa: F401
from aefi.registry.models import Dose, Hospital, Lot, Person, Region, Site, Vaccine  # noqa: F401
from aefi.reporting import models as reporting  # noqa: F401
from aefi.signals import models as signals  # noqa: F401
from aefi.terminology import models as terminology  # noqa: F401
from aefi.triage import models as triage  # noqa: F401
