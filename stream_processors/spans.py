"""The attributes of the processor's spans, named by OpenTelemetry's semantic conventions (the
`opentelemetry-semantic-conventions` constants): a consumer span `process <topic>` per group, one
`decode+validate` span per message, and client spans for the database calls that no instrumentation traces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.semconv.attributes import db_attributes as db
from opentelemetry.util.types import Attributes

from stream_processors.envelope import Envelope

KAFKA: Final = messaging.MessagingSystemValues.KAFKA.value
POSTGRESQL: Final = db.DbSystemNameValues.POSTGRESQL.value
# The asyncpg instrumentation still names the system with the older attribute; the processor's own database
# spans carry both, so one query finds every database call.
DB_SYSTEM_OLD: Final = "db.system"


def process_span_name(topic: str) -> str:
    return f"process {topic}"


def group_attributes(envelopes: Sequence[Envelope], consumer_group: str) -> Attributes:
    """A group's consumer span: the topic, the operation, the consumer group and how many messages."""
    attributes: dict[str, str | int] = {
        messaging.MESSAGING_SYSTEM: KAFKA,
        messaging.MESSAGING_OPERATION_NAME: messaging.MessagingOperationTypeValues.PROCESS.value,
        messaging.MESSAGING_OPERATION_TYPE: messaging.MessagingOperationTypeValues.PROCESS.value,
        messaging.MESSAGING_BATCH_MESSAGE_COUNT: len(envelopes),
    }
    if envelopes:
        attributes[messaging.MESSAGING_DESTINATION_NAME] = envelopes[0].topic
    if consumer_group:
        attributes[messaging.MESSAGING_CONSUMER_GROUP_NAME] = consumer_group
    return attributes


def message_attributes(envelope: Envelope) -> Attributes:
    """One message's decode+validate span: where it was read from."""
    return {
        messaging.MESSAGING_SYSTEM: KAFKA,
        messaging.MESSAGING_DESTINATION_NAME: envelope.topic,
        messaging.MESSAGING_DESTINATION_PARTITION_ID: str(envelope.partition),
        messaging.MESSAGING_KAFKA_OFFSET: envelope.offset,
    }


def copy_attributes(table: str, columns: Sequence[str], rows: int) -> Attributes:
    """A binary COPY into `table` (asyncpg's `copy_records_to_table`, which its instrumentation does not trace)."""
    return {
        db.DB_SYSTEM_NAME: POSTGRESQL,
        DB_SYSTEM_OLD: POSTGRESQL,
        db.DB_OPERATION_NAME: "COPY",
        db.DB_COLLECTION_NAME: table,
        db.DB_QUERY_SUMMARY: f"COPY {table}",
        db.DB_QUERY_TEXT: f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)",
        db.DB_OPERATION_BATCH_SIZE: rows,
    }
