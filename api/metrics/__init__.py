"""Metrics: the registry's codebook (units, ranges, resolutions, precision, point fields)."""
