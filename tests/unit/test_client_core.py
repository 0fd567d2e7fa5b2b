"""The client's pure parts: retry policy and error mapping, date windows, frames — no server needed."""

from __future__ import annotations

import datetime as dt
import email.utils
import subprocess
import sys

import httpx
import pytest

from wearstream.client import (
    Client,
    EndpointUnavailableError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    frames,
    plans,
)
from wearstream.client.errors import AuthError, TransportError
from wearstream.client.http import retry_after_s


def answering(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return httpx.MockTransport(handler), seen


FAST = RetryPolicy(backoff_s=0.001, max_wait_s=0.01, rate_limit_retries=3, retries=2)
PAGE = {"items": [{"participant_id": "P1", "timezone": "UTC"}], "next_cursor": None, "total": 1, "as_of": "x"}


def test_a_429_is_retried_after_waiting_and_the_key_is_sent_as_a_bearer_header() -> None:
    transport, seen = answering(
        httpx.Response(429, headers={"Retry-After": "0"}, json={"detail": "rate limit"}), httpx.Response(200, json=PAGE)
    )
    with Client("http://api", "wsk_secret", transport=transport, retry=FAST) as client:
        frame = client.participants()
    assert list(frame["participant_id"]) == ["P1"]
    assert client.rate_limited == 1
    assert len(seen) == 2
    assert all(r.headers["authorization"] == "Bearer wsk_secret" for r in seen)
    assert all("token" not in r.url.params for r in seen)


def test_rate_limits_that_never_lift_raise_after_the_allowed_waits() -> None:
    transport, seen = answering(*[httpx.Response(429, json={"detail": "slow down"}) for _ in range(4)])
    with Client("http://api", "k", transport=transport, retry=FAST) as client, pytest.raises(RateLimitedError):
        client.participants()
    assert len(seen) == 4


def test_server_errors_are_retried_then_raised_and_client_errors_are_not_retried() -> None:
    transport, seen = answering(httpx.Response(503), httpx.Response(200, json=PAGE))
    with Client("http://api", "k", transport=transport, retry=FAST) as client:
        assert len(client.participants()) == 1
    transport, seen = answering(httpx.Response(401, json={"detail": "an API key is required"}))
    with Client("http://api", "k", transport=transport, retry=FAST) as client, pytest.raises(AuthError, match="key"):
        client.participants()
    assert len(seen) == 1


def test_a_404_tells_an_unknown_participant_from_a_missing_endpoint() -> None:
    transport, _ = answering(httpx.Response(404, json={"detail": "unknown participant 'P9'"}))
    with Client("http://api", "k", transport=transport) as client, pytest.raises(NotFoundError, match="P9"):
        client.daily("P9")
    transport, _ = answering(httpx.Response(404, json={"status_code": 404, "detail": "Not Found"}))
    client = Client("http://api", "k", transport=transport)
    with client, pytest.raises(EndpointUnavailableError, match="/v1/alerts"):
        client.alerts()


def test_network_errors_give_up_with_a_transport_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = Client("http://api", "k", transport=httpx.MockTransport(refuse), retry=FAST)
    with client, pytest.raises(TransportError, match="3 attempts"):
        client.participants()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "7"}), 1) == 7
    assert 25 < retry_after_s(httpx.Response(429, headers={"Retry-After": later}), 1) <= 30
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "soon"}), 1.5) == 1.5
    assert retry_after_s(httpx.Response(429), 2) == 2


def test_long_date_ranges_are_split_into_windows_the_api_accepts() -> None:
    windows = plans._windows(dt.date(2025, 1, 1), dt.date(2026, 3, 1))
    assert windows == [("2025-01-01", "2026-01-02"), ("2026-01-02", "2026-03-01")]
    assert plans._windows("2026-03-01T00:00:00Z", None) == [("2026-03-01T00:00:00Z", None)]


def test_naive_datetimes_and_bad_arguments_are_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="time zone"):
        plans.moment("start", dt.datetime(2026, 3, 1))
    with Client("http://api", "k") as client:
        with pytest.raises(ValueError, match="participants"):
            client.daily([])
        with pytest.raises(ValueError, match="imputed"):
            client.series("P1", "heart_rate", imputed="sometimes")  # type: ignore[arg-type]


def test_series_frames_are_long_with_utc_times_local_wall_clock_and_units() -> None:
    points = [{"time": "2026-03-29T00:30:00Z", "count": 60, "min": 50, "max": 70, "mean": 60.5, "sum": 3630}]
    frame = frames.series_frame("P1", "steps", "Europe/Berlin", "1m", points)
    assert list(frame.columns) == [
        "participant_id", "metric", "time", "local_time", "timezone", "count", "min", "max", "mean", "sum"
    ]  # fmt: skip
    assert str(frame["time"].dt.tz) == "UTC"
    assert frame["local_time"].iloc[0] == dt.datetime(2026, 3, 29, 1, 30)  # CET, before the clocks change
    assert frame.attrs["units"]["sum"] == "steps"
    table = frames.convert(frame, "arrow")
    assert table.schema.field("mean").metadata == {b"unit": b"steps"}


def test_the_client_imports_nothing_of_the_server() -> None:
    code = (
        "import sys, wearstream.client, wearstream.client.export; "
        "bad = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'api', 'stream_processors', 'faust', 'asyncpg', 'aiokafka', 'litestar', 'mode'}); print(bad)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_progress_bars_count_participants_and_pages_are_followed(capsys: pytest.CaptureFixture[str]) -> None:
    def page(points: list[dict[str, object]], cursor: str | None) -> httpx.Response:
        body = {"resolution": "raw", "bucket_seconds": None, "points": points, "next_cursor": cursor}
        return httpx.Response(200, json=body)

    transport, seen = answering(
        httpx.Response(200, json={"timezone": "UTC"}),
        page([{"time": "2026-03-06T00:00:00Z", "value": 61}], "c1"),
        page([{"time": "2026-03-06T00:00:01Z", "value": 62}], None),
        httpx.Response(200, json={"timezone": "Asia/Tokyo"}),
        page([], None),
    )
    with Client("http://api", "k", transport=transport, progress=True) as client:
        frame = client.series(["P1", "P2"], "heart_rate", resolution="raw")
    assert list(frame["value"]) == [61.0, 62.0]
    assert seen[2].url.params["cursor"] == "c1"
    assert "2/2" in capsys.readouterr().err
