"""The indicators' active-surveillance figures per vaccine (``aftercare.figures``): doses
of the period only, the actor's scope, every answer day, exact intervals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aefi import clock
from aefi.aftercare.figures import service as figures
from aefi.aftercare.models import CheckIn, CheckinInvite
from aefi.registry.models import Lot, Site, Vaccine
from tests.factories import a_dose


def _answer(session, dose, day: int, answer: str = "well", symptoms: str = "") -> None:
    site = session.get(Site, dose.site_id)
    session.add(
        CheckIn(
            dose_id=dose.id,
            county_id=site.county_id,
            site_id=dose.site_id,
            day=day,
            answer=answer,
            symptoms=symptoms,
        )
    )


def test_figures_per_vaccine_of_the_period_in_scope(session, county):
    doses = [a_dose(session, county) for _ in range(5)]
    for d in doses[:4]:
        session.add(CheckinInvite(dose_id=d.id, via="certificate"))
    _answer(session, doses[0], 1)
    _answer(session, doses[0], 3)
    _answer(session, doses[1], 1, "unwell", "fever")
    _answer(session, doses[4], 1, "unwell", "fever")  # answered an old link: counts as invited
    session.commit()
    at = doses[0].administered_at
    actor = county.actor(session, "investigator")
    (line,) = figures.vaccine_figures(
        session, actor, at - timedelta(days=1), at + timedelta(days=1)
    )
    lot = session.get(Lot, doses[0].lot_id)
    assert line.vaccine_code == session.get(Vaccine, lot.vaccine_id).code
    assert (line.invited, line.responders) == (4, 3)
    assert [(d, s.k, s.n) for d, s in line.days] == [(1, 3, 4), (3, 1, 4)]
    ((group, share),) = line.groups
    assert group == "fever" and (share.k, share.n) == (2, 3)
    assert share.low == pytest.approx(0.0943, abs=1e-3) and share.high == pytest.approx(
        0.9916, abs=1e-3
    )
    # A physician of another site sees none of these doses.
    other = county.actor(session, "reporter2")
    assert other.site_id != doses[0].site_id
    assert (
        figures.vaccine_figures(session, other, at - timedelta(days=1), at + timedelta(days=1))
        == []
    )
    later = clock.now() + timedelta(days=30)
    assert figures.vaccine_figures(session, actor, later, later + timedelta(days=1)) == []
