"""A sliding-window limit for the public check-in pages: at most ``limit`` requests per
``window`` seconds per key (the client's address, and the token). In memory, per process:
a burst against one server is what it stops; behind a proxy, set ``forwarded_allow_ips``
so the client's address is the real one. Pure."""

from __future__ import annotations

import threading
from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> bool:
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 50_000:  # forget idle keys rather than grow without end
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[k]
            return True

    def retry_after(self, key: str, now: float) -> int:
        with self._lock:
            hits = self._hits.get(key)
            if not hits:
                return 0
            return max(1, int(hits[0] + self.window - now) + 1)
