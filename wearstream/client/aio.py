"""`AsyncClient`: the same methods as `Client`, awaited (asyncio applications, live feeds)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Iterable
from types import TracebackType
from typing import Any

import httpx

from wearstream.client import frames, live
from wearstream.client.http import Attempts, Call, RetryPolicy, answer_of, refuses_arrow
from wearstream.client.methods import Methods
from wearstream.client.plans import Plan


class AsyncClient(Methods[Awaitable[Any]]):
    """`Client` for asyncio: each table method returns an awaitable of the same frame."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
        progress: bool = False,
        page_size: int = 100_000,
        arrow: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.retry = retry or RetryPolicy()
        self.progress = progress
        self.page_size = page_size
        self.zones: dict[str, str] = {}
        self.requests = 0
        self.rate_limited = 0
        self.use_arrow = arrow
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )

    async def get(self, call: Call) -> Any:
        call = call.prepared(self.use_arrow)
        attempts = Attempts(self.retry, call)
        while True:
            try:
                response = await self._http.get(call.path, params=call.params)
            except httpx.TransportError as error:
                await asyncio.sleep(attempts.after_error(error))
                continue
            self.requests += 1
            if refuses_arrow(call, response):
                self.use_arrow = False
                call = call.as_json()
                continue
            wait = attempts.after_response(response)
            if wait is None:
                return answer_of(response)
            self.rate_limited += response.status_code == 429
            await asyncio.sleep(wait)

    async def run(self, plan: Plan) -> Any:
        call = next(plan)
        while True:
            answer = await self.get(call)
            try:
                call = plan.send(answer)
            except StopIteration as done:
                return done.value

    async def _convert(self, plan: Plan, frame: frames.Frame) -> Any:
        return frames.convert(await self.run(plan), frame)

    def _run(self, plan: Plan, frame: frames.Frame) -> Awaitable[Any]:
        return self._convert(plan, frame)

    async def live(
        self,
        participants: Iterable[str] | None = None,
        metrics: Iterable[str] | None = None,
        *,
        backfill_minutes: int = 0,
    ) -> AsyncIterator[dict[str, Any]]:
        """Messages of `/v1/live` as dicts (`type`: backfill, live, dropped); raises `LiveClosedError` when the
        server refuses or closes the subscription."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        url = live.live_url(self.base_url, participants, metrics, backfill_minutes)
        detail: str | None = None
        async with connect(url, additional_headers={"Authorization": f"Bearer {self.api_key}"}) as socket:
            try:
                async for text in socket:
                    message = json.loads(text)
                    if message.get("type") == "error":
                        detail = str(message.get("detail"))
                        continue
                    yield message
            except ConnectionClosed as error:
                raise live.closed(error.rcvd.code if error.rcvd else None, "", detail) from error
            if detail is not None or socket.close_code not in (None, 1000):
                raise live.closed(socket.close_code, socket.close_reason or "", detail)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()
