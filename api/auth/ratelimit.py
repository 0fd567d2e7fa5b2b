"""Token buckets in process memory: requests per API key, and failed authentications per client address."""

from __future__ import annotations

import time
from typing import Final

_MAX_BUCKETS: Final = 100_000


class RateLimiter:
    """Allows `per_minute` takes per minute per name, with bursts up to `per_minute` (0: unlimited)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    def _level(self, name: str, now: float) -> float:
        tokens, last = self._buckets.get(name, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def take(self, name: str, now: float | None = None) -> float:
        """Takes one token; returns 0 when allowed, else the seconds until a token is available."""
        if self.capacity <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens = self._level(name, now)
        if len(self._buckets) >= _MAX_BUCKETS and name not in self._buckets:
            # Full buckets carry no information: forget them rather than grow without bound.
            self._buckets = {k: v for k, v in self._buckets.items() if self._level(k, now) < self.capacity}
        if tokens < 1.0:
            self._buckets[name] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[name] = (tokens - 1.0, now)
        return 0.0

    def wait(self, name: str, now: float | None = None) -> float:
        """Seconds until `name` could take a token (0: now), without taking one."""
        if self.capacity <= 0:
            return 0.0
        tokens = self._level(name, time.monotonic() if now is None else now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
