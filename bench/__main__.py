"""`python -m bench` — the same as `wearstream bench`."""

from bench.runner import main

main()
