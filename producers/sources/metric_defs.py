"""Every Prometheus metric of the sources runner (`wearstream sources sync|run`), declared once.

`source` is the source's name (`simulator`, `files`, `google_health`). The published batches and readings are
counted by the producer metrics (`producers.metric_defs`, `source` label the same name).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

REQUESTS: Final = Counter(
    "wearstream_sources_requests", "Pages a source returned to the runner (counter, requests)", ["source"]
)
PAGES: Final = Counter(
    "wearstream_sources_pages_acknowledged",
    "Pages published and acknowledged by Kafka, each followed by a cursor update (counter, pages)",
    ["source"],
)
RATE_LIMITED: Final = Counter(
    "wearstream_sources_rate_limited", "RateLimited answers the runner waited out (counter, answers)", ["source"]
)
RETRIES: Final = Counter(
    "wearstream_sources_retries", "Retries after Unavailable, with backoff (counter, retries)", ["source"]
)
CURSOR_RESULTS: Final = Counter(
    "wearstream_sources_cursor_results",
    "Participant × metric pulls by how they ended: ok, rate_limited, unavailable, not_authorised, gone, error"
    " (counter, pulls)",
    ["source", "status"],
)
PASS_SECONDS: Final = Histogram(
    "wearstream_sources_pass_seconds",
    "One pass over the due participants (histogram, seconds)",
    ["source"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
LAST_PASS: Final = Gauge(
    "wearstream_sources_last_pass_timestamp_seconds", "When the last pass ended (gauge, unix seconds)", ["source"]
)
FAILED_CURSORS: Final = Gauge(
    "wearstream_sources_failed_cursors", "Cursors the last pass left failed (gauge, cursors)", ["source"]
)
