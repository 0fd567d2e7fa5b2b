-- Alert state changes are published through the outbox too (`<prefix>.alerts`).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('gap', 'live', 'alert'));
