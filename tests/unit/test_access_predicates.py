"""The predicates the pages ask instead of repeating role sets, and the services check too."""

from __future__ import annotations

from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.intake import access as intake
from aefi.interchange import access as interchange
from aefi.investigation import access as investigation
from aefi.referral import access as referral
from aefi.reporting import access as reporting
from aefi.signals import access as signals


def a(role: Role, *, site_id: int | None = None) -> Actor:
    return Actor(1, role.value, role.value, role, county_id=7, site_id=site_id)


SYSTEM = Actor.system(7, reason="test")


def who(predicate) -> set[str]:
    users = [r for r in Role if r != Role.system]
    return {r.value for r in users if predicate(a(r, site_id=3))}


def test_who_is_offered_what():
    assert who(interchange.can_export) == {"investigator", "bureau", "admin", "province"}
    assert who(intake.can_file) == {"reporter", "investigator", "admin", "api_client"}
    assert who(investigation.can_work) == {"investigator"}  # the overdue banner
    assert who(referral.watches_escalations) == {"reporter", "bureau", "investigator"}
    assert who(referral.receives_referrals) == {"hospital"}
    assert who(signals.sees_county_halts) == {"investigator", "bureau", "admin", "province"}
    assert who(signals.sees_halt_recommendations) == {"bureau", "investigator", "province"}
    assert who(signals.sees_site_halts) == {"reporter"}


def test_a_reporter_without_a_site_sees_no_site_halts_and_links_only_their_site_s_doses():
    assert not signals.sees_site_halts(a(Role.reporter))
    reporter = a(Role.reporter, site_id=3)
    assert intake.may_link_dose_at(reporter, 3) and not intake.may_link_dose_at(reporter, 4)
    assert intake.may_link_dose_at(a(Role.investigator), 4)


def test_the_system_actor_reads_reporting_s_summaries_only():
    assert reporting.can_read_summaries(SYSTEM)
    assert who(reporting.can_read_summaries) == {"investigator", "bureau", "admin"}
    for predicate in (intake.can_file, signals.sees_county_halts):
        assert not predicate(SYSTEM)
    assert interchange.can_export(SYSTEM)  # reporting the county's cases upward
