"""Benchmarks: run on demand (`make bench` / `python -m bench`), results in bench/results/, summary in README."""
