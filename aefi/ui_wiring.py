"""What the domains add to pages they do not own, listed in one place: each role's home
page, the banners above every page, the blocks of intake's report page. The navigation
per role is ``aefi/navigation.py``; the routers are ``aefi.app._routers``.

Read at call time by their pages (``home.home``, ``web.banners``, intake's report page),
because the modules listed here import those pages' modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aefi.auth.models import Role
from aefi.investigation.cases import views as investigation_cases
from aefi.investigation.overview import views as investigation_overview
from aefi.observation import views as observation
from aefi.referral.inbox import views as referral_inbox
from aefi.reporting import views as reporting
from aefi.signals.halts import views as signals_halts
from aefi.triage.rules_in_force import service as rules_in_force

# The role's home page, view(request, session, actor) -> response; other roles get home.html.
HOME_VIEWS: dict[Role, Callable[..., Any]] = {
    Role.reporter: observation.board_home,  # the observation board of their site
    Role.hospital: referral_inbox.inbox_page,  # the green-channel inbox
    Role.investigator: reporting.dashboard_home,  # the county dashboard
    Role.bureau: reporting.dashboard_home,
}

# provider(user) -> list of banners (.level, .text[, .link]), shown in this order.
BANNER_PROVIDERS: tuple[Callable[[Any], list], ...] = (
    signals_halts.halt_banners,  # halts in force, lots on hold, alerts awaiting the bureau
    referral_inbox.banner,  # referrals awaiting acknowledgement / escalated
    investigation_overview.overdue_banner,  # case files past a deadline
)

# name -> fn(session, actor, report) returning HTML or None. "referral" is shown in
# <div id="referral-status">, the others after the triage outcome, in this order.
REPORT_SECTIONS: tuple[tuple[str, Callable[..., str | None]], ...] = (
    ("referral", referral_inbox.report_section),
    ("investigation", investigation_cases.report_section),
)


def emergency_groups() -> tuple[str, ...]:
    """The event groups whose report form opens the emergency block (adrenaline, vital
    signs, weight, treatment times): those triage refers to the green channel."""
    return rules_in_force.emergency_groups()
