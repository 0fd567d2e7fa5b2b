"""The `/v1/live` websocket: URL, headers and message decoding shared by both clients."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode, urlsplit, urlunsplit

from wearstream.client.errors import LiveClosedError


def live_url(base_url: str, participants: Iterable[str] | None, metrics: Iterable[str] | None, backfill: int) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query: dict[str, str | int] = {}
    if participants is not None:
        query["participants"] = ",".join(participants)
    if metrics is not None:
        query["metrics"] = ",".join(metrics)
    if backfill:
        query["backfill_minutes"] = backfill
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/v1/live", urlencode(query), ""))


def closed(code: int | None, reason: str, detail: str | None) -> LiveClosedError:
    return LiveClosedError(code or 1006, detail or reason or "connection closed")
