"""Where a zone's UTC offset holds: the spans of time over which "the local day of a UTC
instant" is the UTC time shifted by one offset. SQLite knows no zones, so the dose summary
(``registry.dose_summary``) cuts its days span by span, each with a fixed shift."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class OffsetSpan:
    start: datetime | None  # UTC, inclusive; None: from the first instant asked about
    end: datetime | None  # UTC, exclusive; None: to the last
    offset_s: int  # local time minus UTC, seconds


def offset_spans(zone: str, first: datetime, last: datetime) -> list[OffsetSpan]:
    """The spans of one offset covering [first, last] (aware datetimes), in order. Offsets
    change at most a few times a year, so the zone is probed once a day, and a change is
    pinned to the second by bisection (transitions fall on whole seconds)."""
    tz = ZoneInfo(zone)

    def offset(at: datetime) -> int:
        return int(at.astimezone(tz).utcoffset().total_seconds())

    spans: list[OffsetSpan] = []
    start: datetime | None = None
    current = offset(first)
    at = first
    while at < last:
        nxt = min(at + timedelta(days=1), last)
        if offset(nxt) != current:
            # Whole seconds: offset(lo) == current, offset(hi) != current.
            lo, hi = math.floor(at.timestamp()), math.ceil(nxt.timestamp())
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(datetime.fromtimestamp(mid, UTC)) == current:
                    lo = mid
                else:
                    hi = mid
            hi = datetime.fromtimestamp(hi, UTC)
            spans.append(OffsetSpan(start, hi, current))
            start, current = hi, offset(hi)
            nxt = hi
        at = nxt
    spans.append(OffsetSpan(start, None, current))
    return spans
