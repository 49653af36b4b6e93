"""The header's navigation, per role: every page a role reaches from the header, in the
order shown. One explicit table (no domain adds to it at import time); a page listed here
must be routed in ``aefi.app._routers``."""

from __future__ import annotations

from aefi.auth.models import Role
from aefi.i18n import N_

# The county CDC's and the bureau's menu starts with their queues and ends with what they
# watch; between the two, the registry pages each of them keeps.
_COUNTY_WORK = (
    ("/", N_("Home")),
    ("/cases", N_("Cases")),
    ("/escalations", N_("Escalations")),
    ("/clusters", N_("Clusters")),
)
_COUNTY_WATCH = (
    ("/reports", N_("Reports")),
    ("/referrals", N_("Referrals")),
    ("/signals", N_("Signals")),
    ("/halts", N_("Halts")),
    ("/daily", N_("Daily reports")),
    ("/indicators", N_("Indicators")),
    ("/trace", N_("Traceability")),
)

NAV: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.reporter: (
        ("/", N_("Home")),
        ("/observation", N_("Observation")),
        ("/reports/new", N_("File a report")),
        ("/reports/drafts", N_("My drafts")),
        ("/doses", N_("Doses")),
        ("/imports/doses", N_("Import doses")),
        ("/reports", N_("Reports")),
        ("/aftercare/self-reports", N_("Self-reports")),
        ("/referrals", N_("Referrals")),
        ("/halts", N_("Halts")),
        ("/daily", N_("Daily report")),
        ("/trace", N_("Traceability")),
    ),
    Role.investigator: (
        *_COUNTY_WORK,
        ("/aftercare/self-reports", N_("Self-reports")),
        ("/doses", N_("Doses")),
        ("/registry/lots", N_("Lots")),
        *_COUNTY_WATCH,
        ("/interchange/outbox", N_("Reporting upward")),
    ),
    Role.bureau: (
        *_COUNTY_WORK,
        ("/registry/lots", N_("Lots")),
        ("/registry/sites", N_("Sites")),
        *_COUNTY_WATCH,
    ),
    Role.hospital: (
        ("/", N_("Home")),
        ("/referrals", N_("Referral inbox")),
    ),
    Role.admin: (
        ("/", N_("Home")),
        ("/dashboard", N_("Dashboard")),
        ("/registry/regions", N_("Regions")),
        ("/registry/sites", N_("Sites")),
        ("/registry/hospitals", N_("Hospitals")),
        ("/registry/vaccines", N_("Vaccines")),
        ("/registry/lots", N_("Lots")),
        ("/doses", N_("Doses")),
        ("/imports/doses", N_("Import doses")),
        ("/admin/users", N_("Users")),
        ("/admin/audit", N_("Audit trail")),
        ("/admin/logins", N_("Failed logins")),
        ("/reports", N_("Reports")),
        ("/admin/triage-rules", N_("Triage rules")),
        ("/referrals", N_("Referrals")),
        ("/signals/rates", N_("Expected rates")),
        ("/daily", N_("Daily reports")),
        ("/indicators", N_("Indicators")),
        ("/trace", N_("Traceability")),
        ("/admin/terminology", N_("Reported terms")),
        ("/interchange/outbox", N_("Reporting upward")),
    ),
    Role.api_client: (("/", N_("Home")),),
    # Reads every county below the province; halts across them.
    Role.province: (
        ("/", N_("Home")),
        ("/reports", N_("Reports")),
        ("/cases", N_("Cases")),
        ("/registry/regions", N_("Regions")),
        ("/registry/sites", N_("Sites")),
        ("/registry/vaccines", N_("Vaccines")),
        ("/registry/lots", N_("Lots")),
        ("/signals", N_("Signals")),
        ("/halts", N_("Halts")),
    ),
}


def items_for(role: str) -> tuple[tuple[str, str], ...]:
    return NAV.get(Role(role), ())
