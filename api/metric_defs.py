"""Every Prometheus metric of the API, declared once (request counts and durations come from Litestar's
Prometheus plugin, as `wearstream_api_requests_total` and `wearstream_api_request_duration_seconds`)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

AUTH_FAILURES: Final = Counter(
    "wearstream_api_auth_failures", "Requests refused with 401 or 403 (counter, requests)", ["reason"]
)
RATE_LIMITED: Final = Counter("wearstream_api_rate_limited", "Requests refused with 429 (counter, requests)")
SERIES_POINTS: Final = Histogram(
    "wearstream_api_series_points",
    "Points returned by one series request (histogram, points)",
    ["resolution"],
    buckets=(10, 100, 500, 1000, 2000, 5000, 10000, 50000, 100000),
)
EXPORT_ROWS: Final = Counter(
    "wearstream_api_export_rows", "Rows streamed by series exports (counter, rows)", ["format"]
)
LIVE_CLIENTS: Final = Gauge("wearstream_api_live_clients", "Connected websocket clients (gauge, clients)", ["channel"])
LIVE_MESSAGES: Final = Counter(
    "wearstream_api_live_messages", "Kafka messages fanned out to websocket clients (counter, messages)", ["channel"]
)
LIVE_DELIVERIES: Final = Counter(
    "wearstream_api_live_deliveries", "Messages queued for a websocket client (counter, messages)", ["channel"]
)
LIVE_DROPPED: Final = Counter(
    "wearstream_api_live_dropped",
    "Messages dropped because a client's queue was full, oldest first (counter, messages)",
    ["channel"],
)
LIVE_LAG: Final = Histogram(
    "wearstream_api_live_lag_seconds",
    "Processor emit → fan-out to client queues (histogram, seconds)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
NOTIFICATIONS: Final = Counter(
    "wearstream_api_notifications", "Reminder notifications by outcome (counter, messages)", ["status"]
)
