"""The contract server's world: accounts and their data points, OAuth codes and tokens, the per-user rate
limit, a settable clock (token expiry, late syncs) and the faults a test injects. Plain Python, no HTTP."""

from __future__ import annotations

import base64
import bisect
import collections
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Final

SCOPE_PREFIX: Final = "https://www.googleapis.com/auth/googlehealth."
SCOPE_OF_DATA_TYPE: Final = {
    "heart-rate": "activity_and_fitness",
    "steps": "activity_and_fitness",
    "active-zone-minutes": "activity_and_fitness",
    "oxygen-saturation": "health_metrics_and_measurements",
    "heart-rate-variability": "health_metrics_and_measurements",
    "respiratory-rate-sleep-summary": "health_metrics_and_measurements",
    "sleep": "sleep",
}
CODE_TTL_MS: Final = 10 * 60_000


@dataclass(frozen=True)
class Point:
    time_ms: int
    """The filter's time: sample time, or interval / session start."""
    sync_ms: int
    """When the device uploaded it: invisible to `list` before the server's clock reaches it."""
    body: dict[str, Any]
    replaced_ms: int | None = None
    """When a corrected version of the point was uploaded: from then on `list` shows that one instead."""


@dataclass
class Account:
    email: str
    points: dict[str, list[Point]] = field(default_factory=dict)

    def add(self, data_type: str, points: list[Point]) -> None:
        merged = self.points.setdefault(data_type, [])
        merged.extend(points)
        merged.sort(key=lambda p: (p.time_ms, p.sync_ms))

    def visible(self, data_type: str, start_ms: int, end_ms: int, as_of_ms: int) -> list[Point]:
        points = self.points.get(data_type, [])
        times = [p.time_ms for p in points]
        low, high = bisect.bisect_left(times, start_ms), bisect.bisect_left(times, end_ms)
        return [
            p for p in points[low:high] if p.sync_ms <= as_of_ms and (p.replaced_ms is None or as_of_ms < p.replaced_ms)
        ]

    def correct(self, data_type: str, corrected: list[Point]) -> int:
        """Replaces the current version of each point at a corrected point's time, from the correction's upload
        (`sync_ms`) on; returns how many points it replaced."""
        times = {p.time_ms: p.sync_ms for p in corrected}
        points = self.points.get(data_type, [])
        replaced = 0
        for i, point in enumerate(points):
            if point.time_ms in times and point.replaced_ms is None:
                points[i] = replace(point, replaced_ms=times[point.time_ms])
                replaced += 1
        self.add(data_type, corrected)
        return replaced

    def last_sync_ms(self, as_of_ms: int) -> int | None:
        synced = [p.sync_ms for points in self.points.values() for p in points if p.sync_ms <= as_of_ms]
        return max(synced) if synced else None


@dataclass
class Grant:
    account: str
    scopes: tuple[str, ...]
    refresh_token: str
    revoked: bool = False


@dataclass
class AuthCode:
    account: str
    client_id: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]
    expires_ms: int
    used: bool = False


@dataclass
class AccessToken:
    grant: Grant
    expires_ms: int


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after_s: int | None = None
    path_contains: str = ""


@dataclass
class Logged:
    at: float
    """time.monotonic() of the answer."""
    path: str
    status: int
    account: str | None
    query: str = ""
    """The request's query string, as sent."""


class Clock:
    """Real time plus an offset a test moves (to expire tokens, or to let late uploads arrive)."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def advance(self, ms: int) -> None:
        self.offset_ms += ms


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class ContractState:
    client_id: str = "wearstream-test-client"
    client_secret: str = "wearstream-test-secret"
    redirect_uris: set[str] = field(default_factory=set)
    access_ttl_s: int = 3599
    rate_limit: int = 300
    rate_window_s: float = 60.0
    clock: Clock = field(default_factory=Clock)
    accounts: dict[str, Account] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    """By refresh token."""
    access: dict[str, AccessToken] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    """Data types answering 410."""
    log: list[Logged] = field(default_factory=list)
    _requests: dict[str, collections.deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, email: str) -> Account:
        return self.accounts.setdefault(email, Account(email))

    def new_code(self, account: str, client_id: str, redirect_uri: str, challenge: str, scopes: tuple[str, ...]) -> str:
        code = "4/" + secrets.token_urlsafe(24)
        expires = self.clock.now_ms() + CODE_TTL_MS
        self.codes[code] = AuthCode(account, client_id, redirect_uri, challenge, scopes, expires)
        return code

    def issue(self, grant: Grant) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(32)
        self.access[token] = AccessToken(grant, self.clock.now_ms() + self.access_ttl_s * 1000)
        return {
            "access_token": token,
            "expires_in": self.access_ttl_s,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }

    def new_grant(self, account: str, scopes: tuple[str, ...]) -> Grant:
        grant = Grant(account, scopes, "1//" + secrets.token_urlsafe(32))
        self.grants[grant.refresh_token] = grant
        return grant

    def revoke_account(self, email: str) -> None:
        """What a participant does on their Google account page: every grant of theirs ends."""
        for grant in self.grants.values():
            if grant.account == email:
                grant.revoked = True

    def inject(self, status: int, times: int = 1, *, retry_after_s: int | None = None, path_contains: str = "") -> None:
        self.faults.append(Fault(status, times, retry_after_s, path_contains))

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.path_contains in path:
                fault.remaining -= 1
                return fault
        return None

    def rate_limited(self, account: str) -> int | None:
        """None when the request may proceed (and counts it), else the seconds to wait (Retry-After)."""
        now = time.monotonic()
        window = self._requests.setdefault(account, collections.deque())
        while window and window[0] <= now - self.rate_window_s:
            window.popleft()
        if len(window) >= self.rate_limit:
            return max(1, int(window[0] + self.rate_window_s - now + 0.999))
        window.append(now)
        return None

    def statuses(self, path_contains: str = "") -> list[int]:
        return [entry.status for entry in self.log if path_contains in entry.path]
