"""`users.dataTypes.dataPoints.list` and `users.pairedDevices.list` as the contract server plays them: bearer
tokens, scopes, the per-user rate limit (429 + Retry-After), injected faults, the AIP-160 time filter, and
paging (default 1,440, at most 10,000 — 25 for sleep — with an opaque `pageToken`)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from typing import Any, Final

import msgspec
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from tests.contract.google_health.state import SCOPE_OF_DATA_TYPE, SCOPE_PREFIX, ContractState, Grant, Logged

DEFAULT_PAGE: Final = 1_440
MAX_PAGE: Final = 10_000
SESSION_PAGE: Final = 25
STATUS_NAMES: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    410: "GONE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_CLAUSE: Final = re.compile(r'^\s*([a-z_]+)\.([a-z_.]+)\s*(>=|<)\s*"([^"]+)"\s*$')


class Refused(Exception):
    def __init__(self, status: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after_s = status, message, retry_after_s


def error_response(refused: Refused) -> Response[Any]:
    body = {
        "error": {
            "code": refused.status,
            "message": refused.message,
            "status": STATUS_NAMES.get(refused.status, "UNKNOWN"),
        }
    }
    headers = {"Retry-After": str(refused.retry_after_s)} if refused.retry_after_s is not None else None
    return Response(body, status_code=refused.status, headers=headers)


def _authorise(state: ContractState, request: Request[Any, Any, Any], path: str) -> Grant:
    fault = state.take_fault(path)
    if fault is not None:
        raise Refused(fault.status, f"injected HTTP {fault.status}", fault.retry_after_s)
    header = request.headers.get("Authorization", "")
    access = state.access.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
    if access is None or access.grant.revoked or access.expires_ms <= state.clock.now_ms():
        raise Refused(401, "Request had invalid authentication credentials.")
    wait = state.rate_limited(access.grant.account)
    if wait is not None:
        raise Refused(429, "Quota exceeded for quota metric 'Requests per user per minute'.", wait)
    return access.grant


def _filter_window(data_type: str, text: str) -> tuple[int, int]:
    start, end = -(2**62), 2**62
    if not text:
        return start, end
    prefix = data_type.replace("-", "_")
    for clause in text.split(" AND "):
        match = _CLAUSE.match(clause)
        if match is None or match.group(1) != prefix:
            raise Refused(400, f"Invalid filter: {clause.strip()!r}")
        try:
            moment = int(dt.datetime.fromisoformat(match.group(4)).timestamp() * 1000)
        except ValueError:
            raise Refused(400, f"Invalid timestamp in filter: {match.group(4)!r}") from None
        if match.group(3) == ">=":
            start = max(start, moment)
        else:
            end = min(end, moment)
    return start, end


def _page_size(data_type: str, text: str | None) -> int:
    cap = SESSION_PAGE if data_type == "sleep" else MAX_PAGE
    if not text:
        return SESSION_PAGE if data_type == "sleep" else DEFAULT_PAGE
    try:
        size = int(text)
    except ValueError:
        raise Refused(400, f"Invalid pageSize {text!r}") from None
    if size < 0:
        raise Refused(400, "pageSize must not be negative")
    return min(size, cap) if size else (SESSION_PAGE if data_type == "sleep" else DEFAULT_PAGE)


def _token(offset: int, fingerprint: str, as_of_ms: int) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([offset, fingerprint, as_of_ms])).decode()


def _untoken(token: str, fingerprint: str) -> tuple[int, int]:
    try:
        offset, seen, as_of_ms = msgspec.json.decode(
            base64.urlsafe_b64decode(token.encode()), type=tuple[int, str, int]
        )
    except (ValueError, msgspec.DecodeError):
        raise Refused(400, "Invalid page token.") from None
    if seen != fingerprint:
        raise Refused(400, "The page token does not belong to this request (filter or data type changed).")
    return offset, as_of_ms


def list_points(state: ContractState, grant: Grant, data_type: str, query: dict[str, str]) -> dict[str, Any]:
    if data_type not in SCOPE_OF_DATA_TYPE:
        raise Refused(404, f"Unknown data type {data_type!r}")
    needed = SCOPE_PREFIX + SCOPE_OF_DATA_TYPE[data_type]
    if not any(scope.startswith(needed) for scope in grant.scopes):
        raise Refused(403, f"Request had insufficient authentication scopes ({needed}.readonly).")
    if data_type in state.gone:
        raise Refused(410, f"{data_type} is no longer served for this user.")
    filter_text = query.get("filter", "")
    start, end = _filter_window(data_type, filter_text)
    size = _page_size(data_type, query.get("pageSize"))
    fingerprint = f"{data_type}|{filter_text}"
    offset, as_of = _untoken(query["pageToken"], fingerprint) if query.get("pageToken") else (0, state.clock.now_ms())
    # A paged listing is one snapshot: data uploaded after its first page waits for the next listing.
    points = state.account(grant.account).visible(data_type, start, end, as_of)
    chunk = points[offset : offset + size]
    answer: dict[str, Any] = {"dataPoints": [p.body for p in chunk]}
    if offset + size < len(points):
        answer["nextPageToken"] = _token(offset + size, fingerprint, as_of)
    return answer


def data_handlers(state: ContractState) -> list[HTTPRouteHandler]:
    def answer(request: Request[Any, Any, Any], work: Any) -> Response[Any]:
        with state.lock:
            account = None
            try:
                grant = _authorise(state, request, request.url.path)
                account = grant.account
                response: Response[Any] = Response(work(grant), status_code=200)
            except Refused as refused:
                response = error_response(refused)
            status = response.status_code or 200
            state.log.append(Logged(time.monotonic(), request.url.path, status, account, request.url.query))
            return response

    @get("/v4/users/me/dataTypes/{data_type:str}/dataPoints", sync_to_thread=False)
    def data_points(request: Request[Any, Any, Any], data_type: FromPath[str]) -> Response[Any]:
        query = {k: str(v) for k, v in request.query_params.items()}
        return answer(request, lambda grant: list_points(state, grant, data_type, query))

    @get("/v4/users/me/pairedDevices", sync_to_thread=False)
    def paired_devices(request: Request[Any, Any, Any]) -> Response[Any]:
        def devices(grant: Grant) -> dict[str, Any]:
            if SCOPE_PREFIX + "settings.readonly" not in grant.scopes:
                raise Refused(403, "Request had insufficient authentication scopes (settings.readonly).")
            last = state.account(grant.account).last_sync_ms(state.clock.now_ms())
            device: dict[str, Any] = {
                "name": "users/me/pairedDevices/1",
                "deviceType": "TRACKER",
                "deviceVersion": "Charge 6",
            }
            if last is not None:
                device["lastSyncTime"] = (
                    dt.datetime.fromtimestamp(last / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")
                )
            return {"pairedDevices": [device]}

        return answer(request, devices)

    return [data_points, paired_devices]
