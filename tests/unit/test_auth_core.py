"""Pure pieces of authentication: log scrubbing, key lifetimes and the failure buckets."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from api.auth import redact
from api.auth.keys import new_key, parse_lifetime
from api.auth.ratelimit import RateLimiter


def test_tokens_are_scrubbed_from_messages() -> None:
    token = new_key().token
    for text in (
        f"GET /v1/live?participant_id=P1&token={token} HTTP/1.1",
        f"Authorization: Bearer {token}",
        f"'WebSocket /v1/events?token={token}' [accepted]",
        "GET /v1/gaps?token=not-even-a-key&x=1",
    ):
        scrubbed = redact.redact(text)
        assert token not in scrubbed
        assert "not-even-a-key" not in scrubbed
        assert redact.REDACTED in scrubbed
    assert redact.redact("GET /v1/gaps?start=2026-01-01") == "GET /v1/gaps?start=2026-01-01"


def test_log_records_are_scrubbed_whatever_logger_or_handler(caplog: pytest.LogCaptureFixture) -> None:
    redact.install()
    redact.install()  # once per process, however often called
    token = new_key().token
    with caplog.at_level(logging.INFO):
        access = '%s - "%s %s HTTP/%s" %d'
        logging.getLogger("anything").info(access, "127.0.0.1", "GET", f"/x?token={token}", "1.1", 401)
    assert caplog.records
    assert all(token not in r.getMessage() for r in caplog.records)
    assert "token=[redacted]" in caplog.text


def test_lifetimes() -> None:
    assert parse_lifetime("90m") == dt.timedelta(minutes=90)
    assert parse_lifetime("30d") == dt.timedelta(days=30)
    assert parse_lifetime(" 8w ") == dt.timedelta(weeks=8)
    for bad in ("", "30", "d", "1y", "0h", "-1d", "999999w"):
        with pytest.raises(ValueError, match=r"e\.g\. 30d|at most"):
            parse_lifetime(bad)


def test_failure_bucket_refills_and_wait_takes_nothing() -> None:
    limiter = RateLimiter(3)
    assert [limiter.take("1.2.3.4", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("1.2.3.4", now=0.0) == pytest.approx(20.0)
    assert limiter.wait("1.2.3.4", now=0.0) == pytest.approx(20.0)  # waiting consumes nothing
    assert limiter.wait("5.6.7.8", now=0.0) == 0.0
    assert limiter.wait("1.2.3.4", now=20.0) == 0.0
