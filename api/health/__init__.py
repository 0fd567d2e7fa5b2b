"""Liveness and readiness probes (no API key needed)."""
