"""The ground floor: configuration and cross-cutting set-up that every layer may import.

`core.settings` (the frozen settings read from `WEARSTREAM_*`), `core.telemetry` (OpenTelemetry set-up and
trace-context propagation) and `core.topics` (creating the topics the registry defines). It imports only the
contracts in `schemas`, never a package above it.
"""
