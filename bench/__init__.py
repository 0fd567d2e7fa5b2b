"""Benchmarks: run on demand (`make bench` / `wearstream bench`), results in bench/results/, summary in README."""
