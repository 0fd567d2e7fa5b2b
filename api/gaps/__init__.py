"""Gaps: `not_worn` (a hole of ≥ 10 min in heart rate inside uploaded data) and `not_synced` (no upload for
the processor's threshold); `end` is null while a gap is open."""
