"""Live websockets: one Kafka consumer per API process fans the processor's live updates and gap events
out to every connected client, each through its own bounded queue (a slow client only loses its own oldest
messages, counted; it never slows the others)."""
