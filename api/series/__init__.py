"""Time series of one participant × metric: raw readings or rollups, downsampled for charts, paged, exported."""
