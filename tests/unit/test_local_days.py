"""The spans of one UTC offset (``registry.local_days``): shifting by a span's offset gives
the zone's local day of every instant in it, across changes of offset and in zones whose
offset is not a whole hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from aefi.registry.local_days import offset_spans


@pytest.mark.parametrize(
    ("zone", "changes"),
    [("Asia/Shanghai", 0), ("Asia/Kathmandu", 0), ("Europe/Berlin", 3), ("America/Santiago", 3)],
)
def test_each_span_shifts_by_the_zone_offset(zone, changes):
    first, last = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC)
    spans = offset_spans(zone, first, last)
    assert len(spans) == changes + 1
    assert spans[0].start is None and spans[-1].end is None
    for a, b in zip(spans, spans[1:], strict=False):
        assert a.end == b.start and a.offset_s != b.offset_s
    tz = ZoneInfo(zone)
    for span in spans:
        start = span.start or first
        end = span.end or last
        for at in (start, start + (end - start) / 2, end - timedelta(seconds=1)):
            assert int(at.astimezone(tz).utcoffset().total_seconds()) == span.offset_s
            assert (at + timedelta(seconds=span.offset_s)).date() == at.astimezone(tz).date()
