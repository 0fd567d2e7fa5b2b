"""Every Prometheus metric of the stream processors, declared once. Dashboards and alerts use these names."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

READINGS: Final = Counter("wearstream_processor_readings", "Readings stored (counter, readings)", ["metric"])
BATCHES: Final = Counter("wearstream_processor_batches", "Batches stored (counter, batches)", ["metric"])
DUPLICATES: Final = Counter(
    "wearstream_processor_duplicate_batches", "Batches skipped as already applied (counter, batches)", ["metric"]
)
DEADLETTERED: Final = Counter(
    "wearstream_processor_deadlettered",
    "Messages sent to the dead-letter topic; kind=message (nothing stored) or partial (counter, messages)",
    ["metric", "kind"],
)
REJECTED_READINGS: Final = Counter(
    "wearstream_processor_rejected_readings", "Readings rejected by validation (counter, readings)", ["metric"]
)
GROUP_SECONDS: Final = Histogram(
    "wearstream_processor_group_seconds",
    "Time to process one group of messages, decode to commit (histogram, seconds)",
    ["metric"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_WRITE_SECONDS: Final = Histogram(
    "wearstream_processor_db_write_seconds",
    "Time of one sink transaction (histogram, seconds)",
    ["metric"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DB_RETRIES: Final = Counter(
    "wearstream_processor_db_retries", "Sink transactions retried after a recoverable error (counter, retries)"
)
LAST_BATCH: Final = Gauge(
    "wearstream_processor_last_batch_timestamp_seconds",
    "When a batch of this metric was last stored (gauge, unix seconds)",
    ["metric"],
)
END_TO_END_SECONDS: Final = Histogram(
    "wearstream_processor_end_to_end_seconds",
    "From the message being produced to Kafka to its readings committed in the database (histogram, seconds)",
    ["metric"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
GAP_EVENTS: Final = Counter(
    "wearstream_processor_gap_events", "Gap changes published (counter, events)", ["kind", "state"]
)
DATABASE_UP: Final = Gauge(
    "wearstream_processor_database_up", "1 when the worker's last database probe (SELECT 1) succeeded (gauge, 0/1)"
)
CONSUMER_LAG: Final = Gauge(
    "wearstream_processor_consumer_lag",
    "Messages in the topic partition not yet committed by the consumer group (gauge, messages)",
    ["topic", "partition"],
)
PARTICIPANT_LAST_UPLOAD: Final = Gauge(
    "wearstream_processor_participant_last_upload_timestamp_seconds",
    "A participant's last device upload, or enrolment when none; leader only, the longest silent "
    "authorised participants, at most stream_processors.health.MAX_PARTICIPANT_SERIES (gauge, unix seconds)",
    ["participant"],
)
PARTICIPANTS_EXPORTED: Final = Gauge(
    "wearstream_processor_participants_exported",
    "Participants in the last-upload gauge (gauge, participants)",
)
TOPIC_PAUSED: Final = Gauge(
    "wearstream_processor_topic_paused",
    "1 while the dead-letter limit pauses consumption of this topic, until the worker restarts (gauge, 0/1)",
    ["topic"],
)
APPLY_FAILURES: Final = Counter(
    "wearstream_processor_apply_failures",
    "Non-recoverable errors while storing; the group is split until the failing batch is dead-lettered "
    "(counter, errors)",
    ["metric"],
)
TASK_ERRORS: Final = Counter(
    "wearstream_processor_task_errors",
    "Errors of a periodic task (not-synced check, compaction, outbox); the next run tries again (counter, errors)",
    ["task"],
)
OUTBOX_PUBLISHED: Final = Counter(
    "wearstream_processor_outbox_published",
    "Events published from the outbox; path=inline (after the commit) or drain (leftovers) (counter, events)",
    ["kind", "path"],
)
OUTBOX_PENDING: Final = Gauge(
    "wearstream_processor_outbox_pending", "Events in the outbox not yet published, after a drain (gauge, events)"
)
ALERT_CHANGES: Final = Counter(
    "wearstream_processor_alert_changes",
    "Illness-alert state changes; state=raised, upgraded, downgraded or withdrawn (counter, changes)",
    ["detector", "level", "state"],
)
NIGHT_UPDATES: Final = Counter(
    "wearstream_processor_night_updates",
    "Participants the nightly step looked at in a transaction; result=computed (a complete night was touched, its "
    "nights recomputed) or skipped (none was); counted in the transaction, so a retried one counts again "
    "(counter, participants)",
    ["result"],
)
