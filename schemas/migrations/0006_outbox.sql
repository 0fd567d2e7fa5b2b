-- The outbox: gap and live events written in the transaction of the data they describe, published to Kafka
-- afterwards (at least once) and then deleted. `event_id` is the event's stable id: consumers de-duplicate
-- on it. `id` orders the rows as they were written.
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('gap', 'live')),
    participant_id text NOT NULL,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_created_at ON outbox (created_at);
