"""Device sources: one interface for everything that brings a participant's readings in (see `base`)."""
