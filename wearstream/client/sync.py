"""`Client`: the blocking client (scripts, notebooks)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

import httpx

from wearstream.client import frames, live
from wearstream.client.http import Attempts, Call, RetryPolicy, answer_of, refuses_arrow
from wearstream.client.methods import Methods
from wearstream.client.plans import Plan


class Client(Methods[Any]):
    """The wearstream API from Python: every table-shaped answer as a long-format DataFrame.

    Authenticates with `Authorization: Bearer <api_key>`; follows cursors; waits `Retry-After` on 429 and
    retries network errors and 502/503/504 (`retry`); shows a tqdm bar per call with `progress=True`. Series
    pages travel as Arrow IPC streams (`format=arrow`); with `arrow=False`, or from a server that refuses
    that format, as JSON — the frames are the same.
    """

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
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )

    def get(self, call: Call) -> Any:
        """One GET with the retry policy; the decoded answer (JSON, or an `arrow_page` dict for arrow pages)."""
        call = call.prepared(self.use_arrow)
        attempts = Attempts(self.retry, call)
        while True:
            try:
                response = self._http.get(call.path, params=call.params)
            except httpx.TransportError as error:
                time.sleep(attempts.after_error(error))
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
            time.sleep(wait)

    def run(self, plan: Plan) -> Any:
        """Drives a plan to its end: sends each call it yields and returns its result."""
        call = next(plan)
        while True:
            try:
                call = plan.send(self.get(call))
            except StopIteration as done:
                return done.value

    def _run(self, plan: Plan, frame: frames.Frame) -> Any:
        return frames.convert(self.run(plan), frame)

    def live(
        self,
        participants: Iterable[str] | None = None,
        metrics: Iterable[str] | None = None,
        *,
        backfill_minutes: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """Messages of `/v1/live` as dicts (`type`: backfill, live, dropped), until the iterator is closed."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        url = live.live_url(self.base_url, participants, metrics, backfill_minutes)
        detail: str | None = None
        with connect(url, additional_headers={"Authorization": f"Bearer {self.api_key}"}) as socket:
            try:
                for text in socket:
                    message = json.loads(text)
                    if message.get("type") == "error":
                        detail = str(message.get("detail"))
                        continue
                    yield message
            except ConnectionClosed as error:
                raise live.closed(error.rcvd.code if error.rcvd else None, "", detail) from error
            if detail is not None or socket.close_code not in (None, 1000):
                raise live.closed(socket.close_code, socket.close_reason or "", detail)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
