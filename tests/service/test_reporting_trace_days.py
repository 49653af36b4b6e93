"""The lot page's doses by site and by local day, counted by the database, equal the
counts made dose by dose in Python, on SQLite and PostgreSQL, at the edges of the county's
days (and in a zone whose offset is not a whole hour)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from aefi.reporting.trace import service as trace
from aefi.settings import get_settings
from tests.factories import a_dose, local_midnight_edges


# Shanghai: the county's zone; Kathmandu: +05:45; Berlin: the doses span a change of
# offset (25 October 2026), so SQLite cannot shift by one offset.
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Asia/Kathmandu", "Europe/Berlin"])
def test_doses_by_site_and_local_day(session, county, monkeypatch, zone):
    monkeypatch.setenv("AEFI_TIMEZONE", zone)
    get_settings.cache_clear()
    tz = ZoneInfo(zone)
    lot = county.lot(session, "HEPB", 1)
    days = [datetime(2026, 11, 10 + d) for d in range(3)] + [datetime(2026, 10, 25)]
    times = local_midnight_edges(zone, days)
    placed = []
    for i, at in enumerate(times):
        site = i % 3 % 2  # both sites, unevenly
        a_dose(session, county, site=site, lot=lot, at=at, commit=False)
        placed.append((county.site_ids[site], at))
    session.commit()

    t = trace.lot_trace(session, county.actor(session, "bureau"), lot.lot_number)
    by_day = Counter((at.astimezone(tz).date(), sid) for sid, at in placed)
    expected = sorted({d for d, _ in by_day}, reverse=True)
    assert [d for d, _c, _n in t.days] == expected
    for day, per_site, n in t.days:
        assert per_site == {sid: k for (d, sid), k in by_day.items() if d == day}
        assert n == sum(per_site.values())
    assert t.doses == len(placed)
    for use in t.sites:
        ats = [at for sid, at in placed if sid == use.site.id]
        assert (use.doses, use.first_at, use.last_at) == (len(ats), min(ats), max(ats))
    assert [u.doses for u in t.sites] == sorted((u.doses for u in t.sites), reverse=True)
