"""Rate limits and retry pacing of the sources runner.

Token buckets (aiolimiter's leaky bucket: a full bucket allows a burst of its capacity, then the rate) per
participant and per project, sized to a device API's quotas (Google Health API: 300 requests a minute per user,
120,000 per project). Every request a source makes for the runner — an authorisation check, each page — takes
one token from both. `Backoff` paces retries after `Unavailable`: capped exponential with full jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

from aiolimiter import AsyncLimiter

PER_USER_PER_MINUTE: Final = 300
PER_PROJECT_PER_MINUTE: Final = 120_000


class RateLimits:
    """One bucket per participant and one for the project; `acquire` waits until both have a token."""

    def __init__(
        self,
        *,
        per_user: float = PER_USER_PER_MINUTE,
        per_project: float = PER_PROJECT_PER_MINUTE,
        period_s: float = 60.0,
    ) -> None:
        self.per_user = per_user
        self.period_s = period_s
        self._project = AsyncLimiter(per_project, period_s)
        self._users: dict[str, AsyncLimiter] = {}

    def _user(self, participant_id: str) -> AsyncLimiter:
        limiter = self._users.get(participant_id)
        if limiter is None:
            limiter = self._users[participant_id] = AsyncLimiter(self.per_user, self.period_s)
        return limiter

    async def acquire(self, participant_id: str) -> None:
        """Returns once one request for `participant_id` fits both the participant's and the project's rate."""
        await self._user(participant_id).acquire()
        await self._project.acquire()


@dataclass
class Backoff:
    """Waits before retry n (0-based): uniform in [0, min(cap_s, base_s × 2^n)] (full jitter); `attempts`
    retries at most, then the runner records the error and moves on."""

    base_s: float = 1.0
    cap_s: float = 60.0
    attempts: int = 5
    rng: random.Random = field(default_factory=random.Random)

    def delay_s(self, retry: int) -> float:
        return self.rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**retry))


@dataclass(frozen=True)
class RetryPolicy:
    """How the runner answers a source's transient errors."""

    backoff: Backoff = field(default_factory=Backoff)
    rate_limited_attempts: int = 100
    """`RateLimited` answers tolerated for one window before the cursor is left for the next run."""
    default_retry_after_s: float = 60.0
    """The wait after a `RateLimited` that did not say how long."""
