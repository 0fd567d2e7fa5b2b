"""Every Prometheus metric of the producers (replay driver, importer), declared once.

`source` is `replay` or `import`; dashboards and alert rules use these names (docs/observability.md).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

BATCHES: Final = Counter(
    "wearstream_producer_batches",
    "ReadingBatches handed to the Kafka producer (counter, batches)",
    ["source", "metric"],
)
READINGS: Final = Counter(
    "wearstream_producer_readings", "Readings in the batches handed to Kafka (counter, readings)", ["source", "metric"]
)
ENCODED_BYTES: Final = Counter(
    "wearstream_producer_encoded_bytes", "msgpack bytes of the batches handed to Kafka (counter, bytes)", ["source"]
)
SEND_ERRORS: Final = Counter(
    "wearstream_producer_send_errors", "Deliveries the broker did not acknowledge (counter, messages)", ["source"]
)
FLUSH_SECONDS: Final = Histogram(
    "wearstream_producer_flush_seconds",
    "Waiting for the broker to acknowledge everything sent so far (histogram, seconds)",
    ["source"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAST_PUBLISH: Final = Gauge(
    "wearstream_producer_last_publish_timestamp_seconds",
    "When a batch was last acknowledged by the broker (gauge, unix seconds)",
    ["source"],
)
