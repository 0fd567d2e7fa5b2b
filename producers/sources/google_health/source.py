"""`GoogleHealthSource`: the `Source` of the Google Health API — grants, refresh, paged `list`, mapping.

`authorise` makes sure the participant's access token is valid for at least `refresh_margin_s` more,
refreshing (and re-sealing) it when not. A refresh the token endpoint refuses means the participant revoked
the grant: the grant is marked revoked, the participant's authorisation becomes `revoked` (audited), and
`NotAuthorised` is raised. `fetch` pages through one window of one metric (`pageToken`), each page one
`Page` whose batches carry the paired tracker's last sync time as `sync_time` (the fetch time when the
service does not say) and whose `next_page` resumes the window. A 401 mid-fetch refreshes once and retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Final

import httpx
import msgspec

from producers.sources.base import MetricSpec, NotAuthorised, Page, SourceError, Unavailable, Window
from producers.sources.google_health import oauth, shapes
from producers.sources.google_health.client import HealthClient, RetryPolicy, Unauthenticated
from producers.sources.google_health.mapping import DATA_TYPES, MappingError, epoch_ms, page_batches
from producers.sources.google_health.settings import GoogleHealthSettings
from producers.sources.google_health.tokens import SOURCE, GrantStore, Tokens
from stream_processors import participant_records as records

DAY_MS: Final = 86_400_000
LOOKBACK_MS: Final = 3 * DAY_MS
"""Trackers hold days of data and upload when the phone is near: re-read three days on every pull."""
WINDOW_CAP_MS: Final = {"heart_rate": 14 * DAY_MS}
"""The service caps roll-ups of heart rate at 14 days and others at 90; `list` windows are held to the same."""
DEFAULT_WINDOW_CAP_MS: Final = 90 * DAY_MS
ACTOR: Final = "source google_health"


def oauth_client(settings: GoogleHealthSettings) -> oauth.OAuthClient:
    return oauth.OAuthClient(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uri=settings.redirect_uri,
        auth_url=settings.auth_url,
        token_url=settings.token_url,
        revoke_url=settings.revoke_url,
    )


class GoogleHealthSource:
    name = SOURCE

    def __init__(
        self,
        settings: GoogleHealthSettings,
        http: httpx.AsyncClient,
        grants: GrantStore,
        *,
        device_id: str = "google-health",
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.http = http
        self.grants = grants
        self.device_id = device_id
        self.clock = clock
        self.client = HealthClient(
            http,
            settings.api_url,
            policy
            or RetryPolicy(
                max_attempts=settings.max_attempts,
                max_rate_limited_waits=settings.max_rate_limited_waits,
                backoff_cap_s=settings.backoff_cap_s,
            ),
        )
        self._oauth = oauth_client(settings)
        self._locks: dict[str, asyncio.Lock] = {}

    def metrics(self) -> Sequence[MetricSpec]:
        return [
            MetricSpec(
                metric=t.metric,
                resolution_ms=t.resolution_ms,
                lookback_ms=LOOKBACK_MS,
                max_window_ms=WINDOW_CAP_MS.get(t.metric, DEFAULT_WINDOW_CAP_MS),
            )
            for t in DATA_TYPES.values()
        ]

    async def authorise(self, participant_id: str) -> None:
        await self.access_token(participant_id)

    async def access_token(self, participant_id: str, *, force_refresh: bool = False) -> str:
        """A valid access token for the participant (refreshed first when due or when `force_refresh`)."""
        async with self._locks.setdefault(participant_id, asyncio.Lock()):
            grant = await self.grants.load(participant_id)
            if grant is None:
                raise NotAuthorised(participant_id, "no Google Health grant: enrol the participant first")
            if grant.status == "revoked":
                raise NotAuthorised(participant_id, "the Google Health grant was revoked: enrol again")
            now_ms = self._now_ms()
            due = grant.tokens.expires_at_ms - now_ms <= self.settings.refresh_margin_s * 1000
            if not (due or force_refresh):
                return grant.tokens.access_token
            return (await self._refresh(participant_id, grant.tokens, now_ms)).access_token

    async def _refresh(self, participant_id: str, tokens: Tokens, now_ms: int) -> Tokens:
        try:
            refreshed = await oauth.refresh(self.http, self._oauth, tokens, now_ms=now_ms)
        except oauth.GrantRefused as refused:
            await self.grants.mark_revoked(participant_id)
            async with self.grants.pool.acquire() as connection:
                change = records.ParticipantChange(authorisation="revoked")
                await records.update(connection, participant_id, change, actor=ACTOR)  # the grant's FK: it exists
            raise NotAuthorised(participant_id, f"the refresh was refused ({refused}): grant revoked") from None
        except oauth.TokenEndpointError as error:
            raise Unavailable(participant_id, f"token refresh failed: {error}") from None
        await self.grants.refreshed(participant_id, refreshed)
        return refreshed

    async def fetch(
        self, participant_id: str, metric: str, window: Window, page: str | None = None
    ) -> AsyncIterator[Page]:
        data_type = DATA_TYPES.get(metric)
        if data_type is None:
            raise SourceError(participant_id, f"the Google Health connector has no metric {metric!r}")
        if window.end_ms <= window.start_ms:
            raise SourceError(participant_id, f"empty window [{window.start_ms}, {window.end_ms})")
        cap = WINDOW_CAP_MS.get(metric, DEFAULT_WINDOW_CAP_MS)
        if window.end_ms - window.start_ms > cap:
            raise SourceError(participant_id, f"a {metric} window may span {cap // DAY_MS} days at most")
        last_sync = await self.last_sync_ms(participant_id)
        field = data_type.filter_field
        params = {
            "pageSize": str(min(self.settings.page_size, data_type.max_page_size)),
            "filter": f'{field} >= "{_rfc3339(window.start_ms)}" AND {field} < "{_rfc3339(window.end_ms)}"',
        }
        path = f"users/me/dataTypes/{data_type.path}/dataPoints"
        while True:
            body = await self._get(participant_id, path, {**params, **({"pageToken": page} if page else {})})
            try:
                answer = shapes.list_decoder.decode(body)
                sync_time = last_sync if last_sync is not None else self._now_ms()
                batches = page_batches(
                    data_type,
                    answer.data_points,
                    participant_id=participant_id,
                    device_id=self.device_id,
                    sync_time=sync_time,
                )
            except (msgspec.ValidationError, msgspec.DecodeError, MappingError) as error:
                raise SourceError(participant_id, f"{path}: an answer that cannot be read: {error}") from None
            page = answer.next_page_token or None
            yield Page(batches=batches, next_page=page, last_sync_ms=last_sync)
            if page is None:
                return

    async def last_sync_ms(self, participant_id: str) -> int | None:
        """The latest `lastSyncTime` of the participant's paired trackers; None when the service does not say
        (no tracker, no sync yet, or the settings scope not granted)."""
        try:
            body = await self._get(participant_id, "users/me/pairedDevices", {})
        except NotAuthorised as error:
            if isinstance(error, Unauthenticated) or "permission denied" not in error.reason:
                raise
            return None
        try:
            devices = shapes.devices_decoder.decode(body).paired_devices
            times = [epoch_ms(d.last_sync_time, "pairedDevices") for d in devices if d.last_sync_time]
        except (msgspec.ValidationError, msgspec.DecodeError, MappingError):
            return None
        return max(times) if times else None

    async def _get(self, participant_id: str, path: str, params: dict[str, str]) -> bytes:
        token = await self.access_token(participant_id)
        try:
            return await self.client.get_json(participant_id, token, path, params)
        except Unauthenticated:
            token = await self.access_token(participant_id, force_refresh=True)
            try:
                return await self.client.get_json(participant_id, token, path, params)
            except Unauthenticated as again:
                raise NotAuthorised(participant_id, again.reason) from None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)


def _rfc3339(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{epoch_ms % 1000:03d}Z" if epoch_ms % 1000 else f"{text}Z"
